"""Regenerate screenshots/*.svg from a frozen simulator: `python -m bkwatch.tui.screenshots`.

`sim_app()` is also what the TUI tests use: the real app, poller, client and adapters, talking
to the simulator in-process through `httpx.ASGITransport`, with a fixed clock.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from textual.pilot import Pilot

from bkwatch.client import BkClient
from bkwatch.model import System
from bkwatch.poller import Cadence, Poller
from bkwatch.sim import SimConfig, Simulator
from bkwatch.store import WatchEntry, WatchStore
from bkwatch.systems import fetch_task
from bkwatch.tui.app import BkWatchApp
from bkwatch.tui.launch import demo_profile

FIXED_NOW = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC: screenshots never show today's date
BASE = "http://sim.invalid"
BAD_RAW = {"4", "FAILED", "PART_FAILED", "failed"}


@dataclass
class SimRig:
    sim: Simulator
    app: BkWatchApp
    poller: Poller
    store: WatchStore
    client: BkClient

    def target(self, system: System, *, bad: bool | None = None, index: int = 0) -> str:
        """A simulator task of `system` (failing ones when bad=True)."""
        found = [
            t.target
            for t in self.sim.world.tasks()
            if t.system == str(system) and (bad is None or (t.state in BAD_RAW) == bad)
        ]
        return found[index]


def frozen_sim(**config: Any) -> Simulator:
    config.setdefault("seed", 1)
    config.setdefault("frozen", True)
    config.setdefault("clock", lambda: FIXED_NOW)
    return Simulator(SimConfig(**config))


def sim_app(
    sim: Simulator,
    data_dir: Path,
    targets: list[str] | None = None,
    *,
    select: str | None = None,
    list_name: str = "test",
    clock: Callable[[], float] = lambda: FIXED_NOW,
    **app_options: Any,
) -> SimRig:
    """The real app wired to `sim` in-process; nothing polls until the test says so."""
    profile = demo_profile(BASE)
    client = BkClient(profile, transport=httpx.ASGITransport(app=sim.app))
    # A huge cadence: the background loop never polls on its own during a test.
    slow = Cadence(focused=1e6, young=1e6, active=1e6, waiting=1e6, finished=1e6, unknown=1e6, jitter=0)
    poller = Poller(lambda t: fetch_task(client, t), cadence=slow, clock=clock)
    store = WatchStore(data_dir)
    if targets is None:
        targets = [t.target for t in sim.world.tasks()]
    store.add([WatchEntry(t, None, clock()) for t in targets], list_name)
    app_options.setdefault("start_polling", False)
    app = BkWatchApp(poller, store, list_name, clock=clock, select=select, **app_options)
    app.theme = "textual-dark"
    return SimRig(sim, app, poller, store, client)


async def settle(rig: SimRig, pilot: Pilot[None]) -> None:
    """Poll every watch once and let the screen apply the updates (polled again once the
    pipelines' flow order, read beside the first poll, has arrived)."""
    from bkwatch.systems import flow

    await rig.poller.poll_all()
    if await flow.settle(rig.client):
        await rig.poller.poll_all()
    await pilot.pause()
    await pilot.pause()


Scene = Callable[[SimRig, Pilot[None]], Awaitable[None]]


async def _overview(rig: SimRig, pilot: Pilot[None]) -> None:
    await pilot.press("escape")


async def _job(rig: SimRig, pilot: Pilot[None]) -> None:
    await pilot.press("n")


def _select(system: System, *, bad: bool = True) -> Scene:
    async def scene(rig: SimRig, pilot: Pilot[None]) -> None:
        rig.app._select(rig.target(system, bad=bad))
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()

    return scene


async def _add_error(rig: SimRig, pilot: Pilot[None]) -> None:
    await pilot.press("a")
    await pilot.pause()
    await pilot.press(*"https://bk.example.com/not/a/task")
    await pilot.pause()


async def _help(rig: SimRig, pilot: Pilot[None]) -> None:
    await pilot.press("question_mark")
    await pilot.pause()


SCENES: dict[str, tuple[Scene, System | None]] = {
    "overview": (_overview, System.JOB),
    "job-failing-hosts": (_job, System.JOB),
    "sops-tree": (_job, None),
    "nodeman": (_select(System.NODEMAN), None),
    "gsekit": (_select(System.GSEKIT), None),
    "add-dialog-error": (_add_error, System.JOB),
    "help": (_help, System.JOB),
}


async def shoot(name: str, out_dir: Path, size: tuple[int, int] = (160, 48)) -> Path:
    scene, preselect = SCENES[name]
    # The GSEKit shot shows per-task rows, as an older GSEKit returns them (a current one
    # answers with status counts only, see docs/states.md).
    sim = frozen_sim(gsekit_rows_without_ids=name == "gsekit")
    nested = None
    if name == "sops-tree":
        nested = sim.world.add_task("sops", kind="deepfail")  # a failure inside nested subprocesses
        sim.world.advance(3600)
    with tempfile.TemporaryDirectory() as tmp:
        rig = sim_app(sim, Path(tmp))
        if preselect is not None:
            rig.app.selected = rig.target(preselect, bad=True)
        if nested is not None:
            rig.app.selected = nested
        async with rig.app.run_test(size=size) as pilot:
            await settle(rig, pilot)
            await scene(rig, pilot)
            await pilot.pause()
            out_dir.mkdir(parents=True, exist_ok=True)
            path = rig.app.save_screenshot(f"{name}.svg", path=str(out_dir))
        await rig.client.aclose()
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else Path("screenshots")
    for name in SCENES:
        print(asyncio.run(shoot(name, out_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
