"""The log view (`l`): one host's or node's evidence over the drill-down.

`LogLines` draws only the lines on screen from a bounded `LogBuffer` (the Line API), so a 5 MB
log opens on its last screen at once and earlier lines are cut and cleaned as the user scrolls
to them. Script colours (SGR) stay colours through `sgr.sgr_text`; every other byte goes through
the one sanitiser. `/` searches, `n`/`N` move between matches, `F` follows a running host or
node: after each poll of its task only the new output is asked for and appended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ClassVar

from rich.segment import Segment
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input

from bkwatch.evidence.base import Evidence
from bkwatch.evidence.logbuf import LogBuffer
from bkwatch.evidence.logsearch import Hit, Matches
from bkwatch.evidence.sgr import sgr_text
from bkwatch.model import BkError, Task
from bkwatch.tui.dialogs import PlainInput
from bkwatch.tui.evidence_port import EvidenceSource, LogFeed
from bkwatch.tui.fmt import clean
from bkwatch.tui.footer import Footer
from bkwatch.tui.lines import TextBar

LOG_MAX_BYTES = 16 * 1024 * 1024  # held per open log; older output is dropped past it
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


def _fields_text(ev: Evidence) -> Text:
    out = Text(end="", no_wrap=False)
    for key, value in ev.fields.items():
        if not value:
            continue
        out.append(f"{key}: ", style="bold")
        out.append(clean(value) + "\n", style="red" if key in ("ex_data", "error", "failed_reason") else "")
    if ev.link:
        out.append("runs JOB task ", style="bold")
        out.append(clean(ev.link))
        out.append("  (a: watch it)\n", style="dim")
    out.rstrip()
    return out


class LogScreen(Screen[None]):
    """One host's or node's evidence: details, then the log; `escape` goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("n", "next_match(1)", "Next match"),
        Binding("N", "next_match(-1)", "Previous match", key_display="N"),
        Binding("F", "follow", "Follow", key_display="F"),
        Binding("a", "watch_link", "Watch JOB task", show=False),
        # The drill-down's keys mean nothing here: kept out of the footer and inert.
        Binding("f,c,C,d,l,w", "inert", show=False),
    ]
    DEFAULT_CSS = """
    LogScreen #ev-title { height: 1; background: $panel; padding: 0 1; text-style: bold; }
    LogScreen #ev-fields { height: auto; max-height: 8; padding: 0 1; overflow-y: auto; }
    LogScreen #ev-note { height: auto; max-height: 2; padding: 0 1; }
    LogScreen #ev-search { dock: bottom; display: none; height: 3; }
    LogScreen #ev-search.visible { display: block; }
    """

    def __init__(
        self,
        source: EvidenceSource,
        task: Task,
        *,
        title: str,
        step: str | None = None,
        host: str | None = None,
        node: str | None = None,
        current_task: Callable[[], Task | None] | None = None,
        on_watch: Callable[[str], None] | None = None,
        watch_key: str | None = None,
        max_bytes: int = LOG_MAX_BYTES,
    ) -> None:
        super().__init__()
        self.watch_key = watch_key or task.target
        self.source, self.log_task = source, task
        self.step, self.host, self.node = step, host, node
        self.heading = title
        self.current_task = current_task or (lambda: None)
        self.on_watch = on_watch
        self.buf = LogBuffer(max_bytes)
        self.lines = LogLines(self.buf, id="ev-log")
        self.feed: LogFeed | None = None
        self.evidence: Evidence | None = None
        self.following = False
        self.done = False
        self.error: str | None = None
        self.query_text = ""
        self.hit_index: int | None = None
        self._polled = asyncio.Event()

    def compose(self) -> ComposeResult:
        yield TextBar(id="ev-title")
        yield TextBar(id="ev-fields")
        yield TextBar(id="ev-note")
        yield self.lines
        yield PlainInput(placeholder="search the log (enter: go, escape: cancel)", id="ev-search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#ev-title", TextBar).show(Text(clean(self.heading), end=""))
        self._note()
        self.lines.focus()
        self._open()

    # ---- fetching ---------------------------------------------------------------------
    @work(exclusive=True, group="evidence-open", exit_on_error=False)
    async def _open(self) -> None:
        try:
            self.feed = await self.source.log(self.log_task, step=self.step, host=self.host, node=self.node)
            ev = await self.feed.open()
        except BkError as exc:
            self.error = f"{exc.kind}: {clean(exc.message)}"
            self._note()
            return
        self.evidence = ev
        self.done = ev.done
        if ev.title:
            title = f"{clean(self.heading)} — {clean(ev.title)}"
            self.query_one("#ev-title", TextBar).show(Text(title, end="", no_wrap=True))
        self.query_one("#ev-fields", TextBar).show(_fields_text(ev))
        if ev.error is not None:
            self.error = f"{ev.error.kind}: {clean(ev.error.message)}"
        self.buf.append(ev.raw_text)
        self.lines.reload(to_end=True)
        self._note()

    def task_polled(self, task: Task | None) -> None:
        """The app polled this log's task: a followed log asks for what was added."""
        if task is not None:
            self.log_task = task
        self._polled.set()

    @work(exclusive=True, group="evidence-follow", exit_on_error=False)
    async def _follow(self) -> None:
        while self.following and self.feed is not None:
            self._polled.clear()
            await self._polled.wait()
            if not self.following:
                break
            task = self.current_task() or self.log_task
            self.feed.update(task)
            try:
                chunk = await self.feed.more()
            except BkError as exc:  # kept following: the next poll may answer
                self.error = f"{exc.kind}: {clean(exc.message)}"
                self._note()
                continue
            self.error = None
            self.append(chunk.text, reset=chunk.reset)
            if chunk.done:
                self.done, self.following = True, False
            self._note()

    def append(self, text: str, *, reset: bool = False) -> None:
        """New output (or, on `reset`, a whole new log: a retry started it again)."""
        if reset:
            self.buf = LogBuffer(self.buf.max_bytes)
            self.lines.buf = self.buf
            self.lines.matches, self.lines.current = None, None
            self.hit_index = None
        self.buf.append(text)
        if reset and self.query_text:
            self.lines.matches = self.buf.search(self.query_text)
        elif self.lines.matches is not None and self.query_text:
            self.lines.matches.extend(self.buf.search(self.query_text, since=self.lines.matches.searched_to))
        self.lines.reload(to_end=self.following)

    # ---- status -----------------------------------------------------------------------
    def _note(self) -> None:
        parts: list[tuple[str, str]] = []
        if self.feed is None and self.error is None:
            parts.append(("Loading…", "dim"))
        if self.error:
            parts.append((self.error, "bold red"))
        if self.buf.truncated:
            parts.append((f"older output dropped: {self.buf.dropped_lines:,} lines (memory limit)", "bold"))
        if self.following:
            parts.append(("FOLLOWING (F stops)", "bold reverse"))
        elif self.done and self.evidence is not None:
            parts.append(("finished: nothing more will be added", "dim"))
        elif self.evidence is not None:
            parts.append(("still running: F follows its new output", "bold yellow"))
        if self.query_text:
            found = len(self.lines.matches) if self.lines.matches is not None else 0
            at = f"{self.hit_index + 1}/" if self.hit_index is not None and found else ""
            parts.append((f"/{clean(self.query_text)}: {at}{found} matches", "bold"))
        if self.evidence is not None and not self.buf.nbytes and not self.error:
            parts.append(("the log is empty", "dim"))
        note = Text(end="")
        for i, (text, style) in enumerate(parts):
            if i:
                note.append("   ")
            note.append(text, style=style)
        self.query_one("#ev-note", TextBar).show(note)

    # ---- keys -------------------------------------------------------------------------
    def action_close(self) -> None:
        search = self.query_one("#ev-search", Input)
        if search.has_class("visible"):
            search.remove_class("visible")
            self.lines.focus()
            return
        self.following = False
        self.dismiss()

    def action_search(self) -> None:
        search = self.query_one("#ev-search", Input)
        search.add_class("visible")
        search.focus()

    @on(Input.Submitted, "#ev-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.input.remove_class("visible")
        self.lines.focus()
        self.search(event.value)

    def search(self, query: str) -> None:
        self.query_text = query
        if not query:
            self.lines.matches, self.lines.current, self.hit_index = None, None, None
        else:
            self.lines.matches = self.buf.search(query)
            self.hit_index = None
            self._move(self.lines.top_line, forward=True)
        self.lines.refresh()
        self._note()

    def action_next_match(self, direction: int) -> None:
        m = self.lines.matches
        if m is None or not len(m):
            self.notify("No search matches: / searches the log.", markup=False, timeout=3)
            return
        if self.hit_index is None:
            self._move(self.lines.top_line, forward=direction > 0)
        else:
            self.hit_index = (self.hit_index + direction) % len(m)
            self._go()
        self._note()

    def _move(self, line: int, *, forward: bool) -> None:
        m = self.lines.matches
        if m is None:
            return
        self.hit_index = m.index_at_line(line, forward)
        self._go()

    def _go(self) -> None:
        m = self.lines.matches
        if m is None or self.hit_index is None:
            return
        hit = m.hit(self.hit_index)
        self.lines.current = hit
        if hit is not None:
            self.lines.show_line(hit.line)
        self.lines.refresh()

    def action_follow(self) -> None:
        if self.following:
            self.following = False
            self._polled.set()
        elif self.done:
            self.notify("This host or node has finished: nothing more to follow.", markup=False, timeout=3)
        elif self.feed is None:
            self.notify("The log is not open yet.", markup=False, timeout=3)
        else:
            self.following = True
            self.lines.scroll_end_now()
            self._follow()
        self._note()

    def action_inert(self) -> None:
        pass

    def action_watch_link(self) -> None:
        link = self.evidence.link if self.evidence is not None else None
        if not link or self.on_watch is None:
            self.notify("This node ran no JOB task that can be watched.", markup=False, timeout=3)
            return
        self.on_watch(link)
