"""`bkwatch sim`, the monitor and `bkwatch demo` stop cleanly on SIGTERM (what a service manager or
a script sends), also when SIGINT is ignored (a background shell): exit status 0, the terminal
given back, the server's port closed."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from benchmarks.common import sim_process, usable
from benchmarks.tuiproc import bkwatch_argv, isolated_watch
from tests.procs import spawned

LEAVE_ALT_SCREEN = b"\x1b[?1049l"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _in_a_terminal(argv: Sequence[str], env: dict[str, str], marker: bytes, sig: int) -> tuple[int, bytes]:
    """Run argv in a pseudo-terminal with SIGINT ignored; once `marker` is on screen, send `sig`.
    The exit status and everything written."""
    parent, child = os.openpty()
    full = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40", **env}
    out = b""
    try:
        with spawned(
            argv, stdin=child, stdout=child, stderr=child, env=full, preexec_fn=_ignore_sigint
        ) as proc:
            os.close(child)
            child = -1
            deadline = time.monotonic() + 40
            sent_at: float | None = None
            while proc.poll() is None and time.monotonic() < deadline:
                if sent_at is None and marker in out:
                    time.sleep(0.5)  # a screen or two more
                    proc.send_signal(sig)
                    sent_at = time.monotonic()
                    deadline = sent_at + 10  # stopping must be quick
                if select.select([parent], [], [], 0.1)[0]:
                    try:
                        out += os.read(parent, 65536)
                    except OSError:
                        break
            assert sent_at is not None, out[-1500:]
            code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        if child >= 0:
            os.close(child)
        os.close(parent)
    return code, out


@pytest.mark.timeout(60)
def test_sim_stops_on_sigterm_with_sigint_ignored() -> None:
    argv = [*bkwatch_argv(), "sim", "--port", "0", "--frozen"]
    with spawned(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=_ignore_sigint,
    ) as proc:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().decode() for _ in range(6)]
        url = next(line.rsplit(" ", 1)[1].strip() for line in lines if line.startswith("ESB base URL"))
        address = urlsplit(url)
        socket.create_connection((address.hostname, address.port), timeout=5).close()  # listening
        proc.send_signal(signal.SIGINT)  # ignored, as from a background shell
        time.sleep(0.5)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err
    with pytest.raises(OSError):  # the port was closed by the server, not by the process dying
        socket.create_connection((address.hostname, address.port), timeout=2).close()


@pytest.mark.timeout(90)
def test_monitor_stops_on_sigterm_and_restores_the_terminal() -> None:
    with (
        sim_process("--seed", "3", "--no-arrivals", "--tasks-per-system", "2") as sim,
        isolated_watch(sim.base_url, usable(sim.targets())[:4]) as iso,
    ):
        code, out = _in_a_terminal(iso.argv, iso.env, b"JOB", signal.SIGTERM)
    assert code == 0, out[-1500:]
    assert out.rfind(LEAVE_ALT_SCREEN) > out.rfind(b"JOB"), "the terminal was given back"
    assert b"Traceback" not in out


@pytest.mark.timeout(90)
def test_demo_stops_on_sigterm_and_restores_the_terminal(tmp_path: Path) -> None:
    home = {v: str(tmp_path / v.lower()) for v in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")}
    code, out = _in_a_terminal([sys.executable, "-m", "bkwatch", "demo"], home, b"JOB", signal.SIGTERM)
    assert code == 0, out[-1500:]
    assert out.rfind(LEAVE_ALT_SCREEN) > out.rfind(b"JOB"), "the terminal was given back"
    assert b"Traceback" not in out
