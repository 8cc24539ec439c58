"""Polling: one scheduler for every watched task, adaptive cadence, backoff, diff → transitions.

A single asyncio loop owns a heap of due times instead of one timer per task, so 2,000 watches
cost one wake-up per due poll. A watch never has two requests in flight; a global semaphore caps
concurrency, and a per-system one keeps a slow system from starving the others. The last good
Task stays on the Watch when a poll fails.

Longer than ~400 lines on purpose: the scheduler, its cadence and `diff` share the `Watch`
state a poll changes; `diff` alone is a third of it and is called only from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bkwatch.errors import unexpected_error
from bkwatch.model import BkError, Node, State, Task, Transition, carry_progress, parents_first
from bkwatch.targets import identity

if TYPE_CHECKING:
    from bkwatch.targets import Target

log = logging.getLogger(__name__)

Fetch = Callable[["Target"], Awaitable[Task]]


@dataclass(slots=True)
class Cadence:
    """Seconds between polls by situation. Finished tasks are still polled: JOB failures can be
    retried and SOPS nodes auto-retry, so "finished" is not forever."""

    focused: float = 2.0  # the task on screen
    young: float = 3.0  # active and started less than `young_age` ago
    active: float = 5.0  # active in the background
    waiting: float = 15.0  # needs a human: stable until someone acts
    finished: float = 60.0
    unknown: float = 10.0
    young_age: float = 600.0
    parked: float = 3600.0  # a watch whose state a batch call follows (discovery.py) and not on screen
    backoff_max: float = 300.0
    jitter: float = 0.1  # ± fraction, so many watches do not poll in lockstep
    # First polls due at once beyond `first_burst` are spread at `first_rate` a second, over
    # `unknown` (a new watch's interval) at most: 2,000 watches added together do not queue
    # 2,000 requests at once, while the few a user adds are all polled at once.
    first_burst: int = 32
    first_rate: float = 200.0

    def interval(self, watch: Watch, focused: bool, now: float) -> float:
        if watch.errors:
            base = min(self.active * 2 ** (watch.errors - 1), self.backoff_max)
            if watch.error is not None and watch.error.retry_after:
                base = max(base, watch.error.retry_after)
            return base
        if focused:
            return self.focused
        if watch.parked and watch.task is not None:
            return self.parked
        task = watch.task
        if task is None:
            return self.unknown
        if task.state is State.WAITING:
            return self.waiting
        if task.terminal or task.state.is_done:
            return self.finished
        if task.state is State.UNKNOWN:
            return self.unknown
        if task.start is not None and now - task.start < self.young_age:
            return self.young
        return self.active


@dataclass(slots=True, eq=False)
class Watch:
    target: Target
    label: str | None = None
    task: Task | None = None  # last good snapshot
    error: BkError | None = None  # error of the latest poll, None when it worked
    last_ok: float | None = None  # epoch seconds of the last good poll
    next_due: float = 0.0  # monotonic
    intended_at: float = 0.0  # monotonic time this poll was meant to start (for latency figures)
    polls: int = 0
    errors: int = 0  # consecutive failed polls
    via: str | None = None  # the scope that found it (discovery.py); None when added by hand
    parked: bool = False  # polled in full only when focused or woken: a batch call follows its state
    _version: int = field(default=0, repr=False)

    @property
    def key(self) -> str:
        return str(self.target)

    @property
    def title(self) -> str:
        """What the watch is called: its task's name first, the user's label beside it (never
        instead of it), else its target. `bkwatch status` names a task the same way."""
        name = self.task.name if self.task else None
        if name and self.label and self.label != name:
            return f"{name} ({self.label})"
        return name or self.label or self.key


@dataclass(slots=True)
class PollUpdate:
    key: str
    watch: Watch
    transitions: list[Transition]
    error: BkError | None
    lag: float = 0.0  # seconds between the intended and the actual start of this poll


class Poller:
    def __init__(
        self,
        fetch: Fetch,
        *,
        on_update: Callable[[PollUpdate], None] | None = None,
        cadence: Cadence | None = None,
        max_concurrency: int = 16,
        max_per_system: int | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        slim_found: bool = False,
    ) -> None:
        self.fetch = fetch
        # Finished tasks a followed scope found keep only their summary (`Task.slim`) while not
        # focused: a scope holds them for hours, each with every host result, and only the
        # focused task's units are ever drawn. Focusing one reads it again at once.
        self.slim_found = slim_found
        self.on_update = on_update
        # Told of every update before `on_update`, whoever replaces that (the record: bkwatch.record).
        self.observers: list[Callable[[PollUpdate], None]] = []
        self.cadence = cadence or Cadence()
        self.clock = clock
        self.monotonic = monotonic
        self.watches: dict[str, Watch] = {}
        # A task id -> the watches whose task has that id (in any system or scope): `find` looks
        # a target up there without building its key or its identity, as discovery does for
        # every row of every round (5,000 rows: most watched by nobody).
        self._by_id: dict[str, list[Watch]] = {}
        self.focus: str | None = None
        self.paused = False
        self._sem = asyncio.Semaphore(max_concurrency)
        # One system timing out must not hold every slot: it gets half of them at most, so the
        # other systems' watches keep their cadence.
        self.per_system = max_per_system or max(1, max_concurrency // 2)
        self._system_sems: dict[str, asyncio.Semaphore] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._wake = asyncio.Event()
        self._inflight: dict[str, asyncio.Task[PollUpdate]] = {}
        self._forced: set[str] = set()
        self._again: set[str] = set()  # woken while in flight: due again when that poll is done
        self._spread: set[str] = set()  # first polls moved later by `_spread_first`: never moved twice
        self._spread_end = 0.0  # the last such poll's due time: the next burst queues after it

    # -- watch list -------------------------------------------------------------------------

    def add(self, target: Target, label: str | None = None, *, via: str | None = None) -> Watch:
        """Watch `target`; the same task reached another way (a SOPS project id for a business,
        a NodeMan job with or without its business) is the watch already there, under its key."""
        watch = self.find(target)
        if watch is None:
            watch = Watch(target, label, via=via)
            self.watches[watch.key] = watch
            self._by_id.setdefault(target.id, []).append(watch)
            self._schedule(watch, self.monotonic())
        elif label is not None:
            watch.label = label
        return watch

    def watches_id(self, task_id: str) -> bool:
        """Whether a task with this id is watched, in any system or scope (cheaper than `find`:
        no target to build)."""
        return task_id in self._by_id

    def find(self, target: Target) -> Watch | None:
        """The watch of this task, whichever of its forms it was added by.

        Two forms of one task share its id (an identity always includes the task's id: `sops:2:103`
        and `sops:project:5:103`), so only the watches of that id are compared, and identities are
        built only when one of them is not this very target."""
        same = self._by_id.get(target.id)
        if not same:
            return None
        for watch in same:
            if watch.target == target:
                return watch
        ident = identity(target)
        for watch in same:
            if identity(watch.target) == ident:
                return watch
        return None

    def remove(self, key: str) -> None:
        watch = self.watches.pop(key, None)
        if watch is not None:
            watch._version += 1  # orphan its heap entries
            same = self._by_id[watch.target.id]
            same.remove(watch)
            if not same:
                del self._by_id[watch.target.id]
        self._spread.discard(key)
        inflight = self._inflight.pop(key, None)
        if inflight is not None:
            inflight.cancel()
        if self.focus == key:
            self.focus = None

    def set_focus(self, key: str | None) -> None:
        if key == self.focus:
            return
        left = self.watches.get(self.focus) if self.focus else None
        self.focus = key
        if left is not None:
            self._slim(left)
        watch = self.watches.get(key) if key else None
        # A failing watch keeps its backoff: flicking the cursor across it must not poll it.
        if watch is not None and not watch.errors:
            # A slim task is read again now: the screen shows "reading…" until it is.
            slim = watch.task is not None and watch.task.summary is not None
            soonest = self.monotonic() + (0.0 if slim else self.cadence.focused)
            if watch.next_due > soonest:
                self._schedule(watch, soonest)

    def wake(self, key: str) -> None:
        """Poll this watch soon (a batch call saw it change); not while paused, unlike refresh."""
        watch = self.watches.get(key)
        if watch is None:
            return
        if key in self._inflight:
            self._again.add(key)  # what woke it may be newer than the answer in flight
        else:
            self._schedule(watch, self.monotonic())

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._wake.set()

    def refresh(self, key: str | None = None) -> None:
        """Poll now — one watch or all — even while paused."""
        now = self.monotonic()
        for watch in [self.watches[key]] if key in self.watches else self.watches.values():
            self._forced.add(watch.key)
            self._schedule(watch, now)

    def in_flight(self) -> list[str]:
        """Keys of the watches with a poll started (waiting for a slot or for the server)."""
        return list(self._inflight)

    # -- polling ----------------------------------------------------------------------------

    async def poll_once(self, key: str) -> PollUpdate:
        """Poll one watch now (or join the poll already in flight) and return its update."""
        inflight = self._inflight.get(key)
        if inflight is None:
            inflight = self._start(key)
        return await asyncio.shield(inflight)

    async def poll_all(self) -> list[PollUpdate]:
        return list(await asyncio.gather(*(self.poll_once(k) for k in list(self.watches))))

    async def run(self) -> None:
        """Poll forever; cancel the task running this to stop."""
        try:
            while True:
                now = self.monotonic()
                heap = self._heap
                first: list[Watch] = []
                while heap and heap[0][0] <= now:
                    _, version, key = heapq.heappop(heap)
                    watch = self.watches.get(key)
                    if watch is None or version != watch._version or key in self._inflight:
                        continue  # (refreshed while in flight: `_done` polls it again)
                    if self.paused and key not in self._forced:
                        # Keep it due; it runs on resume.
                        self._schedule(watch, now + 0.5)
                        continue
                    if watch.polls == 0 and key not in self._forced and key not in self._spread:
                        first.append(watch)
                        continue
                    self._start(key)
                if first:
                    self._spread_first(first, now)
                timeout = max(0.0, heap[0][0] - now) if heap else None
                self._wake.clear()
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands
                # as the inner wait completes, and run() would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
        finally:
            for task in list(self._inflight.values()):
                task.cancel()

    def _spread_first(self, watches: list[Watch], now: float) -> None:
        """Start the first polls due now: all of them when they are few (`Cadence.first_burst`);
        else that many now and the rest one after another, at `first_rate` a second or faster
        so the last starts within `unknown` seconds. Their lag counts from the spread time."""
        c = self.cadence
        for watch in watches[: c.first_burst]:
            self._start(watch.key)
        rest = watches[c.first_burst :]
        if not rest:
            return
        step = min(1.0 / c.first_rate, c.unknown / len(rest))
        due = max(now, self._spread_end)
        for watch in rest:
            due += step
            self._spread.add(watch.key)
            self._schedule(watch, due)
        self._spread_end = due

    def _start(self, key: str) -> asyncio.Task[PollUpdate]:
        self._forced.discard(key)
        self._again.discard(key)
        self._spread.discard(key)
        task = asyncio.get_running_loop().create_task(self._poll(key), name=f"poll {key}")
        self._inflight[key] = task
        task.add_done_callback(lambda _t, k=key: self._done(k))
        return task

    def _done(self, key: str) -> None:
        self._inflight.pop(key, None)
        watch = self.watches.get(key)
        again = key in self._again
        self._again.discard(key)
        if watch is not None and (key in self._forced or again):
            # Refreshed while this poll was in flight (`_start` had cleared the mark): what was
            # asked for may be newer than this answer, so the next poll is now.
            self._schedule(watch, self.monotonic())

    async def _poll(self, key: str) -> PollUpdate:
        watch = self.watches[key]
        system = str(watch.target.system)
        system_sem = self._system_sems.get(system)
        if system_sem is None:
            system_sem = self._system_sems[system] = asyncio.Semaphore(self.per_system)
        async with system_sem, self._sem:
            started = self.monotonic()
            lag = max(0.0, started - watch.intended_at) if watch.intended_at else 0.0
            error: BkError | None = None
            transitions: list[Transition] = []
            try:
                task = await self.fetch(watch.target)
            except BkError as exc:
                error = _detached(exc)
            except Exception as exc:  # a fetch callable other than systems.fetch_task broke its word
                log.exception("poll of %s failed unexpectedly", key)
                error = unexpected_error(exc)
            else:
                now = self.clock()
                if task is not watch.task:  # the very snapshot held: its answer came again
                    # The focused task is the one drawn unit by unit: share its unchanged units
                    # with the last snapshot so the screen can skip them by identity.
                    transitions = diff(watch.task, task, now, share=key == self.focus)
                    carry_progress(watch.task, task, transitions)
                    watch.task = task
                watch.last_ok = now
        watch.polls += 1
        watch.error = error
        watch.errors = watch.errors + 1 if error else 0
        if key in self.watches:
            self._schedule(watch, self.monotonic() + self._interval(watch))
        update = PollUpdate(key, watch, transitions, error, lag)
        for observe in self.observers:
            try:
                observe(update)
            except Exception:
                log.exception("update observer failed for %s", key)
        if self.on_update is not None:
            try:
                self.on_update(update)
            except Exception:
                log.exception("update handler failed for %s", key)
        if key != self.focus:
            self._slim(watch)  # after the observers: the record and the screen saw it whole
        return update

    def _slim(self, watch: Watch) -> None:
        task = watch.task
        if self.slim_found and watch.via is not None and task is not None and task.state.is_done:
            watch.task = task.slim()

    def _interval(self, watch: Watch) -> float:
        base = self.cadence.interval(watch, watch.key == self.focus, self.clock())
        spread = self.cadence.jitter
        return base * random.uniform(1 - spread, 1 + spread) if spread else base

    def _schedule(self, watch: Watch, due: float) -> None:
        watch._version += 1
        watch.next_due = due
        watch.intended_at = due
        self._seq += 1
        heapq.heappush(self._heap, (due, watch._version, watch.key))
        self._wake.set()


def _detached(error: BkError) -> BkError:
    """The error as kept on its watch while the fault lasts, without its traceback and chained
    exceptions: their frames hold the request, the client and the answer's bytes (up to the
    response limit), which 2,000 failing watches would otherwise keep alive."""
    error.__traceback__ = None
    error.__context__ = error.__cause__ = None
    return error


# -- diff -------------------------------------------------------------------------------------


def diff(old: Task | None, new: Task, at: float, *, share: bool = False) -> list[Transition]:
    """State changes between two snapshots of one task: task, step, host, job task and node level.

    The first snapshot yields one task-level event (old=None). Units that appear later are
    reported only when they are already past pending, so a new pipeline branch is not noise.
    With `share`, every host or job task of `new` equal to its predecessor is replaced by the
    predecessor itself, so a consumer can find what changed by identity (`is not`).
    """
    target = new.target
    name = new.name or target
    if old is None:
        return [Transition(target, "task", target, name, None, new.state, at)]
    out: list[Transition] = []
    summary = old.summary  # a slim snapshot: its units' states only (Task.slim)
    if old.state is not new.state:
        out.append(Transition(target, "task", target, name, old.state, new.state, at))
    if new.steps or old.steps:
        old_steps = {s.id: s for s in old.steps}
        for step in new.steps:
            before = old_steps.get(step.id)
            if before is None:
                if step.state is not State.PENDING:
                    out.append(Transition(target, "step", step.id, step.name, None, step.state, at))
                continue
            if before.state is not step.state:
                out.append(Transition(target, "step", step.id, step.name, before.state, step.state, at))
            if summary is None:
                _diff_units(out, target, "host", before.hosts, step.hosts, at, step.id, share, new)
            else:
                _diff_states(out, target, "host", summary.units_of(step.id, "host"), step.hosts, at, step.id)
    if summary is not None:
        if new.hosts:
            _diff_states(out, target, "host", summary.units_of(None, "host"), new.hosts, at, None)
        if new.job_tasks:
            _diff_states(out, target, "job_task", summary.units_of(None, "job_task"), new.job_tasks, at, None)
    else:
        if new.hosts or old.hosts:
            _diff_units(out, target, "host", old.hosts, new.hosts, at, None, share, new)
        if new.job_tasks or old.job_tasks:
            _diff_units(out, target, "job_task", old.job_tasks, new.job_tasks, at, None, share, new)
    if new.root is not None and old.root is not None:
        before_nodes = {n.id: n for n in parents_first(old.root)}
        for node in _preorder(new.root):
            if node is new.root or node.synthetic:
                continue
            prev = before_nodes.get(node.id)
            if prev is None:
                if node.state is not State.PENDING:
                    out.append(Transition(target, "node", node.id, node.name, None, node.state, at))
            elif prev.state is not node.state:
                out.append(Transition(target, "node", node.id, node.name, prev.state, node.state, at))
    return out


def _diff_units(
    out: list[Transition],
    target: str,
    level: str,
    old: dict[str, Any],
    new: dict[str, Any],
    at: float,
    step_id: str | None,
    share: bool,
    task: Task,
) -> None:
    pending = State.PENDING
    fresh: list[str] = []  # keys whose unit is not the last snapshot's (with `share`)
    same_order = share and len(old) == len(new)  # only the shared snapshot is noted
    old_keys = iter(old)
    for key, unit in new.items():
        if same_order and key != next(old_keys):
            same_order = False
        prev = old.get(key)
        if prev is None:
            fresh.append(key)
            if unit.state is not pending:
                out.append(Transition(target, level, key, _unit_name(unit), None, unit.state, at, step_id))
        elif prev.state is not unit.state:
            fresh.append(key)
            out.append(Transition(target, level, key, _unit_name(unit), prev.state, unit.state, at, step_id))
        elif share:
            if prev == unit:
                new[key] = prev  # same key, so the dict's size and order are untouched
            else:
                fresh.append(key)
    if same_order:  # what the screen needs to look at: Task.changed_units
        task.note_changed(new, old, fresh)


def _diff_states(
    out: list[Transition],
    target: str,
    level: str,
    old: dict[str, State],
    new: dict[str, Any],
    at: float,
    step_id: str | None,
) -> None:
    """`_diff_units` against a slim snapshot's states by key (nothing shared: nothing to share)."""
    for key, unit in new.items():
        prev = old.get(key)
        if prev is None:
            if unit.state is not State.PENDING:
                out.append(Transition(target, level, key, _unit_name(unit), None, unit.state, at, step_id))
        elif prev is not unit.state:
            out.append(Transition(target, level, key, _unit_name(unit), prev, unit.state, at, step_id))


def _preorder(root: Node) -> list[Node]:
    """`Node.walk`'s order (depth first, parents first) as a list, without a generator's
    resumption and a (node, depth) pair per node."""
    out: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        out.append(node)
        if node.children:
            stack.extend(reversed(node.children))
    return out


def _unit_name(unit: object) -> str:
    return getattr(unit, "ip", "") or getattr(unit, "process", "") or getattr(unit, "id", "")
