"""The monitor's first polls, sent before the screen's modules are imported (`cli/start.py`): each
is its task's first poll, asked of the server once; a pipeline's detail read meanwhile is polled
for once the monitor is there to poll; an early poll nobody took leaves nothing behind."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from bkwatch.cli.start import LazyFetch
from bkwatch.client import BkClient
from bkwatch.poller import Poller
from bkwatch.sim import SimConfig, Simulator
from bkwatch.systems.adapters import fetch_task, settle
from bkwatch.targets import parse_target
from tests.conftest import T0, sim_profile, watching

REPO = Path(__file__).resolve().parent.parent


def _sim() -> Simulator:
    return Simulator(SimConfig(seed=1, frozen=True, clock=lambda: T0))


def _fetch(client: BkClient) -> LazyFetch:
    async def same_client() -> BkClient:
        return client

    return LazyFetch(same_client)


_SUCCEEDED = {"job": "3", "sops": "FINISHED"}  # the raw states of a finished task


def _finished(sim: Simulator, system: str) -> str:
    return next(t.target for t in sim.world.tasks() if t.system == system and t.state == _SUCCEEDED[system])


async def test_an_early_poll_is_the_tasks_first_poll_and_asked_once() -> None:
    sim = _sim()
    target = _finished(sim, "job")
    async with BkClient(sim_profile(), transport=httpx.ASGITransport(app=sim.app)) as client:
        fetch = _fetch(client)
        fetch.start_early([parse_target(target)])
        poller = Poller(fetch)
        watch = poller.add(parse_target(target))
        await poller.poll_once(target)  # takes the early answer
        first = sim.traffic.snapshot()["requests"]
        await poller.poll_once(target)  # asks the server: as many requests as one poll
        second = sim.traffic.snapshot()["requests"] - first
        await fetch.aclose()
    assert watch.task is not None and watch.error is None
    assert first == second > 0


async def test_a_detail_read_beside_an_early_poll_is_polled_for_once_the_monitor_listens() -> None:
    """A finished pipeline's flow order comes from a read beside its first poll. Read before the
    monitor existed to poll again, it is asked for when the first poll takes the early answer."""
    sim = _sim()
    target = _finished(sim, "sops")
    async with BkClient(sim_profile(), transport=httpx.ASGITransport(app=sim.app)) as client:
        fetch = _fetch(client)
        fetch.start_early([parse_target(target)])
        for _ in range(100):  # the early poll, and the detail read it started
            await asyncio.sleep(0.01)
            if sim.traffic.snapshot()["requests"] and await settle(client, target):
                break
        polled: list[str] = []
        fetch.on_detail = polled.append  # the monitor, there now
        assert polled == []
        await fetch(parse_target(target))
        await asyncio.sleep(0)
        await fetch.aclose()
    assert polled == [target]


async def test_an_early_poll_nobody_took_is_cancelled_and_its_error_retrieved() -> None:
    """A task left the list before its first poll took the early answer: at the end, an answer
    still coming is cancelled, and an error that came is not reported as never retrieved."""
    sim = _sim()
    reported: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reported.append(context))
    async with BkClient(sim_profile(), transport=httpx.ASGITransport(app=sim.app)) as client:
        fetch = _fetch(client)
        fetch.start_early([parse_target("job:2:999999")])  # no such job: the server says so
        early = next(iter(fetch._early.values()))  # (the test's only look inside: when it is done)
        for _ in range(200):
            if early.done():
                break
            await asyncio.sleep(0.01)
        assert early.done()  # with the server's error (not read here: that would retrieve it)
        del early
        await fetch.aclose()
    del fetch
    gc.collect()
    await asyncio.sleep(0)
    assert reported == []  # no "Task exception was never retrieved"


# `bkwatch` as the command line starts it (`start.run_watch`), with the screen's import watched:
# when it begins, what the simulator had been asked; when the task's row shows, what it had been
# asked by then. The app runs headless (run_test) in place of the terminal.
_PROBE = r"""
import asyncio, importlib, json, sys, time, urllib.request
from bkwatch.cli import start
from bkwatch.cli.start import MonitorOptions
from bkwatch.config import load_profile

SIM = sys.argv[1]
seen = {}


def asked():
    with urllib.request.urlopen(SIM + "/_sim/traffic") as answer:
        return json.load(answer)["requests"]


def import_screen(name):
    seen["textual_then"] = "textual" in sys.modules
    deadline = time.monotonic() + 30
    while not asked() and time.monotonic() < deadline:
        time.sleep(0.01)
    seen["asked_then"] = asked()
    module = importlib.import_module(name)

    async def headless(app, fetch, options):
        async with app.run_test(size=(120, 30)) as pilot:
            for _ in range(600):
                rows = [w for w in app.poller.watches.values() if w.task is not None]
                if rows:
                    break
                await pilot.pause(0.05)
            seen["row"] = rows[0].task.name if rows else None
            seen["asked_at_row"] = asked()

    module.run_app = headless
    return module


start.importlib = type("Importer", (), {"import_module": staticmethod(import_screen)})
code = start.run_watch(load_profile(None), "default", MonitorOptions(record=False))
print("SEEN=" + json.dumps(seen))
sys.exit(code)
"""


async def _poll_once(base_url: str, target: str) -> None:
    async with BkClient(sim_profile(base_url)) as client:
        await fetch_task(client, parse_target(target))


@pytest.mark.timeout(120)
def test_bkwatch_asks_for_its_first_rows_before_it_imports_the_screen(served: Any, tmp_path: Path) -> None:
    job = next(t for t in served.world.tasks() if t.target == _finished(served, "job"))
    env = watching(served.base_url, tmp_path, job.target)
    served.traffic.reset()
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, served.base_url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.rpartition("SEEN=")[2])
    served.traffic.reset()
    asyncio.run(_poll_once(served.base_url, job.target))
    one_poll = served.traffic.snapshot()["requests"]
    assert seen["textual_then"] is False
    assert seen["asked_then"] >= 1  # the first request was out before the screen's import began
    assert seen["row"] == job.name
    assert seen["asked_at_row"] == one_poll  # the row came from the early poll: not asked twice
