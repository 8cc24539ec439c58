"""Column headers over the host lists and the job list, so every column can be read.

Each header is drawn with the same widths as the rows under it (`kinds.HostKind.render_row`,
`kinds.JobTaskKind.render_row`; the job list's by `joblist.JobList.header_text`), and redrawn
only on a resize.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

from bkwatch.tui.widgets.fmt import BADGE_WIDTH, CLOUD_WIDTH, PROCESS_WIDTH, RETRY_WIDTH, fit


def host_header(width: int, *, nodeman: bool = False) -> Text:
    """IP, cloud, state, result, exit code (NodeMan: its sub-step), time, error."""
    middle = fit("step", 18) if nodeman else fit("exit", 8)
    return Text(
        f"    {fit('IP', 15)} {fit('cloud', CLOUD_WIDTH)} {fit('state', BADGE_WIDTH)} {fit('result', 18)} "
        f"{middle} {fit('time', 7)} error",
        end="",
        no_wrap=True,
    )


def job_task_header(width: int) -> Text:
    """GSEKit job tasks: IP, cloud, process, state, retry, reason."""
    return Text(
        f"    {fit('IP', 15)} {fit('cloud', CLOUD_WIDTH)} {fit('process', PROCESS_WIDTH)} "
        f"{fit('state', BADGE_WIDTH)} {fit('retry', RETRY_WIDTH)} reason",
        end="",
        no_wrap=True,
    )


class ColumnHeader(Static):
    """One line naming the columns of the list below it."""

    DEFAULT_CSS = """
    ColumnHeader { height: 1; background: $panel; color: $text-muted; text-style: bold; }
    """

    def __init__(self, draw: Callable[[int], Text], *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.draw = draw
        self._width = -1

    def on_mount(self) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self, force: bool = False) -> None:
        width = self.size.width
        if width != self._width or force:
            self._width = width
            self.update(self.draw(width))
