"""A dialog's backdrop that can never draw itself again.

Textual (8.2.8, pinned) draws a screen with a translucent background — every dialog and view
here — over the screen beneath it: the screen's visual is a `BackgroundScreen` of that screen,
which draws its compositor, whose root is that screen, whose visual is its own backdrop, and so
on down the stack. A screen keeps its visual (`_layout_cache`) until it is refreshed, so the
chain follows what was beneath each screen when it last drew, not what is beneath it now. The
long monkey (docs/reliability.md) met, about once in 10,000 keys typed without waiting, a chain
that came back to a screen it was already drawing; the recursion went on until Python's limit
and ended the monitor.

`install()` makes a backdrop that is already being drawn, higher up the same chain, draw as
blank cells under the dialog's tint for that frame and forgets the visuals the screens kept, so the next
frame draws the stack as it is now. The backdrop's segments are drawn where the chain is known
(not left to a generator read later), which costs one list of a screen's segments.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

from rich.segment import Segment
from textual.renderables.background_screen import BackgroundScreen

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions
    from textual.app import App

_VISUAL = "_render.visual"  # Textual's key for a widget's visual in its `_layout_cache`
_DRAWING: ContextVar[tuple[int, ...]] = ContextVar("bkwatch_backdrops_drawing", default=())
_INSTALLED: list[bool] = []
cycles_met = 0  # how many times a chain came back on itself (read by the tests)


def _forget_visuals(app: App[object]) -> None:
    for screen in app.screen_stack:
        screen._layout_cache.pop(_VISUAL, None)
    app.call_later(app.screen.refresh)


def _blank(width: int, height: int) -> Iterator[Segment]:
    for _ in range(height):
        yield Segment(" " * width)
        yield Segment.line()


def _draw(self: BackgroundScreen, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
    global cycles_met
    screen = self.screen
    drawing = _DRAWING.get()
    if id(screen) in drawing:
        cycles_met += 1
        _forget_visuals(screen.app)
        width, height = options.max_width, options.height or console.height
        return iter(self.process_segments(_blank(width, height), self.color))
    token = _DRAWING.set((*drawing, id(screen)))
    try:
        segments: Iterable[Segment] = list(console.render(screen._compositor, options))
    finally:
        _DRAWING.reset(token)
    return iter(self.process_segments(segments, self.color))


def install() -> None:
    """Replace how a backdrop is drawn (idempotent)."""
    if _INSTALLED:
        return
    _INSTALLED.append(True)
    BackgroundScreen.__rich_console__ = _draw  # type: ignore[method-assign,assignment]
