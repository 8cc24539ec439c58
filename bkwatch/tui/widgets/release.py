"""What the screen gives back once a minute (`BkWatchApp` schedules `release`): Textual's shared
caches that keep what filled them after it closed, then the garbage and free heap
(`memtrim.release`).

Textual 8.2.8 (`_styles_cache.py`) caches `StylesCache.get_inner_outer` with `lru_cache(1024)` on
the method, so the key holds the widget's `StylesCache`: up to 1,024 of them stay alive after
their widgets are gone, each with the strips of every line it drew (a closed log view: 50 lines
of 200 cells). `Strip.blank` keeps up to 1,024 blank strips, and each blank strip's own caches
fill with the crops and styles made from it. Both refill within a frame, with a few entries.
Measured on the monitor's workload (`python -m tests.monitor_run`): after 90 s, 739
`StylesCache`s alive for 44 widgets, holding 1,218 lines.
"""

from __future__ import annotations

from textual._styles_cache import StylesCache
from textual.strip import Strip

from bkwatch import memtrim

RELEASE_SECONDS = memtrim.RELEASE_SECONDS


def forget_textual_caches() -> None:
    """Empty the Textual caches above (what is on screen refills them at the next frame)."""
    for cached in (StylesCache.get_inner_outer, Strip.blank):
        clear = getattr(cached, "cache_clear", None)
        if clear is not None:  # a Textual without these caches: nothing to do
            clear()


def release() -> None:
    forget_textual_caches()
    memtrim.release()
