"""Text helpers for the TUI: safe server text, state badges, durations and ages.

Everything that reaches a widget from the server goes through `bkwatch.text.one_line` first so that
control characters and escape sequences never reach the terminal, and it is wrapped in
`rich.text.Text` so that square brackets are never read as markup.
"""

from __future__ import annotations

import locale
import sys
import time

from rich.cells import cell_len
from rich.text import Text

from bkwatch.model import State
from bkwatch.text import one_line


def safe(value: object, style: str = "") -> Text:
    """Server text as a `Text` (never markup)."""
    return Text(one_line(value), style=style, no_wrap=True, end="")


def use_ascii_default() -> bool:
    """True when the terminal encoding cannot show the Unicode glyphs."""
    # Textual draws on stderr; a non-UTF-8 locale there means the glyphs would be mangled.
    stream = sys.__stderr__ or sys.stdout
    enc = (getattr(stream, "encoding", None) or locale.getpreferredencoding(False) or "").lower()
    return "utf" not in enc


_GLYPHS: dict[State, tuple[str, str]] = {
    # (unicode, ascii) — the word is always shown beside the glyph so colour is never needed.
    State.PENDING: ("…", "."),
    State.RUNNING: ("▶", ">"),
    State.WAITING: ("⏸", "?"),
    State.SUCCEEDED: ("✔", "+"),
    State.FAILED: ("✖", "x"),
    State.STOPPED: ("■", "#"),
    State.UNKNOWN: ("◇", "~"),
    State.NOT_RUN: ("–", "-"),
}

_WORDS: dict[State, str] = {
    State.PENDING: "pending",
    State.RUNNING: "running",
    State.WAITING: "waiting",
    State.SUCCEEDED: "ok",
    State.FAILED: "FAILED",
    State.STOPPED: "stopped",
    State.UNKNOWN: "unknown",
    State.NOT_RUN: "not run",
}

STATE_STYLE: dict[State, str] = {
    State.PENDING: "dim",
    State.RUNNING: "bold cyan",
    State.WAITING: "bold yellow",
    State.SUCCEEDED: "green",
    State.FAILED: "bold red",
    State.STOPPED: "magenta",
    State.UNKNOWN: "yellow",
    State.NOT_RUN: "dim",
}

BADGE_WIDTH = 10
CLOUD_WIDTH = 5  # a host's cloud area id: its header "cloud" whole
# A GSEKit job task's process name and whether it may be retried ("yes" / "no"): the reason,
# what the user reads, gets the rest (22 cells at 80 columns).
PROCESS_WIDTH, RETRY_WIDTH = 12, 5


def glyph(state: State, ascii_only: bool = False) -> str:
    uni, asc = _GLYPHS[state]
    return asc if ascii_only else uni


def badge_str(state: State, ascii_only: bool = False) -> str:
    return f"{glyph(state, ascii_only)} {_WORDS[state]}"


def badge_part(state: State, ascii_only: bool = False, width: int = BADGE_WIDTH) -> tuple[str, str]:
    return badge_str(state, ascii_only).ljust(width), STATE_STYLE[state]


def badge(state: State, ascii_only: bool = False, width: int = BADGE_WIDTH) -> Text:
    return Text(badge_str(state, ascii_only).ljust(width), style=STATE_STYLE[state], end="")


def duration(seconds: float | None, done: bool = False) -> str:
    """Duration: 45s, 12m05s, 3h05m, 2d4h; empty when unknown.

    While it still grows (`done` False) it is coarse: <10s, then 10 s steps, then whole
    minutes, so a running task's or node's line changes at most every 10 s instead of being
    repainted (and re-sent over SSH) on every poll. A finished one never changes: exact.
    """
    if seconds is None or seconds < 0:
        return ""
    s = int(seconds)
    if s < 60:
        if done:
            return f"{s}s"
        return "<10s" if s < 10 else f"{s - s % 10}s"
    if s < 3600:
        if done and s < 600:
            return f"{s // 60}m{s % 60:02d}s"
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"


def age(seconds: float | None) -> str:
    """How old the data is, coarse enough that it rarely changes: 4s, 2m, 1h."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


STALE_AFTER = 120.0  # seconds; finished tasks are re-polled every 60 s, so fresh data is younger


def stale_age(seconds: float | None, failing: bool) -> str:
    """The data's age for the job list, only when it deserves a look (polls failing, or older
    than STALE_AFTER), in minutes so a row repaints at most once a minute; "" while fresh."""
    if seconds is None:
        return "-" if failing else ""
    if not failing and seconds < STALE_AFTER:
        return ""
    return "<1m" if seconds < 60 else age(seconds)


def fit(text: str, width: int) -> str:
    """Cut or pad to exactly `width` cells (wide CJK glyphs counted as two)."""
    n = len(text) if text.isascii() else cell_len(text)
    if n > width:
        t = Text(text, end="")
        t.truncate(max(0, width - 1))
        return t.plain + "…"
    return text + " " * (width - n)


def clock_hms(at: float | None) -> str:
    if at is None:
        return "--:--:--"
    return time.strftime("%H:%M:%S", time.localtime(at))
