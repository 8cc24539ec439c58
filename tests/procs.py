"""Child processes in tests: every one is stopped, whatever the test's outcome.

`stop` sends SIGTERM, waits a grace period, then SIGKILL, and always reaps the child; `spawned`
is `subprocess.Popen` with `stop` in a `finally`. SIGINT is never relied on: a shell running the
suite in the background starts its children with SIGINT ignored.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Sequence
from typing import Any

GRACE = 5.0  # seconds a child gets to exit after SIGTERM before SIGKILL


def stop(proc: subprocess.Popen[Any], grace: float = GRACE) -> int:
    """Terminate `proc`, kill it if it is still there after `grace` seconds; its exit status."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            return proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    return proc.wait()


@contextlib.contextmanager
def spawned(argv: Sequence[str], grace: float = GRACE, **popen: Any) -> Iterator[subprocess.Popen[Any]]:
    """`Popen(argv, **popen)`, stopped (and its pipes closed) when the block ends."""
    proc = subprocess.Popen(list(argv), **popen)
    try:
        yield proc
    finally:
        stop(proc, grace)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
