"""Start-up: exec to the job list showing its rows (a first-row marker in the pty output) vs a
minimal Textual app (Header, 1,000-row DataTable, Footer) from exec to its rows. Median of 9.

bkwatch watches 20 tasks of a frozen simulator process; its marker is the name of one finished
task ("deploy-web"), which only a fetched snapshot carries.

Both programs run with a bytecode cache, as an installed program does (pip compiles what it
installs; a checkout writes `__pycache__` on its first run): where the environment forbids writing
bytecode (PYTHONDONTWRITEBYTECODE), an editable install would compile every module of bkwatch on
every start while Textual's come compiled. Each program is started once, untimed, to fill the cache.

python -m benchmarks.startup [--quick]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import httpx

from benchmarks.common import Row, emit, parser, sim_process, usable
from benchmarks.minimal_app import FIRST_ROW
from benchmarks.ptyrun import run_in_pty
from benchmarks.tuiproc import isolated_watch

FIRST_TARGET = "job:2:20001"  # the simulator's finished "deploy-web" job
MARKER = b"deploy-web"


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    runs = 2 if args.quick else 9  # the machine is shared: 5 starts put the median 0.2 apart between runs
    baseline_argv = [sys.executable, str(Path(__file__).with_name("minimal_app.py"))]
    ours: list[float] = []
    base: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="bkwatch-pyc-") as pyc,
        sim_process("--frozen", "--no-arrivals", "--tasks-per-system", "20") as sim,
    ):
        cached = {"PYTHONPYCACHEPREFIX": pyc, "PYTHONDONTWRITEBYTECODE": ""}
        tasks = httpx.get(sim.base_url + "/_sim/tasks", timeout=30).json()["tasks"]
        names = {t["target"]: t["name"] for t in tasks}
        assert MARKER.decode() == names[FIRST_TARGET], names[FIRST_TARGET]
        others = [t["target"] for t in tasks if t["target"] != FIRST_TARGET]
        targets = [FIRST_TARGET, *usable(others)[:19]]
        with isolated_watch(sim.base_url, targets) as iso:
            env = {**iso.env, **cached}
            run_in_pty(iso.argv, env=env, marker=MARKER, marker_timeout=60)  # untimed: fills the cache
            run_in_pty(baseline_argv, env=cached, marker=FIRST_ROW.encode(), marker_timeout=60)
            for _ in range(runs):  # interleaved, so machine noise hits both alike
                r = run_in_pty(iso.argv, env=env, marker=MARKER, marker_timeout=30)
                b = run_in_pty(baseline_argv, env=cached, marker=FIRST_ROW.encode(), marker_timeout=30)
                if r.first_marker_at is None or b.first_marker_at is None:
                    raise RuntimeError("a marker never appeared within 30 s")
                ours.append(r.first_marker_at)
                base.append(b.first_marker_at)
    mo, mb = statistics.median(ours), statistics.median(base)
    rows = [
        Row(
            "startup",
            "exec to the job list's first row",
            mo * 1000,
            "ms",
            mb * 1000,
            "minimal Textual app, 1,000-row DataTable, ms",
            mo / mb,
            "<= 1.3",
            mo / mb <= 1.3,
            [
                f"median of {runs}; bkwatch {', '.join(f'{x * 1000:.0f}' for x in ours)} ms; "
                f"baseline {', '.join(f'{x * 1000:.0f}' for x in base)} ms; {len(targets)} watched tasks; "
                "both with a bytecode cache filled by one untimed start"
            ],
        )
    ]
    emit(rows, args.json)


if __name__ == "__main__":
    main()
