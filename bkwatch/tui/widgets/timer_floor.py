"""A Textual timer whose delay has already passed fires at once, instead of freezing the monitor.

Textual (8.2.8, pinned) runs a timer as a loop that skips the ticks it missed; with a delay at
or below zero that loop never ends and never yields, so the whole monitor stops: no key, no
poll, no frame. A notification's toast sets its timer to the time its notification has left,
read a moment after the notifications still alive were chosen; under load that time can be a
few microseconds below zero (the long monkey's seed 3002 froze the monitor that way after about
2,500 keys: a one-shot timer of -76 µs). `install()` gives every timer a delay of at least
`FLOOR`, so such a timer fires at its next turn, as one whose time has come.
"""

from __future__ import annotations

from typing import Any

from textual.timer import Timer

FLOOR = 0.001  # seconds: above zero, below anything a person or a poll could notice
_INSTALLED: list[bool] = []


def install() -> None:
    """Make every Textual timer made from now on wait at least `FLOOR` (idempotent)."""
    if _INSTALLED:
        return
    _INSTALLED.append(True)
    made = Timer.__init__

    def floored(self: Timer, event_target: Any, interval: float, *args: Any, **kwargs: Any) -> None:
        made(self, event_target, max(interval, FLOOR), *args, **kwargs)

    Timer.__init__ = floored  # type: ignore[method-assign]
