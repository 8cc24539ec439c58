"""The monitor's long-run workload, in a process that holds no more than the monitor does.

`python -m tests.monitor_run MINUTES` (or `python -m tests.longrun --monitor MINUTES`) runs the
real wiring (`cli.run.watch_app`, the default cadence) against a simulator process: 40 tasks over
the systems and a followed scope, a 200x50 screen, a key every 2 s through moves, the log and
signature views opened and closed, help and the filter; RSS every minute.
`--trace A,B` compares tracemalloc snapshots at minutes A and B (the 15 allocation sites that grew
most, with the frames that name them); `--diagnose` adds, each minute, RSS after a full collection
and after `malloc_trim`, the host results held and the object types that grew.

This module imports only what the monitor itself imports (no simulator, no test rig, no full
httpx): RSS read here is the monitor's, give or take the ~0.5 MiB of this driver. The simulator
runs in its own process; the credentials it prints are the ones used.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bkwatch.config import Profile
from bkwatch.lean_httpx import httpx

# A key every 2 s (a busy person): the log (l) and signature (w) views opened on the task under
# the cursor and closed, help, the filter typed and cleared, a task opened and its panes tabbed.
MONITOR_KEYS: tuple[str, ...] = (
    "j", "l", "escape", "j", "w", "escape", "question_mark", "escape",
    "slash", "j", "o", "b", "escape", "enter", "tab", "l", "escape", "w", "escape",
    "escape", "j", "n", "k",
)  # fmt: skip
MONITOR_SIM_ARGS = (
    "--seed", "5", "--speed", "3", "--tasks-per-system", "12", "--job-hosts", "300", "--pipeline-nodes", "12",
)  # fmt: skip
MONITOR_SCOPE = "job:2"
SYSTEMS = ("job", "sops", "bkflow", "nodeman", "gsekit")


@dataclass
class Samples:
    at: list[float] = field(default_factory=list)  # seconds since start
    rss: list[float] = field(default_factory=list)  # MiB
    keys: int = 0

    def table(self) -> str:
        return "  ".join(f"{t / 60:.1f}m {r:.1f}" for t, r in zip(self.at, self.rss, strict=True))


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Sim:
    base_url: str
    profile: Profile

    def targets(self) -> list[str]:
        """The simulated world's tasks, less those it makes unreachable on purpose (BKFlow space 7)."""
        r = httpx.get(self.base_url + "/_sim/tasks", timeout=30)
        r.raise_for_status()
        return [t["target"] for t in r.json()["tasks"] if not t["target"].startswith("bkflow:7:")]


@contextmanager
def simulator(*args: str) -> Iterator[Sim]:
    """`bkwatch sim --port 0 ARGS` in a child process, with the profile its banner names; stopped
    on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bkwatch", "sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url, creds = "", {}
        deadline = time.monotonic() + 60
        while not (base_url and creds) and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("simulator exited before printing its URL")
            if line.startswith("ESB base URL"):
                base_url = line.rsplit(" ", 1)[1].strip()
            elif line.startswith("credentials:"):
                creds = dict(w.split("=", 1) for w in line.split() if "=" in w)
        if not (base_url and creds):
            raise RuntimeError("simulator did not start within 60 s")
        profile = Profile(
            name="bench",
            esb_url=base_url,
            apigw_tmpl=f"{base_url}/api/{{api_name}}",
            app_code=creds["app_code"],
            app_secret=creds["app_secret"],
            username=creds["username"],
        )
        yield Sim(base_url, profile)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@asynccontextmanager
async def monitor_app(tmp: Path, tasks: int = 40) -> AsyncIterator[object]:
    """The monitor as `bkwatch` wires it (`cli.run.watch_app`, default cadence) on a simulator
    process: `tasks` watched tasks over the systems and a followed scope, on a 200x50 screen."""
    from textual.app import ScreenStackError

    from bkwatch.cli.run import MonitorOptions, watch_app
    from bkwatch.scope_store import ScopeEntry, ScopeStore
    from bkwatch.store import WatchEntry, WatchStore

    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(tmp / var.lower())
    with simulator(*MONITOR_SIM_ARGS) as sim:
        targets = sim.targets()
        per = tasks // len(SYSTEMS)
        picked = [t for s in SYSTEMS for t in [x for x in targets if x.startswith(s + ":")][:per]]
        store = WatchStore(tmp / "data")
        store.add([WatchEntry(t, None, time.time()) for t in picked], "longrun")
        ScopeStore(store).add([ScopeEntry(MONITOR_SCOPE, {}, None, time.time())], "longrun")
        app, fetch = watch_app(sim.profile, store, "longrun", MonitorOptions())
        ran = False
        try:
            async with app.run_test(size=(200, 50)) as pilot:
                yield app
                await pilot.pause()
                ran = True
        except ScreenStackError:
            # Textual (8.2.8) sometimes handles a key after it removed the screens while closing
            # the headless app; the run was over and checked by then.
            if not ran:
                raise
        finally:
            await fetch.aclose()


def trim() -> bool:
    import ctypes

    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def type_counts() -> Counter[str]:
    gc.collect()
    return Counter(type(o).__qualname__ for o in gc.get_objects())


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
    release: bool = False,
    out: Callable[[str], None] = lambda s: print(s, flush=True),
) -> Samples:
    """The monitor's workload for `minutes`, RSS sampled every `sample_every` s (the first at 0,
    once the app is up); with `trace`, the top allocation sites grown between those minutes.
    With `release`, each sample is read after what the app does once a minute (Textual's stale
    caches emptied, a full collection, free heap given back): what is held, not what is on its
    way out. Short runs use it; a long run leaves it to the app's own minute."""
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
            app.simulate_key(MONITOR_KEYS[samples.keys % len(MONITOR_KEYS)])  # type: ignore[attr-defined]
            samples.keys += 1
            await asyncio.sleep(key_every)
            now = time.monotonic()
            if now >= next_sample:
                next_sample += sample_every
                if release:
                    from bkwatch.tui.widgets.release import release as give_back

                    give_back()
                samples.at.append(now - start)
                samples.rss.append(rss_mib())
                out(f"{samples.at[-1] / 60:5.1f} min  rss {samples.rss[-1]:.1f} MiB  keys {samples.keys}")
                if diagnose:
                    _diagnose(app, last_counts, out)
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
        assert app.is_running  # type: ignore[attr-defined]
    if trace:
        tracemalloc.stop()
    return samples


def _diagnose(app: object, last_counts: Counter[str], out: Callable[[str], None]) -> None:
    """What a full collection, then giving free heap back, would leave; what the app holds."""
    found = gc.collect()
    collected = rss_mib()
    trim()
    trimmed = rss_mib()
    out(f"      after gc.collect ({found} freed) {collected:.1f}, malloc_trim {trimmed:.1f}")
    watches = app.poller.watches.values()  # type: ignore[attr-defined]
    hosts = sum(
        len(w.task.hosts) + sum(len(s.hosts) for s in w.task.steps) for w in watches if w.task is not None
    )
    out(
        f"      watches {len(watches)} holding {hosts} host results, "
        f"blocks {sys.getallocatedblocks()}, objects {len(gc.get_objects())}"
    )
    counts = type_counts()
    grew = ", ".join(f"{k} +{v}" for k, v in (counts - last_counts).most_common(10))
    out(f"      grew: {grew}")
    last_counts.clear()
    last_counts.update(counts)


def main(argv: list[str]) -> int:
    import signal
    import tempfile

    from bkwatch import tune_gc

    def stop(*_: object) -> None:
        raise SystemExit(143)  # unwinds through the run: the simulator child is stopped too

    signal.signal(signal.SIGTERM, stop)

    minutes = float(argv[0]) if argv and not argv[0].startswith("--") else 10.0
    spans = argv[argv.index("--trace") + 1] if "--trace" in argv else ""
    marks = tuple(float(x) for x in spans.split(",")) if spans else None
    tune_gc()  # as the bkwatch command does
    print(f"start rss {rss_mib():.1f} MiB (this driver and what the monitor imports)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        run = monitor_run(Path(tmp), minutes, trace=marks, diagnose="--diagnose" in argv)  # type: ignore[arg-type]
        done = asyncio.run(run)
    print("RSS MiB:", done.table(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
