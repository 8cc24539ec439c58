"""Run every benchmark, each in its own process, and write benchmarks/RESULTS.md.

python -m benchmarks [--quick] [--only NAME ...]   (--quick / --only print the table instead)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine

ORDER = [
    "payloads",
    "polling",
    "scopes",
    "memory",
    "scale",
    "screen",
    "startup",
    "terminal_bytes",
    "evidence",
    "record",
]
HERE = Path(__file__).parent


def _fmt(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"


def render(rows: list[dict], failures: dict[str, str], info: dict[str, str], quick: bool) -> str:
    out = [
        "# bkwatch benchmarks",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, {info['date']} "
        f"(load average at start {info['load']}; the machine is shared, figures are noisy).",
        f"Mode: {'--quick smoke run' if quick else 'full run'}. Regenerate with `python -m benchmarks`.",
        "",
        "| Benchmark | Figure | Value | Baseline (same run) | Ratio | Target | Met |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "n/a"}[r["met"]]
        base = f"{_fmt(r['baseline'])} ({r['baseline_what']})" if r["baseline"] is not None else "—"
        out.append(
            f"| {r['bench']} | {r['what']} | {_fmt(r['value'])} {r['unit']} | {base} | "
            f"{_fmt(r['ratio'])} | {r['target']} | {met} |"
        )
    out += ["", "## Notes", ""]
    for r in rows:
        for n in r["notes"]:
            out.append(f"* {r['bench']} — {r['what']}: {n}")
    for name, err in failures.items():
        out.append(f"* {name}: did not complete: {err}")
    return "\n".join(out) + "\n"


def _run(cmd: list[str], limit: float = 600.0) -> tuple[int | None, str, str]:
    """One benchmark module in its own process group: past `limit` the group is killed (the
    module and the simulator it started) and the run goes on to the next module (returncode
    None)."""
    proc = subprocess.Popen(
        cmd,
        cwd=HERE.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=limit)
        returncode: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        stdout, stderr, returncode = "", f"stopped after {limit:.0f} s", None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever the module left running, too
        proc.wait()
    return returncode, stdout, stderr


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Run every bkwatch benchmark and write RESULTS.md.")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", choices=ORDER)
    args = ap.parse_args(argv)
    info = machine()
    rows: list[dict] = []
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or ORDER:
            out = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, "-m", f"benchmarks.{name}", "--json", str(out)]
            if args.quick:
                cmd.append("--quick")
            print(f"== {name}", flush=True)
            t0 = time.monotonic()
            returncode, stdout, stderr = _run(cmd)
            print(stdout, end="")
            if returncode != 0 or not out.exists():
                tail = (stderr.strip().splitlines() or ["no output"])[-1]
                failures[name] = tail
                print(stderr[-2000:], file=sys.stderr)
                continue
            rows += json.loads(out.read_text())
            print(f"   ({time.monotonic() - t0:.0f} s)", flush=True)
    text = render(rows, failures, info, args.quick)
    if args.quick or args.only:
        # A partial or smoke run must not replace the recorded full results.
        print(text)
    else:
        (HERE / "RESULTS.md").write_text(text)
        print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
