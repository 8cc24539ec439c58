"""The job list pane: one line per watched task."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from rich.text import Text

from bkwatch.model import State
from bkwatch.tui.fmt import badge, clean, duration, fit, stale_age
from bkwatch.tui.lines import Line, LineView

if TYPE_CHECKING:
    from bkwatch.poller import Watch

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
        self.columns_changed: Callable[[], None] | None = None  # the header redraws

    def sync(self, watches: Mapping[str, Watch], now: float) -> None:
        self.watches = watches
        has_errors = any(w.error is not None for w in watches.values())
        if has_errors != self.has_errors:
            # The error column comes and goes with errors: every row's layout changes.
            self.has_errors = has_errors
            self._cache.clear()
            self.refresh()
            if self.columns_changed is not None:
                self.columns_changed()
        order = sorted(watches.values(), key=sort_key)  # stable: insertion order within a state
        lines = [Line(w.key, row_sig(w, now), data=w.key) for w in order]
        self.set_lines(lines)
        if self.cursor_key is None and lines:
            self.move_to(lines[0].key, scroll=False, notify=False)

    def on_resize(self) -> None:
        self._cache.clear()
        self.refresh()

    def _draw(self, line: Line) -> Text:
        sig = line.sig
        label, name, state, prog, elapsed, data_age, err = sig  # type: ignore[misc]
        title_w, name_w = columns(self.size.width, self.has_errors)
        out = Text(end="", no_wrap=True)
        system = _SYS.get(line.key.split(":", 1)[0], "?")
        out.append(fit(system, 8), style="bold")
        # The system has its own column: the target is shown without its "job:" prefix.
        out.append(fit(clean(label or line.key.split(":", 1)[-1]), title_w - 1) + " ")
        out.append(fit(clean(name or ""), name_w - 1) + " ")
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
