"""The job list pane: one line per watched task; tasks found by a followed scope under its header
(counts by state, its error, "cap reached"), which enter or space folds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from operator import is_
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import BindingType

from bkwatch.model import State, elapsed_at
from bkwatch.text import display_width, one_line
from bkwatch.tui.actions import OPEN, bindings
from bkwatch.tui.watchlist.scope_header import header_line, render_header
from bkwatch.tui.watchlist.scope_port import scope_of_header
from bkwatch.tui.widgets.fmt import BADGE_WIDTH, badge, duration, fit, stale_age
from bkwatch.tui.widgets.lines import Line, LineView

if TYPE_CHECKING:
    from bkwatch.model import Task
    from bkwatch.poller import Watch
    from bkwatch.tui.watchlist.scope_port import ScopeView

# A row's line by task key, with what it was made from: the task snapshot and what the row shows
# beside it (`JobList._line`).
_Made = dict[str, tuple["Task | None", tuple[object, ...], Line]]

_SYS = {"job": "JOB", "sops": "SOPS", "bkflow": "BKFLOW", "nodeman": "NODEMAN", "gsekit": "GSEKIT"}


def row_sig(watch: Watch, data_age: str, err: str | None) -> tuple[object, ...]:
    """Everything a row shows (`data_age` and `err` as `JobList._line` read them); the age only
    appears when data is stale, so idle rows never repaint. A running time the server does not
    give (JOB, GSEKit) is counted to the last answer, drawn coarse: it changes every 10 s at most."""
    task = watch.task
    if task is None:
        return (watch.label, None, None, None, None, data_age, err)
    done, total = task.progress()
    ended = task.terminal
    ran = duration(elapsed_at(task.elapsed, task.start, task.end, ended, watch.last_ok), ended)
    return (watch.label, task.name, task.state, f"{done}/{total}", ran, data_age, err)


SYSTEM_W, STATE_W, PROGRESS_W, ELAPSED_W, AGE_W, ERROR_W = 8, BADGE_WIDTH + 1, 9, 8, 5, 14
MIN_NAME = 12  # the name never gets less, however narrow the list
TARGET_ROOM = 30  # the target gets a column only while the name keeps this many cells (or all of it)
MAX_LABEL = 24  # a label column never takes more (the whole label is in the detail's title)
MAX_TARGET = 22


@dataclass(frozen=True)
class Columns:
    """What the rows have to say, so columns with nothing to say take no room: the widest name,
    label and target (cells, 0: no row has a label), whether any row's data is stale or any
    poll failed."""

    name: int = 0
    label: int = 0
    target: int = 0
    age: bool = False
    errors: bool = False

    def widths(self, width: int) -> tuple[int, int, int]:
        """Name, label and target widths (each with its trailing space) in a `width`-cell list."""
        fixed = SYSTEM_W + STATE_W + PROGRESS_W + ELAPSED_W
        fixed += (AGE_W if self.age else 0) + (ERROR_W if self.errors else 0)
        rest = max(width, 50) - fixed
        label_w = min(self.label, MAX_LABEL) + 1 if self.label else 0
        label_w = min(label_w, max(0, rest - MIN_NAME) // 2)  # the name keeps the larger half
        target_w = min(self.target, MAX_TARGET) + 1
        if rest - label_w - target_w < min(self.name + 1, TARGET_ROOM):
            target_w = 0
        return max(MIN_NAME, rest - label_w - target_w), label_w, target_w


@lru_cache(maxsize=4096)
def _cells(text: str) -> int:
    """The cells `text` takes as a row shows it: every row's name, label and target are measured
    on every poll, and they rarely change."""
    return display_width(one_line(text))


def columns_of(lines: list[Line]) -> Columns:
    name = label = target = 0
    age = errors = False
    for line in lines:
        if line.header:
            continue
        tag, title, _state, _prog, _elapsed, data_age, err = line.sig[:7]
        where = target_of(line.key)
        name = max(name, _cells(title or where))
        label = max(label, _cells(tag) if tag else 0)
        target = max(target, _cells(where))
        age = age or bool(data_age)
        errors = errors or err is not None
    return Columns(name, label, target, age, errors)


def target_of(key: str) -> str:
    """The target without its system (the system has its own column)."""
    return key.split(":", 1)[-1]


# When the list is longer than its pane, failed and stopped tasks come first, so they are in
# view; all others keep the watch list's order, so a task that starts, waits for a person (its
# badge, toast and bell say so) or finishes normally stays on its row instead of shifting every
# row in between (each shift is a repaint sent over SSH). When every row is on the screen, every
# task keeps its row: a failure is seen where it is (its badge, marked for a few seconds, the
# toast, the bell, the title's count), and moving it to the top repainted every row it passed
# (on a busy screen a third of the bytes sent).
_ATTENTION = {State.FAILED: 0, State.STOPPED: 1}
_CALM = len(_ATTENTION)


def _hit(watch: Watch, needle: str) -> bool:
    return needle in watch.key.lower() or needle in watch.title.lower()


def sort_key(watch: Watch) -> int:
    task = watch.task
    return _ATTENTION.get(task.state, _CALM) if task is not None else _CALM


class JobList(LineView):
    """Watched tasks in the watch list's order, those needing attention first when they do not all
    fit; the cursor follows its task."""

    BINDINGS: ClassVar[list[BindingType]] = bindings((OPEN,))  # shown: enter opens the task

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(self._draw, row_width=0, id=id)
        self.ascii_only = ascii_only
        self.watches: Mapping[str, Watch] = {}
        self.cols = Columns()  # what the rows have to say: which columns take room
        self.scopes: Mapping[str, ScopeView] = {}  # followed scopes, live (the app sets it)
        self.folded: set[str] = set()  # scopes whose tasks are hidden under their header
        self._now = 0.0
        self.columns_changed: Callable[[], None] | None = None  # the header redraws
        self.filter_text = ""  # `/` on the job list (lower case): tasks whose key or title hold it
        # Each row's line with what it was made from (the task snapshot, by identity, and what
        # the row shows beside it): a sync re-signs only the rows of tasks polled since, not
        # every row of the list (a snapshot is replaced by the poller, never changed).
        self._made: _Made = {}

    def sync(self, watches: Mapping[str, Watch], now: float) -> None:
        self.watches = watches
        self._now = now
        scopes = self.scopes
        mine: list[Watch] = []  # added by hand: ungrouped, first, as before scopes existed
        found: dict[str, list[Watch]] = {k: [] for k in scopes}
        needle = self.filter_text
        for w in watches.values() if not needle else (w for w in watches.values() if _hit(w, needle)):
            group = found.get(w.via) if w.via is not None else None
            (mine if group is None else group).append(w)
        rows = len(mine) + sum(1 if k in self.folded else 1 + len(m) for k, m in found.items())
        height = self._shows()  # 0: not laid out yet (or hidden); `size` asks the compositor
        attention_first = not height or rows > height
        if attention_first:
            mine.sort(key=sort_key)  # stable: insertion order within a state
        made: _Made = {}
        lines = [self._line(w, now, False, made) for w in mine]
        for key, members in found.items():
            folded = key in self.folded
            lines.append(header_line(scopes[key], members, folded))
            if not folded:
                if attention_first:
                    members.sort(key=sort_key)
                lines.extend(self._line(w, now, True, made) for w in members)
        self._made = made
        old = self.lines
        if len(old) == len(lines) and all(map(is_, old, lines)) and self.cursor_key is not None:
            return  # every row as drawn (the columns they need too)
        cols = columns_of(lines)
        if cols != self.cols:
            # A column came or went, or a label or target is wider: every row's layout changes.
            self.cols = cols
            self._cache.clear()
            self.refresh()
            if self.columns_changed is not None:
                self.columns_changed()
        self.set_lines(lines)
        if self.cursor_key is None and lines:
            self.move_to(lines[0].key, scroll=False, notify=False)

    def _line(self, w: Watch, now: float, grouped: bool, made: _Made) -> Line:
        """The row of `w`: the line drawn last time when its task snapshot and what the row shows
        beside it (label, poll error, the data's age, the answer a running time is counted to) are
        the same, else a line signed anew."""
        err = None if w.error is None else str(w.error.kind)
        task = w.task  # a time it runs that its server does not give: counted to the last answer
        # A task its system calls finished will not change: how old its data is says nothing
        # (a followed scope's finished tasks are read again rarely), unless its polls fail.
        ended = task is not None and task.terminal and err is None
        data_age = "" if ended else stale_age(None if w.last_ok is None else now - w.last_ok, err is not None)
        counted = w.last_ok if task is not None and task.elapsed is None and not task.terminal else None
        beside = (w.label, err, data_age, grouped, counted)
        known = self._made.get(w.key)
        if known is not None and known[0] is task and known[1] == beside:
            line = known[2]
        else:
            sig = row_sig(w, data_age, err)
            line = Line(w.key, (*sig, True) if grouped else sig, data=w.key)
        made[w.key] = (w.task, beside, line)
        return line

    def toggle_fold(self, scope: str) -> None:
        """Fold or unfold a scope's tasks under its header (the cursor stays on the header)."""
        (self.folded.discard if scope in self.folded else self.folded.add)(scope)
        self.sync(self.watches, self._now)

    def header_scope(self) -> str | None:
        """The scope whose header the cursor is on."""
        return scope_of_header(self.cursor_key)

    def action_select(self) -> None:
        scope = self.header_scope()
        if scope is not None:  # enter on a header folds it; on a task, opens the task
            self.toggle_fold(scope)
            return
        super().action_select()

    def on_line_view_selected(self, event: LineView.Selected) -> None:
        scope = scope_of_header(event.line.key)
        if scope is not None:  # a click on the header's row
            event.stop()
            self.toggle_fold(scope)

    def on_resize(self) -> None:
        self._cache.clear()
        self.refresh()
        if self.watches:  # the rows may fit now, or no longer: their order follows
            self.sync(self.watches, self._now)

    def highlight_cells(self) -> tuple[int, int]:
        """A task that changed is marked on its state badge, not its whole row: the mark is
        written when it comes and when it goes, and on a busy screen whole rows were most of it."""
        name_w, label_w, target_w = self.cols.widths(self.size.width)
        x = SYSTEM_W + name_w + label_w + target_w
        return x, x + BADGE_WIDTH

    def header_text(self, width: int) -> Text:
        """The column header, drawn with the rows' widths."""
        name_w, label_w, target_w = self.cols.widths(width)
        out = fit("system", SYSTEM_W) + fit("name", name_w - 1) + " "
        out += fit("label", label_w - 1) + " " if label_w else ""
        out += fit("target", target_w - 1) + " " if target_w else ""
        out += fit("state", STATE_W) + fit("done/all", PROGRESS_W) + "elapsed".rjust(ELAPSED_W - 1) + " "
        out += fit("age", AGE_W) if self.cols.age else ""
        out += "poll error" if self.cols.errors else ""
        return Text(out.rstrip(), end="", no_wrap=True)

    def _draw(self, line: Line) -> Text:
        width = max(self.size.width, 50)
        if line.header:
            return render_header(line, width, self.ascii_only)
        sig = line.sig
        grouped = len(sig) == 8
        label, name, state, prog, elapsed, data_age, err = sig[:7]  # type: ignore[misc]
        name_w, label_w, target_w = self.cols.widths(self.size.width)
        target = one_line(target_of(line.key))
        out = Text(end="", no_wrap=True)
        system = _SYS.get(line.key.split(":", 1)[0], "?")
        out.append(fit(("  " + system) if grouped else system, SYSTEM_W), style="bold")
        # The name first; a row not polled yet shows its target there until the name is known.
        out.append(fit(one_line(name or target), name_w - 1) + " ")
        if label_w:
            out.append(fit(one_line(label or ""), label_w - 1) + " ", style="italic")
        if target_w:
            out.append(fit(target, target_w - 1) + " ", style="dim")
        if state is None:
            out.append(fit("… no data" if not self.ascii_only else ". no data", STATE_W - 1), style="dim")
        else:
            out.append(badge(state, self.ascii_only))
        out.append(" " + fit(prog or "", PROGRESS_W))
        out.append(fit(elapsed or "", ELAPSED_W - 1).rjust(ELAPSED_W - 1) + " ")
        if self.cols.age:
            out.append(fit(data_age, AGE_W), style="dim")
        if err:
            mark = "!" if self.ascii_only else "⚠"
            out.append(fit(f"{mark}{err}", ERROR_W - 1), style="bold red reverse")
        return out
