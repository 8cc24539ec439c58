"""Regenerate screenshots/*.svg from a frozen simulator: `python -m tests.screenshots`
(from the repository's root); `python -m tests.screenshots DIR NAME…` shoots only those scenes."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from bkwatch.model import System
from tests.harness import SimRig, frozen_sim, settle, sim_app

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


async def _actions_menu(rig: SimRig, pilot: Pilot[None]) -> None:
    await pilot.press("n")  # on a failing host group
    await pilot.pause()
    await pilot.press("x")
    await pilot.pause()


async def _action_confirm(rig: SimRig, pilot: Pilot[None]) -> None:
    await _actions_menu(rig, pilot)
    await pilot.press("enter")  # the first allowed action: retry the failed hosts
    await pilot.pause()


SCENES: dict[str, tuple[Scene, System | None]] = {
    "overview": (_overview, System.JOB),
    "job-failing-hosts": (_job, System.JOB),
    "sops-tree": (_job, None),
    "nodeman": (_select(System.NODEMAN), None),
    "gsekit": (_select(System.GSEKIT), None),
    "add-dialog-error": (_add_error, System.JOB),
    "help": (_help, System.JOB),
    "actions-menu": (_actions_menu, System.JOB),
    "action-confirm": (_action_confirm, System.JOB),
}
ACTING = {"actions-menu", "action-confirm"}  # shot with actions on


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
        rig = sim_app(sim, Path(tmp), allow_actions=True if name in ACTING else None)
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
    names = args[1:] or list(SCENES)
    for name in names:
        print(asyncio.run(shoot(name, out_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
