"""At most every N seconds: the one throttle of the toasts, the last-seen saves and the log.

Each of them costs (a toast a layout pass, a save an fsync, a log write a repaint of the log), and
polls can ask for them many times a second. The first request runs at once; requests within the
next N seconds share one timer, which runs the flush when the time is up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.timer import Timer


class Throttle:
    """`flush()` (which returns whether it did anything) run at most every `seconds`."""

    def __init__(
        self,
        seconds: float,
        flush: Callable[[], bool],
        set_timer: Callable[[float, Callable[[], None]], Timer],
    ) -> None:
        self.seconds = seconds
        self._flush = flush
        self._set_timer = set_timer
        self.timer: Timer | None = None
        self.ran_at = float("-inf")  # monotonic: when flush last did something

    def soon(self, *, now: bool = False) -> None:
        """Flush at once if the last flush is `seconds` old (or `now`), else when it will be."""
        if self.timer is not None:
            return
        since = time.monotonic() - self.ran_at
        if now or since >= self.seconds:
            self.run()
        else:
            self.timer = self._set_timer(self.seconds - since, self.run)

    def run(self) -> None:
        """Flush now (what the timer does when the time is up)."""
        self.timer = None
        if self._flush():
            self.ran_at = time.monotonic()

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
