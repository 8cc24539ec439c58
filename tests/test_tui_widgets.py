"""Widget-level tests with model objects: GSEKit job-task rows and the text helpers."""

from __future__ import annotations

from textual.app import App, ComposeResult

from bkwatch.model import JobTask, State
from bkwatch.tui.fmt import age, badge_str, clean, duration, fit
from bkwatch.tui.grouped import GroupedView
from bkwatch.tui.kinds import JobTaskKind


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


def test_text_helpers() -> None:
    assert clean("a\x1b[31mb\x1b[0mc\x1b]0;title\x07d\te\nf\x00") == "abcd e f"
    assert badge_str(State.FAILED) == "✖ FAILED" and badge_str(State.FAILED, True) == "x FAILED"
    durations = [duration(x) for x in (None, 5, 47, 125, 4000, 90000)]
    assert durations == ["", "<10s", "40s", "2m", "1h06m", "1d1h"]
    assert [age(x) for x in (None, 4.9, 130, 7200)] == ["-", "4s", "2m", "2h"]
    assert fit("abcdef", 4) == "abc…" and fit("ab", 4) == "ab  " and fit("发布", 3) == "发…"
