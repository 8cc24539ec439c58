"""Signals to the terminal itself: window title, bell, desktop notifications (OSC 9 / 777)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from textual.app import App

from bkwatch.model import State
from bkwatch.text import one_line
from bkwatch.tui.widgets.fmt import glyph

_ORDER = [
    (State.FAILED, "failed"),
    (State.WAITING, "waiting"),
    (State.RUNNING, "running"),
    (State.PENDING, "pending"),
    (State.STOPPED, "stopped"),
    (State.SUCCEEDED, "done"),
    (State.UNKNOWN, "unknown"),
]


def summary(counts: Mapping[State | None, int]) -> str:
    """'3 running, 1 failed' — attention first."""
    parts = [f"{counts[s]} {word}" for s, word in _ORDER if counts.get(s)]
    if counts.get(None):
        parts.append(f"{counts[None]} no data")
    return ", ".join(parts) or "nothing watched"


def summary_short(counts: Mapping[State | None, int], ascii_only: bool = False) -> str:
    """'✖1 ▶3' — `summary` in state glyphs, for a status line a narrow terminal would cut."""
    parts = [f"{glyph(s, ascii_only)}{counts[s]}" for s, _word in _ORDER if counts.get(s)]
    if counts.get(None):
        parts.append(f"{counts[None]} no data")
    return " ".join(parts) or "nothing watched"


def _osc_safe(text: str) -> str:
    # OSC payloads end at BEL/ST and 777 splits on ';': keep both out of server text.
    return one_line(text).replace(";", ",")[:200]


class TerminalSignals:
    def __init__(
        self,
        app: App[object],
        *,
        bell: bool,
        desktop: bool,
        pace: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self.app = app
        self.bell_enabled = bell
        self.desktop_enabled = desktop
        self.title = ""  # the title as it stands (written with the next frame: `pace`)
        self._title_sent = ""
        self._pace = pace  # runs a write with the frame being held (`FramePace.then`)
        self.sent: list[str] = []  # desktop notifications sent (tests read it)
        self._last_bell = 0.0

    def _write(self, data: str) -> None:
        driver = getattr(self.app, "_driver", None)  # App.copy_to_clipboard writes the same way
        if driver is not None and not self.app.is_headless:
            driver.write(data)

    def set_title(self, title: str) -> None:
        if title != self.title:
            self.title = title
            if self._pace is None:
                self._send_title()
            else:  # polls change the counts many times a second: once per frame is enough
                self._pace(self._send_title)

    def _send_title(self) -> None:
        if self.title != self._title_sent:
            self._title_sent = self.title
            self._write(f"\x1b]2;{_osc_safe(self.title)}\x07")

    def ring(self, now: float) -> None:
        if self.bell_enabled and now - self._last_bell >= 5.0:  # a burst of failures rings once
            self._last_bell = now
            self.app.bell()

    def desktop(self, title: str, body: str) -> None:
        if not self.desktop_enabled:
            return
        t, b = _osc_safe(title), _osc_safe(body)
        self.sent.append(f"{t}: {b}")
        self._write(f"\x1b]777;notify;{t};{b}\x07")
        self._write(f"\x1b]9;{t}: {b}\x07")
