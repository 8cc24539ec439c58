"""The failure signatures view (`w`): a step's or task's failing hosts (or failed nodes) grouped
by what their logs (or ex_data) say, biggest group first; `c` / `C` copy a group's hosts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets.option_list import Option

from bkwatch.evidence.signatures import examples
from bkwatch.model import BkError, System, Task
from bkwatch.systems.registry import traits
from bkwatch.text import counted, one_line
from bkwatch.tui.drilldown.kinds import copyable
from bkwatch.tui.why.evidence_port import ClusterLike, EvidenceSource, SignatureReport
from bkwatch.tui.widgets.footer import Footer
from bkwatch.tui.widgets.lines import TextBar
from bkwatch.tui.widgets.once import AnswerOnce, OptionList

MEMBERS_SHOWN = 12  # hosts or nodes listed under a group; the rest are counted
SAMPLE_LINES = 4


def _noun(system: System, n: int) -> str:
    word = traits(system).member
    return word if n == 1 else word + "s"


def cluster_text(c: ClusterLike, system: System, names: Mapping[str, str] | None = None) -> Text:
    """A group: its count and signature, an example unless it only repeats the signature, and
    its members (a node by its name when `names` has one: its id says nothing to a reader)."""
    out = Text(end="", no_wrap=False)
    out.append(f"{c.count:>5} {_noun(system, c.count)}  ", style="bold red")
    out.append(one_line(c.signature), style="bold")
    for line in examples(c.signature, c.sample, SAMPLE_LINES):
        out.append("\n      e.g. ", style="dim")
        out.append(line)
    names = names or {}
    shown = ", ".join(one_line(names.get(m) or m) for m in c.members[:MEMBERS_SHOWN])
    more = len(c.members) - MEMBERS_SHOWN
    out.append("\n      ")
    out.append(shown + (f" … and {more} more" if more > 0 else ""), style="cyan")
    if c.steps:
        out.append(f"  (step {', '.join(one_line(s) for s in c.steps)})", style="dim")
    return out


def summary_text(report: SignatureReport, system: System) -> Text:
    groups = len(report.clusters)
    out = Text(end="")
    noun = "log" if traits(system).member == "host" else "failure"  # a host has a log to read
    out.append(f"{counted(groups, 'group')} · {counted(report.read, noun)} read")
    if report.unread:
        why = ", ".join(f"{v} {k}" for k, v in sorted(report.unread_reasons.items()))
        out.append(f" · {report.unread} not read ({one_line(why)})", style="bold yellow")
    else:
        out.append(" · none unread")
    return out


class SignaturesScreen(AnswerOnce, Screen[None]):
    """Failure signatures of a task (or one JOB step)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back"),
        Binding("c", "copy(False)", "Copy group IPs"),
        Binding("C", "copy(True)", "Copy group CLOUD:IP", key_display="C", show=False),
        # The drill-down's keys mean nothing here: kept out of the footer and inert.
        Binding("f,slash,n,N,a,d,l,w", "inert", show=False),
    ]
    DEFAULT_CSS = """
    SignaturesScreen #sig-title { height: 1; background: $panel; padding: 0 1; text-style: bold; }
    SignaturesScreen #sig-summary { height: auto; padding: 0 1; }
    SignaturesScreen OptionList { height: 1fr; }
    """

    def __init__(
        self,
        source: EvidenceSource,
        task: Task,
        *,
        title: str,
        step: str | None = None,
        copy: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.source, self.sig_task, self.step = source, task, step
        self.heading = title
        self.report: SignatureReport | None = None
        self.copy = copy

    def compose(self) -> ComposeResult:
        yield TextBar(id="sig-title")
        yield TextBar(id="sig-summary")
        yield OptionList(id="sig-groups")
        yield Footer()

    def on_mount(self) -> None:
        if self.taken_down:  # closed before its mount was handled: no widgets to set up
            return
        self.query_one("#sig-title", TextBar).show(Text(one_line(self.heading), end=""))
        self.query_one("#sig-summary", TextBar).show(Text("Reading the failing logs…", style="dim"))
        self.query_one(OptionList).focus()
        self._load()

    @work(exclusive=True, group="signatures", exit_on_error=False)
    async def _load(self) -> None:
        try:
            report = await self.source.signatures(self.sig_task, self.step)
        except BkError as exc:
            self.query_one("#sig-summary", TextBar).show(
                Text(f"{exc.kind}: {one_line(exc.message)}", style="bold red")
            )
            return
        self.show(report)

    def show(self, report: SignatureReport) -> None:
        self.report = report
        self.query_one("#sig-summary", TextBar).show(summary_text(report, self.sig_task.system))
        groups = self.query_one(OptionList)
        groups.clear_options()
        if not report.clusters:
            empty = "Nothing failing here."
            if report.unread:  # they fail, but none could be read (the line above says why)
                n = report.unread
                empty = f"Nothing to group: {n} failing {_noun(self.sig_task.system, n)}, none of them read."
            groups.add_option(Option(Text(empty, style="dim"), disabled=True))
            return
        names = self.sig_task.node_names()
        for i, c in enumerate(report.clusters):
            if i:
                groups.add_option(None)  # a separator line
            groups.add_option(Option(cluster_text(c, self.sig_task.system, names), id=f"g{i}"))
        groups.highlighted = 0

    def current(self) -> ClusterLike | None:
        groups = self.query_one(OptionList)
        if self.report is None or groups.highlighted is None:
            return None
        option = groups.get_option_at_index(groups.highlighted)
        if option.id is None:
            return None
        return self.report.clusters[int(option.id[1:])]

    def action_copy(self, with_cloud: bool) -> None:
        c = self.current()
        if c is None or traits(self.sig_task.system).member == "node":
            self.notify("No hosts to copy here.", markup=False, timeout=3)
            return
        ids = []
        for key in c.members:
            _, _, ip = key.partition(":")
            if not ip:  # a GSEKit task without an IP
                continue
            if copyable(ip):
                ids.append(key if with_cloud else ip)
        if not ids or self.copy is None:
            self.notify("No host addresses in this group.", markup=False, timeout=3)
            return
        self.copy("\n".join(ids) + "\n")
        what = "CLOUD:IP" if with_cloud else "IP"
        self.notify(f"Copied {len(ids)} {what}s of this group.", markup=False, timeout=4)

    def action_inert(self) -> None:
        pass

    def action_close(self) -> None:
        self.dismiss()
