"""Discovery: follow scopes (discovery rounds on their list APIs) and turn what starts there into
watches of the one `Poller`, each marked with the scope that found it (`Watch.via`).

Per scope (`ScopeWatch`, what a monitor draws as a group header):

* a **round** lists what was created since the last good round (less a minute of overlap for
  clocks and late rows) about every `interval` seconds, backing off on errors like a poll;
  the first round looks back `--since`. A failing round keeps every task held and shows its
  error on the scope.
* SOPS and BKFlow tasks not on screen are **parked** (`Watch.parked`): their states are read in
  batches (SOPS `get_tasks_status`, 50 ids a call; BKFlow `get_tasks_states`), and a task is
  polled in full only when focused or when its batch state changes. JOB tasks keep their own
  polls at background cadence.
* **retention**: a succeeded task leaves `keep_succeeded` after it ended, a failed or stopped one
  `keep_failed` after, or when dismissed; a task that left is never found again. A scope holds
  at most `cap` tasks: past it the oldest finished go first, and what still does not fit waits
  (`cap_reached`).
* `snapshot()` / `restore()` carry the scopes across runs, and `since_last_time()` says what
  started, finished and failed in each scope while bkwatch was closed.

Over 400 lines for a reason: rounds, batch reads, retention, the cap and the snapshot all work
on the same per-scope bookkeeping (held, known, waiting, dismissed); apart, they would hand it
back and forth. The state itself is in scope_state.py, the watch-list side in scope_store.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bkwatch.model import BkError, ErrorKind, State, System
from bkwatch.scope_state import ScopeSince, ScopeWatch
from bkwatch.scopes import Scope, ScopeOptions, parse_scope
from bkwatch.systems.adapters import adapter
from bkwatch.systems.lists import Found, ListQuery
from bkwatch.systems.registry import traits

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.poller import Poller

__all__ = ["OVERLAP", "Discovery", "ScopeSince", "ScopeWatch"]

log = logging.getLogger(__name__)

OVERLAP = 60.0  # seconds each round re-reads before the last one: clock skew, late rows
CLOSED_LOOKBACK_MAX = 86400.0  # after a restart, look back at most this far (or --since)


class Discovery:
    def __init__(
        self,
        client: BkClient,
        poller: Poller,
        *,
        user: str | None = None,
        interval: float = 15.0,
        backoff_max: float = 300.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        on_change: Callable[[ScopeWatch], None] | None = None,
    ) -> None:
        self.client = client
        self.poller = poller
        self.user = user
        self.interval = interval
        self.backoff_max = backoff_max
        self.clock = clock
        self.monotonic = monotonic
        self.on_change = on_change
        self.scopes: dict[str, ScopeWatch] = {}
        self._api = _Counting(client)
        self._wake = asyncio.Event()
        self._inflight: dict[str, asyncio.Task[Any]] = {}

    # -- scopes -----------------------------------------------------------------------------

    def add(
        self,
        scope: Scope | str,
        options: ScopeOptions | None = None,
        *,
        label: str | None = None,
        added_at: float | None = None,
        dismissed: set[str] | list[str] = (),  # type: ignore[assignment]
    ) -> ScopeWatch:
        """Follow a scope (a scope already followed takes the new options). Its first round
        looks back `options.since`."""
        scope = parse_scope(scope) if isinstance(scope, str) else scope
        options = options or ScopeOptions()
        if options.mine and not self.user:
            raise BkError(ErrorKind.CONFIG, "--mine needs the user name: set BK_USERNAME or username")
        key = str(scope)
        sw = self.scopes.get(key)
        now = self.clock()
        if sw is None:
            added = now if added_at is None else added_at
            sw = ScopeWatch(scope, options, label, added, dismissed=set(dismissed))
            sw.cursor = now - options.since
            self.scopes[key] = sw
        else:
            sw.options, sw.label = options, label if label is not None else sw.label
        sw.next_round = self.monotonic()
        self._wake.set()
        return sw

    def remove(self, key: str) -> ScopeWatch | None:
        """Stop following a scope; the tasks it found leave with it."""
        sw = self.scopes.pop(key, None)
        if sw is not None:
            for task_key in list(sw.held):
                self.poller.remove(task_key)
            task = self._inflight.pop(key, None)
            if task is not None:
                task.cancel()
        return sw

    def scope_of(self, task_key: str) -> ScopeWatch | None:
        for sw in self.scopes.values():
            if task_key in sw.held:
                return sw
        return None

    def dismiss(self, task_key: str) -> bool:
        """Remove a task a scope found, for good (it is not found again). False if no scope holds it."""
        sw = self.scope_of(task_key)
        if sw is None:
            return False
        sw.dismissed.add(task_key)
        self._drop(sw, task_key)
        self._fill(sw)
        self._changed(sw)
        return True

    # -- rounds -----------------------------------------------------------------------------

    async def discover(self, key: str) -> list[str]:
        """One list round of a scope (all pages); returns the keys of the tasks it added."""
        sw = self.scopes[key]
        now = self.clock()
        opts, scope = sw.options, sw.scope
        start = sw.cursor - OVERLAP
        user = self.user if opts.mine else None
        api = self._api
        api.calls = 0
        try:
            list_tasks = adapter(scope.system).list_tasks
            if list_tasks is None:
                raise BkError(ErrorKind.CONFIG, f"{scope.system} has no list API to follow")
            query = ListQuery(start, now + OVERLAP, user, opts.name, opts.cron, sw.high_id or None)
            found = await list_tasks(api, scope, query)  # type: ignore[arg-type]
        except Exception as exc:  # BkError, or a bug that must not stop the other scopes
            sw.requests += api.calls
            error = _as_error(exc, f"discovery round of {key}")
            sw.error = error
            sw.errors += 1
            delay = min(self.interval * 2 ** (sw.errors - 1), self.backoff_max)
            sw.next_round = self.monotonic() + max(delay, error.retry_after or 0.0)
            self._changed(sw)
            return []
        sw.requests += api.calls
        if self.scopes.get(key) is not sw:
            return []  # unfollowed while the round was in flight
        sw.rounds += 1
        sw.error, sw.errors, sw.last_ok = None, 0, now
        first_after_restart = sw.closed_since is not None and sw.rounds == 1
        added: list[str] = []
        sw.nothing_finished = False
        closed_since = sw.closed_since if first_after_restart else None
        known, dismissed = sw.known, sw.dismissed
        prefix = f"{sw.key}:"  # a task's key is its scope's and its id (targets.py)
        for f in found:
            if f.task_id > sw.high_id:
                sw.high_id = f.task_id
            task_key = prefix + str(f.task_id)
            created = f.created
            new_while_closed = closed_since is not None and created is not None and created >= closed_since
            if new_while_closed and task_key not in (sw.previous or {}):  # held then: not new
                sw.while_closed[task_key] = f
            if task_key in known or task_key in dismissed:
                continue
            known[task_key] = now
            if f.state is not None and f.state.is_done and self._expired(sw, f.state, f.end, now):
                continue  # finished long enough ago to have left already
            if self._admit(sw, task_key, f):
                added.append(task_key)
        sw.cursor = now
        sw.next_round = self.monotonic() + self.interval
        self.prune(key)
        self._changed(sw)
        return added

    async def batch(self, key: str) -> list[str]:
        """Read the states of a SOPS/BKFlow scope's parked tasks in batches; wake (poll in full)
        those whose state changed. Returns the woken keys."""
        sw = self.scopes[key]
        batch_states = adapter(sw.scope.system).batch_states
        if batch_states is None:
            return []
        poller = self.poller
        parked = {
            k: w
            for k in sw.held
            if (w := poller.watches.get(k)) is not None and w.parked and w.task is not None
        }
        sw.next_batch = self.monotonic() + self._batch_interval(sw)
        if not parked:
            return []
        ids = sorted(int(w.target.id) for w in parked.values())
        api = _Counting(self.client)
        try:
            states = await batch_states(api, sw.scope, ids)  # type: ignore[arg-type]
        except Exception as exc:  # BkError, or a bug that must not stop the other scopes
            sw.requests += api.calls
            error = _as_error(exc, f"batch read of {key}")
            sw.batch_error = error
            wait = max(self.interval, error.retry_after or 0.0)
            sw.next_batch = self.monotonic() + min(self.backoff_max, wait)
            self._changed(sw)
            return []
        sw.requests += api.calls
        if self.scopes.get(key) is not sw:
            return []
        sw.batch_error = None
        woken: list[str] = []
        for task_key, watch in parked.items():
            raw = states.get(int(watch.target.id))
            seen = sw.batch_seen.get(task_key, "\0")
            sw.batch_seen[task_key] = raw
            if seen == "\0":
                # First reading: compare with the full poll (the root of a batch answer may be
                # formatted differently from the tree's, so later readings compare with each other).
                changed = raw is not None and watch.task is not None and raw != watch.task.raw_state
            else:
                changed = raw != seen
            if changed and task_key != poller.focus:
                poller.wake(task_key)
                woken.append(task_key)
        return woken

    def prune(self, key: str | None = None) -> list[str]:
        """Apply retention and the cap; returns the keys of the tasks that left."""
        now = self.clock()
        gone: list[str] = []
        for sw in [self.scopes[key]] if key is not None else list(self.scopes.values()):
            for task_key in list(sw.held):
                watch = self.poller.watches.get(task_key)
                if watch is None or watch.task is None or task_key == self.poller.focus:
                    continue
                task = watch.task
                if not task.state.is_done:
                    sw.done_at.pop(task_key, None)
                    continue
                ended = task.end or sw.done_at.setdefault(task_key, now)
                if self._expired(sw, task.state, ended, now):
                    self._drop(sw, task_key)
                    gone.append(task_key)
            self._fill(sw)
        return gone

    # -- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Rounds and batch reads for every scope, forever; cancel the task running this to stop."""
        try:
            while True:
                now = self.monotonic()
                soonest = now + self.interval
                for key, sw in list(self.scopes.items()):
                    batched = traits(sw.scope.system).batched
                    if key in self._inflight:
                        continue  # its completion wakes this loop
                    if sw.next_round <= now:
                        self._start(key, self.discover(key))
                        continue
                    if batched and sw.next_batch <= now:
                        self._start(key, self.batch(key))
                        continue
                    soonest = min(soonest, sw.next_round, sw.next_batch if batched else soonest)
                for key in self.scopes:
                    if key not in self._inflight:
                        self.prune(key)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.05, soonest - self.monotonic())):
                        await self._wake.wait()
        finally:
            for task in list(self._inflight.values()):
                task.cancel()

    def _start(self, key: str, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work, name=f"discover {key}")
        self._inflight[key] = task

        def done(t: asyncio.Task[Any], k: str = key) -> None:
            self._inflight.pop(k, None)
            if not t.cancelled() and t.exception() is not None:
                log.error("discovery of %s failed unexpectedly", k, exc_info=t.exception())
            self._wake.set()

        task.add_done_callback(done)

    # -- across runs ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """What the next run needs to say what happened meanwhile: per scope the last good
        round and the tasks held with their last known state (ids, states and names only)."""
        out: dict[str, Any] = {}
        for key, sw in self.scopes.items():
            held = {}
            for task_key, f in sw.held.items():
                watch = self.poller.watches.get(task_key)
                task = watch.task if watch is not None else None
                state = task.state if task is not None else (f.state or State.PENDING)
                held[task_key] = {"state": str(state), "name": (task.name if task else None) or f.name}
            out[key] = {"at": sw.last_ok or sw.closed_since, "held": held}
        return out

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take back a previous run's snapshot for the scopes followed now (call after add): the
        tasks held then are watched again, and the first round lists what started meanwhile."""
        now = self.clock()
        for key, sw in self.scopes.items():
            saved = snapshot.get(key)
            if not isinstance(saved, dict):
                continue
            at = saved.get("at")
            held = saved.get("held") if isinstance(saved.get("held"), dict) else {}
            if not isinstance(at, int | float) or isinstance(at, bool):
                continue
            sw.closed_since = float(at)
            sw.previous = {k: v for k, v in held.items() if isinstance(v, dict)}
            sw.cursor = max(float(at), now - max(sw.options.since, CLOSED_LOOKBACK_MAX))
            for task_key in sw.previous:
                if task_key in sw.dismissed:
                    continue
                try:
                    task_id = int(task_key.rsplit(":", 1)[1])
                except (IndexError, ValueError):
                    continue
                sw.known[task_key] = now
                name = sw.previous[task_key].get("name")
                self._admit(sw, task_key, Found(task_id, name if isinstance(name, str) else None))

    def since_last_time(self) -> list[ScopeSince]:
        """Per restored scope: tasks that started while bkwatch was closed, and those (new or
        held then) that finished or failed since. States are the latest polled, else as listed;
        call once the first round and the first polls are in (`settled()`)."""
        out: list[ScopeSince] = []
        for key, sw in self.scopes.items():
            if sw.previous is None:
                continue
            started = sorted(sw.while_closed)
            finished: list[str] = []
            failed: list[str] = []
            for task_key in sorted(set(sw.while_closed) | set(sw.previous)):
                before = sw.previous.get(task_key, {}).get("state")
                now_state = self._state_of(sw, task_key)
                if now_state is None or not now_state.is_done or before == str(now_state):
                    continue
                (failed if now_state.is_bad else finished).append(task_key)
            out.append(ScopeSince(key, started, finished, failed))
        return out

    def settled(self) -> bool:
        """Every scope has had a round (or failed one) and every task it holds a first poll."""
        for sw in self.scopes.values():
            if sw.rounds == 0 and sw.error is None:
                return False
            for task_key in sw.held:
                watch = self.poller.watches.get(task_key)
                if watch is not None and watch.polls == 0:
                    return False
        return True

    # -- internals --------------------------------------------------------------------------

    def _state_of(self, sw: ScopeWatch, task_key: str) -> State | None:
        watch = self.poller.watches.get(task_key)
        if watch is not None and watch.task is not None:
            return watch.task.state
        if task_key in sw.gone_states:
            return sw.gone_states[task_key]
        found = sw.while_closed.get(task_key) or sw.held.get(task_key)
        return found.state if found is not None else None

    def _expired(self, sw: ScopeWatch, state: State | None, ended: float | None, now: float) -> bool:
        if state is None or not state.is_done or ended is None:
            return False
        keep = sw.options.keep_succeeded if state is State.SUCCEEDED else sw.options.keep_failed
        return now - ended >= keep

    def _admit(self, sw: ScopeWatch, task_key: str, found: Found) -> bool:
        poller = self.poller
        # The same task by any of its forms (a URL, an id): looked for only when a task with its
        # id is watched at all, so most rows of a round build no target until they are added.
        if poller.watches_id(str(found.task_id)):
            existing = poller.find(sw.scope.target(found.task_id))
            if existing is not None and existing.via != sw.key:
                return False  # added by hand (or by another scope): left as it is, never removed by this one
        full = len(sw.held) >= sw.options.cap
        if full and (sw.nothing_finished or not self._evict_one(sw)):
            # Nothing finished to give way: remembered until the next round or prune, so a
            # round over thousands of rows does not scan the held tasks for every one of them.
            sw.nothing_finished = True
            sw.waiting[task_key] = found
            sw.cap_reached = True
            return False
        sw.held[task_key] = found
        watch = poller.add(sw.scope.target(found.task_id), via=sw.key)
        t = traits(sw.scope.system)
        watch.parked = t.batched
        if watch.label is None and not t.named_by_status and found.name:
            watch.label = found.name  # its states carry no name (BKFlow); the list does
        return True

    def _evict_one(self, sw: ScopeWatch) -> bool:
        """Make room by removing the finished task that ended first; False when none is finished."""
        oldest: tuple[float, str] | None = None
        for task_key in sw.held:
            watch = self.poller.watches.get(task_key)
            task = watch.task if watch is not None else None
            if task is None or not task.state.is_done or task_key == self.poller.focus:
                continue
            ended = task.end or sw.done_at.get(task_key) or 0.0
            if oldest is None or ended < oldest[0]:
                oldest = (ended, task_key)
        if oldest is None:
            return False
        self._drop(sw, oldest[1])
        sw.cap_reached = True
        return True

    def _fill(self, sw: ScopeWatch) -> None:
        """Let tasks waiting for room in; the cap stays reported while any still wait."""
        sw.nothing_finished = False
        while sw.waiting:
            task_key = next(iter(sw.waiting))
            if len(sw.held) >= sw.options.cap and not self._evict_one(sw):
                break  # full of live tasks: the rest keep waiting
            self._admit(sw, task_key, sw.waiting.pop(task_key))
        if not sw.waiting and len(sw.held) < sw.options.cap:
            sw.cap_reached = False

    def _drop(self, sw: ScopeWatch, task_key: str) -> None:
        watch = self.poller.watches.get(task_key)
        if watch is not None and watch.task is not None:
            sw.gone_states[task_key] = watch.task.state
        sw.held.pop(task_key, None)
        sw.waiting.pop(task_key, None)
        sw.done_at.pop(task_key, None)
        sw.batch_seen.pop(task_key, None)
        self.poller.remove(task_key)

    def _batch_interval(self, sw: ScopeWatch) -> float:
        """As often as the liveliest task it follows would be polled on its own."""
        cadence = self.poller.cadence
        best = cadence.finished
        for task_key in sw.held:
            watch = self.poller.watches.get(task_key)
            if watch is None:
                continue
            state = watch.task.state if watch.task is not None else None
            if state is None or state.is_active:  # not polled yet: assume it is running
                return cadence.active
            if state is State.WAITING:
                best = min(best, cadence.waiting)
        return best

    def _changed(self, sw: ScopeWatch) -> None:
        if self.on_change is not None:
            try:
                self.on_change(sw)
            except Exception:
                log.exception("scope change handler failed for %s", sw.key)


def _as_error(exc: Exception, what: str) -> BkError:
    if isinstance(exc, BkError):
        return exc
    log.error("%s failed unexpectedly", what, exc_info=exc)
    return BkError(ErrorKind.BAD_RESPONSE, f"unexpected {type(exc).__name__}: {exc}")


class _Counting:
    """The client as the list and batch calls see it, counting the requests they make."""

    def __init__(self, client: BkClient) -> None:
        self.client = client
        self.calls = 0

    def transport_for(self, system: System) -> Any:
        return self.client.transport_for(system)

    async def call(self, system: System, api: str, **kwargs: Any) -> Any:
        self.calls += 1
        return await self.client.call(system, api, **kwargs)
