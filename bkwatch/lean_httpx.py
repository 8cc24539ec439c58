"""httpx, imported without the optional parts bkwatch never uses: the client imports it from here.

httpx imports its own command line when click is installed — and uvicorn, which the simulator
needs, installs it: ~30 ms of start-up for a module bkwatch never uses. httpcore imports trio
wherever it is installed, to pick its locks when it runs under trio; bkwatch runs on asyncio only,
and trio's import is ~60 ms before the first poll can leave.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

UNUSED_MODULES = ("httpx._main", "trio")


@contextlib.contextmanager
def hidden(names: tuple[str, ...]) -> Iterator[None]:
    """Make `import name` fail for the duration (a None entry in sys.modules), then restore."""
    added = [n for n in names if n not in sys.modules]
    for n in added:
        sys.modules[n] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for n in added:
            if n in sys.modules and sys.modules[n] is None:
                del sys.modules[n]


with hidden(UNUSED_MODULES):
    import httpcore  # noqa: F401  (httpx imports it on first use; keep that inside the guard)
    import httpx

__all__ = ["httpx"]
