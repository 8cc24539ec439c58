"""A recorded task replayed in the drill-down's own panes, offline, with a time cursor.

The frames are the task as the monitor saw it at each recorded transition (`record/snapshot.py`
rebuilds them); each is drawn by the same `DetailPane` the live monitor uses, so a replayed row is
the row the monitor showed. What changed into a frame is worked out by the poller's own `diff`
and marked as live changes are. A bar at the top says REPLAY and the recorded time at every
size, so no one takes it for live. `ReplayApp` is `bkwatch replay TARGET` on a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer

from bkwatch.model import Node, State, Task, Transition, failures
from bkwatch.poller import Watch, diff
from bkwatch.targets import parse_target
from bkwatch.text import one_line
from bkwatch.tui.actions import (
    REPLAY_ACTIONS,
    REPLAY_EXTRA_KEYS,
    REPLAY_INERT,
    bindings,
    footer_ranks,
    help_keys,
)
from bkwatch.tui.dialogs.dialogs import HelpScreen
from bkwatch.tui.drilldown.detail import DetailPane
from bkwatch.tui.drilldown.grouped import GroupedView
from bkwatch.tui.widgets.fmt import badge_str, clock_hms
from bkwatch.tui.widgets.footer import Footer
from bkwatch.tui.widgets.lines import LineView, TextBar
from bkwatch.tui.widgets.once import AnswerOnce

SPEED = 10.0  # recorded seconds per second while playing
TICK = 0.1  # seconds between the play timer's steps
CHANGES_SHOWN = 4  # changes listed under the panes; the rest counted


def first_failure(frames: Sequence[tuple[float, Task]]) -> int | None:
    """The first frame with a failing host, job task or node, or a failed task."""
    for i, (_, task) in enumerate(frames):
        if task.state.is_bad or failures(task):
            return i
    return None


def changes_text(changes: list[Transition], ascii_only: bool, first: bool = False) -> Text:
    out = Text(end="", no_wrap=True)
    if not changes:
        out.append("the first recorded view" if first else "no state changed (seen again)", style="dim")
        return out
    arrow = "->" if ascii_only else "→"
    for i, t in enumerate(changes[:CHANGES_SHOWN]):
        if i:
            out.append(" · ")
        out.append(f"{t.level} {one_line(t.name or t.key, 40)}: ")
        out.append(f"{t.old or 'new'} {arrow} ")
        out.append(badge_str(t.new, ascii_only))
    if len(changes) > CHANGES_SHOWN:
        out.append(f" · and {len(changes) - CHANGES_SHOWN} more")
    return out


class ReplayScreen(AnswerOnce, Screen[None]):
    """One recorded task, frame by frame: ←/→ the transitions, f the first failure, space plays."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings(REPLAY_ACTIONS),
        Binding(REPLAY_INERT, "inert", show=False),
    ]
    DEFAULT_CSS = """
    ReplayScreen #replay-mark { height: 1; padding: 0 1; background: $warning 40%; }
    ReplayScreen #replay-detail { height: 1fr; }
    ReplayScreen #replay-changes { height: 1; padding: 0 1; }
    """

    def __init__(
        self,
        key: str,
        frames: Sequence[tuple[float, Task]],
        *,
        label: str | None = None,
        ascii_only: bool = False,
    ) -> None:
        super().__init__()
        self.key = key
        self.frames = frames
        self.label = label
        self.ascii_only = ascii_only
        self.index = 0
        self.at: float | None = frames[0][0] if frames else None  # the time cursor: a frame's or between
        self.player: Timer | None = None
        self._shown: int | None = None  # the frame the panes show
        self.detail = DetailPane(ascii_only=ascii_only, id="replay-detail")
        self._target = parse_target(key)
        # The names the last frame knows: a pipeline's first frames may come before its detail
        # named the task and its nodes (BKFlow's status tree names none). A name says which node
        # it is, not what state it was in: a frame borrows names, never anything else.
        last = frames[-1][1] if frames else None
        self._title = last.name if last is not None else None
        self._names = last.node_names() if last is not None else {}

    def compose(self) -> ComposeResult:
        yield TextBar(id="replay-mark")
        yield self.detail
        yield TextBar(id="replay-changes")
        yield Footer(ranks=footer_ranks(REPLAY_ACTIONS))

    def on_mount(self) -> None:
        if self.taken_down:  # closed before its mount was handled: no widgets to set up
            return
        self.go(0)
        view = self.detail.main_view()
        if view is not None:
            view.focus()

    @property
    def playing(self) -> bool:
        return self.player is not None

    # ---- the time cursor ----------------------------------------------------------------
    def go(self, index: int) -> None:
        """Show frame `index` (clamped): its panes, what changed into it, the mark."""
        if not self.frames:
            self._mark()
            return
        index = max(0, min(index, len(self.frames) - 1))
        self.index = index
        at, task = self.frames[index]
        task = self._named(task)
        self.at = at
        changes: list[Transition] = []
        if index:
            changes = diff(self._named(self.frames[index - 1][1]), task, at)
        watch = Watch(self._target, self.label, task, last_ok=at)
        # The panes count hosts from the changes they are told of: told only when the frame shown
        # is the one before, else they count afresh (a jump back or past several frames).
        told = changes if self._shown == index - 1 else None
        self._shown = index
        with self.app.batch_update():
            self.detail.show(watch, at, told)
            # Marked as the monitor marks a change: only what needs a look (app.py `apply`).
            self.detail.set_highlights(
                {t.key for t in changes if t.level != "task" and (t.new.is_bad or t.new is State.WAITING)}
            )
            said = changes_text(changes, self.ascii_only, index == 0)
            self.query_one("#replay-changes", TextBar).show(said)
            self._mark()

    def _named(self, task: Task) -> Task:
        """`task` with the names it lacks taken from the last frame (a copy; frames are shared)."""
        names, root = self._names, task.root
        if root is not None and any(n.name == n.id and n.id in names for n, _ in root.walk()):
            root = _renamed(root, names)
        if root is task.root and (task.name or not self._title):
            return task
        return replace(task, name=task.name or self._title, root=root)

    def _mark(self) -> None:
        mark = Text(end="", no_wrap=True)
        mark.append(f" REPLAY {clock_hms(self.at)} ", style="bold reverse")
        if not self.frames:
            mark.append("  nothing recorded to replay for this task")
        else:
            task = self.frames[self.index][1]
            mark.append(f"  {self.index + 1}/{len(self.frames)}")
            mark.append(f"  {'> x10' if self.ascii_only else '▶ ×10'}" if self.playing else "  paused")
            mark.append(f"  {one_line(self.label or task.name or self._title or self.key, 60)}", style="bold")
            span = f"{clock_hms(self.frames[0][0])}–{clock_hms(self.frames[-1][0])}"
            mark.append(f"  recorded {span}", style="dim")
        self.query_one("#replay-mark", TextBar).show(mark)

    # ---- keys (tui/actions.py: REPLAY_ACTIONS) ------------------------------------------
    def action_step(self, delta: int) -> None:
        self._stop()
        self.go(self.index + delta)

    def action_edge(self, end: int) -> None:
        self._stop()
        self.go(len(self.frames) - 1 if end else 0)

    def action_first_failure(self) -> None:
        self._stop()
        found = first_failure(self.frames)
        if found is None:
            self.notify("Nothing failed in what was recorded.", timeout=3)
            return
        self.go(found)
        self.detail.next_failure(1)

    def action_play(self) -> None:
        if self.playing:
            self._stop()
            self._mark()
            return
        if self.index >= len(self.frames) - 1:
            self.go(0)  # played to the end: again from the start
        self.player = self.set_interval(TICK, self._tick)
        self._mark()

    def _tick(self) -> None:
        self.at = (self.at or 0.0) + SPEED * TICK
        nxt = self.index + 1
        if nxt >= len(self.frames):
            self._stop()
            self._mark()
            return
        if self.frames[nxt][0] <= self.at:
            self.go(nxt)  # one transition per tick, however close they were recorded
        else:
            self._mark()

    def _stop(self) -> None:
        if self.player is not None:
            self.player.stop()
            self.player = None

    def action_close(self) -> None:
        self._stop()
        if isinstance(self.app, ReplayApp):
            self.app.exit()
        else:
            self.dismiss()

    def action_inert(self) -> None:
        """The monitor's keys that mean nothing in a replay."""

    def action_help(self) -> None:
        self._stop()
        self.app.push_screen(HelpScreen(help_keys(REPLAY_ACTIONS, REPLAY_EXTRA_KEYS)))

    # ---- the panes' own moves, kept on this screen ---------------------------------------
    def on_line_view_selected(self, event: LineView.Selected) -> None:
        event.stop()  # the monitor's handlers would act on its own panes
        view = event.view
        if view is self.detail.job.steps_view:
            self.detail.job.hosts_view.focus()
        elif isinstance(view, GroupedView) and event.line.header and event.line.data is not None:
            view.toggle_group(event.line.data)


class ReplayApp(App[None]):
    """`bkwatch replay TARGET` on a terminal: the replay screen alone, offline."""

    TITLE = "bkwatch replay"

    def __init__(
        self,
        key: str,
        frames: Sequence[tuple[float, Task]],
        *,
        label: str | None = None,
        ascii_only: bool = False,
    ) -> None:
        super().__init__()
        self.replay = ReplayScreen(key, frames, label=label, ascii_only=ascii_only)

    def on_mount(self) -> None:
        self.push_screen(self.replay)


def _renamed(node: Node, names: dict[str, str]) -> Node:
    name = names.get(node.id, node.name) if node.name == node.id else node.name
    return replace(node, name=name, children=[_renamed(c, names) for c in node.children])
