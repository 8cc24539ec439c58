"""Host logs: opening a 5 MB log at its last screen, searching it, and failure signatures for
500 failing hosts with 50 KB logs each — each against a plain-Python baseline in the same run.

Bodies come from an in-process simulator through BkClient (the requests bkwatch sends); timing
covers what happens after the bytes arrived.

python -m benchmarks.evidence [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import re
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import orjson

from benchmarks.common import Row, emit, parser, sim_profile
from benchmarks.payloads import Capture
from bkwatch.client import BkClient
from bkwatch.evidence.logbuf import LogBuffer
from bkwatch.evidence.signatures import group
from bkwatch.sim import SimConfig, Simulator
from bkwatch.systems.adapters import fetch_evidence, fetch_task, task_signatures
from bkwatch.systems.job.evidence import batch_evidence
from bkwatch.targets import parse_target

SCREEN = 50  # lines on a tall terminal
QUERY = "slow response"


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def _big_log(size: int) -> bytes:
    sim = Simulator(SimConfig(seed=1, frozen=True, log_bytes=size))
    target = sim.world.add_task("job", kind="ok", hosts=2, scope=("biz", 2))
    sim.world.advance(600)
    cap = Capture(sim.app)
    async with BkClient(sim_profile("http://sim"), transport=cap) as client:
        task = await fetch_task(client, parse_target(target))
        step = task.steps[0]
        await fetch_evidence(client, task, step=step.id, host=next(iter(step.hosts)))
    return cap.bodies[-1]


def open_and_search(runs: int, size: int) -> list[Row]:
    body = asyncio.run(_big_log(size))
    text = orjson.loads(body)["data"]["log_content"]
    raw = text.encode()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "host.log"
        path.write_bytes(raw)
        baseline = _median(lambda: path.read_text(encoding="utf-8"), runs)

    def open_view() -> list[str]:
        buf = LogBuffer()
        buf.append(orjson.loads(body)["data"]["log_content"])
        return buf.tail(SCREEN)[1]

    def open_buffer_only() -> list[str]:
        buf = LogBuffer()
        buf.append(text)
        return buf.tail(SCREEN)[1]

    t_open = _median(open_view, runs)
    t_buf = _median(open_buffer_only, runs)
    # Memory held: what the buffer keeps after opening and after scrolling to the top (which
    # builds the line index), against the bytes of the log it keeps.
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    buf = LogBuffer()
    buf.append(text)
    buf.tail(SCREEN)
    held_open = tracemalloc.get_traced_memory()[0] - before
    buf.lines(0, SCREEN)
    held_top = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    kept = buf.nbytes
    held = max(held_open, held_top)
    lines = len(buf)
    # Search: the buffer's hits vs re.finditer over the same str.
    pat = re.compile(re.escape(QUERY))
    t_base = _median(lambda: [m.span() for m in pat.finditer(text)], runs)
    t_search = _median(lambda: buf.search(QUERY, ignore_case=False), runs)
    matches = buf.search(QUERY, ignore_case=False)
    hits = len(matches)
    t_screen = _median(lambda: matches.on_lines(matches.hit(hits // 2).line, SCREEN), runs)  # type: ignore[union-attr]
    mb = len(raw) / 1e6
    note = f"{mb:.2f} MB log, {lines:,} lines, median of {runs}"
    return [
        Row(
            "evidence",
            f"open a {mb:.1f} MB host log at its last screen ({SCREEN} lines)",
            t_open * 1000,
            "ms",
            baseline * 1000,
            "read the same bytes from a local file into a str, ms",
            t_open / baseline,
            "<= 3.0",
            t_open / baseline <= 3.0,
            [
                note + "; timed: orjson.loads of the API answer + LogBuffer.append + tail (cleaned lines)",
                f"without the JSON decode (log text already in hand): {t_buf * 1000:.2f} ms, "
                f"ratio {t_buf / baseline:.2f}",
            ],
        ),
        Row(
            "evidence",
            "memory held by the log buffer",
            held / 1e6,
            "MB",
            kept / 1e6,
            "bytes of the log kept, MB",
            held / kept,
            "<= 2.0",
            held / kept <= 2.0,
            [
                f"after opening {held_open / 1e6:.2f} MB, after scrolling to the top "
                f"(line index built) {held_top / 1e6:.2f} MB"
            ],
        ),
        Row(
            "evidence",
            f"search {mb:.1f} MB for {QUERY!r}",
            t_search * 1000,
            "ms",
            t_base * 1000,
            "re.finditer over the same str, ms",
            t_search / t_base,
            "<= 2.0",
            t_search / t_base <= 2.0,
            [
                f"{hits:,} hits found in one pass; median of {runs}",
                f"then lines and columns of one screen's hits (what `n` and the view need): "
                f"{t_screen * 1000:.2f} ms",
            ],
        ),
    ]


async def _failing_step(hosts: int, log_bytes: int) -> tuple[bytes, object, object, object, int, Simulator]:
    sim = Simulator(SimConfig(seed=2, frozen=True, log_bytes=log_bytes))
    target = sim.world.add_task("job", kind="ok", hosts=hosts, scope=("biz", 2))
    sim.world.advance(600)
    step = sim.world.get(target).steps[2]
    for h in step.hosts:
        sim.world.force(target, 104, host=f"{h.cloud}:{h.ip}", step=step.id)
    cap = Capture(sim.app)
    async with BkClient(sim_profile("http://sim"), transport=cap) as client:
        t = parse_target(target)
        task = await fetch_task(client, t)
        sim.world.requests_log.clear()
        sigs = await task_signatures(client, t, task, str(step.id))
    batches = sum(api == "batch_get_job_instance_ip_log" for api, _, _ in sim.world.requests_log)
    return cap.bodies[-1], t, task, sigs, batches, sim


def signatures(runs: int, hosts: int, log_bytes: int) -> Row:
    body, target, task, sigs, batches, _ = asyncio.run(_failing_step(hosts, log_bytes))
    step = task.steps[2]  # type: ignore[attr-defined]
    failing = [h for h in step.hosts.values() if h.state.is_bad]

    def ours() -> object:
        evs = batch_evidence(target, step, failing, orjson.loads(body)["data"])  # type: ignore[arg-type]
        return group((e.host or "", step.id, e.failure_text or e.raw_text) for e in evs)

    t_ours = _median(ours, runs)
    t_base = _median(lambda: json.loads(body), runs)
    limit = math.ceil(len(failing) / 500)
    return Row(
        "evidence",
        f"failure signatures, {len(failing)} failing hosts x {log_bytes // 1024} KB logs",
        t_ours * 1000,
        "ms",
        t_base * 1000,
        "json.loads of the same bytes, ms",
        t_ours / t_base,
        "<= 2.0",
        t_ours / t_base <= 2.0 and batches <= limit,
        [
            f"{len(body) / 1e6:.1f} MB answer; timed: orjson.loads + per-host evidence + grouping; "
            f"median of {runs}",
            f"requests: {batches} batch call(s) for the step (limit ceil({len(failing)}/500) = {limit}); "
            f"{len(sigs.clusters)} groups, {sigs.read} read, {sigs.unread} unread",  # type: ignore[attr-defined]
        ],
    )


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    runs = 3 if args.quick else 9
    size = (1 if args.quick else 5) * 1024 * 1024
    rows = open_and_search(runs, size)
    rows.append(signatures(runs, 100 if args.quick else 500, 50 * 1024))
    emit(rows, args.json)


if __name__ == "__main__":
    main()
