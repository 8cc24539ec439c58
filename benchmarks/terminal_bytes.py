"""Bytes bkwatch writes to a 160x48 xterm-256color pty, what an SSH link carries, vs htop.

(a) idle: 50 finished tasks, nothing changing (frozen simulator); target <= 1/20 of htop's B/s.
(b) busy: 20 running tasks changing every few seconds (simulator at --speed 3); target <= htop.
htop runs at its default delay in the same pty size, measured in the same run.

python -m benchmarks.terminal_bytes [--quick]
"""

from __future__ import annotations

import os
import re
import shutil

from benchmarks.common import Row, emit, parser, sim_process, usable
from benchmarks.ptyrun import PtyResult, run_in_pty
from benchmarks.tuiproc import TERMINAL_RAW, isolated_watch

WARMUP = 5.0  # start-up and first polls are not the steady state
_TOKEN = re.compile(
    rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\\\)|\x1b\[\?[\d;$]*[hlp]|\x1b\[[\d;]*[A-Za-z]|\x1b.|\r\n|[\r\n]|[^\x1b\r\n]+",
    re.S,
)


def byte_classes(data: bytes) -> dict[str, int]:
    """What the bytes written were: text, colours (SGR), cursor moves, scrolls, the title and other
    OSC, synchronized-update wrappers and other modes."""
    out: dict[str, int] = {}
    for m in _TOKEN.finditer(data):
        tok = m.group(0)
        if tok.startswith(b"\x1b]"):
            kind = "title and other OSC"
        elif tok.startswith(b"\x1b[?2026"):
            kind = "synchronized-update wrappers"
        elif tok.startswith(b"\x1b[?"):
            kind = "other modes"
        elif tok.startswith(b"\x1b[") and tok.endswith(b"m"):
            kind = "colours (SGR)"
        elif (tok.startswith(b"\x1b[") and tok[-1:] in b"HC") or tok in (b"\r\n", b"\r"):
            kind = "cursor moves"
        elif (tok.startswith(b"\x1b[") and tok.endswith(b"r")) or tok in (b"\n", b"\x1bM"):
            kind = "scrolls"
        elif tok.startswith(b"\x1b"):
            kind = "other escapes"
        else:
            kind = "text"
        out[kind] = out.get(kind, 0) + len(tok)
    return out


def _sim_tasks(base_url: str) -> list[tuple[str, str]]:
    import httpx

    data = httpx.get(base_url + "/_sim/tasks", timeout=30).json()["tasks"]
    return [(t["target"], t["state"]) for t in data]


def _bkwatch(base_url: str, targets: list[str], seconds: float, record: bytearray | None = None) -> PtyResult:
    with isolated_watch(base_url, targets) as iso:
        return run_in_pty(iso.argv, env=iso.env, warmup=WARMUP, measure=seconds, record=record)


def _pick(tasks: list[tuple[str, str]], n: int, finished: bool) -> list[str]:
    ok = usable([t for t, s in tasks if (s in TERMINAL_RAW) == finished])
    by_system: dict[str, list[str]] = {}
    for t in ok:
        by_system.setdefault(t.split(":", 1)[0], []).append(t)
    out: list[str] = []
    while len(out) < n and any(by_system.values()):
        for q in by_system.values():
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    idle_s, busy_s = (8.0, 8.0) if args.quick else (30.0, 30.0)
    htop = shutil.which("htop") or ("/usr/bin/htop" if os.path.exists("/usr/bin/htop") else None)
    rows: list[Row] = []

    with sim_process("--frozen", "--no-arrivals", "--tasks-per-system", "40") as sim:
        idle_targets = _pick(_sim_tasks(sim.base_url), 50, finished=True)
        idle = _bkwatch(sim.base_url, idle_targets, idle_s)
    h_idle = run_in_pty([htop], warmup=WARMUP, measure=idle_s) if htop else None

    busy_args = ["--speed", "3", "--no-arrivals", "--tasks-per-system", "12"]
    busy_args += ["--job-hosts", "200", "--pipeline-nodes", "200", "--nodeman-hosts", "200"]
    with sim_process(*busy_args) as sim:
        busy_targets = _pick(_sim_tasks(sim.base_url), 20, finished=False)
        written = bytearray()
        busy = _bkwatch(sim.base_url, busy_targets, busy_s, written)
        still = sum(1 for t, s in _sim_tasks(sim.base_url) if t in busy_targets and s not in TERMINAL_RAW)
    h_busy = run_in_pty([htop], warmup=WARMUP, measure=busy_s) if htop else None

    for label, res, base, n, secs, limit, target in (
        ("idle", idle, h_idle, len(idle_targets), idle_s, 1 / 20, "<= 0.05 (1/20 of htop)"),
        ("busy", busy, h_busy, len(busy_targets), busy_s, 1.0, "<= 1.0 (htop's rate)"),
    ):
        notes = [
            f"{n} tasks, {secs:g} s measured after {WARMUP:g} s warm-up; bkwatch CPU "
            f"{res.cpu_seconds / secs * 100:.1f} % of a core"
            + (f", htop {base.cpu_seconds / secs * 100:.1f} %" if base else "")
        ]
        notes.append(
            f"bkwatch wrote {res.warmup_bytes:,} bytes during the warm-up (start-up and first paint)"
        )
        if res.exited:
            notes.append("bkwatch exited before the end of the window: figure not valid")
        if label == "busy":
            notes.append(f"{still} of the {n} tasks were still running at the end of the window")
            by_kind = sorted(byte_classes(bytes(written)).items(), key=lambda kv: -kv[1])
            notes.append("bytes by kind: " + ", ".join(f"{k} {v / secs:,.0f} B/s" for k, v in by_kind))
        if base is None:
            notes.append("htop not installed: no baseline, ratio skipped")
        ratio = res.bytes_per_second / base.bytes_per_second if base and base.bytes_per_second else None
        rows.append(
            Row(
                "terminal_bytes",
                f"{label}: bkwatch bytes/s to the terminal",
                res.bytes_per_second,
                "B/s",
                base.bytes_per_second if base else None,
                "htop B/s (default delay)",
                ratio,
                target,
                None if ratio is None or res.exited else ratio <= limit,
                notes,
            )
        )
    emit(rows, args.json)


if __name__ == "__main__":
    main()
