"""Polls apply in place: the cursor keeps its row, and only changed lines are drawn again."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from bkwatch.model import State, System
from bkwatch.tui.widgets.lines import LineView
from tests.harness import frozen_sim, settle, sim_app

HOSTS = 10_000


def _paint(view: LineView) -> None:
    """Render every visible line, as a frame would (unchanged lines come from the cache)."""
    for y in range(view.size.height):
        view.render_line(y)


async def test_ten_thousand_hosts_one_percent_change(tmp_path: Path) -> None:
    """1 % of a 10,000-host step changes per poll: the cursor stays on its host, and only the
    lines that changed are rendered again (timings live in benchmarks/screen.py)."""
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
        hv.focus()
        await pilot.press("down", "down")
        cursor = hv.cursor_key
        assert cursor is not None

        for status in (9, 104):  # 1% of pending hosts succeed, then 1% fail
            hosts = rig.poller.watches[key].task.steps[-1].hosts
            pending = [k for k, h in hosts.items() if h.state is State.PENDING and k != cursor]
            for host in rng.sample(pending, HOSTS // 100):
                sim.world.force(key, status, host=host, step=step.id)
            renders = hv.renders
            update = await rig.poller.poll_once(key)
            await pilot.pause()
            renders = hv.renders - renders
            assert len([t for t in update.transitions if t.level == "host"]) == HOSTS // 100
            assert hv.scope == scope and hv.cursor_key == cursor
            if status == 9:  # both groups are closed: only their header lines repaint
                headers = sum(1 for line in hv.lines if line.header)
                assert 0 < renders <= headers
            else:  # the failures join the open failure group, every one visible as a row
                failing = {
                    k for k, h in rig.poller.watches[key].task.steps[-1].hosts.items() if h.state.is_bad
                }
                assert failing <= {line.key for line in hv.lines}
                assert renders <= hv.size.height


async def test_in_place_change_repaints_only_that_line(tmp_path: Path) -> None:
    sim = frozen_sim()
    rig = sim_app(sim, tmp_path)
    bad = rig.target(System.JOB, bad=True)
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
        # One host's error text changes (same group): its line is repainted, and at most its
        # group's header (whose sample it is); of them only the changed cells reach the
        # terminal (test_tui_wire.py), so the header, drawing the same text, sends nothing.
        key = next(k for k, h in step.hosts.items() if h.state.is_bad)
        hosts = dict(step.hosts)
        hosts[key] = replace(hosts[key], error_text="disk full")
        hv.show(hv.scope, hosts)
        regions = [r for call in refreshed for r in call]
        row = hv.index_of(key) - int(hv.scroll_offset.y)
        head = hv.index_of(hv._hkeys[hv.group_of(key)]) - int(hv.scroll_offset.y)
        lines = {y for r in regions for y in range(r.y, r.y + r.height)}
        assert row in lines and lines <= {row, head}
        await pilot.pause()
        assert "disk full" in hv.plain(key)


async def test_progress_is_derived_per_poll_and_equals_a_recount(tmp_path: Path) -> None:
    """The job list derives a new snapshot's done/total from the last one and the poll's host
    changes; it must equal what the model counts from scratch."""
    sim = frozen_sim()
    key = sim.world.add_task("job", kind="running", hosts=400)
    rig = sim_app(sim, tmp_path, [key], select=key)
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        for _ in range(4):
            sim.world.advance(7)
            await rig.poller.poll_once(key)
            watch = rig.poller.watches[key]
            assert watch.task._progress is not None  # derived by the poll, not counted by the screen
            await pilot.pause()
            fresh = replace(watch.task, _progress=None)  # a copy that counts afresh
            assert watch.task.progress() == fresh.progress()
            done, total = fresh.progress()
            assert f"{done}/{total}" in app.joblist.plain(key)


async def test_last_seen_is_saved_at_most_every_30_s_and_on_exit(tmp_path: Path) -> None:
    sim = frozen_sim()
    rig = sim_app(sim, tmp_path)
    key = rig.target(System.JOB, bad=False)
    rig.app.selected = key
    saves: list[dict] = []
    original = rig.store.save_last_seen

    def counting(name: str, seen: dict) -> None:  # the real store, with a count of writes
        saves.append({k: dict(v) for k, v in seen.items()})
        original(name, seen)

    rig.store.save_last_seen = counting  # type: ignore[method-assign]
    async with rig.app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        first = len(saves)
        assert first == 1  # the first states are written at once
        rig.sim.world.force(key, 4)  # the task fails
        await rig.poller.poll_once(key)
        await pilot.pause()
        assert len(saves) == first  # within 30 s of the last write: deferred
    assert len(saves) == first + 1  # written on exit, with the failure in it
    assert rig.store.load_last_seen("test")[key]["state"] == "failed"
