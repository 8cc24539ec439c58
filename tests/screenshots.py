"""Regenerate screenshots/*.svg from a frozen simulator: `python -m tests.screenshots`
(from the repository's root) shoots every scene at 200×50 (`NAME.svg`) and at 80×24
(`NAME-80x24.svg`); `python -m tests.screenshots [--size WxH] DIR NAME…` only those scenes, at
that size (the file named with it unless it is 200×50)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import aclosing
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
        rig.app.select(rig.target(system, bad=bad))
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


async def _followed(rig: SimRig, pilot: Pilot[None]) -> None:
    # A task starts in the followed business and is found by the next round; the failed one
    # the scope found is opened.
    rig.sim.world.add_task("sops", scope="2", kind="running")
    rig.sim.world.advance(15)
    await settle(rig, pilot)
    failed = next(
        k
        for k in rig.discovery.scopes["sops:2"].held
        if (task := rig.poller.watches[k].task) is not None and task.state.is_bad
    )
    rig.app.select(failed)
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()


# Scenes that follow scopes: the scopes (with their saved options) and how many JOB tasks are
# on the list by hand.
FOLLOWED: dict[str, dict[str, dict]] = {"followed-scope": {"sops:2": {}, "bkflow:1": {"keep_failed": 7200.0}}}


async def _until(pilot: Pilot[None], done: Callable[[], bool]) -> None:
    for _ in range(200):
        if done():
            return
        await pilot.pause(0.02)


async def _log_view(rig: SimRig, pilot: Pilot[None]) -> None:
    """A failing host's log, with a search for its error marked."""
    await pilot.press("n", "l")
    await _until(pilot, lambda: getattr(rig.app.screen, "evidence", None) is not None)
    await pilot.press("slash", *"error", "enter")
    await pilot.pause()


async def _signatures(rig: SimRig, pilot: Pilot[None]) -> None:
    await pilot.press("n", "w")
    await _until(pilot, lambda: getattr(rig.app.screen, "report", None) is not None)
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
    "followed-scope": (_followed, None),
    "log-view": (_log_view, None),
    "signatures": (_signatures, None),
    "actions-menu": (_actions_menu, System.JOB),
    "action-confirm": (_action_confirm, System.JOB),
}
ACTING = {"actions-menu", "action-confirm"}  # shot with actions on


WIDE, NARROW = (200, 50), (80, 24)


async def shoot(name: str, out_dir: Path, size: tuple[int, int] = WIDE) -> Path:
    scene, preselect = SCENES[name]
    # The GSEKit shot shows per-task rows, as an older GSEKit returns them (a current one
    # answers with status counts only, see docs/states.md).
    sim = frozen_sim(gsekit_rows_without_ids=name == "gsekit")
    nested = None
    evidence = None
    if name in ("log-view", "signatures"):  # a script step whose failing hosts fail differently
        evidence = sim.world.add_task("job", kind="ok", hosts=40, scope=("biz", 2))
        sim.world.advance(600)
        step = sim.world.get(evidence).steps[2]
        for h in step.hosts[:24]:
            sim.world.force(evidence, 104, host=f"{h.cloud}:{h.ip}", step=step.id)
    if name == "sops-tree":
        nested = sim.world.add_task("sops", kind="deepfail")  # a failure inside nested subprocesses
        sim.world.advance(3600)
    with tempfile.TemporaryDirectory() as tmp:
        if name in FOLLOWED:
            hand = [t.target for t in sim.world.tasks() if t.system == "job"][:2]
            rig = sim_app(sim, Path(tmp), hand, scopes=FOLLOWED[name])
        else:
            rig = sim_app(sim, Path(tmp), allow_actions=True if name in ACTING else None)
        if preselect is not None:
            rig.app.selected = rig.target(preselect, bad=True)
        if nested is not None:
            rig.app.selected = nested
        if evidence is not None:
            rig.app.selected = evidence
        async with aclosing(rig.client), rig.app.run_test(size=size) as pilot:
            await settle(rig, pilot)
            await scene(rig, pilot)
            await pilot.pause()
            out_dir.mkdir(parents=True, exist_ok=True)
            suffix = "" if size == WIDE else f"-{size[0]}x{size[1]}"
            path = rig.app.save_screenshot(f"{name}{suffix}.svg", path=str(out_dir))
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    sizes = [WIDE, NARROW]
    if args[:1] == ["--size"] and len(args) > 1:
        width, height = args[1].lower().split("x")
        sizes, args = [(int(width), int(height))], args[2:]
    out_dir = Path(args[0]) if args else Path("screenshots")
    names = args[1:] or list(SCENES)
    for size in sizes:
        for name in names:
            print(asyncio.run(shoot(name, out_dir, size)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
