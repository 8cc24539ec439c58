"""SVG snapshots of each pane: frozen simulator, fixed clock, fixed theme and terminal size."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from bkwatch.model import System
from tests.harness import frozen_sim, settle, sim_app


def _rig(tmp_path: Path, system: System | None, *, nested: bool = False, sim_options=None, **app_options):
    sim = frozen_sim(**(sim_options or {}))
    key = None
    if nested:
        key = sim.world.add_task("sops", kind="deepfail")
        sim.world.advance(3600)
    rig = sim_app(sim, tmp_path, **app_options)
    rig.app.selected = key or (rig.target(system, bad=True) if system else None)
    return rig


def _run(rig, *keys: str):
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(rig, pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await pilot.pause()

    return run_before


def test_overview_and_job_hosts(snap_compare, tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.JOB)
    assert snap_compare(rig.app, terminal_size=(160, 48), run_before=_run(rig, "n"))


def test_sops_nested_failure_tree(snap_compare, tmp_path: Path) -> None:
    rig = _rig(tmp_path, None, nested=True)
    assert snap_compare(rig.app, terminal_size=(160, 48), run_before=_run(rig, "n"))


def test_nodeman_hosts(snap_compare, tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.NODEMAN)
    assert snap_compare(rig.app, terminal_size=(160, 48), run_before=_run(rig, "n"))


def test_gsekit_tasks(snap_compare, tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.GSEKIT, sim_options={"gsekit_rows_without_ids": True})
    assert snap_compare(rig.app, terminal_size=(160, 48), run_before=_run(rig, "n"))


def test_gsekit_status_counts(snap_compare, tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.GSEKIT)
    assert snap_compare(rig.app, terminal_size=(160, 48), run_before=_run(rig))


def test_narrow_ascii(snap_compare, tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.JOB, ascii=True)
    assert snap_compare(rig.app, terminal_size=(80, 24), run_before=_run(rig, "n"))


def test_add_dialog_error(snap_compare, tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.JOB)
    assert snap_compare(rig.app, terminal_size=(120, 36), run_before=_run(rig, "a", *"job:2:abc"))


def test_help(snap_compare, tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.JOB)
    assert snap_compare(rig.app, terminal_size=(120, 40), run_before=_run(rig, "question_mark"))


def test_followed_scopes(snap_compare, tmp_path: Path) -> None:
    """Two hand-added tasks, a SOPS business followed (its tasks under its header, a failed one
    open) and a JOB business whose list call is refused (the error on its header)."""
    sim = frozen_sim()
    hand = [t.target for t in sim.world.tasks() if t.system == "job"][:2]
    rig = sim_app(sim, tmp_path, hand, scopes={"sops:2": {}, "job:9": {}})

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(rig, pilot)
        failed = next(
            k
            for k in rig.discovery.scopes["sops:2"].held
            if rig.poller.watches[k].task.state.is_bad  # type: ignore[union-attr]
        )
        rig.app.select(failed)
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(rig.app, terminal_size=(160, 48), run_before=run_before)


# The main screens at both designed sizes: the list, a JOB failure, a SOPS tree, the log, help.
SIZES = {"80x24": (80, 24), "200x50": (200, 50)}


async def _log_view(pilot: Pilot[None]) -> None:
    await pilot.press("n", "l")
    for _ in range(200):
        if getattr(pilot.app.screen, "evidence", None) is not None:
            break
        await pilot.pause(0.02)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scene", ["list", "job-failure", "sops-tree", "log-view", "help"])
def test_main_screens(snap_compare, tmp_path: Path, scene: str, size: str) -> None:
    rig = _rig(tmp_path, System.JOB, nested=scene == "sops-tree")
    keys = {"list": (), "job-failure": ("n",), "sops-tree": ("n",), "help": ("question_mark",)}

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(rig, pilot)
        if scene == "log-view":
            await _log_view(pilot)
        for key in keys.get(scene, ()):
            await pilot.press(key)
            await pilot.pause()
        await pilot.pause()

    assert snap_compare(rig.app, terminal_size=SIZES[size], run_before=run_before)
