"""Run a program in a pseudo-terminal and measure what it writes: bytes per second, and the
time until a marker first appears on screen. This is what an SSH link would carry."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class PtyResult:
    bytes_total: int
    seconds: float
    first_marker_at: float | None  # seconds from exec until the marker appeared
    cpu_seconds: float
    warmup_bytes: int = 0  # written before counting began (start-up, first paint)
    exited: bool = False  # the program ended by itself before the window closed

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_total / self.seconds if self.seconds else 0.0


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, IndexError, ValueError):
        return 0.0


def _stop(pid: int) -> None:
    """SIGTERM, then SIGKILL after two seconds; always reap the child."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.perf_counter() + 2
        while time.perf_counter() < deadline:
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return
            time.sleep(0.05)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def run_in_pty(
    argv: Sequence[str],
    *,
    cols: int = 160,
    rows: int = 48,
    env: dict[str, str] | None = None,
    warmup: float = 4.0,
    measure: float = 10.0,
    marker: bytes | None = None,
    marker_timeout: float = 30.0,
    record: bytearray | None = None,
) -> PtyResult:
    """Start argv in a pty; discard `warmup` seconds of output, then count bytes for `measure`.

    With a marker, returns as soon as the marker has been seen (warmup/measure unused) and
    reports the time from exec to the first byte of output containing it. `record` receives the
    counted bytes, to see what was written.
    """
    full_env = dict(os.environ)
    full_env.update({"TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)})
    full_env.pop("COLORTERM", None)
    if env:
        full_env.update(env)
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvpe(argv[0], list(argv), full_env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    total = 0
    seen_at: float | None = None
    window = b""
    counting_from = start + warmup
    stop_at = counting_from + measure if marker is None else start + marker_timeout
    cpu_start = 0.0
    counting = False
    early = 0
    exited = False
    try:
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                break
            if marker is None and not counting and now >= counting_from:
                counting = True
                cpu_start = _cpu_seconds(pid)
            ready, _, _ = select.select([fd], [], [], min(0.05, max(0.0, stop_at - now)))
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                exited = True
                break
            if not chunk:
                exited = True
                break
            if marker is not None:
                window = (window + chunk)[-(len(marker) + 65536) :]
                if marker in window:
                    seen_at = time.perf_counter() - start
                    break
            elif counting:
                total += len(chunk)
                if record is not None:
                    record += chunk
            else:
                early += len(chunk)
        cpu = _cpu_seconds(pid) - cpu_start
    finally:
        _stop(pid)
        os.close(fd)
    seconds = measure if marker is None else (seen_at or 0.0)
    return PtyResult(total, seconds, seen_at, cpu, early, exited)


class PtySession:
    """An interactive program in a pseudo-terminal: send keys and signals, keep every byte it
    writes. Tests use it to assert on what actually reaches a terminal."""

    def __init__(
        self, argv: Sequence[str], *, cols: int = 160, rows: int = 48, env: dict[str, str] | None = None
    ) -> None:
        full_env = dict(os.environ)
        full_env.update({"TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)})
        full_env.pop("COLORTERM", None)
        if env:
            full_env.update(env)
        self.output = bytearray()
        self.exited = False
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child
            os.execvpe(argv[0], list(argv), full_env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def read_for(self, seconds: float) -> bytes:
        """What the program writes in the next `seconds` (also appended to `output`)."""
        got = bytearray()
        stop_at = time.perf_counter() + seconds
        while not self.exited and (left := stop_at - time.perf_counter()) > 0:
            ready, _, _ = select.select([self.fd], [], [], min(0.05, left))
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.exited = True
                break
            got += chunk
        self.output += got
        return bytes(got)

    def wait_for(self, marker: bytes, timeout: float = 30.0) -> bool:
        """Read until `marker` has appeared in the output (True) or `timeout` passed (False)."""
        start = len(self.output)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and not self.exited:
            self.read_for(0.1)
            if marker in self.output[max(0, start - len(marker)) :]:
                return True
        return False

    def send(self, data: str | bytes) -> None:
        os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.pid)

    def close(self) -> None:
        _stop(self.pid)
        os.close(self.fd)

    def __enter__(self) -> PtySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
