"""A poll costs what it changed: the host list's window, scroll and virtual size, marks on views
not shown, the app's marks (timings live in benchmarks/screen.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

from bkwatch.model import JobTask, State
from bkwatch.tui.drilldown.grouped import GroupedView
from bkwatch.tui.drilldown.kinds import JobTaskKind
from tests.harness import SimRig, frozen_sim, settle, sim_app


def _jt(i: int, state: State) -> JobTask:
    return JobTask(
        id=str(i),
        state=state,
        raw_state=str(state),
        err_code="1002" if state is State.FAILED else None,
        failed_reason="boom" if state is State.FAILED else "",
        retryable=None,
        solutions=[],
        ip=f"10.0.0.{i}",
        cloud_id=0,
        process=f"nginx-{i}",
    )


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield GroupedView(JobTaskKind(), id="g")


def _spy(view: GroupedView) -> list[tuple[Region, ...]]:
    """What the view asks Textual to repaint (an empty tuple: the whole widget)."""
    calls: list[tuple[Region, ...]] = []
    original = view.refresh

    def spy(*regions: Region, **kw: Any) -> GroupedView:
        calls.append(regions)
        return original(*regions, **kw)

    view.refresh = spy  # type: ignore[method-assign]
    return calls


async def test_rows_read_block_by_block_equal_the_lines_by_position() -> None:
    rows = {str(i): _jt(i, State.FAILED if i % 7 == 0 else State.SUCCEEDED) for i in range(1, 121)}
    app = _Host()
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(GroupedView)
        view.show("gsekit:2:1", rows)
        await pilot.pause()
        for opened in (False, True):  # the big success group closed (a header), then open
            if opened:
                for line in [ln for ln in view.lines if ln.header]:
                    view.toggle_group(line.data, True)
            n = len(view.lines)
            for start in (0, 1, 5, n - 3, n - 1):
                for count in (0, 1, 4, 19, 200):
                    want = [view.lines[i] for i in range(start, min(start + count, n))]
                    assert view.rows(start, count) == want, (opened, start, count)
        # A changed row is read anew (its line was noted stale, not kept).
        view.show("gsekit:2:1", {**rows, "14": _jt(14, State.SUCCEEDED)})
        assert [ln.key for ln in view.rows(0, n)] == [ln.key for ln in view.lines]


async def test_a_poll_below_the_cursor_leaves_the_scroll_and_the_virtual_size_alone() -> None:
    """Rows that change group below the cursor move nothing above it: no scroll, no new virtual
    size (a layout of the screen), only the changed lines repainted as regions."""
    rows = {str(i): _jt(i, State.SUCCEEDED) for i in range(1, 201)}
    app = _Host()
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(GroupedView)
        view.show("gsekit:2:2", rows)
        await pilot.pause()
        for line in [ln for ln in view.lines if ln.header]:
            view.toggle_group(line.data, True)
        view.move_to("100")
        await pilot.pause()
        top, size = view.scroll_offset.y, view.virtual_size
        calls = _spy(view)
        for i in (150, 160, 170):  # rows below the cursor leave for a group sorted last
            rows = {**rows, str(i): _jt(i, State.NOT_RUN)}
            view.show("gsekit:2:2", rows)
            await pilot.pause()
            assert view.cursor_key == "100"
            assert view.scroll_offset.y == top, "the view scrolled though nothing above the cursor moved"
        assert view.virtual_size == size, "every poll changed the virtual size (a layout each)"
        assert calls == [], f"rows off the screen changed, yet the view repainted: {calls}"


async def test_a_poll_above_the_cursor_keeps_its_line_repainting_regions_only() -> None:
    rows = {str(i): _jt(i, State.SUCCEEDED) for i in range(1, 201)}
    app = _Host()
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(GroupedView)
        view.show("gsekit:2:3", rows)
        await pilot.pause()
        for line in [ln for ln in view.lines if ln.header]:
            view.toggle_group(line.data, True)
        view.move_to("150")
        await pilot.pause()
        on_screen = view.cursor_index - int(view.scroll_offset.y)
        calls = _spy(view)
        sizes = set()
        for i in (3, 5, 7, 9, 11, 13):  # failures: rows (and a header) arrive above the cursor
            rows = {**rows, str(i): _jt(i, State.FAILED)}
            view.show("gsekit:2:3", rows)
            await pilot.pause()
            assert view.cursor_key == "150"
            assert view.cursor_index - int(view.scroll_offset.y) == on_screen
            sizes.add(view.virtual_size.height)
        assert calls and all(calls), f"a whole-widget refresh: {calls}"
        assert len(sizes) <= 3, f"the virtual size changed on most polls: {sorted(sizes)}"


async def test_marks_on_a_view_not_shown_are_kept_without_a_repaint() -> None:
    rows = {str(i): _jt(i, State.FAILED if i < 4 else State.SUCCEEDED) for i in range(1, 30)}
    app = _Host()
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(GroupedView)
        view.show("gsekit:2:4", rows)
        await pilot.pause()
        calls = _spy(view)
        view.set_highlights({"1", "2"}, shown=False)
        assert calls == [] and view.highlights == {"1", "2"}
        view.set_highlights({"2", "3"})  # shown: the rows whose mark came or went
        lines = {y for call in calls for r in call for y in range(r.y, r.y + r.height)}
        top = int(view.scroll_offset.y)
        assert lines == {view.index_of(k) - top for k in ("1", "3")}


async def test_marks_expire_oldest_first_and_by_task(tmp_path: Path) -> None:
    """The app's marks: a failing host is marked for HIGHLIGHT_SECONDS after its poll, then
    expires; the detail's marks are the selected task's."""
    from bkwatch.tui.app import HIGHLIGHT_SECONDS

    now = [1_000.0]
    sim = frozen_sim()
    key = sim.world.add_task("job", kind="running", hosts=60)
    sim.world.advance(30)
    rig = sim_app(sim, tmp_path, [key], select=key, clock=lambda: now[0])
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        step = app.detail.job.current_step()
        assert step is not None
        hosts = [k for k, h in step.hosts.items() if not h.state.is_bad]
        first, second = hosts[:3], hosts[3:5]
        for batch in (first, second):
            for host in batch:
                sim.world.force(key, 104, host=host, step=step.id)
            await rig.poller.poll_once(key)
            await pilot.pause()
            now[0] += HIGHLIGHT_SECONDS / 2 + 0.1
        # The first batch is older than HIGHLIGHT_SECONDS at the next poll; the second is not.
        await rig.poller.poll_once(key)
        await pilot.pause()
        marked = {k for (t, k) in app.highlights if t == key}
        assert marked == set(second), marked
        assert app.detail.job.hosts_view.highlights == set(second)


async def test_a_poll_tells_the_views_shown_only_the_marks_that_changed(tmp_path: Path) -> None:
    """The detail pane is told a poll's new and expired marks, not every mark again (a busy step
    keeps hundreds); views not shown are given the marks when they are shown."""
    from bkwatch.tui.app import HIGHLIGHT_SECONDS

    now = [1_000.0]
    sim = frozen_sim()
    key = sim.world.add_task("job", kind="running", hosts=60)
    other = sim.world.add_task("nodeman", hosts=20)
    sim.world.advance(30)
    rig = sim_app(sim, tmp_path, [key, other], select=key, clock=lambda: now[0])
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        detail = app.detail
        step = detail.job.current_step()
        assert step is not None
        wholes: list[set[str]] = []
        told: list[tuple[list[str], list[str]]] = []
        set_highlights, mark = detail.set_highlights, detail.mark

        def whole(keys: set[str]) -> None:
            wholes.append(set(keys))
            set_highlights(keys)

        def changed(came: list[str], gone: list[str]) -> None:
            told.append((list(came), list(gone)))
            mark(came, gone)

        detail.set_highlights = whole  # type: ignore[method-assign]
        detail.mark = changed  # type: ignore[method-assign]
        hosts = [k for k, h in step.hosts.items() if not h.state.is_bad][:3]
        for host in hosts:
            sim.world.force(key, 104, host=host, step=step.id)
        await rig.poller.poll_once(key)
        await pilot.pause()
        assert wholes == [] and len(told) == 1 and sorted(told[0][0]) == sorted(hosts) and told[0][1] == []
        assert detail.job.hosts_view.highlights == set(hosts)
        assert detail.nodeman.highlights == set(), "a view not shown was told of the marks"
        await rig.poller.poll_once(key)  # nothing changed, nothing expired: nothing told
        await rig.poller.poll_once(other)  # another task's poll: nothing of the task shown
        await pilot.pause()
        assert len(told) == 1 and wholes == []
        now[0] += HIGHLIGHT_SECONDS + 1
        await rig.poller.poll_once(key)
        await pilot.pause()
        assert sorted(told[-1][1]) == sorted(hosts) and told[-1][0] == []
        assert detail.job.hosts_view.highlights == set() == detail.marks
        # The NodeMan task shown: its view is given the marks then, and the next poll the task's.
        detail.marks = {"0:10.9.9.9"}
        app.select(other)
        await pilot.pause()
        assert detail.nodeman.highlights == {"0:10.9.9.9"}
        await rig.poller.poll_once(other)
        await pilot.pause()
        assert wholes == [set()] and detail.nodeman.highlights == set()


async def test_many_moves_between_open_groups_keep_every_group_in_server_order() -> None:
    """A poll moving dozens of rows between open groups rebuilds each group's list in one pass:
    the rows are what a list built afresh shows, poll after poll."""
    import random

    rand = random.Random(7)
    states = [State.FAILED, State.SUCCEEDED, State.RUNNING, State.STOPPED]
    rows = {str(i): _jt(i, rand.choice(states)) for i in range(1, 401)}
    app = _Host()
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(GroupedView)
        view.show("gsekit:2:5", rows)
        await pilot.pause()
        for line in [ln for ln in view.lines if ln.header]:
            view.toggle_group(line.data, True)
        for n in (3, 40, 120):  # one by one, then in one pass
            for i in rand.sample(range(1, 401), n):
                rows = {**rows, str(i): _jt(i, rand.choice(states))}
            view.show("gsekit:2:5", rows)
            shown = [ln.key for ln in view.lines]
            view.scope = None  # built afresh, with the same groups open
            view.show("gsekit:2:5", rows)
            assert shown == [ln.key for ln in view.lines], n


class _CountedGroup(tuple):  # type: ignore[type-arg]
    """A group key that counts how often it is hashed (every dict or set look-up hashes a tuple
    again: nothing caches it)."""

    hashed = 0

    def __hash__(self) -> int:
        _CountedGroup.hashed += 1
        return tuple.__hash__(self)


class _CountingKind(JobTaskKind):
    asked = 0  # groups asked whether they need attention: once per group laid out

    @staticmethod
    def group(jt: JobTask) -> _CountedGroup:  # type: ignore[override]
        return _CountedGroup((jt.state, jt.raw_state, jt.err_code))

    @staticmethod
    def bad_group(g: Any) -> bool:
        _CountingKind.asked += 1
        return JobTaskKind.bad_group(g)


class _Counted(App[None]):
    def compose(self) -> ComposeResult:
        yield GroupedView(_CountingKind(), id="g")


async def test_a_poll_looks_each_moved_rows_group_up_twice_not_per_step() -> None:
    """A poll moving 60 rows between groups, open and closed, costs two look-ups of a group key
    per row (its old group's share, its new group's share) and some per group, not one for
    every set and dict a move passes through."""
    rows = {str(i): _jt(i, State.FAILED if i % 3 == 0 else State.SUCCEEDED) for i in range(1, 301)}
    app = _Counted()
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(GroupedView)
        view.show("gsekit:2:6", rows)  # 300 rows: the success group closed, the failures open
        await pilot.pause()
        flips = [i for i in range(1, 301) if i % 5 == 0][:60]
        rows = {**rows, **{str(i): _jt(i, State.SUCCEEDED if i % 3 == 0 else State.FAILED) for i in flips}}
        _CountedGroup.hashed = 0
        view.show("gsekit:2:6", rows)
        hashed = _CountedGroup.hashed
        shown = [ln.key for ln in view.lines]
        view.scope = None  # built afresh: the same rows
        view.show("gsekit:2:6", rows)
        assert shown == [ln.key for ln in view.lines]
    assert hashed <= 3 * len(flips), hashed  # 413 when each move looked its groups up at every step


async def test_a_poll_moving_rows_between_groups_redraws_their_headers_not_every_group() -> None:
    """Rows moving between two of 30 groups change those two headers' counts: the other groups
    are not laid out again (only when a group comes or goes); the rows equal a list built
    afresh."""

    def row(i: int, state: State) -> JobTask:
        return replace(_jt(i, state), err_code=f"e{i % 30}")

    rows = {str(i): row(i, State.SUCCEEDED) for i in range(1, 301)}  # 30 groups of 10, closed
    app = _Counted()
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(GroupedView)
        view.show("gsekit:2:7", rows)
        await pilot.pause()
        heads = {ln.key: ln for ln in view.lines if ln.header}
        # Three rows from group e1 to e2 (same state, another error code): no group comes or goes.
        rows = {**rows, **{str(i): replace(rows[str(i)], err_code="e2") for i in (1, 31, 61)}}
        _CountingKind.asked = 0
        view.show("gsekit:2:7", rows)
        asked = _CountingKind.asked
        redrawn = [ln.key for ln in view.lines if ln.header and heads.get(ln.key) is not ln]
        shown = [(ln.key, ln.sig) for ln in view.lines]
        view.scope = None  # built afresh: the same rows and headers
        view.show("gsekit:2:7", rows)
        assert shown == [(ln.key, ln.sig) for ln in view.lines]
        await pilot.pause()
    assert asked == 0, asked  # 30 when every group was laid out again
    assert len(redrawn) == 2, redrawn


async def test_a_poll_re_signs_the_job_list_row_of_its_task_only(tmp_path: Path, monkeypatch: Any) -> None:
    """A poll of one task of a long list builds that task's row again, not every row's
    signature (progress, elapsed, state): the other rows keep their lines."""
    import bkwatch.tui.watchlist.joblist as joblist

    sim = frozen_sim()
    keys = [sim.world.add_task("job", kind="running", hosts=3) for _ in range(12)]
    rig = sim_app(sim, tmp_path, keys, select=keys[0])
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        signed: list[str] = []
        row_sig = joblist.row_sig

        def spy(watch: Any, *read: Any) -> tuple[object, ...]:
            signed.append(watch.key)
            return row_sig(watch, *read)

        monkeypatch.setattr(joblist, "row_sig", spy)
        before = {ln.key: ln for ln in app.joblist.lines}
        sim.world.advance(30.0)
        await rig.poller.poll_once(keys[5])
        await pilot.pause()
        assert set(signed) <= {keys[5]}, signed
        kept = [k for k in keys if k != keys[5]]
        assert all(app.joblist.lines[app.joblist.index_of(k)] is before[k] for k in kept)


@asynccontextmanager
async def _running_job(tmp_path: Path) -> AsyncIterator[tuple[SimRig, str, Pilot[None]]]:
    """A running JOB task of 30 hosts, opened and polled, on a 160×48 screen."""
    sim = frozen_sim()
    key = sim.world.add_task("job", kind="running", hosts=30)
    rig = sim_app(sim, tmp_path, [key], select=key)
    async with rig.app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        yield rig, key, pilot


async def test_the_status_line_is_drawn_again_only_when_what_it_says_changed(tmp_path: Path) -> None:
    """Most polls change nothing the status line says (counts by state, pause, filter): it is
    not built again for them; a pause is shown at once."""
    from bkwatch.tui.widgets.lines import TextBar

    async with _running_job(tmp_path) as (rig, key, pilot):
        app = rig.app
        bar = app.query_one("#status", TextBar)
        shown: list[str] = []
        show = bar.show

        def spy(text: Any) -> None:
            shown.append(text.plain)
            show(text)

        bar.show = spy  # type: ignore[method-assign]
        await rig.poller.poll_once(key)
        await pilot.pause()
        assert shown == [], "a poll that changed nothing the line says drew it again"
        app.action_pause()
        await pilot.pause()
        assert shown and "PAUSED" in shown[-1] and "PAUSED" in bar.shown.plain


async def test_a_changed_title_is_repainted_as_the_bars_region(tmp_path: Path) -> None:
    """A title that changes (every poll of a running task: its progress) asks for its own
    region, padding included, not a repaint of the whole widget (which looks the widget up in
    the compositor); the new text reaches the screen. A title gaining a line is a layout."""
    from rich.text import Text

    from tests.harness import frame_text

    async with _running_job(tmp_path) as (rig, _key, pilot):
        app = rig.app
        bar = app.detail.title_bar
        asked: list[tuple[tuple[Region, ...], dict[str, Any]]] = []
        refresh = bar.refresh

        def spy(*regions: Region, **kw: Any) -> Any:
            asked.append((regions, kw))
            return refresh(*regions, **kw)

        bar.refresh = spy  # type: ignore[method-assign]
        bar.show(Text("a title of 17/30 done"))
        await pilot.pause()
        assert len(asked) == 1 and len(asked[0][0]) == 1, asked
        assert asked[0][0][0].translate(bar.content_offset) == bar.outer_size.region
        assert "a title of 17/30 done" in frame_text(app)
        asked.clear()
        bar.show(Text("a title of 17/30 done\nand a poll error"))
        await pilot.pause()
        assert asked and asked[0][1].get("layout") is True, asked
        assert "and a poll error" in frame_text(app)


async def test_titles_of_tasks_no_longer_watched_are_forgotten(tmp_path: Path) -> None:
    """The app keeps each watched task's cleaned title; a list that churns (scopes adding and
    dropping tasks all day) does not keep the titles of tasks gone from it."""
    from bkwatch.targets import parse_target

    sim = frozen_sim()
    key = sim.world.add_task("job", kind="running", hosts=3)
    rig = sim_app(sim, tmp_path, [key])
    app = rig.app
    async with app.run_test(size=(120, 20)) as pilot:
        await settle(rig, pilot)
        for i in range(400):
            gone = rig.poller.add(parse_target(f"job:2:{900_000 + i}"), label=f"gone {i}")
            assert app.title_of(gone.key) == f"gone {i}"
            rig.poller.remove(gone.key)
        assert app.title_of(key)
        assert len(app._titles) <= 2 * len(rig.poller.watches) + 65, len(app._titles)
        assert key in app._titles
