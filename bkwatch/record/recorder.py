"""The recorder: every poll's update kept in the record, written off the screen's thread.

`Recorder.observe` is a `Poller` observer: it only puts the update's pieces on a queue (a Task
snapshot is never changed once parsed, so the writer can read it later). One writer thread takes
them in batches (at most `FLUSH_SECONDS` apart, one transaction each: a killed process loses at
most that), reads what changed and writes it; it prunes the file by age and size every
`PRUNE_SECONDS`, and copies the audit file's new lines (`actions/audit.py`) into `actions`.

Nothing secret is written: poll errors arrive redacted (systems.fetch_task), and every message and
failure text is passed through the redactor with the profile's secrets once more.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from bkwatch.actions.audit import AUDIT_FILE
from bkwatch.evidence.signatures import signature
from bkwatch.model import BkError, ErrorKind, Task, Transition
from bkwatch.poller import PollUpdate
from bkwatch.record.db import Limits, db_path, move_aside, open_db, prune
from bkwatch.record.rows import BAD, Lookup, Rows, as_text, bad_units, cut_secrets, epoch, unit_rows
from bkwatch.record.snapshot import Keeper
from bkwatch.redact import redact
from bkwatch.text import clean_text

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
PRUNE_SECONDS = 300.0
TASK_ROW_SECONDS = 60.0  # an unchanged task's row (last_seen) is written at most this often
# A node tree's names may come after it is first seen, in a poll without any transition (a
# pipeline's flow is read beside its first poll): its unit rows are compared this long after.
NAMES_SECONDS = 120.0
OUTAGE_KINDS = frozenset({ErrorKind.NETWORK, ErrorKind.TIMEOUT, ErrorKind.SERVER})
UNIT_LEVELS = frozenset({"host", "job_task", "node"})
PACKED_LEVELS = frozenset({"host", "job_task"})  # a poll's changes of these kept in one row
REASON_CHARS = 4000
CACHED_CHARS = 200  # texts up to this long are cleaned once and remembered ...
CACHED_TEXTS = 20_000  # ... this many of them (then forgotten all at once)
MAX_QUEUED = 50_000  # updates waiting for the writer; past this (a stuck disk) they are dropped
_STOP = object()

Item = tuple[float, str, str | None, Task | None, list[Transition], BkError | None]


class Recorder:
    def __init__(
        self,
        data_dir: Path,
        limits: Limits | None = None,
        *,
        secrets: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.path = db_path(self.data_dir)
        self.limits = limits or Limits()
        self.secrets = [s for s in secrets if s]
        self.clock = clock
        self.conn, self.notice = open_db(self.path, check=False)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._wake = threading.Event()  # someone waits for the writer: a flush, or the end
        self._open_outages: set[str] = set(
            r[0] for r in self.conn.execute("SELECT target FROM outages WHERE end IS NULL")
        )
        # target -> when its task row was last written, and the name and starter it said: a
        # pipeline's detail, read beside its first poll, names them at a later one.
        self._written: dict[str, tuple[float, str | None, str | None]] = {}
        self._seen_units: dict[str, float] = {}  # target -> when its unit rows were first written
        self._keepers: dict[str, Keeper] = {}  # target -> what its last snapshot kept was
        self._unit_sigs: dict[str, list[int]] = {}  # target -> a hash of each unit row written
        # target -> the Task its unit rows were last compared for: the poller hands back the very
        # Task it holds when the answer came again, and that one has no new name to look for.
        self._compared: dict[str, weakref.ref[Task]] = {}
        # `text` cleaned and redacted: a text seen before (a name, a state's text: most of them)
        # is found in C, without a call into Python; a new one is cleaned by `_Cleaned.__missing__`.
        self._clean: Callable[[str | None], str | None] = _Cleaned(self._clean_now).__getitem__
        self._sigs: dict[str, tuple[str, str]] = {}
        self._last_prune = 0.0
        self.batches = 0
        self.dropped = 0  # updates not recorded: the writer was gone or too far behind
        self._writing = True
        self._thread = threading.Thread(target=self._run, name="bkwatch-record", daemon=True)
        self._thread.start()

    # -- the screen's thread ------------------------------------------------------------------

    def observe(self, update: PollUpdate) -> None:
        self.observe_as_of(self.clock(), update, update.watch.task, update.watch.label)

    def observe_as_of(self, at: float, update: PollUpdate, task: Task | None, label: str | None) -> None:
        """An update observed at `at`, with the task and label its watch had then."""
        if not self._writing or self._queue.qsize() > MAX_QUEUED:
            self.dropped += 1
            return
        task = task if update.error is None else None
        self._queue.put((at, update.key, label, task, update.transitions, update.error))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything observed so far is written."""
        if not self._writing:
            return
        done = threading.Event()
        self._queue.put(done)
        self._wake.set()
        done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._wake.set()
            self._thread.join(timeout)

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._check()
            self._maintain()
            stop = False
            while not stop:
                try:
                    first = self._queue.get(timeout=PRUNE_SECONDS / 10)
                except queue.Empty:
                    self._maintain()
                    continue
                if first is not _STOP and not isinstance(first, threading.Event):
                    # What comes in the next half second is taken in one go, unless someone waits:
                    # not woken by every update (a poll of 2,000 watches is 2,000 of them).
                    self._wake.wait(FLUSH_SECONDS)
                self._wake.clear()
                batch: list[Item] = []
                waiting: list[threading.Event] = []
                item = first
                while True:
                    if item is _STOP:
                        stop = True
                        break
                    if isinstance(item, threading.Event):
                        waiting.append(item)
                    else:
                        batch.append(item)
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                self._write(batch)
                if time.monotonic() - self._last_prune > PRUNE_SECONDS:
                    self._maintain()
                for event in waiting:
                    event.set()
        except Exception:
            log.exception("the record stopped")
        finally:
            self._writing = False
            self.conn.close()
            while True:  # whoever waits for a flush is not left waiting
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, threading.Event):
                    item.set()

    def _check(self) -> None:
        """The integrity check, off the screen's thread: a damaged file is moved aside here too."""
        try:
            result = self.conn.execute("PRAGMA quick_check(1)").fetchone()[0]
            if result == "ok":
                return
        except sqlite3.DatabaseError as exc:
            result = str(exc)
        self.conn.close()
        aside = move_aside(self.path)
        self.conn, _ = open_db(self.path, check=False)
        self.notice = f"the record was damaged ({result}); kept as {aside.name}, a new one started"
        log.warning("%s", self.notice)

    def _maintain(self) -> None:
        self._last_prune = time.monotonic()
        try:
            self._in_transaction(Rows())
            dropped = prune(self.conn, self.limits, self.clock())
            if dropped:
                log.info("record: %d old tasks pruned", dropped)
                self._written.clear()
                self._seen_units.clear()
                self._keepers.clear()
                self._unit_sigs.clear()
                self._compared.clear()
        except sqlite3.Error:
            log.exception("record: pruning failed")

    def _write(self, batch: list[Item]) -> None:
        rows = Rows()
        for item in batch:
            self._rows(rows, *item)
        self._in_transaction(rows)
        if rows:
            self.batches += 1

    def _in_transaction(self, rows: Rows) -> None:
        """Write `rows` and the audit file's new lines in one transaction. The audit offset is read
        and moved under the write lock, so two monitors sharing the record copy no line twice."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self._ingest_audit(rows)
            if rows:
                rows.write(self.conn)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _clean_now(self, text: str) -> str:
        text = clean_text(text[:REASON_CHARS])
        if not self.secrets:
            return text
        return cut_secrets(redact(text, self.secrets), self.secrets)

    def _rows(
        self,
        rows: Rows,
        now: float,
        key: str,
        label: str | None,
        task: Task | None,
        transitions: list[Transition],
        error: BkError | None,
    ) -> None:
        if error is not None:
            if error.kind in OUTAGE_KINDS and key not in self._open_outages:
                self._open_outages.add(key)
                system = key.split(":", 1)[0]
                rows.outages.append((key, system, str(error.kind), now, self._clean(error.message)))
            return
        if task is None:
            return
        if key in self._open_outages:
            self._open_outages.discard(key)
            rows.outage_ends.append((now, key))
        first = key not in self._seen_units
        written = self._written.get(key)
        if (
            written is None
            or transitions
            or now - written[0] > TASK_ROW_SECONDS
            or written[1] != task.name
            or written[2] != task.started_by
        ):
            self._written[key] = (now, task.name, task.started_by)
            rows.tasks.append(
                (key, str(task.system), self._clean(task.name), self._clean(label), str(task.state),
                 task.raw_state, task.start, task.end, self._clean(task.detail), now, now, int(task.terminal),
                 self._clean(task.started_by))
            )  # fmt: skip
        if first:
            self._seen_units[key] = now
        elif not transitions and (
            task.root is None
            or now - self._seen_units[key] > NAMES_SECONDS
            or ((seen := self._compared.get(key)) is not None and seen() is task)
        ):
            return
        self._compared[key] = weakref.ref(task)
        walked = list(task.root.walk()) if task.root is not None else []  # read once, used twice
        now_rows = unit_rows(key, task, self._clean, walked)
        sigs = [hash(r) for r in now_rows]
        last = self._unit_sigs.get(key)
        if not (first or transitions) and sigs == last:
            return  # nothing came since: no rows, no snapshot
        if first or last is None or len(last) != len(sigs):
            rows.units.extend(now_rows)
        else:  # only the steps / nodes whose row changed since it was last written
            rows.units.extend(r for r, a, b in zip(now_rows, sigs, last, strict=True) if a != b)
        self._unit_sigs[key] = sigs
        keeper = self._keepers[key] = Keeper() if first else self._keepers.get(key) or Keeper()
        whole, blob = keeper.encode(task, self._clean, walked)
        rows.snapshots.append((key, now, int(whole), blob))
        units = Lookup(task)
        clean = self._clean
        changes: list[list[Any]] = []  # host and job-task changes: one row for all of them
        for t in transitions:
            level = t.level
            code = units.code(t) if level != "task" and t.new in BAD else None
            if level in PACKED_LEVELS:
                changes.append([t.at, level, t.key, clean(t.name), t.old, t.new, t.step_id, code])
            else:
                rows.transitions.append(
                    (key, t.at, level, t.key, clean(t.name), None if t.old is None else str(t.old),
                     str(t.new), t.step_id, code)
                )  # fmt: skip
        if changes:
            rows.unit_transitions.append((key, changes[0][0], len(changes), orjson.dumps(changes)))
        if first:
            bad = list(bad_units(task))
        else:
            bad = [units.failure(t) for t in transitions if t.level in UNIT_LEVELS and t.new in BAD]
        for found in bad:
            if found is None:
                continue
            level, unit_key, step_id, host, name, code, reason = found
            reason = self._clean(reason) or ""
            sig = self._sigs.get(reason)
            if sig is None:
                if len(self._sigs) > 10_000:
                    self._sigs.clear()
                sig = self._sigs[reason] = signature(reason)
            rows.failures.append((key, level, unit_key, step_id or "", host, self._clean(name), now, code,
                                  reason, sig[0]))  # fmt: skip

    def _ingest_audit(self, rows: Rows) -> None:
        """The audit file's lines added since the last look, as `actions` rows (in a transaction)."""
        path = self.data_dir / AUDIT_FILE
        try:
            size = path.stat().st_size
        except OSError:
            return
        got = self.conn.execute("SELECT value FROM meta WHERE key = 'audit_offset'").fetchone()
        offset = int(got[0]) if got else 0
        if size == offset:
            return
        if size < offset:
            offset = 0  # a new file
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # a line being written is read next time
        for raw in data[:end].splitlines():
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(rec, dict) or not isinstance(rec.get("target"), str):
                continue
            at = epoch(rec.get("at"))
            subject = rec.get("subject")
            rows.actions.append(
                (rec["target"], at, *(self._clean(as_text(rec.get(k))) for k in ("action",)),
                 self._clean(as_text(subject)), *(self._clean(as_text(rec.get(k))) for k in
                 ("result", "user", "local_user", "by", "why", "code", "message", "state")))
            )  # fmt: skip
        rows.meta.append(("audit_offset", str(offset + end)))


class _Cleaned(dict[str | None, str | None]):
    """Texts cleaned and redacted, by the raw text: a short one (a name, a state's text) is cleaned
    once and kept (up to `CACHED_TEXTS` of them, then forgotten all at once), a long one each time."""

    __slots__ = ("_now",)

    def __init__(self, now: Callable[[str], str]) -> None:
        super().__init__()
        self._now = now

    def __missing__(self, text: str | None) -> str | None:
        done = self._now(text) if text else text
        if text is None or len(text) <= CACHED_CHARS:
            if len(self) >= CACHED_TEXTS:
                self.clear()
            self[text] = done
        return done
