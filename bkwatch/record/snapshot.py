"""A task's snapshots kept so a replay can rebuild the very `Task` the monitor showed at each
transition: encoded here, written by `recorder.py` (table `snapshots`), read back by `frames`.

The first snapshot of a task and every `FULL_EVERY`-th are kept whole; the others as a delta: the
task's header, every step's header, and only the hosts, job tasks and nodes whose fields differ
from the last snapshot kept (compared by a hash of their fields, so a host whose text changed
without a state change is kept too). Units that came or went (a pipeline's nodes appear as they
start) are a delta too: it names the new order of each group that changed (`order`) and the node
tree's new shape (`tree`), so a running pipeline is not kept whole at every poll. A whole
snapshot is compressed and names its fields, so a record outlives a change of the model's fields; a delta
uses its whole snapshot's names and is kept as JSON as it is up to `RAW_DELTA_BYTES` (zlib's
set-up costs more than a few KB of data), compressed past that (hundreds of hosts changed) and
when it reshapes the task (it names every unit's id, as a whole snapshot does).
Text is cleaned and redacted by the writer's `clean` before it is kept. Pure: no thread, no file.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any

import orjson

from bkwatch.model import Host, JobTask, Node, State, Step, System, Task

FULL_EVERY = 50  # a whole snapshot at least this often, so a frame is rebuilt from few deltas
LEVEL = 6  # zlib level of a whole snapshot and of a big delta
RAW_DELTA_BYTES = 8192  # a delta up to this long is kept as JSON: zlib's set-up costs more than it
_IDS = frozenset({"key", "ip", "id", "target"})  # identifiers, kept as they are
# A snapshot keeps a unit's data fields; those named with "_" are caches a parse or the poller
# fills (progress counted once, the units the poller shared), rebuilt on the way back.
_UNITS = ("steps", "hosts", "job_tasks", "root")
_TASK = [f.name for f in fields(Task) if f.name not in _UNITS and f.name[0] != "_"]
_STEP = [f.name for f in fields(Step) if f.name != "hosts" and f.name[0] != "_"]
_HOST = [f.name for f in fields(Host) if f.name[0] != "_"]
_JOB_TASK = [f.name for f in fields(JobTask) if f.name[0] != "_"]
_NODE = [f.name for f in fields(Node) if f.name != "children" and f.name[0] != "_"]
FIELDS = {"task": _TASK, "step": _STEP, "host": _HOST, "job_task": _JOB_TASK, "node": _NODE}
Clean = Callable[[str | None], str | None]


_GET = {level: attrgetter(*names) for level, names in FIELDS.items()}  # fields read in C
_CLASSES = {"task": Task, "step": Step, "host": Host, "job_task": JobTask, "node": Node}
_TYPES = {level: {f.name: str(f.type) for f in fields(cls)} for level, cls in _CLASSES.items()}


def _where(level: str, *types: str) -> list[int]:
    return [i for i, n in enumerate(FIELDS[level]) if _TYPES[level][n] in types and n not in _IDS]


_TEXT = {level: _where(level, "str", "str | None") for level in FIELDS}  # cleaned and redacted
_LISTS = {level: _where(level, "list[str]") for level in FIELDS}
_COUNTS = {level: _where(level, "dict[State, int] | None") for level in FIELDS}


def _values(obj: Any, level: str, clean: Clean) -> list[Any]:
    return _kept(_GET[level](obj), level, clean)


def _kept(fields: tuple[Any, ...], level: str, clean: Clean) -> list[Any]:
    """A unit's fields (as `_GET` reads them) as a snapshot keeps them: text cleaned, lists and
    counts made JSON."""
    values = list(fields)
    for i in _TEXT[level]:
        if values[i]:
            values[i] = clean(values[i])
    for i in _LISTS[level]:
        values[i] = [clean(x) for x in values[i]]
    for i in _COUNTS[level]:
        if values[i] is not None:
            values[i] = [[str(k), n] for k, n in values[i].items()]
    return values


def _hashes(values: list[tuple[Any, ...]]) -> list[int]:
    try:
        return list(map(hash, values))
    except TypeError:  # a list (a job task's solutions)
        return [hash(tuple(tuple(v) if isinstance(v, list) else v for v in row)) for row in values]


_ID = {"host": attrgetter("key"), "job_task": attrgetter("id"), "node": attrgetter("id")}


def _groups(task: Task, walked: list[tuple[Node, int]]) -> Iterator[tuple[str, str, Collection[Any]]]:
    """(level, place, units) of each group of units: a step's hosts (`place` its id), the task's
    hosts, its job tasks, its nodes (in walk order)."""
    for step in task.steps:
        yield "host", step.id, step.hosts.values()
    if task.hosts:
        yield "host", "", task.hosts.values()
    if task.job_tasks:
        yield "job_task", "", task.job_tasks.values()
    if walked:
        yield "node", "", [n for n, _ in walked]


def units(task: Task, walked: list[tuple[Node, int]]) -> Iterator[tuple[str, str, Any]]:
    """(level, place, unit) of every host, job task and node (`walked`: the tree's walk as a
    list): `place` is a host's step id."""
    for step in task.steps:
        for h in step.hosts.values():
            yield "host", step.id, h
    for h in task.hosts.values():
        yield "host", "", h
    for jt in task.job_tasks.values():
        yield "job_task", "", jt
    for node, _ in walked:
        yield "node", "", node


class Keeper:
    """What the writer remembers of one task's last snapshot kept: its units' hashes by group (a
    step's hosts, ...), so a group whose units all hash as before is passed over whole, and the
    node tree's shape (ids and depths, in walk order)."""

    __slots__ = ("count", "groups", "tree")

    def __init__(self) -> None:
        # (level, place) -> (the hash of its units' hashes, unit id -> its hash, in order)
        self.groups: dict[tuple[str, str], tuple[int, dict[str, int]]] = {}
        self.tree: list[tuple[str, int]] = []
        self.count = 0

    def encode(
        self, task: Task, clean: Clean, walked: list[tuple[Node, int]] | None = None
    ) -> tuple[bool, bytes]:
        """(whole, blob) of this snapshot: whole, or a delta against the last one kept. `walked`:
        the task's `root.walk()` as a list, when the caller has it."""
        if walked is None:
            walked = list(task.root.walk()) if task.root is not None else []
        groups: dict[tuple[str, str], tuple[int, dict[str, int]]] = {}
        last = self.groups
        differ: list[tuple[str, str, tuple[Any, ...]]] = []  # changed units' fields, as read
        order: list[list[Any]] = []  # groups whose units came, went or moved: their ids in order
        for level, place, members in _groups(task, walked):
            read = list(map(_GET[level], members))
            hashes = _hashes(read)
            together = hash(tuple(hashes))  # a unit's id is one of its fields: the order is in it
            before = last.get((level, place))
            if before is not None and before[0] == together:
                groups[level, place] = before
                continue
            ids = tuple(map(_ID[level], members))
            known = before[1] if before is not None else {}
            pairs = zip(read, ids, hashes, strict=True)
            differ += [(level, place, f) for f, i, h in pairs if known.get(i) != h]
            groups[level, place] = (together, dict(zip(ids, hashes, strict=True)))
            if level != "node" and (len(known) != len(ids) or tuple(known) != ids):
                order.append([level, place, ids])
        order += [[level, place, ()] for level, place in last.keys() - groups.keys() if level != "node"]
        tree = [(n.id, d) for n, d in walked]
        whole = self.count % FULL_EVERY == 0
        self.count += 1
        self.groups = groups
        new_tree, self.tree = tree != self.tree, tree
        if whole:
            every = units(task, walked)
            changed = [[level, place, _values(unit, level, clean)] for level, place, unit in every]
        else:
            changed = [[level, place, _kept(read, level, clean)] for level, place, read in differ]
        body: dict[str, Any] = {
            "task": _values(task, "task", clean),
            "steps": [_values(s, "step", clean) for s in task.steps],
            "units": changed,
        }
        if (whole and walked) or (new_tree and not whole):  # a tree gone is an empty one
            body["tree"] = tree
        if whole:
            body["fields"] = FIELDS
            return whole, zlib.compress(orjson.dumps(body), LEVEL)
        if order:
            body["order"] = order
        raw = orjson.dumps(body)
        # A delta that reshapes the task names every unit's id: compressed, as a whole one was.
        small = len(raw) <= RAW_DELTA_BYTES and not (order or "tree" in body)
        return whole, raw if small else zlib.compress(raw, LEVEL)


def _body(data: bytes) -> dict[str, Any]:
    """A blob read back: JSON as it is (a small delta), else compressed (a whole snapshot, a big
    delta, and every snapshot of a record written before small deltas were kept as JSON)."""
    return orjson.loads(data if data[:1] == b"{" else zlib.decompress(data))


# ---- reading back -------------------------------------------------------------------------------


def _make(cls: type, names: Sequence[str], values: Sequence[Any], known: Sequence[str]) -> Any:
    kw = {n: v for n, v in zip(names, values, strict=False) if n in known}
    if "state" in kw:
        kw["state"] = _state(kw["state"])
    return cls(**kw)


def _state(value: Any) -> State:
    try:
        return State(value)
    except ValueError:
        return State.UNKNOWN


def _task(body: dict[str, Any], base: Task | None, names: dict[str, list[str]]) -> Task:
    head = dict(zip(names["task"], body["task"], strict=False))
    counts = head.get("status_counts")
    if counts is not None:
        head["status_counts"] = {_state(k): n for k, n in counts}
    head = {k: v for k, v in head.items() if k in _TASK}
    head["state"] = _state(head.get("state"))
    head["system"] = System(head["system"])
    task = Task(**head)
    steps = [_make(Step, names["step"], v, _STEP) for v in body["steps"]]
    if base is not None:  # a delta: the last frame's units, with the changed ones replaced
        old = {s.id: s for s in base.steps}
        for s in steps:
            if s.id in old:
                s.hosts = dict(old[s.id].hosts)
        task.hosts, task.job_tasks = dict(base.hosts), dict(base.job_tasks)
        task.root = _copy_tree(base.root)
    task.steps = steps
    by_step = {s.id: s for s in steps}
    nodes: dict[str, Node] = {}
    if task.root is not None:
        nodes = {n.id: n for n, _ in task.root.walk()}
    tree = body.get("tree")
    for level, place, values in body["units"]:
        if level == "host":
            h = _make(Host, names["host"], values, _HOST)
            (by_step[place].hosts if place in by_step else task.hosts)[h.key] = h
        elif level == "job_task":
            jt = _make(JobTask, names["job_task"], values, _JOB_TASK)
            task.job_tasks[jt.id] = jt
        else:
            n = _make(Node, names["node"], values, _NODE)
            if tree is None and n.id in nodes and base is not None:
                n.children = nodes[n.id].children
                _replace_node(task, nodes[n.id], n)
            nodes[n.id] = n
    for level, place, ids in body.get("order", ()):  # units that came, went or moved (a delta)
        if level == "job_task":
            task.job_tasks = {i: task.job_tasks[i] for i in ids if i in task.job_tasks}
        elif place == "":
            task.hosts = {i: task.hosts[i] for i in ids if i in task.hosts}
        elif place in by_step:
            hosts = by_step[place].hosts
            by_step[place].hosts = {i: hosts[i] for i in ids if i in hosts}
    if tree is not None:
        task.root = _build_tree(nodes, tree)
    return task


def _copy_tree(root: Node | None) -> Node | None:
    if root is None:
        return None
    out = Node(**{n: getattr(root, n) for n in _NODE})
    out.children = [c for c in map(_copy_tree, root.children) if c is not None]
    return out


def _replace_node(task: Task, old: Node, new: Node) -> None:
    if task.root is old:
        task.root = new
        return
    assert task.root is not None
    for parent, _ in task.root.walk():
        for i, child in enumerate(parent.children):
            if child is old:
                parent.children[i] = new
                return


def _build_tree(by_id: dict[str, Node], tree: list[list[Any]]) -> Node | None:
    """The node tree from its nodes (by id: a whole snapshot's, or a delta's laid over the last
    frame's copies) in walk order and their depths."""
    for node in by_id.values():
        node.children = []  # a new list: a delta's node may share its predecessor's
    stack: list[Node] = []
    root: Node | None = None
    for node_id, depth in tree:
        node = by_id.get(node_id)
        if node is None:
            continue
        del stack[depth:]
        if stack:
            stack[-1].children.append(node)
        else:
            root = node
        stack.append(node)
    return root


class Frames(Sequence[tuple[float, Task]]):
    """A task's kept snapshots in time order, each rebuilt into a `Task` when asked for (from the
    last whole one before it); the last one rebuilt is remembered, so stepping forward is cheap."""

    def __init__(self, rows: list[tuple[float, bool, bytes]]) -> None:
        self.times = [r[0] for r in rows]
        self._rows = rows
        self._last: tuple[int, Task] | None = None
        self._names = FIELDS  # the field names of the last frame rebuilt

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.times[i], self._build(i)

    def _build(self, i: int) -> Task:
        whole = i
        while whole > 0 and not self._rows[whole][1]:
            whole -= 1
        base: Task | None = None
        start = whole
        if self._last is not None and whole <= self._last[0] <= i:
            start, base = self._last[0] + 1, self._last[1]
        names = self._names
        for j in range(start, i + 1):
            body = _body(self._rows[j][2])
            names = body.get("fields", names)  # a delta's are its whole snapshot's
            base = _task(body, None if self._rows[j][1] else base, names)
        assert base is not None
        self._last = (i, base)
        self._names = names
        return base


def frames(conn: sqlite3.Connection, target: str) -> Frames:
    """Every kept snapshot of `target`, oldest first (empty when none was kept)."""
    rows = conn.execute(
        "SELECT at, whole, data FROM snapshots WHERE target = ? ORDER BY at, rowid", (target,)
    ).fetchall()
    while rows and not rows[0][1]:  # a delta whose whole snapshot was pruned cannot be rebuilt
        rows.pop(0)
    return Frames([(at, bool(whole), data) for at, whole, data in rows])
