"""A 10,000-host JOB step: polls apply by diff, far faster than rebuilding, repainting little."""

from __future__ import annotations

import random
import time
from pathlib import Path

from bkwatch.model import State
from bkwatch.tui.grouped import GroupedView
from bkwatch.tui.kinds import HostKind
from bkwatch.tui.screenshots import frozen_sim, settle, sim_app

HOSTS = 10_000


async def _idle(pilot) -> float:
    best = 1e9
    for _ in range(3):
        t0 = time.perf_counter()
        await pilot.pause()
        best = min(best, time.perf_counter() - t0)
    return best


async def test_ten_thousand_hosts_one_percent_change(tmp_path: Path) -> None:
    sim = frozen_sim()
    key = sim.world.add_task("job", kind="running", hosts=HOSTS)
    sim.world.advance(30)
    rig = sim_app(sim, tmp_path, [key], select=key)
    app = rig.app
    rng = random.Random(7)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        job = app.detail.job
        step = job.current_step()
        assert step is not None and len(step.hosts) == HOSTS
        hv = job.hosts_view
        scope = hv.scope
        rig.poller.on_update = None  # this test applies each update itself, to time it
        idle = await _idle(pilot)

        async def poll_with(status: int, pool: list[str]) -> float:
            for host in rng.sample(pool, HOSTS // 100):
                sim.world.force(key, status, host=host, step=step.id)
            update = await rig.poller.poll_once(key)
            t0 = time.perf_counter()
            with app.batch_update():
                app.apply(update)
            await pilot.pause()
            return time.perf_counter() - t0 - idle

        # 1% of pending hosts succeed: both groups are collapsed, so only headers repaint.
        current = rig.poller.watches[key].task.steps[-1].hosts
        pending = [k for k, h in current.items() if h.state is State.PENDING]
        renders = hv.renders
        quiet = await poll_with(9, pending)
        headers = sum(1 for line in hv.lines if line.header)
        assert 0 < hv.renders - renders <= headers
        assert hv.scope == scope and job.current_step() is not step  # same view, new data

        # 1% of hosts fail: rows join the open failure group.
        current = rig.poller.watches[key].task.steps[-1].hosts
        pending = [k for k, h in current.items() if h.state is State.PENDING]
        loud = await poll_with(104, pending)
        failing = {k for k, h in rig.poller.watches[key].task.steps[-1].hosts.items() if h.state.is_bad}
        assert failing <= {line.key for line in hv.lines}

        # Rebuilding the widget from scratch for the same data, the naive way.
        hosts = rig.poller.watches[key].task.steps[-1].hosts
        rebuilds = []
        for _ in range(2):
            t0 = time.perf_counter()
            fresh = GroupedView(HostKind())
            await job.mount(fresh)
            fresh.show(scope, hosts)
            await pilot.pause()
            rebuilds.append(time.perf_counter() - t0 - idle)
            await fresh.remove()
        rebuild = min(rebuilds)
        apply = max(quiet, loud, 1e-4)
        assert rebuild / apply >= 20, f"apply {apply * 1000:.1f} ms vs rebuild {rebuild * 1000:.1f} ms"


async def test_in_place_change_repaints_only_that_line(tmp_path: Path) -> None:
    sim = frozen_sim()
    rig = sim_app(sim, tmp_path)
    bad = rig.target(__import__("bkwatch.model").model.System.JOB, bad=True)
    rig.app.selected = bad
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        hv = app.detail.job.hosts_view
        step = app.detail.job.current_step()
        refreshed: list[object] = []
        original = hv.refresh

        def spy(*regions, **kw):  # records what the widget asks Textual to repaint
            refreshed.append(regions)
            return original(*regions, **kw)

        hv.refresh = spy  # type: ignore[method-assign]
        # Re-applying identical data repaints nothing.
        hv.show(hv.scope, dict(step.hosts))
        assert refreshed == []
        # One host's error text changes (same group): exactly its line and its header repaint.
        from dataclasses import replace

        key = next(k for k, h in step.hosts.items() if h.state.is_bad)
        hosts = dict(step.hosts)
        hosts[key] = replace(hosts[key], error_text="disk full")
        hv.show(hv.scope, hosts)
        assert len(refreshed) == 2 and all(len(r) == 1 and r[0].height == 1 for r in refreshed)
        await pilot.pause()
        assert "disk full" in hv._draw(hv.lines[hv.index_of(key)]).plain
