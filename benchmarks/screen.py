"""Screen updates: applying one poll to the TUI in place vs rebuilding the widget from scratch.

(a) the JOB host list of a 10,000-host step while 1 % of its hosts change per poll;
(b) the SOPS tree of a 1,000-node pipeline while ~1 % of its nodes change per poll.
The app runs headless (App.run_test, 160x48) with the real BkWatchApp; each poll goes through
the real Poller and BkWatchApp.apply. The rebuild is the same apply() with the widget's scope
reset, so it builds from scratch as when another task is opened. The cursor must stay on the
same row (asserted).

python -m benchmarks.screen [--quick]
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import Row, emit, parser, sim_profile
from bkwatch.client import BkClient
from bkwatch.poller import Poller
from bkwatch.sim import SimConfig, Simulator
from bkwatch.store import WatchEntry, WatchStore
from bkwatch.systems.adapters import fetch_task, settle
from bkwatch.targets import parse_target
from bkwatch.tui.app import BkWatchApp

SIZE = (160, 48)


def _app(sim: Simulator, target: str, tmp: str) -> tuple[BkWatchApp, Poller, BkClient]:
    client = BkClient(sim_profile("http://sim"), transport=httpx.ASGITransport(app=sim.app))
    poller = Poller(lambda t: fetch_task(client, t))
    store = WatchStore(Path(tmp))
    store.add([WatchEntry(target, None)], "bench")
    app = BkWatchApp(poller, store, "bench", start_polling=False, since_last_time=False, select=target)
    return app, poller, client


def _name(key: str | None) -> str:
    return "a group header" if key is None or key.startswith("\x00") else f"host {key}"


async def _timed_rebuilds(app: BkWatchApp, pilot: Any, update: Any, widget: Any, times: int) -> list[float]:
    """Apply `update` with the widget's scope reset, as if another task had been open, so it
    builds from scratch; seconds per apply."""
    out: list[float] = []
    for _ in range(times):
        widget.scope = None
        t0 = time.perf_counter()
        with app.batch_update():
            app.apply(update)
        out.append(time.perf_counter() - t0)
        await pilot.pause()
    return out


def _median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def _host_flip(raw: str, j: int) -> int:
    """Another JOB host status: success <-> failed; a running host ends either way."""
    if raw in ("9", "11"):
        return 11 if raw == "9" else 9
    return 11 if j % 4 == 0 else 9


async def hosts_case(n_hosts: int, polls: int, expand: bool) -> Row:
    sim = Simulator(SimConfig(seed=11, frozen=True, arrivals=False, tasks_per_system=1))
    target = sim.world.add_task("job", kind="running", hosts=n_hosts, delay=-25.0)
    with tempfile.TemporaryDirectory() as tmp:
        app, poller, client = _app(sim, target, tmp)
        async with app.run_test(size=SIZE) as pilot:
            await poller.poll_once(target)  # first snapshot, through the app's own message
            await pilot.pause()
            poller.on_update = None  # from here on the benchmark calls apply() itself, timed
            pane = app.detail.job
            view = pane.hosts_view
            step = pane.current_step()
            assert step is not None and len(step.hosts) == n_hosts, "the host list is not showing the step"
            keys = list(step.hosts)
            view.focus()
            if expand:
                for g in [ln.data for ln in view.lines if ln.header]:
                    view.toggle_group(g, True)  # every host on its own row: the heaviest case
                rows = [ln.key for ln in view.lines if ln.key in step.hosts]
            else:  # as the pane opens: big groups closed, failures open
                rows = [ln.key for ln in view.lines]
            assert rows, "the host list is empty"
            middle = rows[len(rows) // 2]
            view.move_to(middle)
            await pilot.pause()
            at_key = view.cursor_key
            at_row = view.cursor_index - round(view.scroll_offset.y)  # its line on the screen
            in_place: list[float] = []
            moved_index = 0
            for i in range(polls):
                current = pane.current_step()
                assert current is not None
                for j, k in enumerate(keys[i % 100 :: 100]):  # 1 % of the hosts, another 1 % each poll
                    if k == at_key:
                        continue
                    raw = current.hosts[k].raw_status
                    sim.world.force(target, _host_flip(raw, j), host=k, step=step.id)
                update = await poller.poll_once(target)
                changed = sum(1 for t in update.transitions if t.level == "host")
                assert changed >= n_hosts // 100 - 1, changed
                t0 = time.perf_counter()
                with app.batch_update():
                    app.apply(update)
                in_place.append(time.perf_counter() - t0)
                await pilot.pause()
                assert view.cursor_key == at_key, f"cursor moved from {at_key} to {view.cursor_key}"
                moved_index += view.cursor_index - round(view.scroll_offset.y) != at_row
            # As many rebuilds as polls: the median of 4 moved by half from run to run.
            rebuild = await _timed_rebuilds(app, pilot, update, view, polls)
        await client.aclose()
    a, b = _median_ms(in_place), _median_ms(rebuild)
    return Row(
        "screen",
        f"JOB host list, {n_hosts:,} hosts ({'all groups open' if expand else 'default groups'}), "
        "1 % change: apply one poll",
        a,
        "ms",
        b,
        "rebuild host widget, ms",
        b / a,
        ">= 20x faster",
        b / a >= 20,
        [
            f"median of {polls} polls vs {len(rebuild)} rebuilds, both through BkWatchApp.apply "
            "(the rebuild with the host list's scope reset as if another task had been open); "
            f"cursor stayed on {_name(at_key)} every time"
            + (
                f", but its line on screen shifted in {moved_index} of {polls} polls as rows above it "
                "changed groups"
                if moved_index
                else ""
            )
        ],
    )


async def tree_case(n_nodes: int, polls: int) -> Row:
    def world() -> Simulator:
        return Simulator(SimConfig(seed=11, frozen=True, arrivals=False, tasks_per_system=1))

    probe = world()
    name = probe.world.add_task("sops", kind="ok", nodes=n_nodes, delay=0.0)
    probe.world.advance(1e6)
    async with BkClient(sim_profile("http://sim"), transport=httpx.ASGITransport(app=probe.app)) as c:
        done = await fetch_task(c, parse_target(name))
    assert done.start is not None and done.end is not None
    step = 30.0  # simulated seconds between polls: ~10 nodes of a 1,000-node pipeline
    sim = world()  # same seed and calls: the same tree
    target = sim.world.add_task(
        "sops", kind="ok", nodes=n_nodes, delay=-(done.end - done.start - step * polls)
    )
    with tempfile.TemporaryDirectory() as tmp:
        app, poller, client = _app(sim, target, tmp)
        async with app.run_test(size=SIZE) as pilot:
            await poller.poll_once(target)
            if await settle(client):  # the flow order, read beside the first poll: steady state
                await poller.poll_once(target)
            await pilot.pause()
            poller.on_update = None
            tree = app.detail.pipeline
            tree.focus()
            await pilot.press("down", "down", "down")
            await pilot.pause()
            at = tree.cursor_id
            at_line = tree.cursor_line
            assert at is not None
            in_place: list[float] = []
            changes: list[int] = []
            for _ in range(polls):
                sim.world.advance(step)
                update = await poller.poll_once(target)
                changes.append(sum(1 for t in update.transitions if t.level == "node"))
                t0 = time.perf_counter()
                with app.batch_update():
                    app.apply(update)
                in_place.append(time.perf_counter() - t0)
                await pilot.pause()
                assert tree.cursor_id == at, f"cursor moved from {at} to {tree.cursor_id}"
                assert tree.cursor_line == at_line, "cursor line moved"
            root = poller.watches[target].task.root  # type: ignore[union-attr]
            assert root is not None
            total = sum(1 for _ in root.walk())
            rebuild = await _timed_rebuilds(app, pilot, update, tree, polls)
        await client.aclose()
    a, b = _median_ms(in_place), _median_ms(rebuild)
    return Row(
        "screen",
        f"SOPS tree, {total:,} nodes, ~1 % change: apply one poll",
        a,
        "ms",
        b,
        "rebuild tree widget, ms",
        b / a,
        ">= 20x faster",
        b / a >= 20,
        [
            f"median of {polls} polls ({statistics.median(changes):.0f} node transitions each, median) vs "
            f"{len(rebuild)} rebuilds, both through BkWatchApp.apply (the rebuild with the tree's scope "
            f"reset as if another task had been open); cursor stayed on node {at}"
        ],
    )


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    hosts, nodes, polls = (1_000, 100, 3) if args.quick else (10_000, 1_000, 9)
    rows = [
        asyncio.run(hosts_case(hosts, polls, expand=False)),
        asyncio.run(hosts_case(hosts, polls, expand=True)),
        asyncio.run(tree_case(nodes, polls)),
    ]
    emit(rows, args.json)


if __name__ == "__main__":
    main()
