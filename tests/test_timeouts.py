"""The suite never hangs: a test over its time limit is reported failed and the run goes on, also
when pytest runs the way a background shell starts it (SIGINT ignored, stdin /dev/null)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.procs import spawned

HUNG_TESTS = """
import asyncio
import subprocess
import sys
import threading

import pytest

DEAF = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print(flush=True); time.sleep(600)"


@pytest.mark.timeout(1)
def test_hung_waiting_for_a_child():
    proc = subprocess.Popen([sys.executable, "-c", DEAF], stdout=subprocess.PIPE)
    try:
        proc.stdout.readline()  # SIGINT ignored from here on
        proc.send_signal(2)  # SIGINT: ignored, as by `bkwatch sim` started from a background shell
        proc.wait()  # no limit: what hung the suite
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.timeout(1)
async def test_hung_in_the_event_loop():
    await asyncio.sleep(600)


@pytest.mark.timeout(1)
def test_hung_on_an_event():
    threading.Event().wait()


def test_after_the_hung_ones():
    assert sum(range(4)) == 6
"""


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.timeout(90)
def test_a_hung_test_fails_and_the_run_goes_on_in_a_background_shell(tmp_path: Path) -> None:
    (tmp_path / "test_hung.py").write_text(HUNG_TESTS)
    argv = [
        *(sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)),
        *("-o", "asyncio_mode=auto", "-o", "timeout_method=signal", "test_hung.py"),
    ]  # fmt: skip
    started = time.monotonic()
    with spawned(
        argv,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ignore_sigint,
    ) as proc:
        out, _ = proc.communicate(timeout=75)
    took = time.monotonic() - started
    assert proc.returncode == 1, out
    assert "3 failed, 1 passed" in out, out
    for name in ("test_hung_waiting_for_a_child", "test_hung_in_the_event_loop", "test_hung_on_an_event"):
        assert f"FAILED test_hung.py::{name} - Failed: Timeout" in out, out
    assert took < 60, f"the run took {took:.0f} s"
