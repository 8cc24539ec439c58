"""A demo that demonstrates: the simulator's text made to test escaping only with `--hostile`, and
no "since last time" summary across demo restarts (each demo starts a fresh simulator)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bkwatch.client import BkClient
from bkwatch.model import BkError, Task
from bkwatch.sim import DEMO_TOKEN, SimConfig, Simulator
from bkwatch.systems.adapters import fetch_task, settle
from bkwatch.targets import parse_target
from tests.conftest import isolate, sim_profile
from tests.test_cli import _pty_run

HOSTILE_MARKS = ("\x1b", "\x07", "[bold", "[/]", "[link=", "[red]", "非常长的步骤说明文字" * 3)


def _texts(task: Task) -> list[str]:
    out = [task.name or ""]
    for step in task.steps:
        out.append(step.name)
        out += [f"{h.tag} {h.error_text} {h.status_text}" for h in step.hosts.values()]
    out += [f"{h.step} {h.error_text} {h.status_text}" for h in task.hosts.values()]
    out += [f"{j.failed_reason} {' '.join(j.solutions)}" for j in task.job_tasks.values()]
    if task.root is not None:
        out += [f"{n.name} {n.message}" for n, _ in task.root.walk()]
    return out


async def _hostile_texts(hostile: bool) -> list[str]:
    """What the monitor would show of every task, as the raw strings its model holds."""
    sim = Simulator(SimConfig(seed=1, frozen=True, hostile=hostile))
    found: list[str] = []
    async with BkClient(sim_profile(token=DEMO_TOKEN), transport=httpx.ASGITransport(app=sim.app)) as client:
        for info in sim.world.tasks():
            target = parse_target(info.target)
            try:
                await fetch_task(client, target)
                await settle(client)
                task = await fetch_task(client, target)
            except BkError:
                continue  # a space this app may not read (the simulator's permission case)
            found += [t for t in _texts(task) if any(m in t for m in HOSTILE_MARKS)]
    return found


async def test_the_demo_world_has_no_text_made_to_test_escaping() -> None:
    assert await _hostile_texts(True), "the fixtures are there for the tests"
    assert await _hostile_texts(False) == []


@pytest.mark.timeout(120)
def test_a_restarted_demo_shows_no_since_last_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    # The rolling job goes from running to waiting a few seconds in: the first demo saves that,
    # the second starts a fresh simulator where it runs again.
    marker = {b"rolling restart nginx task:"}
    out, code = _pty_run(["demo"], marker, timeout=45)
    assert code == 0 and b"rolling restart nginx task:" in out, out[-2000:]
    out, code = _pty_run(["demo"], marker, timeout=45)
    assert code == 0 and b"rolling restart nginx task:" in out, out[-2000:]
    assert b"Since last time" not in out and b"since last time" not in out
