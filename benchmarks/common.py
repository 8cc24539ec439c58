"""Shared pieces of the benchmarks: a simulator in its own process, profiles pointing at it,
process CPU readings, result rows and the command line every script accepts."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from bkwatch.config import Profile
from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME


@dataclass
class Row:
    """One line of RESULTS.md: a figure, its same-run baseline and the target on their ratio."""

    bench: str
    what: str
    value: float
    unit: str
    baseline: float | None
    baseline_what: str
    ratio: float | None
    target: str
    met: bool | None  # None: not measurable in this run (said why in notes)
    notes: list[str] = field(default_factory=list)


def parser(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", help="short smoke run")
    ap.add_argument("--json", metavar="PATH", help="also write the result rows as JSON here")
    return ap


def emit(rows: Sequence[Row], json_path: str | None) -> None:
    """Print the rows; with a path, also write them for `python -m benchmarks` to collect."""
    for r in rows:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "n/a"
        verdict = {True: "MET", False: "NOT MET", None: "n/a"}[r.met]
        base = f"{r.baseline:,.3f}" if r.baseline is not None else "n/a"
        print(f"[{r.bench}] {r.what}: {r.value:,.3f} {r.unit} | baseline ({r.baseline_what}) {base}")
        print(f"    ratio {ratio}  target {r.target}  -> {verdict}")
        for n in r.notes:
            print(f"    - {n}")
    if json_path:
        Path(json_path).write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=1))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def sim_profile(base_url: str) -> Profile:
    """A profile for a simulator: the gateway for the systems that have one, ESB for GSEKit."""
    return Profile(
        name="bench",
        esb_url=base_url,
        apigw_tmpl=f"{base_url}/api/{{api_name}}",
        app_code=DEMO_APP_CODE,
        app_secret=DEMO_APP_SECRET,
        username=DEMO_USERNAME,
    )


def sim_env(base_url: str) -> dict[str, str]:
    """The same profile as BK_* variables, for a `bkwatch` child process."""
    return {
        "BK_COMPONENT_API_URL": base_url,
        "BK_API_URL_TMPL": f"{base_url}/api/{{api_name}}",
        "BK_APP_CODE": DEMO_APP_CODE,
        "BK_APP_SECRET": DEMO_APP_SECRET,
        "BK_USERNAME": DEMO_USERNAME,
    }


@dataclass
class SimProcess:
    proc: subprocess.Popen[str]
    base_url: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def targets(self) -> list[str]:
        """Every task the simulated world holds, as canonical targets."""
        r = httpx.get(self.base_url + "/_sim/tasks", timeout=30)
        r.raise_for_status()
        return [t["target"] for t in r.json()["tasks"]]

    def force(self, target: str, state: object, **unit: object) -> None:
        r = httpx.post(
            f"{self.base_url}/_sim/tasks/{target}/force", json={"state": state, **unit}, timeout=30
        )
        r.raise_for_status()


@contextmanager
def sim_process(*args: str) -> Iterator[SimProcess]:
    """`bkwatch sim --port 0 ARGS` in a child process (its own GIL), stopped on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bkwatch", "sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base_url = ""
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("simulator exited before printing its URL")
            if line.startswith("ESB base URL"):
                base_url = line.rsplit(" ", 1)[1].strip()
                break
        if not base_url:
            raise RuntimeError("simulator did not start within 60 s")
        yield SimProcess(proc, base_url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def usable(targets: Sequence[str]) -> list[str]:
    """Drop the tasks the simulator makes unreachable on purpose (BKFlow space 7 is another app's)."""
    return [t for t in targets if not t.startswith("bkflow:7:")]


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]
