"""A child process for the durability tests: saves through `WatchStore` and reports each save.

    python -m tests.store_worker MODE DATA_DIR FIRST LAST [BIZ]

MODE is ``lists`` or ``history``: operations FIRST..LAST of `list_op` / `history_op` are applied
one save each. Before a save the worker prints ``begin I``, after it returns ``ack I`` (flushed),
so a parent that kills it knows which saves were acknowledged and whether one was in flight.
``ready`` is printed once the imports are done. With ``--wait`` the worker first waits for a line
on stdin, so two workers can be started together, and prints ``span START END`` (monotonic
clock) at the end so the parent can check that they really overlapped.
``fsize LIMIT`` instead saves a large entry with the file-size limit set to LIMIT bytes, the
nearest thing to a full disk a test can make, and prints the `StoreError` it gets.
"""

from __future__ import annotations

import resource
import signal
import sys
import time
from pathlib import Path

from bkwatch.store import StoreError, WatchEntry, WatchStore

LIST = "default"
SHARED = "job:1:1"  # the history record both concurrent workers update: the newer "at" must win


def target(i: int, biz: int = 2) -> str:
    return f"job:{biz}:{i}"


def list_op(i: int, biz: int = 2) -> tuple[str, str]:
    """Operation I: add job:BIZ:I, except every fourth removes the entry added two before."""
    if i % 4 == 3:
        return "remove", target(i - 2, biz)
    return "add", target(i, biz)


def history_op(i: int, biz: int = 2) -> tuple[str, dict[str, dict]]:
    """Operation I on the history: a new record, an update of the previous one, or a forget."""
    if i % 4 == 3:
        return "forget", {target(i - 2, biz): {}}
    if i % 4 == 2:
        return "save", {target(i - 1, biz): {"state": "failed", "name": f"n{i - 1}", "at": float(i)}}
    return "save", {target(i, biz): {"state": "running", "name": f"n{i}", "at": float(i)}}


def shared_record(i: int, biz: int) -> dict:
    # Distinct "at" per (op, worker): exactly one record is the newest.
    return {"state": f"seen by {biz}", "name": None, "at": float(i * 10 + biz)}


def apply(store: WatchStore, mode: str, i: int, biz: int, *, shared: bool) -> None:
    if mode == "lists":
        kind, key = list_op(i, biz)
        if kind == "add":
            store.add([WatchEntry(key, f"label {i}", float(i))], LIST)
        else:
            store.remove([key], LIST)
        return
    kind, records = history_op(i, biz)
    if kind == "forget":
        store.forget_last_seen(LIST, list(records))
        return
    if shared:
        records = {**records, SHARED: shared_record(i, biz)}
    store.save_last_seen(LIST, records)


def fill_disk(data_dir: Path, limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write() instead of dying
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    store = WatchStore(data_dir)
    try:
        store.add([WatchEntry("job:2:999", "x" * (limit * 2), 1.0)], LIST)
    except StoreError as exc:
        print(f"StoreError: {exc}", flush=True)
        return
    print("saved", flush=True)


def main(argv: list[str]) -> None:
    wait = "--wait" in argv
    args = [a for a in argv if a != "--wait"]
    mode, data_dir = args[0], Path(args[1])
    if mode == "fsize":
        fill_disk(data_dir, int(args[2]))
        return
    first, last = int(args[2]), int(args[3])
    biz = int(args[4]) if len(args) > 4 else 2
    store = WatchStore(data_dir)
    print("ready", flush=True)
    if wait:
        sys.stdin.readline()
    start = time.monotonic()
    for i in range(first, last + 1):
        print(f"begin {i}", flush=True)
        apply(store, mode, i, biz, shared=wait)
        print(f"ack {i}", flush=True)
    if wait:
        print(f"span {start} {time.monotonic()}", flush=True)
    if store.warnings:  # a save must never find a file it cannot read
        print(f"warning {store.warnings}", flush=True)
        sys.exit(3)


if __name__ == "__main__":
    main(sys.argv[1:])
