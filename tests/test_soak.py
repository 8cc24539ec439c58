"""The chaos soak (issue: reliability): 200 watched tasks, every fault the simulator can inject,
the real app running headless over real loopback sockets while keys are pressed.

About a minute in CI. The long soak is the same test for longer:

    BKWATCH_SOAK_MINUTES=30 python -m pytest tests/test_soak.py -q

It prints its counts (and writes them to soak-report.txt when BKWATCH_SOAK_REPORT names a file).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.common import sim_process, sim_profile, usable
from bkwatch.client import BkClient
from bkwatch.poller import Poller
from bkwatch.store import WatchEntry, WatchStore
from bkwatch.systems.adapters import fetch_task
from bkwatch.tui.app import BkWatchApp
from tests.chaos import EXPECTED, REQUEST_TIMEOUT, SOAK_CADENCE, SYSTEMS, ErrorLog, Soak, write_report

TASKS = 200
SOAK_MINUTES = float(os.environ.get("BKWATCH_SOAK_MINUTES", "0"))
SIM_ARGS = (
    "--seed", "11", "--speed", "5", "--no-arrivals", "--tasks-per-system", "60",
    "--job-hosts", "8", "--nodeman-hosts", "10", "--pipeline-nodes", "6", "--gsekit-tasks", "6",
    "--gsekit-all-rows", "--rate-limit-reset", "2",
)  # fmt: skip


def pick(targets: list[str], per_system: int) -> list[str]:
    out: list[str] = []
    for system in SYSTEMS:
        out += [t for t in usable(targets) if t.startswith(system + ":")][:per_system]
    return out


def rounds_of_faults(shift: int) -> list[dict[str, str]]:
    """Every fault kind once, five systems at a time, each system a different kind; `shift`
    rotates which system meets which kind on the next pass."""
    systems = SYSTEMS[shift % 5 :] + SYSTEMS[: shift % 5]
    kinds = list(EXPECTED)
    return [dict(zip(systems, kinds[i : i + 5], strict=False)) for i in range(0, len(kinds), 5)]


@pytest.mark.timeout(SOAK_MINUTES * 60 * 1.5 + 300)
async def test_chaos_soak(tmp_path: Path) -> None:
    minutes = SOAK_MINUTES
    errors = ErrorLog()
    logging.getLogger("bkwatch").addHandler(errors)
    with sim_process(*SIM_ARGS) as sim:
        targets = pick(sim.targets(), TASKS // len(SYSTEMS))
        assert len(targets) == TASKS
        profile = sim_profile(sim.base_url)
        profile.timeout = REQUEST_TIMEOUT
        profile.max_response_mb = 1  # the oversize fault sends 3 MiB: refused after the first
        client = BkClient(profile)
        poller = Poller(lambda t: fetch_task(client, t), cadence=SOAK_CADENCE)
        store = WatchStore(tmp_path)
        store.add([WatchEntry(t, None, time.time()) for t in targets], "soak")
        app = BkWatchApp(poller, store, "soak", since_last_time=False)
        try:
            async with (
                # A fresh connection per admin call: a kept-alive one can be closed by the server's
                # keep-alive timeout just as a call reuses it (a busy machine made that race real).
                httpx.AsyncClient(
                    base_url=sim.base_url, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
                ) as admin,
                app.run_test(size=(160, 48)),
            ):
                soak = Soak(app, admin)
                # Warm up: every watch polled once and healthy.
                assert await soak.wait(20, lambda: all(soak.healthy(k) for k in poller.watches))
                soak.found.key_latency.clear()  # the first paint is not what is measured
                await soak.traffic(reset=True)
                started = time.monotonic()
                soak.sample()
                end = started + minutes * 60
                passes = 0
                while True:
                    for assignment in rounds_of_faults(passes):
                        await soak.fault_round(assignment, hold=5.0)
                        soak.sample()
                    await soak.chaos(8.0, probability=0.05)
                    soak.sample()
                    passes += 1
                    if time.monotonic() >= end:
                        break
                await soak.finish(started)
                assert app.is_running
        finally:
            logging.getLogger("bkwatch").removeHandler(errors)
            await client.aclose()
    found = soak.found
    report_to = os.environ.get("BKWATCH_SOAK_REPORT")
    print("\n" + write_report(found, Path(report_to) if report_to else None))

    assert not found.problems, found.problems[:10]
    assert not errors.records, errors.records[:3]  # nothing unexpected was logged
    assert set(found.faults_by_kind) == set(EXPECTED)  # every kind was really injected
    # The app answered every key promptly, even mid-storm.
    assert max(found.key_latency) < 1.0
    # No request storms: no task was asked for faster than the fastest cadence allows.
    assert found.max_requests_per_task_minute <= 60 / SOAK_CADENCE.focused * 1.1
    # Flat: sockets stay within the client's pool; memory does not grow round after round.
    assert max(found.sockets) <= 32 + 8
    assert found.rss[-1] - found.rss[1] < 40, found.rss
