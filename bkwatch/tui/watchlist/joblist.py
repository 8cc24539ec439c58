"""The job list pane: one line per watched task; tasks found by a followed scope under its header
(counts by state, its error, "cap reached"), which enter or space folds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from rich.text import Text

from bkwatch.model import State
from bkwatch.text import one_line
from bkwatch.tui.watchlist.scope_header import header_line, render_header
from bkwatch.tui.watchlist.scope_port import scope_of_header
from bkwatch.tui.widgets.fmt import badge, duration, fit, stale_age
from bkwatch.tui.widgets.lines import Line, LineView

if TYPE_CHECKING:
    from bkwatch.poller import Watch
    from bkwatch.tui.watchlist.scope_port import ScopeView

_SYS = {"job": "JOB", "sops": "SOPS", "bkflow": "BKFLOW", "nodeman": "NODEMAN", "gsekit": "GSEKIT"}


def row_sig(watch: Watch, now: float, progress: tuple[int, int] | None = None) -> tuple[object, ...]:
    """Everything a row shows; the age only appears when data is stale, so idle rows never repaint."""
    task = watch.task
    err = None if watch.error is None else str(watch.error.kind)
    data_age = stale_age(None if watch.last_ok is None else now - watch.last_ok, err is not None)
    if task is None:
        return (watch.label, None, None, None, None, data_age, err)
    done, total = progress or task.progress()
    elapsed = duration(task.elapsed, task.terminal)
    return (watch.label, task.name, task.state, f"{done}/{total}", elapsed, data_age, err)


# Failed and stopped tasks come first; all others keep the watch list's order, so a task that
# starts, waits for a person (its badge, toast and bell say so) or finishes normally stays on
# its row instead of shifting every row in between (each shift is a repaint sent over SSH).
_ATTENTION = {State.FAILED: 0, State.STOPPED: 1}
_CALM = len(_ATTENTION)


def _hit(watch: Watch, needle: str) -> bool:
    return needle in watch.key.lower() or needle in watch.title.lower()


def sort_key(watch: Watch) -> int:
    task = watch.task
    return _ATTENTION.get(task.state, _CALM) if task is not None else _CALM


def columns(width: int, has_errors: bool) -> tuple[int, int]:
    """Widths of the target and name columns of a `width`-cell job list (the header's too)."""
    rest = max(width, 50) - 8 - 11 - 10 - 8 - 5 - (14 if has_errors else 0)
    title_w = min(30, max(12, rest // 2))
    return title_w, max(6, rest - title_w)


class JobList(LineView):
    """Watched tasks, those needing attention first; the cursor follows its task."""

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(self._draw, row_width=0, id=id)
        self.ascii_only = ascii_only
        self.watches: Mapping[str, Watch] = {}
        self.has_errors = False
        self.scopes: Mapping[str, ScopeView] = {}  # followed scopes, live (the app sets it)
        self.folded: set[str] = set()  # scopes whose tasks are hidden under their header
        self._now = 0.0
        self.columns_changed: Callable[[], None] | None = None  # the header redraws
        self.filter_text = ""  # `/` on the job list (lower case): tasks whose key or title hold it

    def sync(self, watches: Mapping[str, Watch], now: float) -> None:
        self.watches = watches
        self._now = now
        has_errors = any(w.error is not None for w in watches.values())
        if has_errors != self.has_errors:
            # The error column comes and goes with errors: every row's layout changes.
            self.has_errors = has_errors
            self._cache.clear()
            self.refresh()
            if self.columns_changed is not None:
                self.columns_changed()
        scopes = self.scopes
        mine: list[Watch] = []  # added by hand: ungrouped, first, as before scopes existed
        found: dict[str, list[Watch]] = {k: [] for k in scopes}
        needle = self.filter_text
        for w in watches.values() if not needle else (w for w in watches.values() if _hit(w, needle)):
            group = found.get(w.via) if w.via is not None else None
            (mine if group is None else group).append(w)
        mine.sort(key=sort_key)  # stable: insertion order within a state
        lines = [Line(w.key, row_sig(w, now), data=w.key) for w in mine]
        for key, members in found.items():
            folded = key in self.folded
            lines.append(header_line(scopes[key], members, folded))
            if not folded:
                members.sort(key=sort_key)
                lines.extend(Line(w.key, (*row_sig(w, now), True), data=w.key) for w in members)
        self.set_lines(lines)
        if self.cursor_key is None and lines:
            self.move_to(lines[0].key, scroll=False, notify=False)

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

    def _draw(self, line: Line) -> Text:
        width = max(self.size.width, 50)
        if line.header:
            return render_header(line, width, self.ascii_only)
        sig = line.sig
        grouped = len(sig) == 8
        label, name, state, prog, elapsed, data_age, err = sig[:7]  # type: ignore[misc]
        title_w, name_w = columns(self.size.width, self.has_errors)
        out = Text(end="", no_wrap=True)
        system = _SYS.get(line.key.split(":", 1)[0], "?")
        out.append(fit(("  " + system) if grouped else system, 8), style="bold")
        # The system has its own column: the target is shown without its "job:" prefix.
        out.append(fit(one_line(label or line.key.split(":", 1)[-1]), title_w - 1) + " ")
        out.append(fit(one_line(name or ""), name_w - 1) + " ")
        if state is None:
            out.append(fit("… no data" if not self.ascii_only else ". no data", 10), style="dim")
        else:
            out.append(badge(state, self.ascii_only))
        out.append(" " + fit(prog or "", 9))
        out.append(fit(elapsed or "", 7).rjust(7) + " ")
        out.append(fit(data_age, 4), style="dim")
        if err:
            mark = "!" if self.ascii_only else "⚠"
            out.append(" ")
            out.append(fit(f"{mark}{err}", 13), style="bold red reverse")
        return out
