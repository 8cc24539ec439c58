"""The unified task model: every adapter produces it, the UI and the CLI read only it.

Objects are plain slotted dataclasses so that a 10,000-host poll stays cheap to build,
compare and hold in memory. Times are epoch seconds (float) or None.

Past ~400 lines on purpose: the task, its counting, its slim form and its diff's types belong
together (the slim form answers the same questions as the full task).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from operator import attrgetter


class System(StrEnum):
    JOB = "job"
    SOPS = "sops"
    BKFLOW = "bkflow"
    NODEMAN = "nodeman"
    GSEKIT = "gsekit"


class State(StrEnum):
    """Unified state. Adapters map every raw value onto one of these (docs/states.md)."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"  # needs a human: JOB 7/15, SOPS SUSPENDED/NODE_SUSPENDED
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"  # revoked / terminated / abandoned / expired
    UNKNOWN = "unknown"  # a raw value the adapter does not know; raw value kept beside it
    # A pipeline node the server reports no state for, in a task that ended without reaching
    # it (a branch an exclusive gateway did not take): derived from the flow by
    # systems/pipeline/flow.py, never a raw value. Not a failure, and no work: progress leaves
    # it out of both its counts.
    NOT_RUN = "not_run"

    # The sets are module constants: a tuple of `State.X` looks each member up through the enum's
    # class on every call (0.5 µs; these are asked per host of a 10,000-host list).
    @property
    def is_active(self) -> bool:
        return self in _ACTIVE

    @property
    def is_done(self) -> bool:
        return self in _DONE

    @property
    def is_bad(self) -> bool:
        return self in _BAD


_ACTIVE = frozenset((State.PENDING, State.RUNNING))
_DONE = frozenset((State.SUCCEEDED, State.FAILED, State.STOPPED))
_BAD = frozenset((State.FAILED, State.STOPPED))


class ErrorKind(StrEnum):
    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    SERVER = "server"
    TIMEOUT = "timeout"
    NETWORK = "network"
    BAD_RESPONSE = "bad_response"
    CONFIG = "config"  # missing base URL / credentials / gateway for a gateway-only system


class BkError(Exception):
    """A failed query, classified so a person can act on it. Never carries secrets."""

    code: str | None = None  # the server's error code, when it answered with one
    status: int | None = None  # the HTTP status of that answer

    def __init__(self, kind: ErrorKind, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, str]:
        return {"kind": str(self.kind), "message": self.message}


@dataclass(slots=True, eq=True)
class Host:
    """One host's result: a JOB step host or a NodeMan host."""

    key: str  # "CLOUD_ID:IP" — stable across polls, the row key in tables
    ip: str
    cloud_id: int
    state: State
    raw_status: str  # raw status value as a string ("9", "FAILED")
    status_text: str  # raw status in words
    host_id: int | None = None
    exit_code: int | None = None
    error_code: str | None = None  # JOB error_code / NodeMan err_code, as text; None = no error
    error_text: str = ""  # the error in words, or a NodeMan step / error description
    tag: str = ""  # JOB script tag
    step: str = ""  # NodeMan current step
    start: float | None = None
    end: float | None = None
    elapsed: float | None = None  # seconds


@dataclass(slots=True)
class Step:
    """A JOB step instance with the host results of its latest execute_count."""

    id: str
    name: str
    kind: str  # script / file / manual / sql / unknown
    state: State
    raw_state: str
    execute_count: int = 0
    start: float | None = None
    end: float | None = None
    elapsed: float | None = None
    hosts: dict[str, Host] = field(default_factory=dict)  # key -> Host, server order


@dataclass(slots=True)
class Node:
    """A SOPS / BKFlow pipeline node; subprocesses carry their nodes in `children`."""

    id: str
    name: str
    state: State
    raw_state: str
    start: float | None = None
    end: float | None = None
    elapsed: float | None = None
    retry: int = 0
    loop: int = 1
    skip: bool = False
    message: str = ""  # failure message (ex_data), plain text
    children: list[Node] = field(default_factory=list)
    # A gateway branch drawn to group its nodes (systems/flow.py): its state is derived from
    # them, so it is never a transition, a failure or a unit of progress of its own.
    synthetic: bool = False

    def walk(self):  # -> Iterator[tuple[Node, int]]
        """Depth-first (node, depth) pairs, self first."""
        stack: list[tuple[Node, int]] = [(self, 0)]
        while stack:
            node, depth = stack.pop()
            yield node, depth
            for child in reversed(node.children):
                stack.append((child, depth + 1))


def parents_first(root: Node) -> list[Node]:
    """Every node of the tree, each after its parent (breadth first: a list grown while read is
    cheaper than a generator walk, and the screen runs this on every poll of a running pipeline)."""
    nodes = [root]
    i = 0
    while i < len(nodes):
        nodes.extend(nodes[i].children)
        i += 1
    return nodes


@dataclass(slots=True)
class JobTask:
    """A GSEKit job task (one process on one host)."""

    id: str
    state: State
    raw_state: str
    err_code: str | None = None
    failed_reason: str = ""
    retryable: bool | None = None
    solutions: list[str] = field(default_factory=list)  # plain text
    ip: str = ""
    cloud_id: int | None = None
    process: str = ""  # process name or id, for display
    start: float | None = None
    end: float | None = None


# Weakly referable: a client keeps the Task each answer was made of while the poller holds it
# (`systems.common.Answers`).
@dataclass(slots=True, weakref_slot=True)
class Task:
    """One watched task as last seen. Only the fields of its system's shape are filled (steps,
    hosts, job tasks or status counts, or a node tree), and what is counted follows from which."""

    target: str  # canonical target string
    system: System
    name: str | None
    state: State
    raw_state: str
    terminal: bool  # the system itself considers the task finished
    start: float | None = None
    end: float | None = None
    elapsed: float | None = None
    steps: list[Step] = field(default_factory=list)  # JOB
    hosts: dict[str, Host] = field(default_factory=dict)  # NodeMan
    job_tasks: dict[str, JobTask] = field(default_factory=dict)  # GSEKit rows
    status_counts: dict[State, int] | None = None  # GSEKit status_counter when no rows
    root: Node | None = None  # SOPS / BKFlow
    detail: str = ""  # job type / action, e.g. "INSTALL_AGENT", "configfile release"
    # Who started it, when the system's answer says (NodeMan and GSEKit `created_by`, a pipeline
    # detail's `executor` or `creator`); JOB's status answer names no one.
    started_by: str | None = None
    # A snapshot is never changed once parsed, so its progress is counted once (a 30,000-host
    # job is read on every repaint of the job list).
    _progress: tuple[int, int] | None = field(default=None, repr=False, compare=False)
    # Set by the poller's diff when it shared unchanged units with the last snapshot: for a
    # units dict of this snapshot (by id), the id of the last snapshot's dict it was compared
    # with and the keys whose units are not shared (see `changed_units`).
    _fresh: dict[int, tuple[int, list[str]]] = field(default_factory=dict, repr=False, compare=False)
    # Set on a slim snapshot (`slim`): what its units counted and which states they were in.
    summary: Summary | None = field(default=None, repr=False, compare=False)

    def note_changed(self, units: Mapping[str, object], last: Mapping[str, object], keys: list[str]) -> None:
        """The poller shared every unit of `units` but `keys` with `last`, key for key in order."""
        self._fresh[id(units)] = (id(last), keys)

    def changed_units(self, units: Mapping[str, object]) -> tuple[int, list[str]] | None:
        """For `units` (a step's hosts, the task's hosts or job tasks), when the poller shared
        every other unit with the last snapshot, in the same order: (id of the last snapshot's
        dict, keys of the units that are new objects). A screen that shows that very dict needs
        to look at those keys only. None when not known (compare everything)."""
        return self._fresh.get(id(units))

    def slim(self) -> Task:
        """This snapshot without its units' details (hosts and job tasks: a finished task of a
        followed scope that is not on screen holds its summary only). The copy keeps what the job
        list and the transitions need: state, name, times, steps, node tree, counts, progress,
        how many are failing, and each unit's state by key. Read the task again for the rest."""
        if self.summary is not None or not (self.hosts or self.job_tasks or any(s.hosts for s in self.steps)):
            return self  # slim already, or no units to drop (a node tree is kept whole)
        keys: tuple[str, ...] = ()

        def pack(units: Mapping[str, Host | JobTask]) -> UnitStates:
            nonlocal keys
            these = tuple(units)
            if these != keys:
                keys = these  # a JOB task's steps run on the same hosts: one tuple for them all
            return UnitStates(keys, "".join([_CODE[u.state] for u in units.values()]))

        summary = Summary(
            counts=self.counts(),
            failing=len(failures(self)),
            steps={s.id: pack(s.hosts) for s in self.steps if s.hosts},
            hosts=pack(self.hosts) if self.hosts else None,
            job_tasks=pack(self.job_tasks) if self.job_tasks else None,
        )
        steps = [replace(s, hosts={}) for s in self.steps]
        done = self.progress()
        return replace(self, steps=steps, hosts={}, job_tasks={}, _progress=done, _fresh={}, summary=summary)

    def node_names(self) -> dict[str, str]:
        """Each named node's name by its id (a node is shown by its name; its id says nothing)."""
        if self.root is None:
            return {}
        return {n.id: n.name for n, _ in self.root.walk() if n.name and n.name != n.id}

    def leaf_nodes(self) -> list[Node]:
        if self.root is None:
            return []
        return [n for n, _ in self.root.walk() if not n.children and n is not self.root and not n.synthetic]

    def units(self) -> list[Host | JobTask | Node]:
        """The things counted for progress: hosts of every step, NodeMan hosts, job tasks, leaf nodes."""
        if self.steps:
            return [h for s in self.steps for h in s.hosts.values()]
        if self.hosts:
            return list(self.hosts.values())
        if self.job_tasks:
            return list(self.job_tasks.values())
        return list(self.leaf_nodes())

    def counts(self) -> dict[State, int]:
        """Unified state -> number of hosts / job tasks / leaf nodes."""
        if self.summary is not None:
            return dict(self.summary.counts)
        if not self.job_tasks and self.status_counts is not None:
            return {s: n for s, n in self.status_counts.items() if n}
        out: dict[State, int] = {}
        if self.steps:
            # Each host once, in the state of the latest step that has started on it: the same
            # machines appear in every step, and "how many hosts failed" is what people ask.
            latest: dict[str, State] = {}
            for step in self.steps:
                for key, h in step.hosts.items():
                    if h.state is not State.PENDING or key not in latest:
                        latest[key] = h.state
            for state in latest.values():
                out[state] = out.get(state, 0) + 1
            return out
        for unit in self.units():
            out[unit.state] = out.get(unit.state, 0) + 1
        return out

    def progress(self) -> tuple[int, int]:
        """(done, total) work units: host results of every JOB step, NodeMan hosts, job tasks
        (or GSEKit's status counts), leaf nodes. Counted once per snapshot."""
        if self._progress is None:
            if not self.job_tasks and self.status_counts is not None:
                counts = self.status_counts
                self._progress = sum(n for s, n in counts.items() if s in _DONE), sum(counts.values())
            elif self.root is not None:
                # Leaf nodes, the root excluded, over a breadth-first list instead of a generator
                # walk: it runs on every poll of a running pipeline.
                # A node that will not run is no work: left out of both counts.
                states = [n.state for n in parents_first(self.root)[1:] if not n.children]
                states = [s for s in states if s is not State.NOT_RUN]
                self._progress = sum(map(_DONE.__contains__, states)), len(states)
            else:  # a unit that was not run (a filtered NodeMan host) is no work either
                states = [*map(_state_of, self.units())]
                total = len(states) - states.count(State.NOT_RUN)
                self._progress = sum(map(_DONE.__contains__, states)), total
        return self._progress


_DONE = frozenset({State.SUCCEEDED, State.FAILED, State.STOPPED})
_STATES = tuple(State)
_CODE = {s: chr(ord("a") + i) for i, s in enumerate(_STATES)}


@dataclass(slots=True, frozen=True)
class UnitStates:
    """A units dict of a slim task, in order: its keys and one letter per unit for its state."""

    keys: tuple[str, ...]
    codes: str

    def states(self) -> dict[str, State]:
        return {k: _STATES[ord(c) - ord("a")] for k, c in zip(self.keys, self.codes, strict=True)}


@dataclass(slots=True, frozen=True)
class Summary:
    """What a slim task keeps of its units (`Task.slim`)."""

    counts: dict[State, int]
    failing: int  # failing hosts, job tasks and nodes: len(failures(task)) of the full task
    steps: dict[str, UnitStates]  # step id -> its hosts
    hosts: UnitStates | None
    job_tasks: UnitStates | None

    def units_of(self, step_id: str | None, level: str) -> dict[str, State]:
        """The states by key of a step's hosts, or (no step) of the task's hosts or job tasks."""
        if step_id is not None:
            found = self.steps.get(step_id)
        else:
            found = self.job_tasks if level == "job_task" else self.hosts
        return found.states() if found is not None else {}


def elapsed_at(
    elapsed: float | None, start: float | None, end: float | None, done: bool, at: float | None
) -> float | None:
    """How long a task, step or node had run when its data was read (`at`, the answer's time):
    the server's figure; else, while it still ran, the time since it started (JOB and GSEKit give
    none until it ends). Nothing for what has not started (SOPS says 0 for it) nor for a start
    after `at` (a clock ahead of ours)."""
    if start is None and not elapsed:
        return None
    if elapsed is not None or done or start is None or end is not None or at is None:
        return elapsed
    return at - start if at >= start else None


_state_of = attrgetter("state")
_UNIT_LEVELS = frozenset({"host", "job_task"})


def carry_progress(old: Task | None, task: Task, transitions: list[Transition]) -> None:
    """Derive `task`'s progress from the last snapshot's (when that was counted) and this poll's
    host / job task changes instead of counting 30,000 hosts again. Leaves it to be counted
    whenever units came or went (a unit count differs, or a unit was seen for the first time)."""
    if old is None or old is task or old._progress is None or task._progress is not None:
        return
    if old.summary is not None:
        return  # a slim snapshot: no units to compare the lengths of
    done, total = old._progress
    if task.system is not old.system or task.root is not None or old.root is not None:
        return
    if task.status_counts is not None and not task.job_tasks:
        return  # counted from the status counter: cheap anyway
    if [len(s.hosts) for s in task.steps] != [len(s.hosts) for s in old.steps]:
        return
    if len(task.hosts) != len(old.hosts) or len(task.job_tasks) != len(old.job_tasks):
        return
    for t in transitions:
        if t.level in _UNIT_LEVELS:
            if t.old is None or t.old is State.NOT_RUN or t.new is State.NOT_RUN:
                return  # units came, or left or joined the work: counted afresh
            done += (t.new in _DONE) - (t.old in _DONE)
    task._progress = (done, total)


@dataclass(slots=True, frozen=True)
class Failure:
    kind: str  # "host" | "task" | "node"
    id: str
    reason: str
    name: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "id": self.id}
        if self.name is not None:
            out["name"] = self.name
        out["reason"] = self.reason
        return out


def failing_count(task: Task) -> int:
    """How many hosts / job tasks / nodes of a task are failing (a slim task's too)."""
    return task.summary.failing if task.summary is not None else len(failures(task))


def failures(task: Task) -> list[Failure]:
    """Failed hosts / job tasks / nodes of a task, deduplicated, in display order (none of a
    slim task's hosts or job tasks: `failing_count` counts them)."""
    seen: set[tuple[str, str]] = set()
    out: list[Failure] = []

    def add(f: Failure) -> None:
        if (f.kind, f.id) not in seen:
            seen.add((f.kind, f.id))
            out.append(f)

    for step in task.steps:
        for h in step.hosts.values():
            if h.state.is_bad:
                add(Failure("host", h.key, h.error_text or h.status_text, None))
    for h in task.hosts.values():
        if h.state.is_bad:
            add(Failure("host", h.key, h.error_text or h.status_text, None))
    for jt in task.job_tasks.values():
        if jt.state.is_bad:
            add(Failure("task", jt.id, jt.failed_reason or jt.raw_state, jt.process or None))
    if task.root is not None:
        for node, _ in task.root.walk():
            if node is not task.root and node.state is State.FAILED and not node.children:
                add(Failure("node", node.id, node.message or node.raw_state, node.name or None))
    return out


@dataclass(slots=True, frozen=True)
class Transition:
    """A state change seen between two polls."""

    target: str
    level: str  # "task" | "step" | "host" | "node" | "job_task"
    key: str  # step id, host key, node id or job task id; the target for level "task"
    name: str
    old: State | None  # None: first seen
    new: State
    at: float  # epoch seconds
    step_id: str | None = None  # for JOB hosts: the step the host belongs to

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "level": self.level,
            "key": self.key,
            "name": self.name,
            "old": None if self.old is None else str(self.old),
            "new": str(self.new),
            "at": self.at,
        }


# One kind of change: (level, step id, old state, new state).
Move = tuple[str, "str | None", "State | None", State]
_move_of = attrgetter("level", "step_id", "old", "new")


def count_moves(transitions: Iterable[Transition]) -> Counter[Move]:
    """How many units made each kind of change, first seen first (counted in C: a poll of a
    10,000-host step brings a hundred). The app counts a poll's once for every pane."""
    return Counter(map(_move_of, transitions))
