"""The log view (`l`): one host's or node's evidence over the drill-down.

`LogLines` (`loglines.py`) draws only the lines on screen from a bounded `LogBuffer`, so a 5 MB
log opens on its last screen at once and earlier lines are cut and cleaned as the user scrolls
to them. Script colours (SGR) stay colours through `sgr.sgr_text`; every other byte goes through
the one sanitiser. `/` searches, `n`/`N` move between matches, `F` follows a running host or
node: after each poll of its task only the new output is asked for and appended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input

from bkwatch.evidence.base import Evidence
from bkwatch.evidence.logbuf import LogBuffer
from bkwatch.model import BkError, Task
from bkwatch.text import one_line
from bkwatch.tui.dialogs.dialogs import PlainInput
from bkwatch.tui.why.evidence_port import EvidenceSource, LogFeed
from bkwatch.tui.why.loglines import LogLines
from bkwatch.tui.widgets.footer import Footer
from bkwatch.tui.widgets.lines import TextBar
from bkwatch.tui.widgets.once import AnswerOnce

LOG_MAX_BYTES = 16 * 1024 * 1024  # held per open log; older output is dropped past it


def _fields_text(ev: Evidence) -> Text:
    out = Text(end="", no_wrap=False)
    for key, value in ev.fields.items():
        if not value:
            continue
        out.append(f"{key}: ", style="bold")
        style = "red" if key in ("ex_data", "error", "failed_reason") else ""
        out.append(one_line(value) + "\n", style=style)
    if ev.link:
        out.append("runs JOB task ", style="bold")
        out.append(one_line(ev.link))
        out.append("  (a: watch it)\n", style="dim")
    out.rstrip()
    return out


class LogScreen(AnswerOnce, Screen[None]):
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
        if self.taken_down:  # closed before its mount was handled: no widgets to set up
            return
        self.query_one("#ev-title", TextBar).show(Text(one_line(self.heading), end=""))
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
            self.error = f"{exc.kind}: {one_line(exc.message)}"
            self._note()
            return
        self.evidence = ev
        self.done = ev.done
        if ev.title:
            title = f"{one_line(self.heading)} — {one_line(ev.title)}"
            self.query_one("#ev-title", TextBar).show(Text(title, end="", no_wrap=True))
        self.query_one("#ev-fields", TextBar).show(_fields_text(ev))
        if ev.error is not None:
            self.error = f"{ev.error.kind}: {one_line(ev.error.message)}"
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
                self.error = f"{exc.kind}: {one_line(exc.message)}"
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
            parts.append((f"/{one_line(self.query_text)}: {at}{found} matches", "bold"))
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
