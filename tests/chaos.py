"""The chaos soak: the real app, headless, watching 200 tasks of a simulator process that injects
every fault it knows, while a user keeps pressing keys. See tests/test_soak.py.

Everything is measured from outside the code under test where it can be: requests per task come
from the simulator's own counters, sockets and memory from /proc, error kinds from what the job
list shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bkwatch.model import ErrorKind, State
from bkwatch.poller import Cadence, Poller, PollUpdate
from bkwatch.tui.app import BkWatchApp

# A fast cadence so a minute holds many polls, yet one with visible backoff (1.5 → 3 → 4 s).
SOAK_CADENCE = Cadence(
    focused=1.0,
    young=1.0,
    active=1.5,
    waiting=2.0,
    finished=2.0,
    unknown=1.5,
    backoff_max=4.0,
    jitter=0.1,
)
REQUEST_TIMEOUT = 1.0  # the profile's timeout; the delay fault sleeps longer than this
DELAY = 1.5
SYSTEMS = ("job", "sops", "bkflow", "nodeman", "gsekit")

# What each injected fault must look like to the user; None: the answer parses, with states the
# adapters do not know, shown as unknown.
EXPECTED: dict[str, ErrorKind | None] = {
    "http_500": ErrorKind.SERVER,
    "http_502": ErrorKind.SERVER,
    "http_504": ErrorKind.SERVER,
    "delay": ErrorKind.TIMEOUT,
    "reset": ErrorKind.NETWORK,
    "truncated": ErrorKind.BAD_RESPONSE,
    "malformed_json": ErrorKind.BAD_RESPONSE,
    "html": ErrorKind.BAD_RESPONSE,
    "rate_limit": ErrorKind.RATE_LIMITED,
    "revoke_credentials": ErrorKind.AUTH,
    "drift": None,
    "oversize": ErrorKind.BAD_RESPONSE,
}
KEYS = ("j", "j", "k", "enter", "n", "tab", "escape", "k")
KEY_TIMEOUT = 5.0
POLLS_KEPT = 100  # per watch: over a minute of its polls, more than any check looks back


def socket_count() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed since listed
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return n


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class ErrorLog(logging.Handler):
    """Every error the app's own code logged (an adapter bug, a failing update handler…)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


@dataclass(slots=True)
class Poll:
    at: float  # monotonic, when the update arrived
    error: ErrorKind | None
    state: State | None
    interval: float  # the wait the poller chose after this poll (backoff included)


@dataclass
class Findings:
    faults_by_kind: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    polls: int = 0
    rounds: int = 0
    chaos_phases: int = 0
    keys_pressed: int = 0
    key_latency: list[float] = field(default_factory=list)
    show_seconds: list[float] = field(default_factory=list)  # fault set → its kind on screen
    recover_seconds: list[float] = field(default_factory=list)  # fault cleared → good data again
    recover_budget_used: list[float] = field(default_factory=list)  # recovery / two intervals
    max_requests_per_task_minute: float = 0.0
    sockets: list[int] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Soak:
    def __init__(self, app: BkWatchApp, admin: httpx.AsyncClient) -> None:
        self.app = app
        self.poller: Poller = app.poller
        self.admin = admin  # the simulator's /_sim/ API
        # The last polls of each watch only: the soak measures the app's memory, so nothing of
        # its own may grow with the run (the 161,177 polls of a 30-minute soak were ~25 MiB). Backoff is
        # checked as each poll arrives.
        self.polls: dict[str, deque[Poll]] = defaultdict(lambda: deque(maxlen=POLLS_KEPT))
        self.found = Findings()
        self._key_i = 0
        forward = self.poller.on_update

        def record(update: PollUpdate) -> None:
            watch = update.watch
            interval = self.poller.cadence.interval(watch, watch.key == self.poller.focus, time.time())
            state = watch.task.state if watch.task is not None else None
            kind = update.error.kind if update.error is not None else None
            poll = Poll(time.monotonic(), kind, state, interval)
            polls = self.polls[update.key]
            if polls:
                self.check_backoff(update.key, polls[-1], poll)
            polls.append(poll)
            self.found.polls += 1
            if forward is not None:
                forward(update)

        self.poller.on_update = record

    def by_system(self, system: str) -> list[str]:
        return [k for k in self.poller.watches if k.startswith(system + ":")]

    # -- the user ---------------------------------------------------------------------------

    async def press_a_key(self) -> None:
        """One key of a user browsing, delivered as the terminal driver delivers keys. A move in
        the job list must move its cursor; the time it takes is the app's key latency."""
        key = KEYS[self._key_i % len(KEYS)]
        self._key_i += 1
        joblist = self.app.joblist
        i = joblist.cursor_index
        can_move = (key == "j" and 0 <= i < len(joblist.lines) - 1) or (key == "k" and i > 0)
        before = joblist.cursor_key if self.app.focused is joblist and can_move else None
        started = time.perf_counter()
        self.app.simulate_key(key)
        self.found.keys_pressed += 1
        if before is None:
            await asyncio.sleep(0.05)
            return
        while joblist.cursor_key == before and time.perf_counter() - started < KEY_TIMEOUT:
            await asyncio.sleep(0.005)
        self.found.key_latency.append(time.perf_counter() - started)
        if joblist.cursor_key == before and self.app.focused is joblist:
            self.found.problems.append(f"key {key!r} did not move the job list cursor")

    async def wait(self, seconds: float, until: Callable[[], bool] | None = None) -> bool:
        """Keep pressing keys for `seconds`, or until `until()` holds (True when it did)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if until is not None and until():
                return True
            await self.press_a_key()
            await asyncio.sleep(0.2)
        return until is not None and until()

    # -- the server -------------------------------------------------------------------------

    async def set_fault(self, kind: str, route: str | None = None, probability: float = 1.0) -> None:
        body = {"kind": kind, "route": route, "probability": probability, "delay": DELAY, "size": 3 << 20}
        (await self.admin.post("/_sim/faults", json=body)).raise_for_status()

    async def clear_faults(self) -> None:
        (await self.admin.delete("/_sim/faults")).raise_for_status()

    async def traffic(self, reset: bool = False) -> dict:
        r = await (self.admin.delete("/_sim/traffic") if reset else self.admin.get("/_sim/traffic"))
        r.raise_for_status()
        return r.json()

    # -- checks -----------------------------------------------------------------------------

    def shows(self, key: str, expected: ErrorKind | None) -> bool:
        """The job list row shows the fault: its error kind, or (schema drift) an unknown state
        while the last good data stays."""
        watch = self.poller.watches[key]
        row = self.app.joblist.plain(key)
        if expected is None:
            unknown = watch.error is None and watch.task is not None and watch.task.state is State.UNKNOWN
            return unknown or (watch.error is not None and watch.error.kind is ErrorKind.BAD_RESPONSE)
        return watch.error is not None and watch.error.kind is expected and str(expected) in row

    def describe(self, key: str, since: float) -> str:
        """The polls of `key` since `since`, for a failure message."""
        polls = [p for p in self.polls[key] if p.at >= since]
        shown = ", ".join(f"+{p.at - since:.1f}s {p.error or p.state}" for p in polls[-4:])
        return f"{len(polls)} polls ({shown}); row {self.app.joblist.plain(key)!r}"

    def healthy(self, key: str) -> bool:
        watch = self.poller.watches[key]
        return watch.error is None and watch.task is not None and watch.task.state is not State.UNKNOWN

    def sample(self) -> None:
        self.found.sockets.append(socket_count())
        self.found.rss.append(rss_mib())

    async def fault_round(self, assignment: dict[str, str], hold: float) -> None:
        """Each system gets its fault; every watch must show it, then recover within two poll
        intervals of the fault clearing."""
        self.found.rounds += 1
        started = time.monotonic()
        for system, kind in assignment.items():
            await self.set_fault(kind, route=system)
        faulty = {k: EXPECTED[kind] for system, kind in assignment.items() for k in self.by_system(system)}
        # The slowest clean cadence, then every watch of a system once through its share of the
        # poller's slots (each holding one for a timeout when the fault is a delay), and a frame.
        waves = max(len(self.by_system(s)) for s in assignment) / self.poller.per_system
        show_within = SOAK_CADENCE.finished * (1 + SOAK_CADENCE.jitter) + waves * REQUEST_TIMEOUT + 2.0
        pending = dict(faulty)

        def all_shown() -> bool:
            for k in [k for k, exp in pending.items() if self.shows(k, exp)]:
                self.found.show_seconds.append(time.monotonic() - started)
                del pending[k]
            return not pending

        if not await self.wait(show_within, all_shown):
            sample = "; ".join(f"{k}: {self.describe(k, started)}" for k in list(pending)[:3])
            self.found.problems.append(f"{len(pending)} watches never showed {assignment}: {sample}")
        await self.wait(max(0.0, started + hold - time.monotonic()))
        await self.clear_and_recover(list(faulty))

    async def chaos(self, seconds: float, probability: float) -> None:
        """Every fault kind at once, at random, on every route."""
        self.found.chaos_phases += 1
        for kind in EXPECTED:
            await self.set_fault(kind, probability=probability)
        await self.wait(seconds)
        await self.clear_and_recover(list(self.poller.watches))

    async def clear_and_recover(self, keys: list[str]) -> None:
        await self.clear_faults()
        cleared = time.monotonic()
        # Polls already queued behind requests the server is still sleeping on must drain first.
        busy = Counter(k.split(":", 1)[0] for k in self.poller.in_flight())
        drain = {s: n / self.poller.per_system * REQUEST_TIMEOUT for s, n in busy.items()}
        budget = {k: self.recovery_budget(k) + drain.get(k.split(":", 1)[0], 0.0) for k in keys}

        def recovered_at(key: str) -> float | None:
            good = [
                p.at
                for p in self.polls[key]
                if p.at >= cleared and p.error is None and p.state is not State.UNKNOWN
            ]
            return good[0] if good else None

        await self.wait(max(budget.values()) + 1.0, lambda: all(recovered_at(k) for k in keys))
        for k in keys:
            at = recovered_at(k)
            if at is None:
                self.found.problems.append(f"{k} did not recover within {budget[k]:.1f} s")
                continue
            took = at - cleared
            self.found.recover_seconds.append(took)
            self.found.recover_budget_used.append(took / budget[k])
            if took > budget[k]:
                self.found.problems.append(f"{k} recovered after {took:.1f} s (> {budget[k]:.1f} s)")

    def recovery_budget(self, key: str) -> float:
        """Two of the intervals the watch is in when the fault clears (its backoff, Retry-After
        included), plus one request. A poll still in flight then may fail once more: its
        backoff step counts as the interval. (The queue's drain time is added by the caller.)"""
        watch = self.poller.watches[key]
        c = SOAK_CADENCE
        interval = c.interval(watch, key == self.poller.focus, time.time())
        if watch.errors:
            interval = max(interval, min(c.active * 2**watch.errors, c.backoff_max))
        return 2 * interval * (1 + c.jitter) + REQUEST_TIMEOUT + 0.5

    def check_backoff(self, key: str, before: Poll, after: Poll) -> None:
        """No poll of a failing watch came sooner than the wait the poller chose after the failure
        (jitter allowed for): backoff and Retry-After were honoured, nothing stormed."""
        if before.error is None:
            return
        gap = after.at - before.at
        if gap < before.interval * (1 - SOAK_CADENCE.jitter) - 0.1:
            self.found.problems.append(
                f"{key}: polled {gap:.2f} s after a {before.error} error "
                f"(the wait was {before.interval:.2f} s)"
            )

    async def finish(self, started: float) -> None:
        seen = await self.traffic()
        minutes = (time.monotonic() - started) / 60
        self.found.requests = seen["requests"]
        self.found.faults_by_kind = Counter(seen["faults"])
        per_task = seen["by_task"].values()
        self.found.max_requests_per_task_minute = max(per_task, default=0) / minutes


def write_report(found: Findings, path: Path | None) -> str:
    lat = sorted(found.key_latency)
    p99 = lat[int(0.99 * (len(lat) - 1))] if lat else 0.0
    lines = [
        f"rounds {found.rounds}, chaos phases {found.chaos_phases}",
        f"requests {found.requests}, polls seen by the app {found.polls}",
        "faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(found.faults_by_kind.items())),
        f"keys pressed {found.keys_pressed}, latency p99 {p99 * 1000:.0f} ms, "
        f"max {max(lat, default=0) * 1000:.0f} ms",
        f"fault shown after: max {max(found.show_seconds, default=0):.1f} s",
        f"recovered after: max {max(found.recover_seconds, default=0):.1f} s, "
        f"max share of the two-interval budget {max(found.recover_budget_used, default=0):.2f}",
        f"max requests per task per minute {found.max_requests_per_task_minute:.1f}",
        f"sockets {found.sockets}",
        "rss MiB " + " ".join(f"{r:.0f}" for r in found.rss),
        f"problems {len(found.problems)}: {found.problems[:5]}",
    ]
    text = "\n".join(lines)
    if path is not None:
        path.write_text(text + "\n")
    return text
