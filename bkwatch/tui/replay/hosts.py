"""A host's past: every recorded failure of one host across tasks (time, system, task,
signature), opened with `H` on a host in the drill-down."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets.option_list import Option

from bkwatch.text import one_line
from bkwatch.tui.replay.port import PastFailure
from bkwatch.tui.widgets.footer import Footer
from bkwatch.tui.widgets.lines import TextBar
from bkwatch.tui.widgets.once import AnswerOnce, OptionList


def failure_text(f: PastFailure) -> Text:
    out = Text(end="", no_wrap=True)
    out.append(time.strftime("%m-%d %H:%M", time.localtime(f.at)))
    out.append(f"  {one_line(f.system, 8):<8}", style="dim")
    out.append(f"  {one_line(f.task, 40)}", style="bold")
    if f.task != f.target:
        out.append(f" ({one_line(f.target, 40)})", style="dim")
    out.append(f"\n    {one_line(f.signature or f.reason, 100)}", style="red")
    return out


class HostHistoryScreen(AnswerOnce, Screen[None]):
    """One host's recorded failures, newest first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back", key_display="esc"),
        Binding("f,slash,n,N,a,d,l,w,x,c,C,p,r,R,H,space", "inert", show=False),
    ]
    DEFAULT_CSS = """
    HostHistoryScreen #host-title { height: 1; background: $panel; padding: 0 1; text-style: bold; }
    HostHistoryScreen #host-summary { height: auto; padding: 0 1; }
    HostHistoryScreen OptionList { height: 1fr; }
    """

    def __init__(self, host: str, past: list[PastFailure]) -> None:
        super().__init__()
        self.host = host
        self.past = past

    def compose(self) -> ComposeResult:
        yield TextBar(id="host-title")
        yield TextBar(id="host-summary")
        yield OptionList(id="host-failures")
        yield Footer()

    def on_mount(self) -> None:
        if self.taken_down:  # closed before its mount was handled: no widgets to set up
            return
        title = Text(f"Host {one_line(self.host)}: recorded failures", end="")
        self.query_one("#host-title", TextBar).show(title)
        tasks = {f.target for f in self.past}
        sigs = {f.signature for f in self.past if f.signature}
        summary = (
            f"{len(self.past)} failure{'s' if len(self.past) != 1 else ''} in {len(tasks)} "
            f"task{'s' if len(tasks) != 1 else ''}, {len(sigs)} signature{'s' if len(sigs) != 1 else ''}"
            if self.past
            else "The record holds no failure of this host."
        )
        self.query_one("#host-summary", TextBar).show(Text(summary, end=""))
        options = self.query_one(OptionList)
        options.add_options([Option(failure_text(f)) for f in self.past])
        options.focus()

    def action_close(self) -> None:
        self.dismiss()

    def action_inert(self) -> None:
        """The monitor's keys that mean nothing here."""
