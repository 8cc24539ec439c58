"""The server gone for a while, and the terminal frozen: nothing piles up, polling resumes calmly.

CI runs short outages; longer ones on demand:

    BKWATCH_OUTAGE_SECONDS=300 BKWATCH_FREEZE_SECONDS=300 python -m pytest tests/test_outage.py -q
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from contextlib import aclosing
from pathlib import Path

import httpx
import pytest

from benchmarks.common import sim_process, usable
from benchmarks.ptyrun import PtySession
from benchmarks.tuiproc import isolated_watch
from bkwatch.client import BkClient
from bkwatch.model import ErrorKind
from bkwatch.poller import Cadence, Poller
from bkwatch.sim import SimConfig, Simulator
from bkwatch.store import WatchEntry, WatchStore
from bkwatch.systems.adapters import fetch_task
from bkwatch.tui.app import BkWatchApp
from tests.chaos import Soak
from tests.conftest import sim_profile

OUTAGE = float(os.environ.get("BKWATCH_OUTAGE_SECONDS", "20"))
FREEZE = float(os.environ.get("BKWATCH_FREEZE_SECONDS", "10"))
CADENCE = Cadence(
    focused=1.0, young=1.0, active=1.5, waiting=2.0, finished=2.0, unknown=1.5, backoff_max=6.0, jitter=0.1
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def most_attempts(seconds: float, c: Cadence) -> int:
    """Polls a failing watch may make in `seconds` under backoff (jitter at its shortest)."""
    n, t = 1, 0.0
    while True:
        t += min(c.active * 2 ** (n - 1), c.backoff_max) * (1 - c.jitter)
        if t > seconds:
            return n
        n += 1


@pytest.mark.timeout(OUTAGE + 120)
async def test_server_gone_for_a_while_then_back(tmp_path: Path) -> None:
    sim = Simulator(SimConfig(seed=5, speed=5, arrivals=False, tasks_per_system=4))
    port = free_port()
    targets = usable([t.target for t in sim.world.tasks()])
    client = BkClient(sim_profile(f"http://127.0.0.1:{port}", timeout=1.0))
    poller = Poller(lambda t: fetch_task(client, t), cadence=CADENCE)
    store = WatchStore(tmp_path)
    store.add([WatchEntry(t, None, time.time()) for t in targets], "outage")
    app = BkWatchApp(poller, store, "outage", since_last_time=False)
    async with aclosing(client), app.run_test(size=(160, 48)):
        soak = Soak(app, httpx.AsyncClient())  # no admin needed: the simulator is in-process
        with sim.serve(port=port):
            assert await soak.wait(15, lambda: all(soak.healthy(k) for k in poller.watches))
        soak.found.key_latency.clear()  # keys from here on: the first paint is not the question
        down = time.monotonic()
        # Gone: connections refused for OUTAGE seconds while the user keeps browsing.
        assert await soak.wait(OUTAGE, lambda: False) is False
        for key, watch in poller.watches.items():
            assert watch.error is not None and watch.error.kind is ErrorKind.NETWORK, key
            assert watch.task is not None  # the last good data stays on screen
            row = app.joblist.plain(key)
            done, total = watch.task.progress()
            assert "network" in row and f"{done}/{total}" in row
            attempts = [p for p in soak.polls[key] if p.at >= down]
            assert len(attempts) <= most_attempts(OUTAGE, CADENCE) + 1, (key, len(attempts))
        sim.traffic.reset()
        with sim.serve(port=port):
            up = time.monotonic()
            await soak.wait(3.0)
            # Back: each watch asks once when its backoff ends; nothing was queued up meanwhile.
            burst = sim.traffic.snapshot()["by_task"]
            assert max(burst.values(), default=0) <= 2
            budget = 2 * CADENCE.backoff_max * (1 + CADENCE.jitter) + 1.5
            assert await soak.wait(budget, lambda: all(soak.healthy(k) for k in poller.watches))
            took = time.monotonic() - up
    assert not soak.found.problems, soak.found.problems
    assert max(soak.found.key_latency) < 1.0
    print(
        f"\noutage {OUTAGE:.0f} s: recovered in {took:.1f} s, first 3 s after: {sum(burst.values())} requests"
    )


def read_until(tui: PtySession, seconds: float, until: Callable[[], bool]) -> None:
    """Keep reading the program's output until `until()` holds or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        tui.read_for(0.25)


@pytest.mark.timeout(FREEZE + 90)
def test_frozen_terminal_resumes_calmly() -> None:
    """The SSH session freezes (SIGSTOP) and resumes (SIGCONT): overdue polls run once each."""
    with sim_process("--seed", "5", "--no-arrivals", "--tasks-per-system", "4") as sim:
        targets = usable(sim.targets())
        with isolated_watch(sim.base_url, targets) as iso, PtySession(iso.argv, env=iso.env) as tui:
            assert tui.wait_for(b"JOB", 30)
            admin = httpx.Client(base_url=sim.base_url, timeout=10)

            def traffic() -> dict:
                return admin.get("/_sim/traffic").json()

            # Every watch polled at least once, and their first rounds' follow-up requests (a
            # task's detail, logs) done: those are not overdue polls.
            tui.read_for(6.0)
            tui.signal(signal.SIGSTOP)
            time.sleep(0.5)  # answers already on their way may land
            admin.delete("/_sim/traffic")
            time.sleep(FREEZE)
            frozen = traffic()["requests"]
            tui.signal(signal.SIGCONT)
            tui.read_for(1.5)
            after = traffic()
            tui.send("?")
            assert tui.wait_for(b"bkwatch keys", 5), "the app answers keys after the freeze"
            tui.send("\x1b")
            # Polling goes on: a request more than in the 1.5 s after, within 6 s.
            read_until(tui, 6.0, lambda: traffic()["requests"] > after["requests"])
            later = traffic()["requests"]
            assert not tui.exited
    assert frozen == 0  # a stopped process sends nothing
    # Every watch was overdue; each is polled once, not once per interval missed while frozen.
    assert max(after["by_task"].values(), default=0) <= 1
    assert after["requests"] <= len(targets)
    assert later > after["requests"]  # and polling goes on at its cadence
    print(f"\nfrozen {FREEZE:.0f} s: {after['requests']} requests in the 1.5 s after, {len(targets)} watches")
