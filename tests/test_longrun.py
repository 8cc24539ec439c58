"""Memory flat over hours (see tests/longrun.py, tests/monitor_run.py and docs/reliability.md).

In CI, about a minute each: the user's whole browsing cycle (moves, opening tasks, panes, next
failure, failures only, help, filter, the add and confirm dialogs, the command palette) repeated
against a simulator process, where no widget and no memory may be left behind per cycle; and 75 s
of the monitor's own workload (tests/monitor_run.py) at eight times its pace, where RSS may not
grow by 10 MiB after the first 30 s. A leak per key or focus change, like Textual's footer keeping
every key it drew, fails both.

The monitor's workload for an hour, the issue's target (under 5 MiB of growth after minute 10):

    BKWATCH_LONGRUN_MINUTES=60 python -m pytest tests/test_longrun.py -k memory_flat -q -s
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from textual.widget import Widget

from bkwatch import tune_gc
from bkwatch.tui.app import BkWatchApp
from tests.harness import notifications
from tests.longrun import CYCLE, Samples, browse, running_app

MINUTES = float(os.environ.get("BKWATCH_LONGRUN_MINUTES", "0"))
WARM_CYCLES = 3  # every screen, dialog and pane drawn, every cache filled to its bound
MEASURED_CYCLES = 5
# Closed widgets still alive at the end, beyond those at the start: toasts and a dialog in
# flight. The footer leak left ~10 per focus change, hundreds per run.
DETACHED_SLACK = 40
# Heap still held after a collection, per key: Textual's render caches still filling give
# 15-30 KB here; the footer leak gave ~110 KB.
BYTES_PER_KEY = 60_000


def detached_widgets() -> Counter[str]:
    """Widgets alive but no longer in the DOM (closed screens, dialogs, old footer keys), by type."""
    gc.collect()
    return Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, Widget) and not o.is_attached)


@pytest.mark.timeout(240)
async def test_no_memory_left_behind_per_key(tmp_path: Path) -> None:
    samples = Samples()
    thresholds = gc.get_threshold()
    tune_gc()  # as the bkwatch command does: garbage must not wait for a collection that never comes
    try:
        async with running_app(tmp_path, tasks=100) as (app, _admin):
            await browse(app, 8, samples, pause=0.1)  # first polls in
            for _ in range(WARM_CYCLES):
                await cycle(app, samples)
            await toasts_gone(app, 4.0)  # toasts of the warm-up gone
            widgets_before = detached_widgets()
            tracemalloc.start(1)
            try:
                await cycle(app, samples)  # what the measured cycles replace is traced too
                gc.collect()
                live = len(gc.get_objects())
                heap_before = tracemalloc.get_traced_memory()[0]
                keys_before = samples.keys
                tracked = []
                for _ in range(MEASURED_CYCLES):
                    await cycle(app, samples)
                    tracked.append(len(gc.get_objects()))  # no collection forced: as it runs
                await toasts_gone(app, 4.0)
                await asyncio.sleep(1.0)  # the last dialog closed, its widgets let go
                widgets_after = detached_widgets()
                held = tracemalloc.get_traced_memory()[0] - heap_before
                keys = samples.keys - keys_before
            finally:
                tracemalloc.stop()
            assert app.is_running
    finally:
        gc.set_threshold(*thresholds)
    print(
        f"\n{keys} keys: heap {held / keys:.0f} B/key, objects {live} live, at most {max(tracked)} "
        f"before a collection; detached widgets {widgets_before.total()} -> {widgets_after.total()}"
    )
    # Screens, dialogs and footer keys that were closed are gone, not kept by a binding or cache.
    assert widgets_after.total() <= widgets_before.total() + DETACHED_SLACK, widgets_after - widgets_before
    assert held / keys < BYTES_PER_KEY


async def toasts_gone(app: BkWatchApp, seconds: float) -> None:
    """Wait until no toast is up, `seconds` at most."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and notifications(app):
        await asyncio.sleep(0.1)


async def cycle(app: BkWatchApp, samples: Samples) -> None:
    """One browsing cycle, a key every 0.05 s."""
    for key in CYCLE:
        app.simulate_key(key)
        samples.keys += 1
        await asyncio.sleep(0.05)


# The monitor's workload (tests/monitor_run.py). In the suite, 75 s at a key every 0.25 s (eight
# times the long run's pace: up to 300 keys, 13 rounds of the log and signature views opened and
# closed); RSS every 10 s, each read after the app's minute release (stale caches, a full
# collection, free heap given back), compared from 30 s on, once the followed scope's first tasks
# and every view have been drawn. Measured on a loaded 2-core machine: +1.0 and +6.0 MiB from 30
# to 70 s in two runs; with Textual's footer leak put back (every key it drew kept), +18.4 MiB.
SHORT_SECONDS = 75.0
SHORT_SETTLED = 30.0
SHORT_GROWTH_MIB = 10.0
# The long form (BKWATCH_LONGRUN_MINUTES): the target, under 5 MiB after minute 10.
LONG_SETTLED = 600.0
LONG_GROWTH_MIB = 5.0


@pytest.mark.timeout(MINUTES * 60 * 1.5 + 300 if MINUTES > 0 else 200)
async def test_memory_flat_over_a_long_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.monitor_run import monitor_run

    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))  # set again by the run, restored after
    long = MINUTES > 0
    thresholds = gc.get_threshold()
    tune_gc()  # as the bkwatch command does
    try:
        samples = await monitor_run(
            tmp_path,
            MINUTES if long else SHORT_SECONDS / 60,
            key_every=2.0 if long else 0.25,
            sample_every=60.0 if long else 10.0,
            release=not long,
            out=lambda line: print(line, flush=True) if long else None,
        )
    finally:
        gc.set_threshold(*thresholds)
    print(f"\nRSS MiB ({samples.keys} keys): {samples.table()}")
    settled_at = min(LONG_SETTLED, MINUTES * 60 / 3) if long else SHORT_SETTLED
    settled = next(i for i, at in enumerate(samples.at) if at >= settled_at)
    growth = samples.rss[-1] - samples.rss[settled]
    bound = LONG_GROWTH_MIB if long else SHORT_GROWTH_MIB
    assert growth < bound, f"grew {growth:.1f} MiB after {samples.at[settled]:.0f} s"


# -- the log and signature views, opened and closed -----------------------------------------------

VIEW_WARM = 2  # traced before the measured cycles (after 2 untraced ones)
VIEW_CYCLES = int(os.environ.get("BKWATCH_VIEW_CYCLES", "6"))
# Heap still held after VIEW_CYCLES opens and closes of each view, after a collection. Textual's
# render caches (seven per strip) fill over the first ~20 cycles: 6.5 MiB, up to 430 KB a cycle
# early on, then under 10 KB a cycle. A view, log buffer or signature report kept alive is
# counted directly (none may be); this bound catches what they would not name.
VIEW_HEAP_BOUND = 1_000_000 * VIEW_CYCLES


@pytest.mark.timeout(220)
async def test_log_and_signature_views_opened_and_closed_leave_nothing_behind(tmp_path: Path) -> None:
    from bkwatch.evidence.logbuf import LogBuffer
    from bkwatch.evidence.signatures import Signatures
    from bkwatch.tui.why.logview import LogScreen
    from bkwatch.tui.why.sigview import SignaturesScreen
    from tests.harness import frozen_sim, settle, sim_app
    from tests.test_tui_evidence import SIZE, _job, _wait

    sim = frozen_sim(seed=11)
    target, step_id, keys = _job(sim, 12, 4)
    rig = sim_app(sim, tmp_path, [target], select=target)
    app = rig.app

    def alive() -> Counter[str]:
        gc.collect()
        views = (LogScreen, SignaturesScreen, LogBuffer, Signatures)
        return Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, views))

    async def open_close(key: str, view: type, ready: str) -> None:
        app.simulate_key(key)
        await _wait(pilot, lambda: isinstance(app.screen, view), key)
        screen = app.screen
        await _wait(
            pilot, lambda: getattr(screen, ready) is not None or getattr(screen, "error", None), ready
        )
        app.simulate_key("escape")
        await _wait(pilot, lambda: app.screen is app.screen_stack[0], "the views closed")

    async with asyncio.timeout(200), app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        app.detail.job.reveal(step_id, keys[0])
        app.detail.job.hosts_view.focus()
        await pilot.pause()

        async def cycles(n: int) -> None:
            for _ in range(n):
                await open_close("l", LogScreen, "evidence")
                await open_close("w", SignaturesScreen, "report")

        await cycles(2)  # every code path run
        widgets_before = detached_widgets()
        tracemalloc.start(1)
        try:
            # Traced before the measured cycles: what those replace in a bounded cache is counted
            # as freed, so only what is kept shows.
            await cycles(VIEW_WARM)
            await pilot.pause(0.5)
            gc.collect()
            heap_before = tracemalloc.get_traced_memory()[0]
            await cycles(VIEW_CYCLES)
            await pilot.pause(0.5)
            views = alive()
            widgets = detached_widgets()
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - heap_before
        finally:
            tracemalloc.stop()
        assert app.is_running
    print(
        f"\n{VIEW_CYCLES} x (log + signatures): views alive {dict(views)}, heap held {held / 1024:.0f} "
        f"KiB, detached widgets {widgets_before.total()} -> {widgets.total()}"
    )
    # None kept once closed (at most the last view and its log or report, still unwinding).
    assert all(n <= 1 for n in views.values()), views
    assert widgets.total() <= widgets_before.total() + DETACHED_SLACK, widgets - widgets_before
    assert held < VIEW_HEAP_BOUND, f"{held / 1024:.0f} KiB held"
