"""What polls change reaches the terminal at most once a second, as one frame.

Twenty running tasks answer their polls at twenty different moments, and each poll applied in
its own batch was its own frame: a progress count of two characters cost a cursor move, the
colours, a reset and the cursor's return (about 40 bytes), several times a second. `FramePace`
holds the screen's writes from the first poll of a window to its end (`PACE_SECONDS`), so every
poll, tick and log line of that second is written as one frame, and the terminal's title (which
the counts change with every poll) once with it. The model and the widgets are
updated at once; only the terminal waits. Whatever the user does (a key, the mouse, a resize)
writes what is held at once, so the screen answers the hand as fast as before.

A headless app (the tests' `run_test`) writes nothing to a terminal: nothing is held there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from textual.app import App, ScreenStackError
from textual.timer import Timer

PACE_SECONDS = 1.0


class FramePace:
    """The app's screen writes held for at most `seconds` after `hold()`, or until `release()`."""

    def __init__(self, app: App[Any], seconds: float = PACE_SECONDS) -> None:
        self.app = app
        self.seconds = seconds
        self._batch: AbstractContextManager[None] | None = None
        self._timer: Timer | None = None
        self._then: list[Callable[[], None]] = []
        self.always = False  # hold on a headless app too (tests, to see what is held)

    @property
    def holding(self) -> bool:
        return self._batch is not None

    def hold(self) -> None:
        """What changes from now on is written when the window ends (opened now if none is)."""
        if self.holding or not self.app.is_running:
            return
        if self.app.is_headless and not self.always:
            return
        batch = self.app.batch_update()
        batch.__enter__()
        self._batch = batch
        self._timer = self.app.set_timer(self.seconds, self._expire, name="frame-pace")

    def then(self, callback: Callable[[], None]) -> None:
        """Run `callback` with the held frame (now when nothing is held): what is written to the
        terminal beside the screen, such as its title, goes with the frame it belongs to."""
        if not self.holding:
            callback()
        elif callback not in self._then:
            self._then.append(callback)

    def _expire(self) -> None:
        self._timer = None  # this timer has fired: nothing to stop
        self.release()

    def release(self) -> None:
        """Write what is held now: a key, a click or a resize does not wait for the window."""
        batch, self._batch = self._batch, None
        if batch is None:
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        batch.__exit__(None, None, None)
        then, self._then = self._then, []
        for callback in then:
            callback()
        # The screen's repaint waits for its next idle: prompt it, as Textual's own batch does.
        with contextlib.suppress(ScreenStackError):  # no screen left: the app is closing
            self.app.screen.check_idle()
