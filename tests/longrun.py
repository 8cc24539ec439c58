"""The long run: the real app, headless, watching tasks of a simulator process while a user
browses — moving, opening tasks, help, the add and confirm dialogs, the filter, the command
palette — with faults switched on and off. Memory is measured from /proc; the test process
holds nothing that grows with the run (counters only), so what grows is the app's.

`tests/test_longrun.py` runs it; `python -m tests.longrun MINUTES` runs it by hand and prints
RSS and the object types that grew (BKWATCH_LONGRUN_TRACE=1 adds tracemalloc diffs).

`python -m tests.longrun --monitor MINUTES` runs the monitor's own workload instead: the real
wiring (`cli.run.watch_app`, the default cadence), 40 tasks and a followed scope, a 200x50
screen, a key every 2 s through moves, the log and signature views opened and closed, help and
the filter; RSS every minute. `--trace A,B` compares tracemalloc snapshots at minutes A and B
(top 15 allocation sites by size, with the frames that name them).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from textual.app import ScreenStackError

from benchmarks.common import sim_process, sim_profile, usable
from bkwatch.client import BkClient
from bkwatch.poller import Cadence, Poller
from bkwatch.store import WatchEntry, WatchStore
from bkwatch.systems.adapters import fetch_task
from bkwatch.tui.app import BkWatchApp
from tests.chaos import rss_mib

# A day of a user browsing, compressed: keys every 0.25 s (about 350 times a person's pace over
# a working day of one key every 30 s), polls at 1-2 s (30x the default cadence).
CADENCE = Cadence(
    focused=1.0, young=1.0, active=1.5, waiting=2.0, finished=2.0, unknown=1.5, backoff_max=4.0, jitter=0.1
)
SIM_ARGS = (
    "--seed", "5", "--speed", "20", "--tasks-per-system", "60", "--job-hosts", "40",
    "--nodeman-hosts", "20", "--pipeline-nodes", "8", "--gsekit-tasks", "6", "--rate-limit-reset", "2",
)  # fmt: skip
SYSTEMS = ("job", "sops", "bkflow", "nodeman", "gsekit")
# One browsing cycle: moving, opening a task and its panes, next failure, failures only, help,
# the filter (typed and cleared), the add dialog, the confirm dialog, the command palette.
CYCLE: tuple[str, ...] = (
    "j", "j", "enter", "tab", "j", "n", "f", "f", "escape", "k",
    "question_mark", "escape",
    "slash", "1", "0", "escape",
    "a", "j", "o", "b", "escape",
    "d", "escape",
    "ctrl+p", "r", "e", "escape",
    "tab", "tab", "escape", "j",
)  # fmt: skip
FAULTS = ("http_502", "delay", "reset", "malformed_json", "rate_limit", "html", "drift")


@dataclass
class Samples:
    at: list[float] = field(default_factory=list)  # seconds since start
    rss: list[float] = field(default_factory=list)  # MiB
    keys: int = 0
    faults: int = 0

    def table(self) -> str:
        return "  ".join(f"{t / 60:.1f}m {r:.1f}" for t, r in zip(self.at, self.rss, strict=True))


def type_counts() -> Counter[str]:
    gc.collect()
    return Counter(type(o).__qualname__ for o in gc.get_objects())


@asynccontextmanager
async def running_app(tmp: Path, tasks: int = 200) -> AsyncIterator[tuple[BkWatchApp, httpx.AsyncClient]]:
    """The app watching `tasks` tasks (spread over the systems) of a simulator process."""
    with sim_process(*SIM_ARGS) as sim:
        targets = usable(sim.targets())
        per = tasks // len(SYSTEMS)
        picked = [t for s in SYSTEMS for t in [x for x in targets if x.startswith(s + ":")][:per]]
        profile = sim_profile(sim.base_url)
        profile.timeout = 1.0
        client = BkClient(profile)
        poller = Poller(lambda t: fetch_task(client, t), cadence=CADENCE)
        store = WatchStore(tmp)
        store.add([WatchEntry(t, None, time.time()) for t in picked], "longrun")
        app = BkWatchApp(poller, store, "longrun", since_last_time=False)
        ran = False
        try:
            async with (
                httpx.AsyncClient(base_url=sim.base_url, timeout=10) as admin,
                app.run_test(size=(160, 48)) as pilot,
            ):
                yield app, admin
                await pilot.pause()  # keys still queued are handled before the app closes
                ran = True
        except ScreenStackError:
            # Textual (8.2.8) sometimes handles a key after it removed the screens while closing
            # the headless app; the run was over and checked by then.
            if not ran:
                raise
        finally:
            await client.aclose()


async def browse(app: BkWatchApp, seconds: float, samples: Samples, pause: float = 0.25) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.simulate_key(CYCLE[samples.keys % len(CYCLE)])
        samples.keys += 1
        await asyncio.sleep(pause)


async def faults_toggle(admin: httpx.AsyncClient, samples: Samples, on: bool) -> None:
    if on:
        kind = FAULTS[samples.faults % len(FAULTS)]
        samples.faults += 1
        body = {"kind": kind, "probability": 0.3, "delay": 1.5}
        (await admin.post("/_sim/faults", json=body)).raise_for_status()
    else:
        (await admin.delete("/_sim/faults")).raise_for_status()


async def long_run(
    tmp: Path, minutes: float, *, sample_every: float = 60.0, report: bool = False, tasks: int = 200
) -> Samples:
    """Browse for `minutes`, faults on for a third of each 30 s, sampling RSS every `sample_every` s."""
    samples = Samples()
    trace = report and os.environ.get("BKWATCH_LONGRUN_TRACE") == "1"
    async with running_app(tmp, tasks) as (app, admin):
        await browse(app, 20, samples)  # every watch polled, every screen drawn once
        start = time.monotonic()
        first = type_counts() if report else Counter()
        if trace:
            tracemalloc.start(12)
            snap0 = tracemalloc.take_snapshot()
        samples.at.append(0.0)
        samples.rss.append(rss_mib())
        next_sample = start + sample_every
        phase = 0
        while time.monotonic() - start < minutes * 60:
            await faults_toggle(admin, samples, on=phase % 3 == 0)
            await browse(app, min(10.0, max(0.5, next_sample - time.monotonic())), samples)
            phase += 1
            if time.monotonic() >= next_sample:
                next_sample += sample_every
                samples.at.append(time.monotonic() - start)
                samples.rss.append(rss_mib())
                if report:
                    counts = type_counts()
                    grew = (counts - first).most_common(12)
                    minute = samples.at[-1] / 60
                    print(f"{minute:5.1f} min  rss {samples.rss[-1]:.1f} MiB  keys {samples.keys}")
                    print("   grew:", ", ".join(f"{k} +{v}" for k, v in grew), flush=True)
                    if trace:
                        snap = tracemalloc.take_snapshot()
                        for stat in snap.compare_to(snap0, "traceback")[:6]:
                            print("   ", stat)
                            for line in stat.traceback.format()[-8:]:
                                print("       ", line)
                        sys.stdout.flush()
        await faults_toggle(admin, samples, on=False)
        assert app.is_running
    return samples


# The monitor's workload: a key every 2 s (a busy person), the log (l) and signature (w) views
# opened on the task under the cursor and closed, help, the filter typed and cleared, a task
# opened and its panes tabbed through.
MONITOR_KEYS: tuple[str, ...] = (
    "j", "l", "escape", "j", "w", "escape", "question_mark", "escape",
    "slash", "j", "o", "b", "escape", "enter", "tab", "l", "escape", "w", "escape",
    "escape", "j", "n", "k",
)  # fmt: skip
MONITOR_SIM_ARGS = (
    "--seed", "5", "--speed", "3", "--tasks-per-system", "12", "--job-hosts", "300", "--pipeline-nodes", "12",
)  # fmt: skip
MONITOR_SCOPE = "job:2"


@asynccontextmanager
async def monitor_app(tmp: Path, tasks: int = 40) -> AsyncIterator[BkWatchApp]:
    """The monitor as `bkwatch` wires it (`cli.run.watch_app`, default cadence) on a simulator
    process: `tasks` watched tasks over the systems and a followed scope, on a 200x50 screen."""
    from bkwatch.cli.run import MonitorOptions, watch_app
    from bkwatch.scope_store import ScopeEntry, ScopeStore

    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(tmp / var.lower())
    with sim_process(*MONITOR_SIM_ARGS) as sim:
        targets = usable(sim.targets())
        per = tasks // len(SYSTEMS)
        picked = [t for s in SYSTEMS for t in [x for x in targets if x.startswith(s + ":")][:per]]
        store = WatchStore(tmp / "data")
        store.add([WatchEntry(t, None, time.time()) for t in picked], "longrun")
        ScopeStore(store).add([ScopeEntry(MONITOR_SCOPE, {}, None, time.time())], "longrun")
        app, fetch = watch_app(sim_profile(sim.base_url), store, "longrun", MonitorOptions())
        ran = False
        try:
            async with app.run_test(size=(200, 50)) as pilot:
                yield app
                await pilot.pause()
                ran = True
        except ScreenStackError:
            if not ran:  # as in running_app
                raise
        finally:
            await fetch.aclose()


def _trim() -> bool:
    import ctypes

    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def _site(frames: tracemalloc.Traceback) -> str:
    """An allocation site: the innermost frame, and the innermost of bkwatch's own frames."""
    inner = frames[-1]  # frames run from the oldest call to the allocation
    own = next((f for f in reversed(frames) if "/bkwatch/" in f.filename), None)
    where = f"{'/'.join(inner.filename.rsplit('/', 2)[-2:])}:{inner.lineno}"
    if own is not None and own is not inner:
        where += f" <- {'/'.join(own.filename.rsplit('/', 2)[-2:])}:{own.lineno}"
    return where


def top_sites(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, n: int = 15) -> list[str]:
    """The `n` allocation sites (see `_site`) whose memory grew most between two snapshots."""
    size: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for stat in after.compare_to(before, "traceback"):
        site = _site(stat.traceback)
        size[site] += stat.size_diff
        count[site] += stat.count_diff
    return [f"{d / 1024:+9.1f} KiB {count[s]:+7d} blocks  {s}" for s, d in size.most_common(n)]


async def monitor_run(
    tmp: Path,
    minutes: float,
    *,
    key_every: float = 2.0,
    sample_every: float = 60.0,
    trace: tuple[float, float] | None = None,
    diagnose: bool = False,
    out: Callable[[str], None] = print,
) -> Samples:
    """The monitor's workload for `minutes`, RSS sampled every `sample_every` s (the first at 0,
    once the app is up); with `trace`, the top allocation sites grown between those minutes."""
    samples = Samples()
    snaps: dict[float, tracemalloc.Snapshot] = {}
    last_counts: Counter[str] = Counter()
    if trace:
        tracemalloc.start(25)
    async with monitor_app(tmp) as app:
        start = time.monotonic()
        samples.at.append(0.0)
        samples.rss.append(rss_mib())
        next_sample = start + sample_every
        while time.monotonic() - start < minutes * 60:
            app.simulate_key(MONITOR_KEYS[samples.keys % len(MONITOR_KEYS)])
            samples.keys += 1
            await asyncio.sleep(key_every)
            now = time.monotonic()
            if now >= next_sample:
                next_sample += sample_every
                samples.at.append(now - start)
                samples.rss.append(rss_mib())
                out(f"{samples.at[-1] / 60:5.1f} min  rss {samples.rss[-1]:.1f} MiB  keys {samples.keys}")
                if diagnose:  # what a full collection, then giving free heap back, would leave
                    found = gc.collect()
                    collected = rss_mib()
                    _trim()
                    trimmed = rss_mib()
                    out(f"      after gc.collect ({found} freed) {collected:.1f}, malloc_trim {trimmed:.1f}")
                    hosts = sum(len(w.task.hosts) + sum(len(s.hosts) for s in w.task.steps)
                                for w in app.poller.watches.values() if w.task is not None)  # fmt: skip
                    out(f"      watches {len(app.poller.watches)} holding {hosts} host results, "
                        f"blocks {sys.getallocatedblocks()}, objects {len(gc.get_objects())}")  # fmt: skip
                    counts = type_counts()
                    grew = ", ".join(f"{k} +{v}" for k, v in (counts - last_counts).most_common(10))
                    out(f"      grew: {grew}")
                    last_counts = counts
            for minute in trace or ():
                if minute not in snaps and now - start >= minute * 60:
                    gc.collect()
                    snaps[minute] = tracemalloc.take_snapshot().filter_traces(
                        [tracemalloc.Filter(False, tracemalloc.__file__)]
                    )
                    out(f"   snapshot at {minute:g} min")
                    if len(snaps) == 2:
                        a, b = (snaps[m] for m in sorted(snaps))
                        out(f"   top allocation sites, minute {min(snaps):g} -> {max(snaps):g}:")
                        for line in top_sites(a, b):
                            out("   " + line)
        assert app.is_running
    if trace:
        tracemalloc.stop()
    return samples


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:2] == ["--monitor"]:
        minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
        spans = sys.argv[sys.argv.index("--trace") + 1] if "--trace" in sys.argv else ""
        marks = tuple(float(x) for x in spans.split(",")) if spans else None
        from bkwatch import tune_gc

        tune_gc()  # as the bkwatch command does
        with tempfile.TemporaryDirectory() as tmp:
            run = monitor_run(Path(tmp), minutes, trace=marks, diagnose="--diagnose" in sys.argv)  # type: ignore[arg-type]
            done = asyncio.run(run)
        print("RSS MiB:", done.table(), flush=True)
        sys.exit(0)
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    with tempfile.TemporaryDirectory() as tmp:
        done = asyncio.run(long_run(Path(tmp), minutes, report=True))
    print("RSS MiB:", done.table())
