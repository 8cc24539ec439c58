"""Memory given back while the monitor runs: a full garbage collection, then glibc's
`malloc_trim`, once a minute (`BkWatchApp` schedules `release`).

The screen leaves cyclic garbage on every key and focus change (see `bkwatch.tune_gc`); between
the full collections CPython runs on its own, up to a quarter of the long-lived objects is such
garbage, and the heap it spreads over stays in the process. Measured on the monitor's long-run
workload (`python -m tests.longrun --monitor`): 92.5 MiB at minute 7 with a collection and a trim
each minute, 100.4 MiB without. A full collection of the monitor's ~200,000 objects takes tens
of milliseconds, once a minute.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from functools import cache

RELEASE_SECONDS = 60.0


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where there is none (musl, macOS)."""
    import ctypes  # lazy: first needed a minute in; not before the first rows (0.4 MiB, 2 ms)
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def release() -> None:
    """Free the cyclic garbage now and hand the heap's free pages back to the system."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
