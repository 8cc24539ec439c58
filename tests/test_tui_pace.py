"""What polls change reaches the terminal at most once a window, as one frame; what the user does
is written at once (`tui/widgets/pace.py`). And the job list's mark of a changed task, which is
written when it comes and when it goes, covers its state badge only."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.text import Text
from textual._compositor import ChopsUpdate

from bkwatch.tui.widgets import wire
from bkwatch.tui.widgets.fmt import BADGE_WIDTH, badge_str
from bkwatch.tui.widgets.lines import TextBar
from tests.harness import count_frames, frozen_sim, settle, sim_app


def _text(frame: object, app: object) -> str:
    original = wire._ORIGINAL.get("chops") or ChopsUpdate.render_segments  # Textual's own writer
    return original(frame, app.console)  # type: ignore[arg-type, attr-defined]


async def test_held_changes_are_one_frame_and_a_key_writes_them_at_once(tmp_path: Path) -> None:
    rig = sim_app(frozen_sim(), tmp_path)
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        app.pace.always, app.pace.seconds = True, 60.0  # only a key ends this window
        frames = count_frames(app)
        status = app.query_one("#status", TextBar)
        for n in range(3):  # three polls' worth of changes, each with a pause between them
            app.pace.hold()
            status.show(Text(f"change {n}"))
            await pilot.pause()
        assert frames == [], "a held change reached the terminal before the window ended"
        await pilot.press("j")  # the hand does not wait
        await pilot.pause()
        assert not app.pace.holding
        assert frames and "change 2" in _text(frames[0], app)  # the held change, with the key's


async def test_the_window_ends_by_itself_and_the_title_goes_with_its_frame(tmp_path: Path) -> None:
    rig = sim_app(frozen_sim(), tmp_path)
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        titles: list[str] = []
        app.signals._write = titles.append  # type: ignore[method-assign]
        app.pace.always, app.pace.seconds = True, 0.3
        frames = count_frames(app)
        app.pace.hold()
        for n in range(3):
            app.query_one("#status", TextBar).show(Text(f"change {n}"))
            app.signals.set_title(f"title {n}")
            await pilot.pause()
        assert frames == [] and titles == []
        await asyncio.sleep(0.6)
        await pilot.pause()
        assert len(frames) == 1 and "change 2" in _text(frames[0], app)
        assert titles == ["\x1b]2;title 2\x07"]  # the last title only, once, with its frame


async def test_a_headless_app_holds_nothing(tmp_path: Path) -> None:
    rig = sim_app(frozen_sim(), tmp_path)
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        app.pace.hold()
        assert not app.pace.holding  # run_test's screen is read by tests as soon as it changes


async def test_a_changed_task_is_marked_on_its_state_badge_only(tmp_path: Path) -> None:
    rig = sim_app(frozen_sim(), tmp_path)
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        jobs = app.joblist
        key = next(
            ln.key for ln in jobs.lines if ln.key != jobs.cursor_key and app.poller.watches[ln.key].task
        )
        state = app.poller.watches[key].task.state  # type: ignore[union-attr]
        row = jobs.index_of(key) - int(jobs.scroll_offset.y)
        plain = jobs.render_line(row)
        jobs.set_highlights({key})
        marked = jobs.render_line(row)
        assert marked.text == plain.text  # the same words; only the mark is added
        reversed_text = "".join(seg.text for seg in marked if seg.style is not None and seg.style.reverse)
        assert reversed_text == badge_str(state, app.ascii_only).ljust(BADGE_WIDTH)
        assert not any(seg.style is not None and seg.style.reverse for seg in plain)


async def test_a_tasks_first_answer_is_written_at_once(tmp_path: Path) -> None:
    """Start-up waits for the rows: a poll that brings a task's first answer is not held (nor is
    what was held before it), so the list does not appear a second late."""
    sim = frozen_sim()
    rig = sim_app(sim, tmp_path, start_polling=False)
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        app.pace.always, app.pace.seconds = True, 60.0
        app.pace.hold()  # something already held, as a tick would
        key = next(iter(app.poller.watches))
        await app.poller.poll_once(key)
        await pilot.pause()
        assert app.poller.watches[key].task is not None
        assert not app.pace.holding, "a first answer was held"
        await app.poller.poll_once(key)  # the next answer of the same task is paced again
        await pilot.pause()
        assert app.pace.holding
