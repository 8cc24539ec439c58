"""The transitions log: what changed, when, in which task. Plain text only."""

from __future__ import annotations

from textual.widgets import Log

from bkwatch.model import Transition
from bkwatch.tui.fmt import badge_str, clean, clock_hms


def describe(t: Transition, title: str, ascii_only: bool) -> str:
    arrow = "->" if ascii_only else "→"
    old = "new" if t.old is None else badge_str(t.old, ascii_only)
    what = t.level.replace("_", " ")
    name = "" if t.level == "task" else f" {clean(t.name) or clean(t.key)}"
    return f"{clock_hms(t.at)}  {clean(title)}  {what}{name}: {old} {arrow} {badge_str(t.new, ascii_only)}"


class TransitionLog(Log):
    """Newest at the bottom; the Log widget never parses markup."""

    DEFAULT_CSS = "TransitionLog { height: 8; border-top: solid $panel-lighten-2; }"

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(max_lines=2000, auto_scroll=True, id=id)
        self.ascii_only = ascii_only
        self.entries: list[str] = []  # what was written, for tests and the since-last-time summary

    def add(self, transitions: list[Transition], title: str) -> None:
        lines = [describe(t, title, self.ascii_only) for t in transitions]
        self.note_lines(lines)

    def note_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        lines = [clean(line) for line in lines]
        self.entries.extend(lines)
        del self.entries[:-2000]
        self.write_lines(lines)
