"""The screen at 80×24 (and 200×50): every list follows and scrolls, columns earn their width,
one pane at a time when narrow, the footer keeps its keys, a filter is always in sight."""

from __future__ import annotations

import re
from contextlib import aclosing
from pathlib import Path

import pytest
from textual.widgets import Button

from bkwatch.model import System
from bkwatch.targets import parse_target
from bkwatch.tui.actions import help_keys
from bkwatch.tui.watchlist import translog
from tests.harness import SimRig, frame_text, frozen_sim, settle, sim_app

NARROW = (80, 24)
WIDE = (200, 50)


def screen_lines(rig: SimRig) -> list[str]:
    """The frame as plain text, one string per terminal row."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", "", frame_text(rig.app))
    return text.split("\n")


def _rig(tmp_path: Path, **options) -> SimRig:
    rig = sim_app(frozen_sim(), tmp_path, **options)
    rig.app.selected = rig.target(System.JOB, bad=True)
    return rig


async def test_transitions_log_follows_new_lines_and_counts_them_when_scrolled_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(translog, "FLUSH_SECONDS", 0.01)
    rig = _rig(tmp_path)
    async with aclosing(rig.client), rig.app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        log = rig.app.log_view
        for batch in range(4):  # writes one after the other, as polls arrive
            log.note_lines([f"change {batch}-{i}" for i in range(6)])
            await pilot.pause(0.05)
        await pilot.pause()
        assert any("change 3-5" in line for line in screen_lines(rig))  # the newest is in sight
        await pilot.press("tab")  # the log takes the focus, to be scrolled
        assert rig.app.focused is log
        await pilot.press("home")
        log.note_lines([f"later {i}" for i in range(5)])
        await pilot.pause(0.05)
        await pilot.pause()
        frame = "\n".join(screen_lines(rig))
        assert "later 4" not in frame and "5 new" in frame  # the reader is not moved; told instead
        await pilot.press("end")
        await pilot.pause()
        frame = "\n".join(screen_lines(rig))
        assert "later 4" in frame and "5 new" not in frame
        log.note_lines(["after end"])
        await pilot.pause(0.05)
        await pilot.pause()
        assert any("after end" in line for line in screen_lines(rig))  # following again


async def test_help_scrolls_to_its_last_key_at_80x24(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    async with aclosing(rig.client), rig.app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        key, text = help_keys()[-1]  # the last row of the help screen
        last = f" {key}  {text[:16]}"
        assert not any(last in line for line in screen_lines(rig))
        await pilot.press("end")
        await pilot.pause()
        assert any(last in line for line in screen_lines(rig))


@pytest.mark.parametrize("which", ["add", "remove", "help"])
async def test_every_dialog_fits_80x24(tmp_path: Path, which: str) -> None:
    rig = sim_app(frozen_sim(), tmp_path, scopes={})  # the add dialog's longest form: with scopes
    async with aclosing(rig.client), rig.app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        await pilot.press({"add": "a", "remove": "d", "help": "question_mark"}[which])
        await pilot.pause()
        dialog = rig.app.screen.children[0]
        region = dialog.region
        assert region.y >= 0 and region.bottom <= NARROW[1] and region.right <= NARROW[0]
        if which == "help":  # longer than the screen: it scrolls instead of being cut
            assert dialog.max_scroll_y > 0
        else:  # everything in it is on screen, its buttons too
            assert dialog.virtual_size.height <= dialog.content_region.height
            for button in dialog.query(Button):
                assert button.region.bottom <= region.bottom and button.region.height > 0


async def test_narrow_list_fills_the_screen_enter_opens_full_width_escape_returns(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        assert app.joblist.region.height >= 15 and app.detail.region.width == 0
        await pilot.press("enter")
        await pilot.pause()
        assert app.detail.region.width == NARROW[0] and app.joblist.region.height == 0
        assert "esc List" in screen_lines(rig)[NARROW[1] - 1]
        await pilot.press("escape")
        await pilot.pause()
        assert app.joblist.has_focus and app.joblist.region.height >= 15
        assert "⏎ Open" in screen_lines(rig)[NARROW[1] - 1]
        await pilot.press("n")  # the next failure opens the task too
        await pilot.pause()
        assert app.detail.region.width == NARROW[0]


async def test_wide_shows_list_and_task_side_by_side(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    async with aclosing(rig.client), rig.app.run_test(size=WIDE) as pilot:
        await settle(rig, pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert rig.app.joblist.region.width > 0 and rig.app.detail.region.width > 0


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_names_get_the_room_empty_columns_leave(tmp_path: Path, size: tuple[int, int]) -> None:
    rig = _rig(tmp_path)
    async with aclosing(rig.client), rig.app.run_test(size=size) as pilot:
        await settle(rig, pilot)
        frame = "\n".join(screen_lines(rig))
        for name in ("rolling restart nginx", "db migrate (needs approval)"):
            if size == WIDE or len(name) < 24:
                assert name in frame


async def test_a_column_with_nothing_to_say_takes_no_room_and_a_label_sits_beside_the_name(
    tmp_path: Path,
) -> None:
    sim = frozen_sim()
    fine = [t.target for t in sim.world.tasks() if t.system == "job"][:3]
    rig = sim_app(sim, tmp_path, fine)
    async with aclosing(rig.client), rig.app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        header = screen_lines(rig)[1]
        assert header.split()[:2] == ["system", "name"]  # no label, no stale data, no poll error
        assert not {"label", "age", "poll"} & set(header.split())
        rig.app.watchlist.watch_target(parse_target("job:2:20001"), "my deploy")
        await rig.poller.poll_all()
        await pilot.pause()
        lines = screen_lines(rig)
        assert lines[1].split()[:3] == ["system", "name", "label"]
        row = next(line for line in lines if "my deploy" in line)
        assert row.index("deploy-web") < row.index("my deploy")


async def test_failures_only_and_filter_in_the_panes_title_at_80_columns(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    async with aclosing(rig.client), rig.app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        await pilot.press("enter", "f")
        await pilot.pause()
        assert any("failures only" in line for line in screen_lines(rig)[1:])
        hosts = rig.app.detail.job.hosts_view
        await pilot.press("slash", *"10.2.0")
        await pilot.pause()
        typing = hosts.region.height
        await pilot.press("enter")
        await pilot.pause()
        lines = screen_lines(rig)
        assert any("filter: 10.2.0" in line and "failures only" in line for line in lines[1:])
        # The kept filter's box is closed: its rows go back to the hosts.
        assert rig.app.query_one("#filter").region.height == 0 and hosts.region.height > typing
        await pilot.press("escape")  # clears the kept filter
        await pilot.pause()
        assert rig.app.watchlist.filter_text == ""
        assert not any("filter: " in line for line in screen_lines(rig))


async def _open_evidence(rig: SimRig, pilot, key: str) -> None:
    await pilot.press("n", key)
    for _ in range(200):
        if getattr(rig.app.screen, "evidence", None) is not None or getattr(rig.app.screen, "report", None):
            break
        await pilot.pause(0.02)
    await pilot.pause()


@pytest.mark.parametrize("key", ["l", "w"])
async def test_actions_banner_never_hides_the_footer_keys(tmp_path: Path, key: str) -> None:
    rig = _rig(tmp_path, allow_actions=True)
    async with aclosing(rig.client), rig.app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        await _open_evidence(rig, pilot, key)
        lines = screen_lines(rig)
        assert "? Help" in lines[-1] and "esc Back" in lines[-1]
        assert any("ACTIONS ON" in line for line in lines[:-1])


async def test_footer_keys_are_drawn_without_restyling_each_key(tmp_path: Path) -> None:
    """The key bar is drawn again on every focus change: its new keys must not each be restyled
    twice on mount (Textual's keys start compact and are then bound to the footer's style) —
    that was a tenth of start-up's CPU."""
    rig = _rig(tmp_path)
    async with aclosing(rig.client), rig.app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        app = rig.app
        footer = app.screen.query_one("Footer")
        restyled: list[str] = []
        update_styles = app.update_styles

        def counting(node, animate: bool = True) -> None:
            restyled.append(type(node).__name__)
            update_styles(node, animate=animate)

        before = set(map(id, footer.query("FooterKey")))
        app.update_styles = counting  # type: ignore[method-assign]
        try:
            await pilot.press("tab")  # a focus change: the key bar is drawn again
            await pilot.pause()
            await pilot.pause()
        finally:
            del app.update_styles
        keys = list(footer.query("FooterKey"))
        assert keys and not before & set(map(id, keys))  # new keys
        bound = [k for k in keys if not k.has_class("-command-palette")]  # the palette's is not bound
        assert bound and not any(k.has_class("-compact") for k in bound)
        assert "FooterKey" not in restyled, restyled


async def test_footer_keys_are_not_made_again_for_the_same_bindings(tmp_path: Path) -> None:
    """Textual asks the key bar to be drawn again on every focus and binding change; when the
    bindings and the width are those it was drawn with, its keys stay (no new widgets)."""
    rig = _rig(tmp_path)
    async with aclosing(rig.client), rig.app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        footer = rig.app.screen.query_one("Footer")
        before = list(footer.query("FooterKey"))
        for _ in range(2):  # what the screen's signal does on a focus change
            footer.call_next(footer.bindings_changed, rig.app.screen)
        await pilot.pause()
        await pilot.pause()
        after = list(footer.query("FooterKey"))
        assert before and all(a is b for a, b in zip(after, before, strict=True))
        await pilot.resize_terminal(NARROW[0] - 10, NARROW[1])  # another width: drawn again
        await pilot.pause()
        await pilot.pause()
        assert not set(map(id, footer.query("FooterKey"))) & set(map(id, before))


async def test_a_footer_redrawn_after_its_screen_closed_does_nothing(tmp_path: Path) -> None:
    """A redraw asked for while a view was open may run once it is closed (the log view closed
    right after a focus change): it must not look for the screen that is gone."""
    from textual.screen import Screen

    from bkwatch.tui.widgets.footer import Footer

    class WithFooter(Screen[None]):
        def compose(self):  # type: ignore[override]
            yield Footer()

    rig = _rig(tmp_path)
    async with aclosing(rig.client), rig.app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        screen = WithFooter()
        await rig.app.push_screen(screen)
        await pilot.pause()
        footer = screen.query_one(Footer)
        assert list(footer.query("FooterKey"))
        rig.app.pop_screen()
        await pilot.pause()
        await footer.recompose()
        assert rig.app.is_running


async def test_footer_shows_whole_keys_and_help_at_every_width(tmp_path: Path) -> None:
    """No key is cut by the width or by the palette's key: keys that do not fit are left out."""
    rig = _rig(tmp_path)
    async with aclosing(rig.client), rig.app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        for width in (80, 60, 40):
            await pilot.resize_terminal(width, 24)
            await pilot.pause()
            await pilot.pause()
            footer = rig.app.screen.query_one("Footer")
            keys = list(footer.query("FooterKey"))
            palette = [k for k in keys if k.has_class("-command-palette")]
            edge = palette[0].region.x if palette else width
            shown = [k for k in keys if k not in palette]
            assert any(k.action == "help" for k in shown)
            for key in shown:
                assert key.region.right <= edge, (width, key.description)
                assert key.region.width >= len(key.key_display) + len(key.description) + 2, width


async def test_the_status_line_keeps_every_count_on_80_columns(tmp_path: Path) -> None:
    """With the actions badge on, the counts by state in words did not fit 80 columns (the end
    was cut): there they are glyphs and numbers, every one in sight; at 200 columns, words."""
    from bkwatch.tui.widgets.fmt import glyph

    rig = _rig(tmp_path, allow_actions=True)
    async with aclosing(rig.client), rig.app.run_test(size=NARROW) as pilot:
        await settle(rig, pilot)
        counts: dict = {}
        for w in rig.app.poller.watches.values():
            state = None if w.task is None else w.task.state
            counts[state] = counts.get(state, 0) + 1
        assert len(counts) >= 3, counts
        status = screen_lines(rig)[0]
        assert "ACTIONS ON" in status and "failed," not in status and len(status.rstrip()) <= 80, status
        for state, n in counts.items():
            assert (f"{n} no data" if state is None else f"{glyph(state)}{n}") in status, (state, n, status)
        await pilot.resize_terminal(*WIDE)
        await pilot.pause()
        status = screen_lines(rig)[0]
        assert "bkwatch · " in status and ", " in status and "ACTIONS ON" in status, status


async def test_a_wide_pane_draws_each_step_s_state_just_after_the_longest_name(tmp_path: Path) -> None:
    """At 200 columns the steps' states stand after the longest step name, not at the far edge of
    the pane (a 140-cell gap the eye had to cross); a task with a longer step name moves them."""
    from bkwatch.text import display_width

    rig = _rig(tmp_path)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=(200, 50)) as pilot:
        await settle(rig, pilot)
        steps = app.detail.job.steps_view
        task = rig.poller.watches[app.selected].task
        assert task is not None and len(task.steps) > 1
        longest = max(display_width(s.name) for s in task.steps)
        for s in task.steps:
            row = steps.plain(s.id)
            head, rest = row.split(s.name, 1)
            state_at = display_width(head + s.name) + len(rest) - len(rest.lstrip())
            # number (3), kind (8), the longest name and two cells after it
            assert state_at <= 3 + 8 + longest + 2, (row, state_at, longest)
        assert steps.size.width > 3 + 8 + longest + 2 + 40  # the old layout put them 40+ cells on


async def test_a_finished_task_shows_no_data_age_unless_its_polls_fail(tmp_path: Path) -> None:
    """Data ten minutes old: a running task's row says so; a finished one's does not (it will not
    change: a followed scope's finished tasks are read again rarely), until its polls fail."""
    from bkwatch.model import BkError, ErrorKind
    from tests.harness import FIXED_NOW

    rig = _rig(tmp_path)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=WIDE) as pilot:
        await settle(rig, pilot)
        watches = rig.poller.watches
        ended = next(k for k, w in watches.items() if w.task is not None and w.task.terminal)
        going = next(k for k, w in watches.items() if w.task is not None and not w.task.terminal)
        for key in (ended, going):
            watches[key].last_ok = FIXED_NOW - 600
        app.joblist.sync(watches, FIXED_NOW)
        await pilot.pause()
        assert " 10m" in app.joblist.plain(going), app.joblist.plain(going)
        assert "10m" not in app.joblist.plain(ended), app.joblist.plain(ended)
        watches[ended].error = BkError(ErrorKind.NETWORK, "connection refused")
        app.joblist.sync(watches, FIXED_NOW)
        await pilot.pause()
        assert " 10m" in app.joblist.plain(ended), app.joblist.plain(ended)
