"""The record's SQLite file: schema, migrations, opening (a corrupt file is moved aside) and pruning.

One file, `record.sqlite3` in the data directory, in WAL mode: the monitor's writer thread is its
only writer; `report` and `hosts --flaky` read it while the monitor writes. The schema's version is
`PRAGMA user_version`; `MIGRATIONS[n]` takes a file from version n to n + 1.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

DB_FILE = "record.sqlite3"
DAY = 86_400.0

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE tasks (
        target TEXT PRIMARY KEY, system TEXT NOT NULL, name TEXT, label TEXT, state TEXT,
        raw_state TEXT, start REAL, end REAL, detail TEXT, first_seen REAL, last_seen REAL,
        terminal INTEGER DEFAULT 0
    );
    CREATE INDEX tasks_last_seen ON tasks(last_seen);
    CREATE TABLE transitions (
        target TEXT NOT NULL, at REAL NOT NULL, level TEXT NOT NULL, key TEXT NOT NULL,
        name TEXT, old TEXT, new TEXT NOT NULL, step_id TEXT, code TEXT
    );
    CREATE INDEX transitions_target ON transitions(target, at);
    CREATE INDEX transitions_at ON transitions(at);
    CREATE TABLE units (
        target TEXT NOT NULL, level TEXT NOT NULL, id TEXT NOT NULL, name TEXT, parent TEXT,
        depth INTEGER, ord INTEGER, state TEXT, start REAL, end REAL,
        PRIMARY KEY (target, level, id)
    ) WITHOUT ROWID;
    CREATE TABLE failures (
        target TEXT NOT NULL, level TEXT NOT NULL, key TEXT NOT NULL, step_id TEXT NOT NULL,
        host TEXT, name TEXT, at REAL NOT NULL, code TEXT, reason TEXT, signature TEXT,
        PRIMARY KEY (target, level, key, step_id)
    ) WITHOUT ROWID;
    CREATE INDEX failures_host ON failures(host, at, signature);  -- with the key: covers --flaky
    CREATE INDEX failures_at ON failures(at);
    CREATE TABLE actions (
        target TEXT NOT NULL, at REAL NOT NULL, action TEXT, subject TEXT, result TEXT,
        user TEXT, local_user TEXT, by TEXT, why TEXT, code TEXT, message TEXT, state TEXT
    );
    CREATE INDEX actions_target ON actions(target, at);
    CREATE TABLE outages (
        target TEXT NOT NULL, system TEXT, kind TEXT NOT NULL, start REAL NOT NULL, end REAL,
        message TEXT
    );
    CREATE INDEX outages_target ON outages(target, start);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    """,
    # 1 -> 2: the task as the monitor saw it at each transition, for a replay (snapshot.py)
    """
    CREATE TABLE snapshots (
        target TEXT NOT NULL, at REAL NOT NULL, whole INTEGER NOT NULL, data BLOB NOT NULL
    );
    CREATE INDEX snapshots_target ON snapshots(target, at);
    CREATE INDEX snapshots_at ON snapshots(at);
    """,
    # 2 -> 3: a poll's host and job-task changes of one task in one row (a JSON list), not a row
    # each: a JOB step of hundreds of hosts moving is hundreds of changes in one poll, and a row
    # each was most of the record's CPU. Older records keep theirs in `transitions` (both read).
    """
    CREATE TABLE unit_transitions (
        target TEXT NOT NULL, at REAL NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL
    );
    CREATE INDEX unit_transitions_target ON unit_transitions(target, at);
    CREATE INDEX unit_transitions_at ON unit_transitions(at);
    """,
    # 3 -> 4: who started the task, when its system says (a report's header)
    """
    ALTER TABLE tasks ADD COLUMN started_by TEXT;
    """,
)
VERSION = len(MIGRATIONS)
PRUNED_TABLES = (
    ("transitions", "at"),
    ("unit_transitions", "at"),
    ("failures", "at"),
    ("actions", "at"),
    ("outages", "start"),
    ("snapshots", "at"),
)


@dataclass(frozen=True)
class Limits:
    days: float = 30.0
    max_bytes: int = 200 * 1024 * 1024


class RecordError(Exception):
    """The record cannot be used (a newer schema, an unwritable directory)."""


def db_path(data_dir: Path) -> Path:
    return Path(data_dir) / DB_FILE


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=5.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def open_db(path: Path, *, check: bool = True) -> tuple[sqlite3.Connection, str | None]:
    """The record opened for writing and migrated, and a one-line notice when a corrupt file was
    moved aside (it is kept beside, as `record.sqlite3.corrupt-TIME`). Raises RecordError only when
    no file can be made at all, or the file is from a newer bkwatch."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return _open(path, check), None
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise RecordError(f"the record {path} is locked by another process") from None
        aside = move_aside(path)
        notice = f"the record {path.name} was unreadable ({exc}); kept as {aside.name}, a new one started"
    try:
        return _open(path, False), notice
    except sqlite3.DatabaseError as exc:
        raise RecordError(f"cannot open the record {path}: {exc}") from None


def _open(path: Path, check: bool) -> sqlite3.Connection:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # created private before sqlite opens it
    os.close(fd)
    conn = connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > VERSION:
            conn.close()
            raise RecordError(f"the record {path} is from a newer bkwatch (schema {version} > {VERSION})")
        if version == 0:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect on an empty file
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.DatabaseError(f"journal mode {mode}")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: a killed process loses nothing committed
        if check and version:
            result = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
            if result != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {result}")
        for step in range(version, VERSION):
            conn.executescript(f"BEGIN; {MIGRATIONS[step]}; PRAGMA user_version = {step + 1}; COMMIT;")
    except BaseException:
        conn.close()
        raise
    return conn


def move_aside(path: Path) -> Path:
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            if suffix == "-shm":
                src.unlink()
            else:
                os.replace(src, Path(f"{aside}{suffix}"))
    return aside


def size_of(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return (pages - free) * conn.execute("PRAGMA page_size").fetchone()[0]


def prune(conn: sqlite3.Connection, limits: Limits, now: float | None = None) -> int:
    """Drop what is older than `limits.days`, then whole tasks, least recently seen first, until
    the file's live pages fit in `limits.max_bytes` (90 % of it, so it does not prune on every
    pass). Returns the number of tasks dropped. Freed pages are given back to the file system."""
    now = time.time() if now is None else now
    cutoff = now - limits.days * DAY
    dropped = 0
    with _tx(conn):
        for table, column in PRUNED_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE {column} < ?", (cutoff,))
        old = [r[0] for r in conn.execute("SELECT target FROM tasks WHERE last_seen < ?", (cutoff,))]
        dropped += _drop(conn, old)
    goal = int(limits.max_bytes * 0.9)
    while size_of(conn) > limits.max_bytes or (dropped and size_of(conn) > goal):
        total = conn.execute("SELECT count(*) FROM tasks").fetchone()[0]
        if total == 0:
            with _tx(conn):  # rows of no known task (none should exist): oldest tenth of them
                for table, column in PRUNED_TABLES:
                    conn.execute(
                        f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} "
                        f"ORDER BY {column} LIMIT max(1, (SELECT count(*) FROM {table}) / 10))"
                    )
            if size_of(conn) > limits.max_bytes and not _any_rows(conn):
                break
            continue
        batch = [
            r[0]
            for r in conn.execute(
                "SELECT target FROM tasks ORDER BY last_seen LIMIT ?", (max(1, total // 10),)
            )
        ]
        with _tx(conn):
            dropped += _drop(conn, batch)
        if size_of(conn) <= goal:
            break
    if dropped:
        conn.execute("PRAGMA incremental_vacuum")
        with contextlib.suppress(sqlite3.OperationalError):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return dropped


def _any_rows(conn: sqlite3.Connection) -> bool:
    return any(conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t, _ in PRUNED_TABLES)


def _drop(conn: sqlite3.Connection, targets: list[str]) -> int:
    for table in (*(t for t, _ in PRUNED_TABLES), "units", "tasks"):
        conn.executemany(f"DELETE FROM {table} WHERE target = ?", [(t,) for t in targets])
    return len(targets)


@contextlib.contextmanager
def _tx(conn: sqlite3.Connection):  # -> Iterator[None]
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
