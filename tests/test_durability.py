"""Durability of the watch lists and the "last seen" history: nothing acknowledged is ever lost.

- kill -9 during saves: a child process (`tests.store_worker`) saves in a loop and acknowledges
  each save on stdout; it is killed with SIGKILL after random delays (a third shorter than one
  save, so kills land inside write, fsync and rename), restarted, and after every kill the file must
  parse, hold every acknowledged entry and no removed one, and at most one temp file may be left.
  By default 1,000 acknowledged saves per file kind (lists and history, run side by side); set
  ``BKWATCH_DURABILITY_SAVES=20000`` for a long run and ``BKWATCH_DURABILITY_SEED`` to replay the
  delays. The run prints its counts: ``pytest tests/test_durability.py -s -k kill``.
- Two processes adding and removing (or saving and forgetting history) at once: no lost update.
- Corrupt files of every kind: moved aside to ``NAME.json.corrupt-STAMP``, reported, the next
  save works, and the real app still starts and says so.
- A data directory that is a file, unwritable, or full: a `StoreError`, and the saved copy intact.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bkwatch.model import System
from bkwatch.store import StoreError, WatchEntry, WatchStore
from tests.harness import frozen_sim, notifications, settle, sim_app
from tests.procs import stop
from tests.store_worker import LIST, SHARED, history_op, list_op, shared_record

ROOT = Path(__file__).resolve().parent.parent
SAVES = int(os.environ.get("BKWATCH_DURABILITY_SAVES", "1000"))
TEMP = re.compile(r"\.default\.json\.\d+-[0-9a-f]{8}\.tmp")
ASIDE = re.compile(r"default\.json\.corrupt-\d{8}T\d{6}(-\d+)?")

State = dict[str, Any]  # target -> what the file must say about it


def _worker(*args: str, **popen: Any) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "tests.store_worker", *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, **popen)


def _after(mode: str, state: State, i: int, biz: int = 2) -> State:
    """The state once operation `i` has been saved: the model the files are checked against."""
    state = dict(state)
    if mode == "lists":
        kind, key = list_op(i, biz)
        if kind == "add":
            state[key] = (f"label {i}", float(i))
        else:
            state.pop(key, None)
        return state
    kind, records = history_op(i, biz)
    for key, record in records.items():
        if kind == "forget":
            state.pop(key, None)
        elif key not in state or record["at"] >= state[key]["at"]:
            state[key] = record
    return state


def _on_disk(mode: str, data_dir: Path) -> State:
    """What the file says, read raw (must be valid JSON of the right shape) and through the store,
    which must agree and find nothing to move aside."""
    store = WatchStore(data_dir)
    path = store.path(LIST) if mode == "lists" else store.history_path(LIST)
    if mode == "lists":
        loaded: State = {e.target: (e.label, e.added_at) for e in store.load(LIST)}
    else:
        loaded = store.load_last_seen(LIST)
    assert store.warnings == []
    if not path.exists():
        assert loaded == {}
        return loaded
    raw = json.loads(path.read_bytes().decode("utf-8"))
    assert raw["version"] == 1
    if mode == "lists":
        assert {e["target"]: (e["label"], e["added_at"]) for e in raw["entries"]} == loaded
    else:
        assert raw["seen"] == loaded
    return loaded


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if TEMP.fullmatch(p.name)) if directory.is_dir() else []


@dataclass
class KillCounts:
    acknowledged: int = 0
    kills: int = 0
    mid_save: int = 0  # the worker had begun a save it did not acknowledge
    temp_left: int = 0  # the kill landed between creating a temp file and renaming it
    saved_unacknowledged: int = 0  # the kill landed after the rename, before the acknowledgement
    finished_before_kill: int = 0


def _delay(rng: random.Random, save_time: float) -> float:
    """In units of the measured save time, so a slow disk or a busy machine changes the duration
    but not the mix: a third of the kills inside the first save, a third within a few, the rest
    later (fewer restarts, which cost more than the saves)."""
    saves = rng.choice((rng.uniform(0, 1), rng.uniform(1, 5), rng.uniform(10, 120)))
    return saves * save_time


def _difference(found: State, before: State, after: State, op: int) -> str:
    def diff(a: State, b: State) -> dict[str, object]:
        keys = set(a) | set(b)
        return {k: (a.get(k), b.get(k)) for k in sorted(keys, key=str) if a.get(k) != b.get(k)}

    return f"op {op} in flight; found vs before: {diff(found, before)}; found vs after: {diff(found, after)}"


def _kill_loop(mode: str, data_dir: Path, saves: int, rng: random.Random) -> KillCounts:
    counts = KillCounts()
    state: State = {}
    next_op = 1
    # seconds, refined from each run; started low, as a fast disk saves in under a millisecond and
    # one worker given the whole remaining run within a long first delay would finish it unkilled
    save_time = 0.001
    temps_before: list[str] = []
    unacknowledged: int | None = None
    directory = data_dir / ("lists" if mode == "lists" else "history")
    while counts.acknowledged < saves:
        last = next_op + saves - counts.acknowledged - 1
        proc = _worker(mode, str(data_dir), str(next_op), str(last))
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"ready\n"
            delay = _delay(rng, save_time)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            rest = proc.stdout.read().decode()
        finally:
            stop(proc)
        # A save the last worker began but never acknowledged may be on disk already; until a
        # worker acknowledges it (redoing it first), either state is right, even when this worker
        # was killed before it began anything.
        in_flight = unacknowledged
        for line in rest.splitlines():
            word, number = line.split()
            if word == "begin":
                in_flight = int(number)
            else:
                assert word == "ack", line
                state = _after(mode, state, int(number))
                counts.acknowledged += 1
                in_flight = None
                next_op = int(number) + 1
        acked_now = rest.count("ack ")
        if acked_now >= 3:
            # One run can at most double the estimate: a single stalled save (a busy machine)
            # must not stretch every later delay until too few writers are killed to prove much.
            measured = min(delay / acked_now, save_time * 2)
            save_time = 0.7 * save_time + 0.3 * measured
        unacknowledged = in_flight
        if proc.returncode != -signal.SIGKILL:
            assert proc.returncode == 0 and in_flight is None  # it finished before the kill
            counts.finished_before_kill += 1
            continue
        counts.kills += 1
        found = _on_disk(mode, data_dir)
        if in_flight is None:
            assert found == state
        else:
            counts.mid_save += f"begin {in_flight}\n" in rest  # this worker's save, not a carried one
            saved = _after(mode, state, in_flight)
            assert found in (state, saved), _difference(found, state, saved, in_flight)  # never half
            counts.saved_unacknowledged += found == saved != state  # (a retried op changes nothing)
        temps = _temps(directory)
        assert len(temps) <= 1, temps  # a killed writer's leftover is removed by the next one
        if temps and temps != temps_before:  # a new leftover, not the last kill's still there
            counts.temp_left += 1
        temps_before = temps
        if directory.is_dir():
            assert not [p.name for p in directory.iterdir() if ".corrupt-" in p.name]
    assert _on_disk(mode, data_dir) == state
    return counts


def test_kill_9_during_saves_loses_nothing_acknowledged(tmp_path: Path) -> None:
    seed = int(os.environ.get("BKWATCH_DURABILITY_SEED", str(random.randrange(1 << 30))))
    started = time.monotonic()
    # Lists and history at once, each with its own killed worker: the loops mostly wait on
    # fsync and process start-up, so together they take little longer than one.
    with ThreadPoolExecutor(2) as pool:
        runs = {
            # Separate data directories: removing a list entry also forgets its history, which
            # the history loop must not see happen under it.
            mode: pool.submit(_kill_loop, mode, tmp_path / mode, SAVES, random.Random(seed + n))
            for n, mode in enumerate(("lists", "history"))
        }
        counts = {mode: run.result() for mode, run in runs.items()}
    print(f"\nseed={seed} in {time.monotonic() - started:.1f} s")
    for mode, count in counts.items():
        print(f"{mode}: {count}")
        assert count.acknowledged == SAVES
        # The run must really have killed writers, and mostly mid-save, or it proves nothing.
        assert count.kills >= SAVES // 100
        assert count.mid_save >= count.kills // 2
    # The next writer clears what a killed one left behind.
    WatchStore(tmp_path / "lists").add([WatchEntry("job:2:0")], LIST)
    history = WatchStore(tmp_path / "history")
    history.save_last_seen(LIST, {"job:2:0": {"state": "running", "name": None, "at": 0.0}})
    assert _temps(tmp_path / "lists" / "lists") == [] and _temps(tmp_path / "history" / "history") == []


def _run_together(mode: str, data_dir: Path, ops: int, bizes: tuple[int, ...]) -> None:
    procs = [
        _worker(mode, str(data_dir), "1", str(ops), str(b), "--wait", stdin=subprocess.PIPE) for b in bizes
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        for proc in procs:  # released together: their saves interleave
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=120)[0].decode() for proc in procs]
    finally:
        for proc in procs:
            stop(proc)
    assert [proc.returncode for proc in procs] == [0] * len(procs), outputs
    spans = [
        tuple(float(x) for x in line.split()[1:])
        for out in outputs
        for line in out.splitlines()
        if line.startswith("span")
    ]
    assert len(spans) == 2 and spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]  # they overlapped


def test_two_processes_editing_one_list_lose_no_update(tmp_path: Path) -> None:
    ops = 200
    _run_together("lists", tmp_path, ops, (3, 4))
    expected: State = {}
    for biz in (3, 4):
        for i in range(1, ops + 1):
            expected = _after("lists", expected, i, biz)
    assert _on_disk("lists", tmp_path) == expected
    assert len(expected) == ops  # per process: three adds and one removal in every four ops


def test_two_processes_saving_history_lose_no_update(tmp_path: Path) -> None:
    ops = 200
    _run_together("history", tmp_path, ops, (3, 4))
    expected: State = {}
    newest_shared: dict = {"at": float("-inf")}
    for biz in (3, 4):
        for i in range(1, ops + 1):
            expected = _after("history", expected, i, biz)
            if history_op(i, biz)[0] == "save" and shared_record(i, biz)["at"] > newest_shared["at"]:
                newest_shared = shared_record(i, biz)
    expected[SHARED] = newest_shared  # both updated it; the newer record wins whoever wrote last
    assert _on_disk("history", tmp_path) == expected


def test_history_keeps_the_newer_record_and_remove_forgets_it(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    store.add([WatchEntry("job:2:1"), WatchEntry("job:2:2")])
    store.save_last_seen(
        LIST, {"job:2:1": {"state": "failed", "at": 5.0}, "job:2:2": {"state": "running", "at": 5.0}}
    )
    # An older record (another instance that saw the task earlier) never overwrites a newer one.
    store.save_last_seen(LIST, {"job:2:1": {"state": "running", "at": 4.0}})
    assert store.load_last_seen(LIST)["job:2:1"]["state"] == "failed"
    assert store.remove(["job:2:1"]) == 1
    assert set(store.load_last_seen(LIST)) == {"job:2:2"}
    assert store.forget_last_seen(LIST, ["job:2:2", "job:2:9"]) == 1
    assert store.load_last_seen(LIST) == {}


# -- corrupt files ------------------------------------------------------------------------------


def _truncated(path: Path) -> None:
    text = json.dumps({"version": 1, "entries": [{"target": f"job:2:{i}"} for i in range(20)]})
    path.write_bytes(text[: len(text) // 2].encode())


def _directory(path: Path) -> None:
    path.mkdir()
    (path / "inside.txt").write_text("kept")


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "garbage": lambda p: p.write_bytes(b"\x00\x9c\xfe\x7fGARBAGE\x01\x02" * 8),
    "truncated": _truncated,
    "wrong-type": lambda p: p.write_bytes(b'["job:2:1", "job:2:2"]'),
    "wrong-shape": lambda p: p.write_bytes(b'{"version": 1, "entries": "job:2:1", "seen": [1]}'),
    "invalid-utf8": lambda p: p.write_bytes(b'{"version": 1, "entries": [{"target": "job:2:\xff"}]}'),
    "directory": _directory,
    "empty": lambda p: p.write_bytes(b""),
}


def _fingerprint(path: Path) -> object:
    if path.is_dir():
        return {p.name: p.read_bytes() for p in path.iterdir()}
    return path.read_bytes()


def _save(store: WatchStore, kind: str, key: str) -> None:
    if kind == "lists":
        store.add([WatchEntry(key, "after", 1.0)], LIST)
    else:
        store.save_last_seen(LIST, {key: {"state": "running", "name": "after", "at": 1.0}})


@pytest.mark.parametrize("found_by", ["load", "save"])
@pytest.mark.parametrize("kind", ["lists", "history"])
@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupt_file_is_moved_aside_reported_and_replaced(
    tmp_path: Path, corruption: str, kind: str, found_by: str
) -> None:
    store = WatchStore(tmp_path)
    path = store.path(LIST) if kind == "lists" else store.history_path(LIST)
    path.parent.mkdir(parents=True)
    CORRUPTIONS[corruption](path)
    before = _fingerprint(path)
    if found_by == "load":
        assert (store.load(LIST) if kind == "lists" else store.load_last_seen(LIST)) in ([], {})
    _save(store, kind, "job:2:7")
    aside = [p for p in path.parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and ASIDE.fullmatch(aside[0].name)
    assert _fingerprint(aside[0]) == before  # the user's bytes kept exactly
    assert len(store.warnings) == 1
    assert str(path) in store.warnings[0] and aside[0].name in store.warnings[0]
    assert list(_on_disk(kind, tmp_path)) == ["job:2:7"]  # the next save made a good file


def _bad_target(rig: Any) -> str:
    return rig.target(System.JOB, bad=True)


@pytest.mark.parametrize("corruption", ["garbage", "directory"])
async def test_app_starts_with_corrupt_files_and_reports_them(tmp_path: Path, corruption: str) -> None:
    rig = sim_app(frozen_sim(), tmp_path, targets=[])
    for path in (rig.store.path("test"), rig.store.history_path("test")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        CORRUPTIONS[corruption](path)
    rig.store.warnings.clear()
    new = _bad_target(rig)
    app = rig.app
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await pilot.pause()
        reported = [n.message for n in notifications(app) if "could not be read" in n.message]
        assert len(reported) == 2 and all("test.json.corrupt-" in m for m in reported)
        assert app.poller.watches == {}
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*new, "enter")
        await settle(rig, pilot)
        assert new in app.poller.watches and app.poller.watches[new].task is not None  # it works on
    assert [e.target for e in WatchStore(tmp_path).load("test")] == [new]
    assert WatchStore(tmp_path).load_last_seen("test")  # history saved afresh on exit
    for directory in (tmp_path / "lists", tmp_path / "history"):
        assert [p.name for p in directory.iterdir() if ".corrupt-" in p.name]


async def test_app_starts_when_the_data_dir_is_a_file(tmp_path: Path) -> None:
    rig = sim_app(frozen_sim(), tmp_path / "unused", targets=[])
    blocker = tmp_path / "data"
    blocker.write_text("not a directory")
    app = rig.app
    app.store = WatchStore(blocker)
    new = _bad_target(rig)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await pilot.pause()
        assert any("is a file, not a directory" in n.message for n in notifications(app))
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*new, "enter")
        await pilot.pause()
        assert new in app.poller.watches
        assert any("could not save the list" in n.message for n in notifications(app))
    assert blocker.read_text() == "not a directory"


# -- unusable data directories ------------------------------------------------------------------

OPERATIONS: dict[str, Callable[[WatchStore], object]] = {
    "load": lambda s: s.load(LIST),
    "add": lambda s: s.add([WatchEntry("job:2:1")], LIST),
    "remove": lambda s: s.remove(["job:2:1"], LIST),
    "load_last_seen": lambda s: s.load_last_seen(LIST),
    "save_last_seen": lambda s: s.save_last_seen(LIST, {"job:2:1": {"state": "running", "at": 1.0}}),
    "forget_last_seen": lambda s: s.forget_last_seen(LIST, ["job:2:1"]),
}


LIST_OPS = {"load", "add", "remove"}
HISTORY_OPS = {"load_last_seen", "save_last_seen", "forget_last_seen"}


@pytest.mark.parametrize(
    ("blocked", "failing"),
    [("data", LIST_OPS | HISTORY_OPS), ("data/lists", LIST_OPS), ("data/history", HISTORY_OPS)],
)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_file_in_place_of_a_directory_is_a_clear_error(
    tmp_path: Path, blocked: str, failing: set[str], operation: str
) -> None:
    data = tmp_path / "data"
    if blocked != "data":
        WatchStore(data).add([WatchEntry("job:2:5")], LIST)
        WatchStore(data).save_last_seen(LIST, {"job:2:5": {"state": "running", "at": 1.0}})
        (tmp_path / blocked).rename(tmp_path / "kept")
    blocker = tmp_path / blocked
    blocker.write_text("user file")
    store = WatchStore(data)
    if operation in failing:
        with pytest.raises(StoreError, match=f"{re.escape(str(blocker))} is a file, not a directory"):
            OPERATIONS[operation](store)
    else:
        OPERATIONS[operation](store)  # the other kind of file is not affected
    assert blocker.read_text() == "user file"
    if operation == "remove" and blocked == "data/history":
        assert store.warnings and "is a file, not a directory" in store.warnings[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_unwritable_lists_dir_is_a_clear_error_and_keeps_the_list(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    store.add([WatchEntry("job:2:1")], LIST)
    before = store.path(LIST).read_bytes()
    (tmp_path / "lists").chmod(0o500)
    try:
        with pytest.raises(StoreError, match="cannot"):
            store.add([WatchEntry("job:2:2")], LIST)
        assert [e.target for e in store.load(LIST)] == ["job:2:1"]
    finally:
        (tmp_path / "lists").chmod(0o700)
    assert store.path(LIST).read_bytes() == before
    assert _temps(tmp_path / "lists") == []


def test_full_disk_is_a_clear_error_and_keeps_the_list(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    store.add([WatchEntry(f"job:2:{i}", "before") for i in range(5)], LIST)
    before = store.path(LIST).read_bytes()
    proc = _worker("fsize", str(tmp_path), "4096")
    try:
        out = proc.communicate(timeout=30)[0].decode()
    finally:
        stop(proc)
    assert proc.returncode == 0, out
    assert out.startswith("StoreError: cannot save") and "unchanged" in out
    assert store.path(LIST).read_bytes() == before
    assert _temps(tmp_path / "lists") == []
