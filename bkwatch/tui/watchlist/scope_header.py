"""A followed scope's header row in the job list: its counts by state, its error, the cap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text

from bkwatch.model import State
from bkwatch.text import counted, one_line
from bkwatch.tui.drilldown.kinds import SEVERITY
from bkwatch.tui.watchlist.scope_port import header_key
from bkwatch.tui.widgets.fmt import STATE_STYLE, fit, glyph
from bkwatch.tui.widgets.lines import Line

if TYPE_CHECKING:
    from bkwatch.poller import Watch
    from bkwatch.tui.watchlist.scope_port import ScopeView

_ORDER = sorted(SEVERITY, key=SEVERITY.__getitem__)  # failed first, ok last
_WORD = {
    State.FAILED: "failed",
    State.STOPPED: "stopped",
    State.WAITING: "waiting",
    State.UNKNOWN: "unknown",
    State.RUNNING: "running",
    State.PENDING: "pending",
    State.SUCCEEDED: "ok",
}


def counts(members: Sequence[Watch]) -> dict[State, int]:
    """Tasks per state (not polled yet: pending), as `ScopeWatch.counts` has them."""
    out: dict[State, int] = {}
    for w in members:
        state = w.task.state if w.task is not None else State.PENDING
        out[state] = out.get(state, 0) + 1
    return out


def header_line(sw: ScopeView, members: Sequence[Watch], folded: bool) -> Line:
    """The header's line; its signature holds everything it shows, so it repaints only then."""
    by_state = counts(members)
    problem = sw.problem
    cap = getattr(sw.options, "cap", None)
    sig = (
        sw.key,
        sw.label,
        tuple((s, by_state[s]) for s in _ORDER if by_state.get(s)),
        len(members),
        None if problem is None else (str(problem.kind), problem.message),
        sw.cap_reached,
        cap,
        len(sw.waiting),
        sw.rounds > 0 or problem is not None,  # listed once: "listing…" until then
        folded,
    )
    return Line(header_key(sw.key), sig, header=True, data=sw.key)


def render_header(line: Line, width: int, ascii_only: bool) -> Text:
    key, label, by_state, total, problem, cap_reached, cap, waiting, listed, folded = line.sig
    arrow = (">" if folded else "v") if ascii_only else ("▸" if folded else "▾")
    out = Text(f"{arrow} ", end="", no_wrap=True)
    out.append(one_line(key), style="bold")
    if label:
        out.append(f" · {fit(one_line(label), 24).rstrip()}", style="bold")
    out.append(f"  {counted(total, 'task')}" if listed else "  listing…" if not ascii_only else "  listing")
    # The error and the cap before the counts: on a narrow list they are what must not be cut
    # (the whole message is in the detail pane when the cursor is on the header).
    if problem is not None:
        kind, message = problem
        mark = "!" if ascii_only else "⚠"
        out.append("  ")
        out.append(f"{mark} {kind}: {fit(one_line(message), 30).rstrip()}", style="bold red")
    if cap_reached:
        more = f", {waiting} waiting" if waiting else ""
        out.append("  ")
        out.append(f"cap reached ({cap}{more})", style="bold yellow")
    for state, n in by_state:
        out.append("  ")
        out.append(f"{glyph(state, ascii_only)} {n} {_WORD[state]}", style=STATE_STYLE[state])
    if out.cell_len > width:
        out.truncate(max(1, width - 1))
        out.append("…")
    return out
