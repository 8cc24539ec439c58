"""What one snapshot of a task becomes in the record: timeline rows for its steps or nodes, its
failing units, a transition's unit looked up by key, and the batch of rows one transaction writes.
Pure: no thread, no file (the writer is `recorder.py`)."""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from bkwatch.model import Node, State, Task, Transition
from bkwatch.redact import secret_forms

BAD = frozenset({State.FAILED, State.STOPPED})


def cut_secrets(text: str, secrets: Sequence[str]) -> str:
    """`text` with the start of a secret masked where a message was cut short inside it ("…"):
    a message is shortened before it is redacted, so the redactor never saw the whole secret."""
    if "…" not in text:
        return text
    for secret in secrets:
        for form in secret_forms(secret):
            for k in range(len(form) - 1, 3, -1):
                cut = form[:k] + "…"
                if cut in text:
                    text = text.replace(cut, "****…")
                    break
    return text


class Rows:
    __slots__ = (
        "actions",
        "failures",
        "meta",
        "outage_ends",
        "outages",
        "snapshots",
        "tasks",
        "transitions",
        "unit_transitions",
        "units",
    )

    def __init__(self) -> None:
        self.tasks: list[tuple[Any, ...]] = []
        self.transitions: list[tuple[Any, ...]] = []
        self.unit_transitions: list[tuple[Any, ...]] = []  # (target, at, count, JSON list)
        self.units: list[tuple[Any, ...]] = []
        self.failures: list[tuple[Any, ...]] = []
        self.outages: list[tuple[Any, ...]] = []
        self.outage_ends: list[tuple[Any, ...]] = []
        self.actions: list[tuple[Any, ...]] = []
        self.meta: list[tuple[Any, ...]] = []
        self.snapshots: list[tuple[Any, ...]] = []

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in self.__slots__)

    def write(self, conn: sqlite3.Connection) -> None:
        insert(
            conn,
            "INSERT INTO tasks",
            self.tasks,
            " ON CONFLICT(target) DO UPDATE SET system=excluded.system, "
            "name=coalesce(excluded.name, tasks.name), label=excluded.label, state=excluded.state, "
            "raw_state=excluded.raw_state, start=excluded.start, end=excluded.end, detail=excluded.detail, "
            "last_seen=excluded.last_seen, terminal=excluded.terminal, "
            "started_by=coalesce(excluded.started_by, tasks.started_by)",
        )
        insert(conn, "INSERT INTO transitions", self.transitions)
        insert(conn, "INSERT INTO unit_transitions", self.unit_transitions)
        insert(conn, "INSERT OR REPLACE INTO units", self.units)
        insert(  # a failure keeps the time it was first seen, across restarts too
            conn,
            "INSERT INTO failures",
            self.failures,
            " ON CONFLICT DO UPDATE SET host=excluded.host, name=excluded.name, code=excluded.code, "
            "reason=excluded.reason, signature=excluded.signature",
        )
        conn.executemany("INSERT INTO outages VALUES (?,?,?,?,NULL,?)", self.outages)
        conn.executemany("UPDATE outages SET end = ? WHERE target = ? AND end IS NULL", self.outage_ends)
        conn.executemany("INSERT INTO actions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", self.actions)
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?,?)", self.meta)
        insert(conn, "INSERT INTO snapshots", self.snapshots)


CHUNK = 64  # rows in one INSERT: one statement run for them, not one each (~20 % less CPU)


def insert(conn: sqlite3.Connection, head: str, rows: list[tuple[Any, ...]], tail: str = "") -> None:
    """`rows` (all as wide) inserted `CHUNK`, then 32, 16, ... at a time: a few statement texts a
    table, each kept prepared by the connection. Rows in one statement are taken in order, as
    `executemany` takes them (a later one replaces or updates an earlier one with its key)."""
    i, n, size = 0, len(rows), CHUNK
    while i < n:
        while size > n - i:
            size //= 2
        part = rows[i : i + size]
        conn.execute(_sql(head, len(part[0]), size, tail), [v for row in part for v in row])
        i += size


@functools.cache
def _sql(head: str, width: int, size: int, tail: str) -> str:
    one = f"({','.join('?' * width)})"
    return f"{head} VALUES {','.join([one] * size)}{tail}"


Failure = tuple[str, str, str | None, str | None, str | None, str | None, str]


class Lookup:
    """A task's units by key, indexed only when a transition asks."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self._steps: dict[str, Any] | None = None
        self._nodes: dict[str, Any] | None = None

    def unit(self, t: Transition) -> Any:
        task = self.task
        if t.level == "host":
            if t.step_id is not None:
                if self._steps is None:
                    self._steps = {s.id: s for s in task.steps}
                step = self._steps.get(t.step_id)
                return step.hosts.get(t.key) if step is not None else None
            return task.hosts.get(t.key)
        if t.level == "job_task":
            return task.job_tasks.get(t.key)
        if t.level == "node" and task.root is not None:
            if self._nodes is None:
                self._nodes = {n.id: n for n, _ in task.root.walk()}
            return self._nodes.get(t.key)
        return None

    def code(self, t: Transition) -> str | None:
        unit = self.unit(t)
        return getattr(unit, "error_code", None) or getattr(unit, "err_code", None) if unit else None

    def failure(self, t: Transition) -> Failure | None:
        unit = self.unit(t)
        if unit is None:
            return None
        return unit_failure(t.level, unit, t.step_id)


def unit_failure(level: str, unit: Any, step_id: str | None) -> Failure | None:
    if level == "host":
        reason = unit.error_text or unit.status_text
        return level, unit.key, step_id, unit.key, unit.ip, unit.error_code, reason
    if level == "job_task":
        host = f"{unit.cloud_id}:{unit.ip}" if unit.ip and unit.cloud_id is not None else unit.ip or None
        return (
            level,
            unit.id,
            None,
            host,
            unit.process or unit.ip,
            unit.err_code,
            unit.failed_reason or unit.raw_state,
        )
    if unit.children or unit.synthetic:
        return None
    return level, unit.id, None, None, unit.name, None, unit.message or unit.raw_state


def bad_units(task: Task) -> Iterable[Failure | None]:
    for step in task.steps:
        for h in step.hosts.values():
            if h.state in BAD:
                yield unit_failure("host", h, step.id)
    for h in task.hosts.values():
        if h.state in BAD:
            yield unit_failure("host", h, None)
    for jt in task.job_tasks.values():
        if jt.state in BAD:
            yield unit_failure("job_task", jt, None)
    if task.root is not None:
        for node, _ in task.root.walk():
            if node is not task.root and node.state is State.FAILED:
                yield unit_failure("node", node, None)


def unit_rows(
    key: str,
    task: Task,
    clean: Callable[[str | None], str | None],
    walked: list[tuple[Node, int]] | None = None,
) -> list[tuple[Any, ...]]:
    """The task's steps or nodes as timeline rows (id, name, parent, depth, order, state, times);
    `walked`: the tree's `walk()` as a list, when the caller has it."""
    out: list[tuple[Any, ...]] = []
    for i, s in enumerate(task.steps):
        out.append((key, "step", s.id, clean(s.name), None, 0, i, str(s.state), s.start, s.end))
    if task.root is not None:
        parents: dict[str, str] = {}
        for i, (node, depth) in enumerate(task.root.walk() if walked is None else walked):
            for child in node.children:
                parents[child.id] = node.id
            if node is task.root:
                continue
            out.append((key, "node", node.id, clean(node.name), parents.get(node.id), depth, i,
                        str(node.state), node.start, node.end))  # fmt: skip
    return out


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        from datetime import datetime  # lazy: only an ISO time string needs it

        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    return time.time()
