"""One task's story, read back from the record (and brought up to date from a live snapshot when
the task is still running): what `bkwatch report` renders."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import orjson

from bkwatch.evidence.signatures import Cluster, group
from bkwatch.model import Task
from bkwatch.record.rows import bad_units, unit_rows
from bkwatch.text import clean_text


@dataclass(slots=True)
class Unit:
    level: str  # step | node
    id: str
    name: str
    depth: int
    state: str
    start: float | None
    end: float | None


@dataclass(slots=True)
class Failed:
    level: str  # host | job_task | node
    key: str
    step_id: str
    host: str | None
    name: str
    at: float
    code: str | None
    reason: str
    signature: str = ""  # as recorded; "" for one read live just now


@dataclass
class Story:
    target: str
    system: str
    name: str | None = None
    label: str | None = None
    state: str = "unknown"
    start: float | None = None
    end: float | None = None
    detail: str = ""
    first_seen: float | None = None
    last_seen: float | None = None
    live: bool = False  # brought up to date from the server just now
    recorded: bool = False  # the record knew the task
    started_by: str | None = None
    units: list[Unit] = field(default_factory=list)
    transitions: list[dict[str, Any]] = field(default_factory=list)  # task / step / node level
    unit_changes: int = 0  # host and job-task transitions recorded
    failures: list[Failed] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    outages: list[dict[str, Any]] = field(default_factory=list)
    _clusters: list[Cluster] | None = field(default=None, repr=False)
    _reasons: dict[str, str] | None = field(default=None, repr=False)

    @property
    def bars(self) -> list[Unit]:
        """The steps or nodes drawn on the timeline: unnamed ones (a pipeline's start and end
        events, its gateways) are left out."""
        return [u for u in self.units if u.name and u.name != u.id]

    @property
    def title(self) -> str:
        return self.label or self.name or self.target

    @property
    def duration(self) -> float | None:
        if self.start is None:
            return None
        end = self.end if self.end is not None else self.last_seen
        return None if end is None else max(0.0, end - self.start)

    @property
    def outcome(self) -> str:
        return self.state

    def clusters(self) -> list[Cluster]:
        """Failing members grouped by the signature of their failure text: the one recorded with
        it (worked out by the writer), else worked out now (`signatures.group`)."""
        if self._clusters is None:
            found: dict[str, Cluster] = {}
            seen: dict[str, tuple[set[str], set[str]]] = {}  # signature -> its members, its steps
            for f in self.failures:
                if not f.signature:
                    continue
                c = found.get(f.signature)
                if c is None:
                    c = found[f.signature] = Cluster(f.signature, f.reason)
                    seen[f.signature] = (set(), set())
                members, steps = seen[f.signature]
                member = _member(f)
                if member not in members:
                    members.add(member)
                    c.members.append(member)
                if f.step_id and f.step_id not in steps:
                    steps.add(f.step_id)
                    c.steps.append(f.step_id)
            for c in group(
                (_member(f), f.step_id or None, f.reason) for f in self.failures if not f.signature
            ):
                same = found.get(c.signature)
                if same is None:
                    found[c.signature] = c
                else:
                    members = seen[c.signature][0]
                    same.members.extend(m for m in c.members if m not in members)
            self._clusters = sorted(found.values(), key=lambda c: -c.count)
        return self._clusters

    def reasons(self) -> dict[str, str]:
        if self._reasons is None:
            self._reasons = {_member(f): f.reason for f in self.failures}
        return self._reasons


def _member(f: Failed) -> str:
    return f.host or f.name or f.key if f.level != "node" else f"{f.name or f.key} ({f.key})"


def load(conn: sqlite3.Connection, target: str) -> Story | None:
    row = conn.execute(
        "SELECT system, name, label, state, start, end, detail, first_seen, last_seen, started_by FROM tasks "
        "WHERE target = ?",
        (target,),
    ).fetchone()
    if row is None:
        return None
    story = Story(target, row[0], row[1], row[2], row[3] or "unknown", row[4], row[5], row[6] or "",
                  row[7], row[8], recorded=True, started_by=row[9])  # fmt: skip
    story.units = [
        Unit(*r)
        for r in conn.execute(
            "SELECT level, id, coalesce(name, ''), coalesce(depth, 0), state, start, end FROM units "
            "WHERE target = ? ORDER BY level, ord",
            (target,),
        )
    ]
    cols = ("at", "level", "key", "name", "old", "new", "step_id", "code")
    story.transitions = [
        dict(zip(cols, r, strict=True))
        for r in conn.execute(
            "SELECT at, level, key, name, old, new, step_id, code FROM transitions WHERE target = ? "
            "AND level IN ('task', 'step', 'node') ORDER BY at, rowid",
            (target,),
        )
    ]
    story.unit_changes = sum(
        conn.execute(sql, (target,)).fetchone()[0]
        for sql in (
            # a record from before schema 3 kept them a row each
            "SELECT count(*) FROM transitions WHERE target = ? AND level IN ('host', 'job_task')",
            "SELECT coalesce(sum(n), 0) FROM unit_transitions WHERE target = ?",
        )
    )
    story.failures = [
        Failed(*r)
        for r in conn.execute(
            "SELECT level, key, step_id, host, coalesce(name, ''), at, code, coalesce(reason, ''), "
            "coalesce(signature, '') FROM failures WHERE target = ? ORDER BY at, key",
            (target,),
        )
    ]
    acols = ("at", "action", "subject", "result", "user", "local_user", "by", "why", "code", "message")
    story.actions = [
        dict(zip(acols, r, strict=True))
        for r in conn.execute(
            f"SELECT {', '.join(acols)} FROM actions WHERE target = ? ORDER BY at, rowid",
            (target,),
        )
    ]
    ocols = ("kind", "start", "end", "message")
    story.outages = [
        dict(zip(ocols, r, strict=True))
        for r in conn.execute(
            "SELECT kind, start, end, message FROM outages WHERE target = ? ORDER BY start", (target,)
        )
    ]
    return story


def merge_live(story: Story | None, task: Task, now: float) -> Story:
    """The story brought up to date by a snapshot read just now: header, steps or nodes, and the
    failures the record had not seen (each with the time it was read)."""
    if story is None:
        story = Story(task.target, str(task.system))
    story.live = True
    story.name = clean_text(task.name) if task.name else story.name
    story.state = str(task.state)
    story.start, story.end = task.start, task.end
    story.detail = clean_text(task.detail)
    story.started_by = clean_text(task.started_by) if task.started_by else story.started_by
    story.last_seen = now
    story.units = [
        Unit(r[1], r[2], r[3] or "", r[5] or 0, r[7], r[8], r[9])
        for r in unit_rows(task.target, task, _clean)
    ]
    known = {(f.level, f.key, f.step_id) for f in story.failures}
    for found in bad_units(task):
        if found is None:
            continue
        level, key, step_id, host, name, code, reason = found
        if (level, key, step_id or "") not in known:
            story.failures.append(Failed(level, key, step_id or "", host, clean_text(name or ""), now, code,
                                         clean_text(reason)))  # fmt: skip
    story._clusters = story._reasons = None
    return story


def _clean(text: str | None) -> str | None:
    return clean_text(text) if text else text


def unpack(data: bytes) -> list[list[Any]]:
    """A `unit_transitions` row's changes: [at, level, key, name, old, new, step_id, code] each
    (anything else in it, a damaged or hand-made row, is left out)."""
    try:
        got = orjson.loads(data)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(got, list):
        return []
    return [c for c in got if isinstance(c, list) and len(c) == 8 and isinstance(c[0], int | float)]


def events(conn: sqlite3.Connection, target: str) -> list[tuple[float, str]]:
    """Everything recorded about one task in time order, as (time, one line): every transition
    (hosts included), the actions and the outages (`bkwatch replay`)."""
    out: list[tuple[float, str]] = []
    changes: list[Any] = conn.execute(
        "SELECT at, level, key, name, old, new, step_id, code FROM transitions WHERE target = ? "
        "ORDER BY at, rowid",
        (target,),
    ).fetchall()
    for (data,) in conn.execute(  # a poll's host changes after its task's and steps' (a stable sort)
        "SELECT data FROM unit_transitions WHERE target = ? ORDER BY at, rowid", (target,)
    ):
        changes += unpack(data)
    changes.sort(key=lambda c: c[0])
    for at, level, key, name, old, new, step, code in changes:
        where = f" (step {step})" if step else ""
        what = f"{level} {name or key}{where}" if level != "task" else f"task {name or key}"
        change = f"{old} → {new}" if old else f"first seen {new}"
        out.append((at, f"{what}: {change}" + (f" (code {code})" if code else "")))
    for at, action, subject, result, user in conn.execute(
        "SELECT at, action, subject, result, user FROM actions WHERE target = ?", (target,)
    ):
        out.append((at, f"action {action} {subject or ''} by {user or '?'}: {result}"))
    for start, end, kind, message in conn.execute(
        "SELECT start, end, kind, message FROM outages WHERE target = ?", (target,)
    ):
        out.append((start, f"server unreachable ({kind}): {message or ''}"))
        if end is not None:
            out.append((end, "server reachable again"))
    out.sort(key=lambda e: e[0])
    return [(at, clean_text(text)) for at, text in out]
