"""Running the real `bkwatch` executable on an isolated watch list against a simulator process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import sim_env

# A finished task's raw state, per system, as the simulator lists it.
TERMINAL_RAW = frozenset(
    {"3", "4", "FINISHED", "FAILED", "REVOKED", "SUCCESS", "PART_FAILED", "succeeded", "failed"}
)


def bkwatch_argv() -> list[str]:
    """The installed console script when there is one, else the module."""
    exe = shutil.which("bkwatch") or str(Path(sys.executable).with_name("bkwatch"))
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "bkwatch"]


@dataclass
class Isolated:
    env: dict[str, str]  # to pass to the child: temp XDG dirs + BK_* for the simulator
    argv: list[str]


@contextmanager
def isolated_watch(base_url: str, targets: Sequence[str]) -> Iterator[Isolated]:
    """Temp XDG dirs holding a watch list of `targets`; nothing of the user's config is read."""
    with tempfile.TemporaryDirectory(prefix="bkwatch-bench-") as tmp:
        env = {
            "XDG_DATA_HOME": f"{tmp}/data",
            "XDG_CONFIG_HOME": f"{tmp}/config",
            "XDG_STATE_HOME": f"{tmp}/state",
            "XDG_CACHE_HOME": f"{tmp}/cache",
            **sim_env(base_url),
        }
        for key in list(os.environ):
            if key.startswith(("BK_", "BKWATCH_")) and key not in env:
                env[key] = ""  # an override from the caller's shell must not leak in
        argv = bkwatch_argv()
        full = {**os.environ, **env}
        subprocess.run([*argv, "add", *targets], env=full, check=True, capture_output=True, timeout=60)
        yield Isolated(env, argv)
