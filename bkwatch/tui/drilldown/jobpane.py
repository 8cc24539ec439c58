"""JOB drill-down: the steps of a job instance and the hosts of the selected step."""

from __future__ import annotations

from collections import Counter
from operator import attrgetter

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from bkwatch.model import Move, State, Step, Task, Transition, count_moves, elapsed_at
from bkwatch.text import display_width, one_line
from bkwatch.tui.drilldown.grouped import GroupedView
from bkwatch.tui.drilldown.headers import ColumnHeader, host_header
from bkwatch.tui.drilldown.kinds import HostKind
from bkwatch.tui.widgets.fmt import STATE_STYLE, badge, duration, fit, glyph
from bkwatch.tui.widgets.lines import Line, LineView

_ORDER = [
    State.FAILED,
    State.STOPPED,
    State.WAITING,
    State.RUNNING,
    State.PENDING,
    State.SUCCEEDED,
    State.NOT_RUN,
    State.UNKNOWN,
]


def counts_text(counts: dict[State, int], ascii_only: bool) -> Text:
    out = Text(end="", no_wrap=True)
    for state in _ORDER:
        n = counts.get(state, 0)
        if n:
            out.append(f"{glyph(state, ascii_only)}{n} ", style=STATE_STYLE[state])
    return out


_state = attrgetter("state")
_BAD = frozenset(s for s in State if s.is_bad)
_UNDER_WAY = frozenset({State.RUNNING, State.WAITING})


def step_counts(step: Step) -> dict[State, int]:
    return Counter(map(_state, step.hosts.values()))  # C-level: 10,000 hosts in well under 1 ms


def has_bad(step: Step) -> bool:
    return not _BAD.isdisjoint(map(_state, step.hosts.values()))


def default_step(task: Task, counts: dict[str, dict[State, int]] | None = None) -> Step | None:
    """The step worth looking at: failing hosts first, then a step that failed or was stopped
    by itself (a manual confirmation refused), then the running or waiting one, then the last
    one that started — never a step that has not started while one before it says why."""
    steps = task.steps
    for step in steps:
        c = counts.get(step.id) if counts is not None else None
        if not _BAD.isdisjoint(c) if c is not None else has_bad(step):
            return step
    for wanted in (_BAD, _UNDER_WAY):
        for step in steps:
            if step.state in wanted:
                return step
    started = [s for s in steps if s.state is not State.PENDING]
    return started[-1] if started else (steps[0] if steps else None)


class StepsView(LineView):
    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(self._draw, row_width=0, id=id)
        self.ascii_only = ascii_only
        self.steps: dict[str, tuple[int, Step]] = {}
        self.counts: dict[str, dict[State, int]] = {}
        # The longest step name's cells: the states line up just after it, not at the far edge
        # of a wide pane.
        self.name_cells = 0
        self._names: tuple[str, ...] = ()  # the step names it was measured from

    def sync(
        self,
        task: Task,
        transitions: list[Transition] | None = None,
        moves: Counter[Move] | None = None,
        read_at: float | None = None,
    ) -> None:
        """The steps of `task` with their host counts (moved by this poll's `transitions`, counted
        as `moves`) and times: a running step's as of `read_at` (when the task was read), which
        JOB does not give until the step ends."""
        old = self.steps
        self.steps = {s.id: (i, s) for i, s in enumerate(task.steps, 1)}
        names = tuple(s.name for s in task.steps)
        if names != self._names:  # measured when the names change, not at every poll
            self._names = names
            name_cells = max((display_width(one_line(n)) for n in names), default=0)
            if name_cells != self.name_cells:  # every row is laid out anew
                self.name_cells = name_cells
                self._cache.clear()
                self.refresh()
        # Host counts only move when a host changes state, and the poll reports each one: the
        # moves are counted in C, then applied per step and (old, new).
        by_step: dict[str | None, list[tuple[State | None, State, int]]] = {}
        if moves is None or transitions is None:
            moves = count_moves(transitions or ())
        for (level, step_id, was, now), n in moves.items():
            if level == "host":
                by_step.setdefault(step_id, []).append((was, now, n))
        counts = {}
        for s in task.steps:
            prev = old.get(s.id)
            if transitions is None or prev is None or prev[1].execute_count != s.execute_count:
                counts[s.id] = step_counts(s)
                continue
            c = dict(self.counts[s.id])
            for was, now, n in by_step.get(s.id, ()):
                if was is not None:
                    c[was] = c.get(was, 0) - n
                c[now] = c.get(now, 0) + n
            if sum(c.values()) != len(s.hosts):  # hosts came or went: count afresh
                c = step_counts(s)
            counts[s.id] = {k: v for k, v in c.items() if v}
        self.counts = counts
        lines = []
        for i, s in self.steps.values():
            done = s.state.is_done  # the time as drawn: a running step's line changes rarely
            el = duration(elapsed_at(s.elapsed, s.start, s.end, done, read_at), done)
            counts = tuple(sorted((str(k), v) for k, v in self.counts[s.id].items()))
            lines.append(Line(s.id, (i, s.name, s.kind, s.state, s.execute_count, el, counts), data=s.id))
        self.set_lines(lines)
        # Six step lines at most (plus the rule); the hosts below get the rest of the pane.
        height = max(1, min(len(lines), 6)) + 1
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height

    def _draw(self, line: Line) -> Text:
        i, step = self.steps[line.key]
        out = Text(end="", no_wrap=True)
        out.append(f"{i:>2} ", style="dim")
        out.append(fit(one_line(step.kind), 7) + " ")
        width = max(self.size.width, 60)
        name_w = max(10, min(self.name_cells + 1, width - 3 - 8 - 10 - 5 - 8 - 18))
        out.append(fit(one_line(step.name), name_w) + " ")
        out.append(badge(step.state, self.ascii_only))
        out.append(" " + fit(f"x{step.execute_count}" if step.execute_count > 1 else "", 4))
        out.append(fit(str(line.sig[5]), 7).rjust(7) + " ")  # its time, as `sync` signed it
        out.append_text(counts_text(self.counts.get(step.id, {}), self.ascii_only))
        return out


class JobPane(Vertical):
    """Steps on top, hosts of the chosen step below, grouped by result."""

    DEFAULT_CSS = """
    JobPane { height: 1fr; }
    JobPane StepsView { height: 2; border-bottom: solid $panel-lighten-2; }
    JobPane GroupedView { height: 1fr; }
    """

    def __init__(self, *, ascii_only: bool = False, id: str | None = "job-pane") -> None:
        super().__init__(id=id)
        self.ascii_only = ascii_only
        self.steps_view = StepsView(ascii_only=ascii_only, id="steps" if id == "job-pane" else None)
        self.hosts_view = GroupedView(HostKind(ascii_only), id="hosts" if id == "job-pane" else None)
        self.target: str | None = None
        self.shown: Task | None = None
        self.step_id: str | None = None
        self.user_chose_step = False
        self._retired: list[Task | None] = []

    def compose(self) -> ComposeResult:
        yield self.steps_view
        yield ColumnHeader(host_header)
        yield self.hosts_view

    def show(
        self,
        target: str,
        task: Task,
        transitions: list[Transition] | None = None,
        moves: Counter[Move] | None = None,
        *,
        held: Task | None = None,
        read_at: float | None = None,
    ) -> None:
        """Apply a snapshot; `transitions` of this poll count what moved (`moves`: their count,
        when the caller made it). `held`: a snapshot the caller keeps until the frame is painted
        (the detail pane's last one), not kept here again. `read_at`: when the task was read,
        the time a running step's time is counted to."""
        if target != self.target:
            self.target, self.step_id, self.user_chose_step = target, None, False
            transitions = moves = None
            # Another task's steps are a first fill: the cursor left on the last task's step is
            # not "a step that vanished", whose news (Highlighted) would read as the user's pick.
            self.steps_view.cursor_key = None
        # Freeing a 30,000-host snapshot takes milliseconds: do it after the frame is painted.
        old = self.shown
        if old is not None and old is not held:
            if not self._retired:  # one clearing per frame, however many polls it holds
                self.call_after_refresh(self._retired.clear)
            self._retired.append(old)
        self.shown = task
        self.steps_view.sync(task, transitions, moves, read_at)
        ids = {s.id for s in task.steps}
        if self.step_id not in ids or not self.user_chose_step:
            # Follow the interesting step until the user picks one.
            chosen = default_step(task, self.steps_view.counts)
            self.step_id = chosen.id if chosen is not None else None
        if self.step_id is not None:
            self.steps_view.move_to(self.step_id, scroll=False, notify=False)
        self._show_hosts()

    def _show_hosts(self) -> None:
        step = self.current_step()
        view = self.hosts_view
        if step is not None and not step.hosts:
            view.empty_text = (
                "A manual confirmation step: no hosts, it waits for a person to confirm in JOB."
                if step.kind == "manual"
                else "No host results for this step yet."
            )
        if step is None or self.target is None:
            view.show(f"{self.target}|", {})
            return
        shown = self.shown
        changed = shown.changed_units(step.hosts) if shown is not None else None
        self.hosts_view.show(f"{self.target}|{step.id}", step.hosts, changed)

    def current_step(self) -> Step | None:
        if self.shown is None:
            return None
        for s in self.shown.steps:
            if s.id == self.step_id:
                return s
        return None

    def choose_step(self, step_id: str) -> None:
        if step_id == self.step_id:
            return
        self.step_id, self.user_chose_step = step_id, True
        self._show_hosts()

    def on_line_view_highlighted(self, event: LineView.Highlighted) -> None:
        if event.view is self.steps_view and event.line is not None:
            self.choose_step(event.line.key)

    def failing(self) -> list[tuple[str, str]]:
        """(step id, host key) of every failing host, in display order across steps."""
        if self.shown is None:
            return []
        out = []
        for step in self.shown.steps:
            if not has_bad(step):
                continue
            bad = [h for h in step.hosts.values() if h.state.is_bad]
            kind = self.hosts_view.kind
            bad.sort(key=lambda h: kind.order(kind.group(h)))  # stable: server order within a group
            out.extend((step.id, h.key) for h in bad)
        return out

    def reveal(self, step_id: str, key: str) -> None:
        if step_id != self.step_id:
            self.step_id, self.user_chose_step = step_id, True
            self.steps_view.move_to(step_id, notify=False)
            self._show_hosts()
        self.hosts_view.reveal(key)
