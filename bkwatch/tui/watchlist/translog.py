"""The transitions log: what changed, when, in which task. Plain text only.

One poll's unit-level changes (hosts, nodes, job tasks) are summed up per task, step and
change ("97 hosts running → ok"): a 10,000-host step moving 1 % per poll writes one line,
not a hundred, and names the units only when there are few.

A line is written cut to the log's width from the middle: its change ("▶ running → ✖ FAILED")
stays whole at its end, and what changed (the task's title, the unit's name) gives up the cells.
A summary too wide for half the line drops the units' names, then its smallest moves ("+2 more").
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from textual.widgets import Log

from bkwatch.model import Move, State, Transition, count_moves
from bkwatch.text import counted, display_width, one_line
from bkwatch.tui.widgets.fmt import badge_str, clock_hms
from bkwatch.tui.widgets.throttle import Throttle

# The log is written at most this often; a lone change goes out at once. On a busy screen each
# write brings more lines than the log shows, so it costs all its visible lines whatever the
# interval: every 10 s instead of every 5 s halves what it sends (~140 -> ~70 B/s with 20 running
# tasks). The rows, toasts and title say at once what changed; the log is their history.
FLUSH_SECONDS = 10.0
FEW = 3  # a poll with at most this many changes of one kind lists them one per line
_NOUNS = {"host": "host", "node": "node", "job_task": "job task"}
SEP = ": "  # between what changed and the change
MIN_HEAD = 20  # cells of what changed kept however narrow the log


class Line(NamedTuple):
    """A log line; one with no change (a note) is written as it is."""

    lead: str  # when and in which task
    what: str  # what in it: "step deploy"
    change: str  # "▶ running → ✖ FAILED"; a summary's moves, joined
    # A summary's moves ("97 hosts ▶ running → ✔ ok") and the units each names ("" for none),
    # so a narrow log drops the names, then the last moves, rather than cut the change.
    moves: tuple[tuple[str, str], ...] = ()


def describe(t: Transition, title: str, ascii_only: bool) -> Line:
    arrow = "->" if ascii_only else "→"
    old = "new" if t.old is None else badge_str(t.old, ascii_only)
    what = t.level.replace("_", " ")
    if t.level != "task":
        what += f" {one_line(t.name) or one_line(t.key)}"
    return Line(f"{clock_hms(t.at)} {one_line(title)}", what, f"{old} {arrow} {badge_str(t.new, ascii_only)}")


def joined(line: Line) -> str:
    lead, what, change, _ = line
    head = f"{lead} {what}" if what else lead
    return f"{head}{SEP}{change}" if change else head


def fitted(line: Line, width: int) -> str:
    """`line` in `width` cells: the change whole at its end, a summary's moves fitted to at most
    half the line (`_moves_fitted`); the task's title and what changed in it share the rest, each
    cut with "…" only as far as the other leaves it no room."""
    whole = joined(line)
    lead, what, change, moves = line
    if width <= 0 or not change or display_width(whole) <= width:
        return whole
    if moves:
        head = display_width(f"{lead} {what}" if what else lead)
        change = _moves_fitted(moves, width - len(SEP) - min(head, max(MIN_HEAD, width // 2)))
    # A long change left as it is leaves what changed half the line.
    room = max(MIN_HEAD, width - display_width(SEP + change), width // 2)
    if not what:
        return f"{one_line(lead, room)}{SEP}{change}"
    room -= 1  # the space between them
    lead_w, what_w = display_width(lead), display_width(what)
    half = room // 2
    if lead_w <= half:
        what_w = room - lead_w
    elif what_w <= room - half:
        lead_w = room - what_w
    else:
        lead_w, what_w = half, room - half
    return f"{one_line(lead, lead_w)} {one_line(what, what_w)}{SEP}{change}"


def _named(moves: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{move} ({names})" if names else move for move, names in moves)


def _moves_fitted(moves: tuple[tuple[str, str], ...], room: int) -> str:
    """A summary's moves in `room` cells: with the units they name, else without, else the
    first ones and "+N more" (the biggest come first); the first move however narrow."""
    named = _named(moves)
    if display_width(named) <= room:
        return named
    bare = [move for move, _ in moves]
    for kept in range(len(bare), 1, -1):
        text = ", ".join(bare[:kept]) + (f", +{len(bare) - kept} more" if kept < len(bare) else "")
        if display_width(text) <= room:
            return text
    return bare[0] + (f", +{len(bare) - 1} more" if len(bare) > 1 else "")


class TransitionLog(Log, can_focus=True):
    """Newest at the bottom; the Log widget never parses markup. It follows new lines unless the
    user scrolled up to read: then its title counts the lines written since ("12 new ↓"), and
    scrolling back to the end (end, or down to it) follows again. Focusable (tab) to scroll."""

    DEFAULT_CSS = """
    TransitionLog { height: 8; border-top: solid $panel-lighten-2; border-title-align: right; }
    TransitionLog:focus { border-top: solid $accent; }
    """

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        # Textual's own auto-scroll follows only while the last write left the view at the end,
        # which a write made before the first layout does not: it stopped following for good.
        super().__init__(max_lines=2000, auto_scroll=False, id=id)
        self.ascii_only = ascii_only
        self.entries: list[str] = []  # what was written, whole, for tests and "since last time"
        self.following = True  # at the end, showing each new line; False once the user scrolls up
        self.unseen = 0  # lines written while not following
        self._pending: list[Line] = []
        self._throttle = Throttle(FLUSH_SECONDS, self._flush, self.set_timer)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new >= self.max_scroll_y:  # back at the end: follow again
            if not self.following or self.unseen:
                self.following, self.unseen = True, 0
                self._mark()
        elif new < old and self.following:  # the user scrolled up to read
            self.following = False
            self._mark()

    def _mark(self) -> None:
        down = "v" if self.ascii_only else "↓"
        self.border_title = f"{self.unseen} new {down} (end follows)" if self.unseen else None

    def add(self, transitions: list[Transition], title: str, moves: Counter[Move] | None = None) -> None:
        """A poll's changes of the task called `title` (`moves`: their count, when the caller
        made it): `summarize` makes its lines of cleaned parts, so they are not cleaned again."""
        lines = summarize(transitions, title, self.ascii_only, moves)
        self._note(lines)

    def note_lines(self, lines: list[str]) -> None:
        """Record `lines` now; write them at once unless the log was written in the last
        FLUSH_SECONDS, in which case they go out together when that time is up (every write
        scrolls, so repaints, the whole log)."""
        self._note([Line(one_line(line), "", "") for line in lines])

    def _note(self, lines: list[Line]) -> None:
        if not lines:
            return
        self.entries.extend(map(joined, lines))
        del self.entries[:-2000]
        self._pending.extend(lines)
        self._throttle.soon(now=not self.is_mounted)

    def _flush(self) -> bool:
        if not self._pending:
            return False
        lines, self._pending = self._pending, []
        width = self.scrollable_content_region.width
        self.write_lines([fitted(line, width) for line in lines], scroll_end=False)
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            self.call_after_refresh(self._follow)  # again once the new size is laid out
        else:
            self.unseen += len(lines)
            self._mark()
        return True

    def _follow(self) -> None:
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)


def summarize(
    transitions: list[Transition], title: str, ascii_only: bool, moves: Counter[Move] | None = None
) -> list[Line]:
    """Log lines for one poll of one task: task and step changes one per line; units of one
    step and level summed per (old, new) unless there are at most FEW of them.

    The moves are counted in C (a poll of a 10,000-host step brings a hundred); the units are
    read one by one only where the line names them (a move of at most FEW)."""
    if moves is None:
        moves = count_moves(transitions)  # first seen first, as the lines are written
    out = (
        [describe(t, title, ascii_only) for t in transitions if t.level not in _NOUNS]
        if any(level not in _NOUNS for level, _step, _old, _new in moves)
        else []
    )
    buckets: dict[tuple[str, str | None], list[tuple[State | None, State, int]]] = {}
    for (level, step_id, old, new), n in moves.items():
        if level in _NOUNS:
            buckets.setdefault((level, step_id), []).append((old, new, n))
    arrow = "->" if ascii_only else "→"
    for (level, step_id), group in buckets.items():
        named = (
            [t for t in transitions if t.level == level and t.step_id == step_id]
            if any(n <= FEW for _old, _new, n in group)
            else []
        )
        if sum(n for _old, _new, n in group) <= FEW:
            out.extend(describe(t, title, ascii_only) for t in named)
            continue
        parts: list[tuple[str, str]] = []
        for old, new, n in sorted(group, key=lambda m: -m[2]):
            was = "new" if old is None else badge_str(old, ascii_only)
            names = ""
            if n <= FEW:
                these = (t for t in named if t.old is old and t.new is new)
                names = ", ".join(one_line(t.name) or one_line(t.key) for t in these)
            parts.append((f"{counted(n, _NOUNS[level])} {was} {arrow} {badge_str(new, ascii_only)}", names))
        at = next(t.at for t in transitions if t.level == level and t.step_id == step_id)
        where = f"step {one_line(step_id)}" if step_id else ""
        summed = tuple(parts)
        out.append(Line(f"{clock_hms(at)} {one_line(title)}", where, _named(summed), summed))
    return out
