"""The record as the screen reads it (`tui.replay.port.Record`): a task's frames for a replay, a
host's recorded failures, and the note on a failing host's line — looked up on one reading thread
of its own and cached per (host, task), so the screen never waits on the file."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bkwatch.model import Task
from bkwatch.record.db import DAY, connect, db_path
from bkwatch.text import clean_text
from bkwatch.tui.replay.port import HostNote, PastFailure

PAST_DAYS = 7
HISTORY_ROWS = 500  # a host's failures listed, newest first
CACHE_MAX = 5000


def host_note(others: dict[str, set[str]], sig: str) -> HostNote | None:
    """`others` is task -> the signatures of the host's failures there; None when empty."""
    if not others:
        return None
    same = sum(1 for sigs in others.values() if sig in sigs)
    return HostNote(len(others) + 1, PAST_DAYS, same)


class RecordView:
    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = db_path(data_dir)
        self.clock = clock
        self.on_note: Callable[[str], None] | None = None
        self._notes: dict[tuple[str, str], HostNote | bool] = {}  # True: being looked up; False: none
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # the reading thread's own

    def _read(self) -> sqlite3.Connection | None:
        if self._conn is None and self.path.exists():
            self._conn = connect(self.path, readonly=True)
        return self._conn

    def frames(self, key: str) -> Sequence[tuple[float, Task]]:
        if not self.path.exists():
            return []
        from bkwatch.record.snapshot import frames  # lazy: only a replay needs it

        conn = connect(self.path, readonly=True)
        try:
            return frames(conn, key)
        except sqlite3.DatabaseError:
            return []
        finally:
            conn.close()

    def last_states(self, keys: Collection[str]) -> dict[str, tuple[str, float]]:
        if not self.path.exists() or not keys:
            return {}
        conn = connect(self.path, readonly=True)
        found: dict[str, tuple[str, float]] = {}
        try:
            keys = list(keys)
            for i in range(0, len(keys), 500):  # SQLite's limit on parameters
                part = keys[i : i + 500]
                marks = ",".join("?" * len(part))
                for target, state, seen in conn.execute(
                    f"SELECT target, state, last_seen FROM tasks WHERE target IN ({marks})", part
                ):
                    if state and seen is not None:
                        found[target] = (state, seen)
        except sqlite3.DatabaseError:
            return {}
        finally:
            conn.close()
        return found

    def host_history(self, host: str) -> list[PastFailure]:
        if not self.path.exists():
            return []
        conn = connect(self.path, readonly=True)
        try:
            rows = conn.execute(
                "SELECT f.at, f.target, t.system, coalesce(t.label, t.name), f.signature, f.reason "
                "FROM failures f LEFT JOIN tasks t ON t.target = f.target WHERE f.host = ? "
                "ORDER BY f.at DESC LIMIT ?",
                (host, HISTORY_ROWS),
            ).fetchall()
        except sqlite3.DatabaseError:
            return []
        finally:
            conn.close()
        return [
            PastFailure(at, system or t.split(":", 1)[0], t, name or t, sig or "", reason or "")
            for at, t, system, name, sig, reason in rows
        ]

    def host_note(self, host: str, target: str, reason: str) -> HostNote | None:
        key = (host, target)
        with self._lock:
            if key in self._notes:
                found = self._notes[key]
                return found if isinstance(found, HostNote) else None
            if len(self._notes) > CACHE_MAX:
                self._notes.clear()
            # The host newly fails here: what was said of it in other tasks is said again.
            for other in [k for k in self._notes if k[0] == host]:
                del self._notes[other]
            self._notes[key] = True
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="bkwatch-record-read")
        self._pool.submit(self._look_up, host, target, reason)
        return None

    def _look_up(self, host: str, target: str, reason: str) -> None:
        from bkwatch.evidence.signatures import signature  # lazy: on this reading thread, not at start

        note: HostNote | None = None
        try:
            conn = self._read()
            if conn is not None:
                others: dict[str, set[str]] = {}
                for other, sig in conn.execute(
                    "SELECT target, signature FROM failures WHERE host = ? AND at >= ? AND target != ?",
                    (host, self.clock() - PAST_DAYS * DAY, target),
                ):
                    others.setdefault(other, set()).add(sig or "")
                note = host_note(others, signature(clean_text(reason))[0])
        except sqlite3.DatabaseError:
            note = None
        with self._lock:
            self._notes[(host, target)] = note or False
        if note is not None and self.on_note is not None:
            self.on_note(host)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._conn is not None:
            self._conn.close()
