"""At 80×24: `/` filters the pane that has focus (the job list too), `f` with nothing failing says
so in words, the remove dialog defaults to Cancel and names its task once."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, Input

from bkwatch.tui.dialogs.dialogs import ConfirmDialog
from tests.harness import frame_text, frozen_sim, settle, sim_app

SIZE = (80, 24)


async def test_slash_on_the_job_list_filters_the_tasks(tmp_path: Path) -> None:
    rig = sim_app(frozen_sim(), tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        app.joblist.focus()
        await pilot.pause()
        before = [line.key for line in app.joblist.lines]
        assert len(before) > 3
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"nodeman")
        await pilot.pause()
        rows = [line.key for line in app.joblist.lines]
        assert rows and all(k.startswith("nodeman:") for k in rows) and len(rows) < len(before)
        await pilot.press("enter")  # kept, and back on the list it filters
        await pilot.pause()
        assert app.focused is app.joblist
        await pilot.press("escape")  # cleared
        await pilot.pause()
        assert [line.key for line in app.joblist.lines] == before


async def test_f_with_nothing_failing_says_so(tmp_path: Path) -> None:
    sim = frozen_sim()
    rig = sim_app(sim, tmp_path)
    ok = next(t.target for t in sim.world.tasks() if t.target.startswith("nodeman:") and t.state == "SUCCESS")
    app = rig.app
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        app.select(ok)
        await pilot.pause()
        await pilot.press("enter")  # below 120 columns the task opens full-width from the list
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        await pilot.pause()
        frame = frame_text(app)
        assert "no failing hosts — f to show all" in frame
        assert "Nothing to show yet" not in frame


async def test_remove_defaults_to_cancel_and_names_the_task_once(tmp_path: Path) -> None:
    sim = frozen_sim()
    rig = sim_app(sim, tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        key = app.joblist.cursor_key
        assert key is not None
        app.joblist.focus()
        await pilot.press("d")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert isinstance(app.focused, Button) and app.focused.id == "no"
        title = app.title_of(key)
        assert dialog.question.count(key) == 1 and dialog.question.count(title) == 1
        await pilot.press("enter")  # the default keeps it
        await pilot.pause()
        assert app.screen is app.screen_stack[0] and key in rig.poller.watches
