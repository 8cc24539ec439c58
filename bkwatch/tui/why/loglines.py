"""`LogLines`: numbered log lines drawn only where they are on screen (the Line API) from a
bounded `LogBuffer`, script colours kept (`sgr.sgr_text`), search hits marked."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from bkwatch.evidence.logbuf import LogBuffer
from bkwatch.evidence.logsearch import Hit, Matches
from bkwatch.evidence.sgr import sgr_text

SIDE_STEP = 8  # columns left / right moves


class LogLines(ScrollView, can_focus=True):
    """Numbered log lines drawn from a `LogBuffer`, with search hits marked."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"loglines--number", "loglines--hit", "loglines--current"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_by(-1)", "Up", show=False),
        Binding("down,j", "scroll_by(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "Top", show=False),
        Binding("end", "edge(1)", "End", show=False),
        Binding("left,h", "side(-1)", "Left", show=False),
        Binding("right", "side(1)", "Right", show=False),
    ]
    DEFAULT_CSS = """
    LogLines { background: $surface; height: 1fr; }
    LogLines > .loglines--number { color: $text-muted; }
    LogLines > .loglines--hit { text-style: reverse; }
    LogLines > .loglines--current { background: $warning; color: $background; text-style: bold; }
    """

    def __init__(self, buf: LogBuffer, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.buf = buf
        self.matches: Matches | None = None
        self.current: Hit | None = None
        self.x_offset = 0
        self.stick_to_end = False

    # ---- data -------------------------------------------------------------------------
    def reload(self, *, to_end: bool = False) -> None:
        """The buffer changed: resize the scroll area (and stay at the end when asked)."""
        self.virtual_size = Size(1, len(self.buf))  # width 1: long lines are cut, moved with left/right
        self.refresh()
        if to_end:
            self.scroll_end_now()

    def scroll_end_now(self) -> None:
        """Show the last screen, now and again once a new size is laid out (until the user
        scrolls: a layout pass may clamp the offset to an older, smaller size)."""
        self.stick_to_end = True
        self._to_end()
        self.call_after_refresh(self._to_end)

    def _to_end(self) -> None:
        if self.stick_to_end:
            end = max(0, len(self.buf) - self.scrollable_content_region.height)
            self.scroll_to(y=end, animate=False, immediate=True)
            self.refresh()

    @property
    def top_line(self) -> int:
        """Absolute number of the first line on screen."""
        return self.buf.first_line + int(self.scroll_offset.y)

    @property
    def at_end(self) -> bool:
        return int(self.scroll_offset.y) >= self.max_scroll_y

    def show_line(self, line: int) -> None:
        """Scroll so absolute `line` is on screen, a third down when it was off it."""
        height = self.scrollable_content_region.height
        rel = line - self.buf.first_line
        top = int(self.scroll_offset.y)
        if not top <= rel < top + height:
            self.stick_to_end = False
            self.scroll_to(y=max(0, rel - height // 3), animate=False)

    # ---- keys -------------------------------------------------------------------------
    def action_scroll_by(self, delta: int) -> None:
        self.stick_to_end = False
        self.scroll_to(y=int(self.scroll_offset.y) + delta, animate=False)

    def action_page(self, direction: int) -> None:
        self.stick_to_end = False
        step = max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=int(self.scroll_offset.y) + direction * step, animate=False)

    def action_edge(self, end: int) -> None:
        if end:
            self.scroll_end_now()
        else:
            self.stick_to_end = False
            self.scroll_to(y=0, animate=False)

    def action_side(self, direction: int) -> None:
        self.x_offset = max(0, self.x_offset + direction * SIDE_STEP)
        self.refresh()

    # ---- drawing ----------------------------------------------------------------------
    def _gutter(self) -> int:
        return len(str(max(1, self.buf.end_line))) + 1

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        n = self.top_line + y
        base = self.rich_style
        if n >= self.buf.end_line or width <= 0:
            return Strip.blank(width, base)
        gutter = self._gutter()
        number = Segment(f"{n + 1:>{gutter - 1}} ", self.get_component_rich_style("loglines--number"))
        body = sgr_text(self.buf.raw_line(n))
        if self.matches is not None:
            hit_style = self.get_component_rich_style("loglines--hit")
            current = self.get_component_rich_style("loglines--current")
            for hit in self.matches.on_lines(n, 1):
                style = current if hit == self.current else hit_style
                body.stylize(style, hit.start, hit.end)
        rest = max(0, width - gutter)
        strip = Strip(body.render(self.app.console), body.cell_len)
        strip = strip.crop(self.x_offset, self.x_offset + rest).extend_cell_length(rest)
        return Strip.join([Strip([number], gutter), strip]).apply_style(base)

    def on_resize(self) -> None:
        self.virtual_size = Size(1, len(self.buf))
        self.call_after_refresh(self._to_end)
