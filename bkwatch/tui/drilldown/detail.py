"""The drill-down pane: shows the selected task with the view its system needs.

Just past ~400 lines on purpose: the title, the view switch and the info line the views share
describe one pane, and each changes with the others."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Static, Tree

from bkwatch.model import Host, JobTask, Move, Node, State, Task, Transition, elapsed_at
from bkwatch.systems.registry import traits
from bkwatch.systems.traits import View
from bkwatch.text import display_width, one_line
from bkwatch.tui.drilldown.grouped import GroupedView
from bkwatch.tui.drilldown.headers import ColumnHeader, host_header, job_task_header
from bkwatch.tui.drilldown.jobpane import JobPane, counts_text
from bkwatch.tui.drilldown.kinds import HostKind, JobTaskKind
from bkwatch.tui.drilldown.pipeline import PipelineTree
from bkwatch.tui.widgets.fmt import STATE_STYLE, age, badge_str, duration
from bkwatch.tui.widgets.lines import LineView, TextBar

if TYPE_CHECKING:
    from collections import Counter

    from bkwatch.poller import Watch

ERROR_LINES = 3  # lines a poll error may take under the task's title


def wrap_cells(text: str, width: int, max_lines: int = ERROR_LINES) -> list[str]:
    """`text` (one line) cut into lines of at most `width` terminal cells, at spaces where it
    can; past `max_lines` the last line ends with "…"."""
    width = max(width, 10)
    lines: list[str] = []
    rest = text
    while rest and len(lines) < max_lines:
        if display_width(rest) <= width:
            lines.append(rest)
            rest = ""
            break
        cut, cells = 0, 0
        for i, ch in enumerate(rest):
            cells += display_width(ch)
            if cells > width:
                break
            cut = i + 1
        space = rest.rfind(" ", 0, cut + 1)
        if space > width // 2:
            cut = space
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest and lines:
        last = lines[-1]
        while last and display_width(last) > width - 1:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def title_text(
    watch: Watch,
    now: float,
    ascii_only: bool,
    progress: tuple[int, int] | None = None,
    width: int = 0,
) -> Text:
    task = watch.task
    out = Text(end="", no_wrap=True)
    if task is None:
        out.append("no data yet  ", style="dim")
    else:
        out.append(badge_str(task.state, ascii_only), style=STATE_STYLE[task.state])
        out.append("  ")
        out.append(one_line(watch.label or task.name or watch.key), style="bold")
        if task.detail and task.detail != task.name:
            out.append(f"  {one_line(task.detail)}", style="dim")
        done, total = progress or task.progress()
        out.append(f"  {done}/{total} done")
        elapsed = elapsed_at(task.elapsed, task.start, task.end, task.terminal, watch.last_ok)
        if elapsed is not None:
            out.append(f"  {duration(elapsed, task.terminal)}")
        if task.state is State.UNKNOWN:
            out.append(f"  raw state {one_line(task.raw_state)}", style="yellow")
    out.append(f"  {watch.key}", style="dim")
    if task is not None and task.started_by:
        out.append(f"  by {one_line(task.started_by)}", style="dim")  # last: a narrow pane cuts it first
    if watch.error is not None:
        mark = "!" if ascii_only else "⚠"
        since = "" if watch.last_ok is None else f" (data from {age(now - watch.last_ok)} ago)"
        line = f"{mark} {watch.error.kind}: {one_line(watch.error.message)}{since}"
        # A long error (an unreachable server's address, a proxy's page) wraps instead of being cut.
        for part in wrap_cells(line, width - 2) if width else [line]:
            out.append(f"\n{part}", style="bold red")
    return out


# A finished task a followed scope found is held as its summary while not on screen
# (`Poller.slim_found`): opened, it is read again; its hosts cannot be picked until then.
READING = "Reading this task: a moment."


class DetailPane(Vertical):
    DEFAULT_CSS = """
    DetailPane { height: 1fr; }
    DetailPane #detail-title { height: auto; max-height: 4; padding: 0 1; background: $panel; }
    DetailPane #views { height: 1fr; }
    DetailPane #info { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    DetailPane #gk-counts { height: auto; padding: 0 1; }
    DetailPane .view { height: 1fr; }
    """

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ascii_only = ascii_only
        self._titled: tuple[Watch, float] | None = None  # what the title shows, to redraw on resize
        # Focusable, so a task with nothing to draw yet (only its error) can be opened too: at 80
        # columns the pane shows only while something in it has the focus.
        self.placeholder = Static("Select a task to see its steps, hosts or nodes.", id="empty", markup=False)
        self.placeholder.can_focus = True
        self.reading = Static(READING, id="reading", markup=False)  # until a slim task is read
        self.reading.can_focus = True
        self.job = JobPane(ascii_only=ascii_only)
        self.nodeman = GroupedView(HostKind(ascii_only, nodeman=True), id="nm-list", classes="view")
        self.gsekit = GroupedView(JobTaskKind(ascii_only), id="gk-tasks", classes="view")
        self.gsekit.empty_text = "GSEKit listed no task rows for this job (see the counts above)."
        self.nodeman.empty_text = "No host results yet."
        self.pipeline = PipelineTree(id="tree", ascii_only=ascii_only)
        self.pipeline.add_class("view")
        self.title_bar = TextBar(id="detail-title")
        self.info = TextBar(id="info")
        self.gk_counts = TextBar(id="gk-counts")
        self.key: str | None = None
        self.shown: Task | None = None
        self._retired: list[Task | None] = []
        self._current = "empty"  # the switcher's view as last set
        self.marks: set[str] = set()  # the keys marked: drawn by the views shown (`_marking`)
        self._described: object = None  # the unit (snapshot) the info line describes ...
        self._described_in: tuple[GroupedView | PipelineTree, str] | None = None  # ... its view, key

    def compose(self) -> ComposeResult:
        yield self.title_bar
        with ContentSwitcher(id="views", initial="empty"):
            yield self.placeholder
            yield self.reading
            yield self.job
            with Vertical(id="nm-hosts", classes="view"):
                yield ColumnHeader(partial(host_header, nodeman=True))
                yield self.nodeman
            with Vertical(id="gk-box", classes="view"):
                yield self.gk_counts
                yield ColumnHeader(job_task_header)
                yield self.gsekit
            yield self.pipeline
        yield self.info

    # ---- data -------------------------------------------------------------------------
    def on_resize(self) -> None:
        """A long error wraps to the pane's width: drawn again when the width changes (at 80
        columns the pane is hidden until a task is opened, then takes the whole width)."""
        if self._titled is not None and self._titled[0].key == self.key:
            watch, now = self._titled
            progress = watch.task.progress() if watch.task else None
            self.title_bar.show(title_text(watch, now, self.ascii_only, progress, self.size.width))

    def show(
        self,
        watch: Watch | None,
        now: float,
        transitions: list[Transition] | None = None,
        moves: Counter[Move] | None = None,
    ) -> None:
        if watch is None:
            self.key, self.shown, self._titled = None, None, None
            self.title_bar.show(Text(""))
            self._switch("empty")
            return
        if watch.key != self.key:
            self.info.show(Text(""))
            self._described, self._described_in = None, None
        self.key = watch.key
        self._titled = (watch, now)
        progress = watch.task.progress() if watch.task else None
        width = self.size.width if watch.error is not None else 0  # only an error wraps to it
        self.title_bar.show(title_text(watch, now, self.ascii_only, progress, width))
        task = watch.task
        if not self._retired:  # one clearing per frame, however many polls it holds
            self.call_after_refresh(self._retired.clear)
        held, self.shown = self.shown, task
        self._retired.append(held)  # freed after the frame (see JobPane.show)
        if task is None:
            self._switch("empty")
            return
        if task.summary is not None:
            self._switch("reading")
            return
        view = traits(task.system).view
        if view is View.STEPS:
            self._switch("job-pane")
            self.job.show(watch.key, task, transitions, moves, held=held, read_at=watch.last_ok)
        elif view is View.HOSTS:
            self._switch("nm-hosts")
            self.nodeman.show(watch.key, task.hosts, task.changed_units(task.hosts))
        elif view is View.JOB_TASKS:
            self._switch("gk-box")
            self.gsekit.show(watch.key, task.job_tasks, task.changed_units(task.job_tasks))
            counts = task.counts()
            self.gk_counts.display = not task.job_tasks
            if not task.job_tasks:
                note = Text("No task rows reported; status counts: ", end="")
                note.append_text(counts_text(counts, self.ascii_only) if counts else Text("none"))
                self.gk_counts.show(note)
        elif task.root is not None:
            self._switch("tree")
            self.pipeline.show(watch.key, task.root)
        else:
            self._switch("empty")
        self._describe_again()

    @property
    def switcher(self) -> ContentSwitcher:
        return self.query_one("#views", ContentSwitcher)

    def _switch(self, view: str) -> None:
        """Show `view` (an id of the switcher's children); each poll asks, few change it."""
        if view != self._current:
            self._current = view
            self.switcher.current = view
            for shown in self._marking():  # marks made while it was not shown
                shown.set_highlights(self.marks)

    def main_view(self) -> Widget | None:
        current = self._current  # the switcher's, as `_switch` set it (no query of the DOM)
        return {
            "job-pane": self.job.hosts_view,
            "nm-hosts": self.nodeman,
            "gk-box": self.gsekit,
            "tree": self.pipeline,
            "empty": self.placeholder,
            "reading": self.reading,
        }.get(current or "")

    def grouped_views(self) -> list[GroupedView]:
        return [self.job.hosts_view, self.nodeman, self.gsekit]

    def set_filter(self, text: str, failures_only: bool) -> None:
        for view in self.grouped_views():
            view.set_filter(text, failures_only)
        self.pipeline.set_filter(text, failures_only)

    def set_highlights(self, keys: set[str]) -> None:
        """Mark `keys` in the views shown; the others are told when they are shown (`_switch`)."""
        self.marks = set(keys)
        for view in self._marking():
            view.set_highlights(self.marks)

    def mark(self, came: list[str], gone: list[str]) -> None:
        """Marks changed by a poll of the task shown: `gone` unmarked, then `came` marked, in the
        views shown, at the cost of what changed."""
        self.marks.difference_update(gone)
        self.marks.update(came)
        for view in self._marking():
            view.mark(came, gone)

    def _marking(self) -> tuple[LineView | PipelineTree, ...]:
        """The views that draw marks now: those of the switcher's current view."""
        current = self._current
        if current == "job-pane":
            return (self.job.hosts_view, self.job.steps_view)
        shown = {"nm-hosts": self.nodeman, "gk-box": self.gsekit, "tree": self.pipeline}.get(current)
        return () if shown is None else (shown,)

    def reveal_focus(self, focus: str) -> bool:
        """Put the cursor where a pasted URL pointed: a JOB step instance id, or a NodeMan
        instance id (``host|instance|host|{bk_host_id}``). False when the task has no such place."""
        task = self.shown
        if task is None:
            return False
        view = traits(task.system).view
        if view is View.STEPS and any(s.id == focus for s in task.steps):
            self.job.steps_view.move_to(focus, notify=False)
            self.job.choose_step(focus)
            return True
        if view is View.HOSTS:
            host_id = focus.rsplit("|", 1)[-1]
            for key, host in task.hosts.items():
                if host.host_id is not None and str(host.host_id) == host_id:
                    return self.nodeman.reveal(key)
        return False

    # ---- n / N ------------------------------------------------------------------------
    def next_failure(self, direction: int) -> str | None:
        """Move to the next (+1) or previous (-1) failing host/node; returns its key."""
        task = self.shown
        if task is None:
            return None
        grouped = self._grouped(task)
        if traits(task.system).view is View.STEPS:
            items = self.job.failing()
            cur = (self.job.step_id, self.job.hosts_view.cursor_key)
            pos = _step(items, cur, direction)
            if pos is None:
                return None
            self.job.reveal(*items[pos])
            return items[pos][1]
        if grouped is not None:
            keys = grouped.bad_keys()
            pos = _step(keys, grouped.cursor_key, direction)
            if pos is None:
                return None
            grouped.reveal(keys[pos])
            return keys[pos]
        if task.root is None:
            return None
        ids = [
            n.id
            for n, _ in task.root.walk()
            if n.state is State.FAILED and not n.children and n is not task.root
        ]
        pos = _step(ids, self.pipeline.cursor_id, direction)
        if pos is None:
            return None
        self.pipeline.reveal(ids[pos])
        return ids[pos]

    # ---- copy -------------------------------------------------------------------------
    def copy_ids(self, with_cloud: bool) -> tuple[list[str], str]:
        """Failing hosts' IPs: of the cursor's failing group, else the step, else the task."""
        task = self.shown
        if task is None:
            return [], "task"
        if traits(task.system).view is View.STEPS:
            view = self.job.hosts_view
            group = view.group_of_cursor()
            keys = view.members(group) if group is not None else []
            if view.has_focus and keys and view.items[keys[0]].state.is_bad:
                return view.copy_ids(group=group, with_cloud=with_cloud), "group"
            return view.copy_ids(group=None, with_cloud=with_cloud), "step"
        grouped = self._grouped(task)
        if grouped is not None:
            return grouped.copy_ids(group=None, with_cloud=with_cloud), "task"
        return [], "task"

    def _grouped(self, task: Task) -> GroupedView | None:
        """The task-wide grouped list of a task shown as hosts or job tasks, else None."""
        return {View.HOSTS: self.nodeman, View.JOB_TASKS: self.gsekit}.get(traits(task.system).view)

    # ---- info line --------------------------------------------------------------------
    # It describes the unit the cursor came to; a poll (or a replay's frame) that changes that
    # unit describes it again (`_describe_again`), so it never says RUNNING beside an ok row.
    # A highlight arrives as a message: one from a view no longer shown, or for a row the cursor
    # has left (the list moved on to another task meanwhile) describes nothing.
    def on_line_view_highlighted(self, event: LineView.Highlighted) -> None:
        view, line = event.view, event.line
        if isinstance(view, GroupedView) and line is not None and not line.header:
            self._describe_shown(view, line.key)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        data = event.node.data
        if data is not None:
            self._describe_shown(self.pipeline, data.id)

    def _describe_shown(self, view: GroupedView | PipelineTree, key: str) -> None:
        """`_describe`, when `view` is the one shown and `key` is under its cursor."""
        if (
            view is self.main_view()
            and (view.cursor_id if isinstance(view, PipelineTree) else view.cursor_key) == key
        ):
            self._describe(view, key)

    def _describe(self, view: GroupedView | PipelineTree, key: str) -> None:
        """The info line for unit `key` of `view`, as it is now."""
        item = view.model.get(key) if isinstance(view, PipelineTree) else view.items.get(key)
        if item is None or item is self._described:
            return
        self._described, self._described_in = item, (view, key)
        if isinstance(item, Host):  # the view's own kind: it knows the host's past
            kind = view.kind if isinstance(view, GroupedView) and isinstance(view.kind, HostKind) else None
            self.info.show((kind or HostKind(self.ascii_only)).detail(item))
        elif isinstance(item, JobTask):
            self.info.show(JobTaskKind(self.ascii_only).detail(item))
        elif isinstance(item, Node):
            text = Text(f"{one_line(item.name)} ({one_line(item.id)}) — {one_line(item.raw_state)}", end="")
            if item.message:
                text.append(f" — {one_line(item.message)}", style="red")
            self.info.show(text)

    def _describe_again(self) -> None:
        """After a poll: the unit the info line describes, if it is still the one under the cursor
        of the view shown and its snapshot changed (one look-up when it did not)."""
        if self._described_in is not None:
            self._describe_shown(*self._described_in)


def _step(items: list, current: object, direction: int) -> int | None:
    if not items:
        return None
    if current in items:
        return (items.index(current) + direction) % len(items)
    return 0 if direction > 0 else len(items) - 1
