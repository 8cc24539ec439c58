"""The long run: the real app, headless, watching tasks of a simulator process while a user
browses — moving, opening tasks, help, the add and confirm dialogs, the filter, the command
palette — with faults switched on and off. Memory is measured from /proc; the test process
holds nothing that grows with the run (counters only), so what grows is the app's.

`tests/test_longrun.py` runs it; `python -m tests.longrun MINUTES` runs it by hand and prints
RSS and the object types that grew (BKWATCH_LONGRUN_TRACE=1 adds tracemalloc diffs).

`python -m tests.longrun --monitor MINUTES` runs the monitor's own workload instead, in a lean
process of its own: see `tests/monitor_run.py`.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator
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


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:2] == ["--monitor"]:
        # In its own lean process (tests/monitor_run.py): this module's simulator and test-rig
        # imports would add ~12 MiB to the RSS it measures.
        os.execv(sys.executable, [sys.executable, "-m", "tests.monitor_run", *sys.argv[2:]])
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    with tempfile.TemporaryDirectory() as tmp:
        done = asyncio.run(long_run(Path(tmp), minutes, report=True))
    print("RSS MiB:", done.table())
