"""Widget-level tests with model objects: JOB host and GSEKit job-task rows, the text helpers."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Vertical

from bkwatch.model import Host, JobTask, Node, State, elapsed_at
from bkwatch.text import one_line
from bkwatch.tui.drilldown.grouped import GroupedView
from bkwatch.tui.drilldown.kinds import HostKind, JobTaskKind
from bkwatch.tui.drilldown.pipeline import PipelineTree
from bkwatch.tui.widgets.fmt import age, badge_str, duration, fit
from bkwatch.tui.widgets.lines import Line, LineView


def _jt(i: int, state: State, err: str | None = None, reason: str = "", solutions=()) -> JobTask:
    return JobTask(
        id=str(i),
        state=state,
        raw_state=str(state),
        err_code=err,
        failed_reason=reason,
        retryable=True if err else None,
        solutions=list(solutions),
        ip=f"10.0.0.{i}",
        cloud_id=0,
        process=f"nginx-{i}",
    )


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield GroupedView(JobTaskKind(), id="g")


async def test_gsekit_rows_grouped_by_status_and_error() -> None:
    rows = {
        "1": _jt(1, State.SUCCEEDED),
        "2": _jt(
            2, State.FAILED, "1002", "[red]config render failed[/]", ["check the \x1b[31mtemplate\x1b[0m"]
        ),
        "3": _jt(3, State.FAILED, "1002", "config render failed"),
        "4": _jt(4, State.FAILED, "2001", "process not running"),
    }
    app = _Host()
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(GroupedView)
        view.show("gsekit:2:1", rows)
        await pilot.pause()
        headers = [line for line in view.lines if line.header]
        # Failures first, one group per error code, successes last.
        assert [h.data[2] for h in headers] == ["1002", "2001", None]
        assert "(2 tasks)" in view.plain(headers[0].key)
        assert view.bad_keys() == ["2", "3", "4"]
        assert "[red]config render failed[/]" in view.plain("2")  # literal, never markup
        detail = JobTaskKind().detail(rows["2"]).plain
        assert "retryable" in detail and "check the template" in detail and "\x1b" not in detail
        assert view.copy_ids(group=None, with_cloud=True) == ["0:10.0.0.2", "0:10.0.0.3", "0:10.0.0.4"]
        # A task recovering moves between groups; the cursor stays on its key.
        view.move_to("4")
        view.show("gsekit:2:1", {**rows, "3": _jt(3, State.SUCCEEDED)})
        assert view.cursor_key == "4"
        assert view.bad_keys() == ["2", "4"]


def test_a_host_says_its_exit_code_once_its_script_ended() -> None:
    """JOB answers exit code 0 for a host that has not run yet, or failed before its script
    could say anything: not "exited well"."""
    kind = HostKind()

    def row(state: State, raw: str, words: str) -> str:
        host = Host("0:10.0.0.1", "10.0.0.1", 0, state, raw, words, exit_code=0, elapsed=3.0)
        return "".join(text for text, _ in kind.render_row(host, 120)) + "|" + kind.detail(host).plain

    for state, raw, words in ((State.PENDING, "5", "waiting"), (State.RUNNING, "7", "running")):
        assert "exit" not in row(state, raw, words)
    assert row(State.SUCCEEDED, "9", "success").count("exit") == 2  # the row and the info line
    failed = Host("0:10.0.0.2", "10.0.0.2", 0, State.FAILED, "11", "failed", exit_code=2)
    assert "exit 2" in "".join(text for text, _ in kind.render_row(failed, 120))
    assert "exit" not in row(State.FAILED, "3", "agent error")  # failed before the script said


def test_a_running_time_is_the_servers_else_counted_from_the_start_while_it_runs() -> None:
    assert elapsed_at(12.0, 100.0, None, False, 150.0) == 12.0  # the server's figure first
    assert elapsed_at(None, 100.0, None, False, 150.0) == 50.0  # running: start to the answer
    assert elapsed_at(None, 100.0, None, True, 150.0) is None  # ended without a figure: unknown
    assert elapsed_at(None, 100.0, 120.0, False, 150.0) is None  # an end: not counting on
    assert elapsed_at(None, 200.0, None, False, 150.0) is None  # a start ahead of our clock
    assert elapsed_at(None, None, None, False, 150.0) is None
    assert elapsed_at(0.0, None, None, False, 150.0) is None  # not started: SOPS says 0 s
    assert elapsed_at(0.0, 149.8, 149.8, True, 150.0) == 0.0  # a node done at once: 0 s
    assert elapsed_at(None, 100.0, None, False, None) is None  # never answered


def test_text_helpers() -> None:
    assert one_line("a\x1b[31mb\x1b[0mc\x1b]0;title\x07d\te\nf\x00") == "abcd e f"
    assert badge_str(State.FAILED) == "✖ FAILED" and badge_str(State.FAILED, True) == "x FAILED"
    # Still growing: coarse, so a running line is not repainted on every poll.
    durations = [duration(x) for x in (None, 5, 47, 125, 4000, 90000)]
    assert durations == ["", "<10s", "40s", "2m", "1h06m", "1d1h"]
    # Finished: it never changes again, so it is exact.
    assert [duration(x, done=True) for x in (5, 47, 125, 700)] == ["5s", "47s", "2m05s", "11m"]
    assert [age(x) for x in (None, 4.9, 130, 7200)] == ["-", "4s", "2m", "2h"]
    assert fit("abcdef", 4) == "abc…" and fit("ab", 4) == "ab  " and fit("发布", 3) == "发…"


async def test_group_moves_splice_in_place_and_keep_the_cursor_line() -> None:
    """Rows moving between groups above the cursor: the list equals a fresh flatten, and the
    cursor keeps its key and its line on the screen (the view scrolls with it)."""
    rows = {str(i): _jt(i, State.SUCCEEDED) for i in range(1, 31)}
    app = _Host()
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(GroupedView)
        view.show("gsekit:2:9", rows)
        await pilot.pause()
        view.move_to("20")
        await pilot.pause()
        line_on_screen = view.cursor_index - int(view.scroll_offset.y)
        for i in (3, 5, 7, 9):  # each failure adds a row (and a header) above the cursor
            rows = {**rows, str(i): _jt(i, State.FAILED, "1002", "boom")}
            view.show("gsekit:2:9", rows)
            await pilot.pause()
            assert view.cursor_key == "20"
            assert view.cursor_index - int(view.scroll_offset.y) == line_on_screen
        spliced = [(line.key, line.sig) for line in view.lines]
        assert all(view.index_of(key) == i for i, (key, _) in enumerate(spliced))
        view._flatten()  # the list a full rebuild would draw
        assert [(line.key, line.sig) for line in view.lines] == spliced
        assert [k for k, _ in spliced[:5]] == [spliced[0][0], "3", "5", "7", "9"]


def test_transition_log_sums_up_a_poll() -> None:
    from bkwatch.model import Transition
    from bkwatch.tui.watchlist.translog import joined, summarize

    def host(i: int, new: State) -> Transition:
        return Transition("job:2:1", "host", f"0:10.0.0.{i}", f"10.0.0.{i}", State.RUNNING, new, 0.0, "s1")

    many = [host(i, State.SUCCEEDED) for i in range(97)] + [host(100 + i, State.FAILED) for i in range(3)]
    task = Transition("job:2:1", "task", "job:2:1", "deploy", State.RUNNING, State.FAILED, 0.0)
    lines = [*map(joined, summarize([task, *many], "deploy", ascii_only=True))]
    assert len(lines) == 2 and "task: > running -> x FAILED" in lines[0]
    assert "step s1: 97 hosts > running -> + ok, 3 hosts > running -> x FAILED" in lines[1]
    assert "10.0.0.100, 10.0.0.101, 10.0.0.102" in lines[1] and "10.0.0.5," not in lines[1]
    few = [*map(joined, summarize([host(1, State.FAILED), host(2, State.FAILED)], "deploy", ascii_only=True))]
    assert len(few) == 2 and "10.0.0.1" in few[0] and "10.0.0.2" in few[1]
    one = [*map(joined, summarize([*many[:4], host(200, State.FAILED)], "deploy", ascii_only=True))]
    assert "4 hosts > running -> + ok, 1 host > running -> x FAILED (10.0.0.200)" in one[0]


class _Steps(App[None]):
    """A line view drawing rows from data that is replaced wholesale, as a pane does when it
    shows another task: the old rows' data is gone once the new rows arrive."""

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield LineView(lambda line: Text(self.names[line.key]), id="v")


async def test_replacing_rows_whose_data_is_gone_does_not_draw_the_old_rows() -> None:
    app = _Steps()
    async with app.run_test(size=(60, 10)) as pilot:
        view = app.query_one(LineView)
        app.names = {"a1": "first task, step 1", "a2": "first task, step 2"}
        view.set_lines([Line(k, k) for k in app.names])
        # Before that frame is drawn, another task replaces them.
        app.names = {"b1": "second task, step 1", "b2": "second task, step 2"}
        view.set_lines([Line(k, k) for k in app.names])
        await pilot.pause()
        assert view.plain("b1") == "second task, step 1"
        assert app.is_running


class _Hidden(App[None]):
    """A line view in a pane that is not shown yet, as the drill-down is on a narrow screen
    until a task is opened."""

    def compose(self) -> ComposeResult:
        with Vertical(id="pane") as pane:
            pane.display = False
            yield LineView(lambda line: Text(f"row {line.key}"), id="v")


async def test_a_cursor_moved_in_a_hidden_view_is_scrolled_to_once_the_view_is_shown() -> None:
    """Moved while the view has no height, the cursor is scrolled to when the view gets one,
    not at the next refresh (which can come first and aim at a window of no lines: row 1 was
    then the top one, its group header above the window, in one opening of four)."""
    app = _Hidden()
    async with app.run_test(size=(60, 12)) as pilot:
        view = app.query_one(LineView)
        view.set_lines([Line(str(i), str(i)) for i in range(40)])
        view.move_to("1")
        for _ in range(3):  # frames drawn while it stays hidden
            view.refresh()
            await pilot.pause()
        app.query_one("#pane").display = True
        await pilot.pause()
        await pilot.pause()
        assert view.size.height > 2 and view.cursor_key == "1"
        assert view.scroll_offset.y == 0  # row 0 (a group's header, in a drill-down) in sight
        view.move_to("30")  # shown: scrolled at once
        assert view.scroll_offset.y > 0 and 30 - view.size.height < view.scroll_offset.y <= 30


async def test_grouped_view_reads_only_the_units_the_poller_names() -> None:
    """With the poller's note (`Task.changed_units`) for the very dict on screen, only the named
    units are compared; for any other dict, every unit is."""
    rows = {str(i): _jt(i, State.SUCCEEDED) for i in range(1, 40)}
    app = _Host()
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(GroupedView)
        view.show("gsekit:2:1", rows)
        await pilot.pause()
        new = dict(rows)
        new["3"] = _jt(3, State.FAILED, "1002", "config render failed")
        new["5"] = _jt(5, State.FAILED, "1002", "config render failed")
        view.show("gsekit:2:1", new, (id(rows), ["3"]))  # the note names "3" only
        assert view.bad_keys() == ["3"]
        assert [line.key for line in view.lines if not line.header][:1] == ["3"]
        newer = dict(new)
        view.show("gsekit:2:1", newer, (id(rows), []))  # a note about another dict: ignored
        assert view.bad_keys() == ["3", "5"]
        # Every line is where the index says, with a group open and rows moved between groups.
        for i, line in enumerate(view.lines):
            assert view.index_of(line.key) == i and view.lines[i] is line


class _TwoViews(App[None]):
    def compose(self) -> ComposeResult:
        yield GroupedView(JobTaskKind(), id="diffed")
        yield GroupedView(JobTaskKind(), id="rebuilt")


async def test_grouped_view_applied_poll_by_poll_equals_a_rebuild() -> None:
    """Items moving between closed groups (whose moves wait until the group is read), open ones,
    groups emptied and made again, a group opened and closed, a filter: after every poll the
    diffed view shows what a view built from scratch shows, and its groups hold the same keys."""
    import random

    rnd = random.Random(7)
    states = [(State.SUCCEEDED, None), (State.FAILED, "1002"), (State.FAILED, "1003"), (State.RUNNING, None)]
    rows = {str(i): _jt(i, State.SUCCEEDED) for i in range(1, 121)}  # past SMALL_VIEW: groups start closed
    app = _TwoViews()
    async with app.run_test(size=(120, 30)) as pilot:
        diffed, rebuilt = app.query_one("#diffed", GroupedView), app.query_one("#rebuilt", GroupedView)
        diffed.show("gsekit:2:1", rows)
        for poll in range(40):
            before = rows
            rows = dict(rows)
            for key in rnd.sample(sorted(rows), rnd.choice((1, 3, 12))):
                state, err = rnd.choice(states)
                rows[key] = _jt(int(key), state, err, f"reason {err}" if err else "")
            changed = [k for k in rows if rows[k] is not before[k]]
            diffed.show("gsekit:2:1", rows, (id(before), changed) if poll % 2 else None)
            if poll == 10:
                diffed.toggle_group((State.SUCCEEDED, "succeeded", None), True)  # a big group opened
            if poll == 20:
                diffed.toggle_group((State.SUCCEEDED, "succeeded", None), False)
            if poll in (25, 30):
                diffed.set_filter("1" if poll == 25 else "", False)
            rebuilt.open_groups, rebuilt.closed_groups = diffed.open_groups, diffed.closed_groups
            rebuilt.filter_text = diffed.filter_text
            rebuilt.scope = None
            rebuilt.show("gsekit:2:1", rows)
            drawn = [(ln.key, ln.sig) for ln in diffed.lines]
            assert drawn == [(ln.key, ln.sig) for ln in rebuilt.lines], poll
            if poll % 8 == 7:  # reading a group applies its waiting moves: let some pile up first
                for g in {(r.state, r.raw_state, r.err_code) for r in rows.values()}:
                    assert diffed.members(g) == rebuilt.members(g), (poll, g)
                assert diffed.bad_keys() == rebuilt.bad_keys()
            for i, line in enumerate(diffed.lines):
                assert diffed.index_of(line.key) == i
        await pilot.pause()


async def test_a_row_whose_raw_state_alone_changed_moves_to_its_group_and_is_redrawn() -> None:
    """The raw state is shown on the row and is part of its group: a change of it alone (the
    state and the rest the same) regroups and repaints the row, as a rebuild would show it."""
    from dataclasses import replace

    rows = {str(i): _jt(i, State.RUNNING) for i in range(1, 6)}
    app = _TwoViews()
    async with app.run_test(size=(120, 30)) as pilot:
        diffed, rebuilt = app.query_one("#diffed", GroupedView), app.query_one("#rebuilt", GroupedView)
        diffed.show("gsekit:2:1", rows)
        before, rows = rows, dict(rows)
        rows["3"] = replace(rows["3"], raw_state="retrying")
        diffed.show("gsekit:2:1", rows, (id(before), ["3"]))
        rebuilt.open_groups, rebuilt.closed_groups = diffed.open_groups, diffed.closed_groups
        rebuilt.show("gsekit:2:1", rows)
        assert [(ln.key, ln.sig) for ln in diffed.lines] == [(ln.key, ln.sig) for ln in rebuilt.lines]
        assert diffed.members((State.RUNNING, "retrying", None)) == ["3"]
        await pilot.pause()


class _Trees(App[None]):
    def compose(self) -> ComposeResult:
        yield PipelineTree(id="diffed")
        yield PipelineTree(id="rebuilt")


def _drawn(tree: PipelineTree) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []

    def walk(tn, depth: int) -> None:  # type: ignore[no-untyped-def]
        out.append((depth, str(tn.label)))
        for child in tn.children:
            walk(child, depth + 1)

    walk(tree.root, 0)
    return out


async def test_pipeline_tree_applied_poll_by_poll_equals_a_rebuild() -> None:
    """Fields changing on a tree of the same shape (compared position by position), nodes
    added and removed (compared by id), failures appearing: after every poll the tree drawn in
    place equals one built from scratch, and the failures' paths are open."""
    import random

    rnd = random.Random(5)
    states = [State.PENDING, State.RUNNING, State.SUCCEEDED, State.FAILED]

    def tree(extra: int, fields: dict[str, tuple[State, str]]) -> Node:
        subs = []
        for s in range(3):
            leaves = [f"n{s}-{i}" for i in range(4 + (extra if s == 1 else 0))]
            kids = [Node(i, f"step {i}", *fields.get(i, (State.PENDING, ""))) for i in leaves]
            for k in kids:
                if k.state is State.FAILED:
                    k.message = f"{k.id} broke"
            subs.append(Node(f"sub{s}", f"sub {s}", State.RUNNING, "RUNNING", children=kids))
        return Node("root", "pipeline", State.RUNNING, "RUNNING", children=subs)

    fields: dict[str, tuple[State, str]] = {}
    extra = 0
    app = _Trees()
    async with app.run_test(size=(100, 40)) as pilot:
        diffed, rebuilt = app.query_one("#diffed", PipelineTree), app.query_one("#rebuilt", PipelineTree)
        for poll in range(30):
            if poll % 5 == 4:
                extra = rnd.choice((0, 1, 2, 3))  # sub 1 grows or shrinks
            for _ in range(2):
                nid = f"n{rnd.randrange(3)}-{rnd.randrange(4)}"
                state = rnd.choice(states)
                fields[nid] = (state, str(state).upper())
            root = tree(extra, fields)
            diffed.show("sops:2:1", root)
            rebuilt.scope = None
            rebuilt.show("sops:2:1", tree(extra, fields))
            await pilot.pause()
            assert _drawn(diffed) == _drawn(rebuilt), poll
            for nid, (state, _) in fields.items():
                tn = diffed.index.get(nid)
                if state is State.FAILED and tn is not None:
                    assert tn.parent is not None and tn.parent.is_expanded, (poll, nid)


async def test_transition_log_cuts_what_changed_not_the_change_at_80_columns() -> None:
    """A long title and step name in an 80-column log: the line keeps its change whole at its
    end and cuts the name with "…"; the log's entries keep the whole line."""
    from bkwatch.model import Transition
    from bkwatch.text import display_width
    from bkwatch.tui.watchlist.translog import TransitionLog, describe, fitted

    class _Log(App[None]):
        def compose(self) -> ComposeResult:
            yield TransitionLog(ascii_only=True)

    step = "滚动重启 rolling restart nginx, batch by batch across every web host"
    t = Transition("job:3:1", "step", "s1", step, State.RUNNING, State.WAITING, 0.0)
    short = Transition("job:3:1", "task", "job:3:1", "x", State.RUNNING, State.FAILED, 0.0)
    app = _Log()
    async with app.run_test(size=(80, 10)) as pilot:
        log = app.query_one(TransitionLog)
        log.add([t], "rolling restart nginx (production, all regions)")
        await pilot.pause()
        width = log.scrollable_content_region.width
        (long,) = [str(line) for line in log.lines]
    assert long.endswith(": > running -> ? waiting") and display_width(long) <= width, (long, width)
    assert "rolling restart" in long and "step 滚动重启 rolling" in long and long.count("…") == 2, long
    fits = fitted(describe(short, "deploy", True), width)
    assert fits.endswith(" deploy task: > running -> x FAILED") and "…" not in fits  # as it is
    assert log.entries[0].endswith(f"step {step}: > running -> ? waiting")  # kept whole


def test_a_poll_summary_at_80_columns_drops_names_then_moves_never_cuts_one() -> None:
    """A poll's summary of several moves wider than the log: the units' names go first, then the
    smallest moves, counted ("+1 more"); every move left is whole, the title still shown."""
    from bkwatch.model import Transition
    from bkwatch.text import display_width
    from bkwatch.tui.watchlist.translog import fitted, joined, summarize

    def node(i: int, old: State, new: State) -> Transition:
        return Transition("sops:2:1", "node", f"n{i}", f"作业平台(JOB)执行脚本 #{i}", old, new, 0.0)

    poll = [node(i, State.PENDING, State.RUNNING) for i in range(4)]
    poll += [node(10 + i, State.PENDING, State.SUCCEEDED) for i in range(2)]
    poll += [node(20, State.RUNNING, State.FAILED)]
    (line,) = summarize(poll, "每日发布流水线 #102", ascii_only=True)
    assert "(作业平台(JOB)执行脚本 #10, 作业平台(JOB)执行脚本 #11)" in joined(line)  # whole
    wide = fitted(line, 200)
    assert wide == joined(line)
    named_cut = fitted(line, 120)
    assert display_width(named_cut) <= 120 and "作业平台" not in named_cut, named_cut
    assert named_cut.endswith(
        ": 4 nodes . pending -> > running, 2 nodes . pending -> + ok, 1 node > running -> x FAILED"
    )
    at_80 = fitted(line, 78)
    assert display_width(at_80) <= 78, at_80
    assert at_80.endswith(": 4 nodes . pending -> > running, +2 more"), at_80
    assert at_80.split(" ", 1)[1].startswith("每日发布流水线 #102: "), at_80  # the title uncut
    narrow = fitted(line, 40)
    assert narrow.endswith(": 4 nodes . pending -> > running, +2 more"), narrow
