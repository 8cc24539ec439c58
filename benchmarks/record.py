"""The record's costs: CPU added to polling, the file's growth at the demo's pace, `report` and
`hosts --flaky` times.

- overhead: 2,000 watches of a simulator in its own process, rounds of `poll_all` with the
  recorder attached and detached in turn (blocks of off, on, on, off); process CPU (every thread,
  the writer's included, flushed inside the timed round). The simulator's clock is frozen and
  moved by `STEP` before each round, so a round with the record on (slower: it waits for the
  flush) sees no more change than one without, and the two do the same work (asserted). Twice:
  with a host of each JOB task flipped every round and the tasks moving (~2.4 transitions a poll,
  the heavy case), then once every task has ended (nothing changes: the cost every poll pays; a
  user's monitor is nearer this, the demo's pace being ~0.04 a poll).
- growth: 200 tasks of every system at the demo's pace (the simulator's default timings), polled
  every 15 simulated seconds for 40 minutes, in-process and frozen (moved by `advance`): bytes
  per transition and per task, for a day.
- report: a JOB task of 10,000 hosts with 300 failures read back and rendered (Markdown and HTML)
  against reading its rows alone.

python -m benchmarks.record [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import Row, emit, parser, sim_process, sim_profile, usable
from bkwatch import tune_gc
from bkwatch.client import BkClient
from bkwatch.poller import Cadence, Poller
from bkwatch.record.db import db_path, size_of
from bkwatch.record.flaky import flaky_hosts
from bkwatch.record.recorder import Recorder
from bkwatch.record.render import html_page, markdown
from bkwatch.record.story import load
from bkwatch.sim import SimConfig, Simulator
from bkwatch.systems.adapters import fetch_task, settle
from bkwatch.targets import parse_target

SLOW = Cadence(focused=1e6, young=1e6, active=1e6, waiting=1e6, finished=1e6, unknown=1e6, jitter=0)
MiB = 1024 * 1024
# The simulator's seconds between two rounds (its clock is frozen and moved by this much, so an
# on round, slower for waiting for its flush, sees no more of its pace than an off round).
STEP = 4.0
REPORT_RUNS = 25  # the baseline is ~0.4 ms: a median of few runs moves the ratio by a third


async def overhead(n: int, rounds: int, where: Path) -> list[Row]:
    sim_args = ["--frozen", "--no-arrivals", "--tasks-per-system", str(n // 5 + 2)]
    sim_args += [
        "--job-hosts",
        "20",
        "--nodeman-hosts",
        "20",
        "--pipeline-nodes",
        "12",
        "--gsekit-tasks",
        "16",
    ]
    with sim_process(*sim_args) as sim:
        targets = usable(sim.targets())[:n]
        profile = sim_profile(sim.base_url)
        client = BkClient(profile)
        poller = Poller(lambda t: fetch_task(client, t), cadence=SLOW)
        for t in targets:
            poller.add(parse_target(t))
        recorder = Recorder(where, secrets=profile.secrets())  # as the monitor opens it
        try:
            poller.observers.append(recorder.observe)
            await poller.poll_all()  # first sight of every task (its full snapshot) untimed
            # A pipeline's flow order, read beside its first poll, reshapes its tree at the next:
            # once per task, so it is taken here, as the screen benchmark does, not in the rounds.
            await settle(client)
            await poller.poll_all()
            recorder.flush(60)
            # Every round, one host of each JOB task flips between failed and succeeded (forced
            # through the simulator's admin API, outside the timed part): changes to record.
            flips = [
                (w.key, w.task.steps[0].id, next(iter(w.task.steps[0].hosts)))
                for w in poller.watches.values()
                if w.task is not None and w.task.steps and w.task.steps[0].hosts
            ]
            heavy = await _rounds(sim, poller, recorder, flips, rounds)
            _advance(sim, 3600)  # every task ended (it took ~150 s), polled once untimed
            await poller.poll_all()
            recorder.flush(60)
            quiet = await _rounds(sim, poller, recorder, [], rounds)  # nothing moves
        finally:
            await client.aclose()
            recorder.close()
    common = (
        f"mean of {rounds} rounds each, on and off as off, on, on, off, ...; the simulator in its own "
        f"process, its clock moved {STEP:.0f} s before each round; every watch polled in every round; "
        f"the profile's secrets redacted, as in the monitor"
    )
    polls = rounds * len(targets)
    return [
        heavy.row(
            f"polling CPU with the record on, {len(targets):,} watches, a host of each JOB task "
            f"flipped every round",
            len(targets),
            f"{common}; {heavy.recorded:,} transitions recorded in the timed rounds "
            f"({heavy.recorded / polls:.1f} a poll, the demo's pace ~0.04; {heavy.unrecorded:,} in the "
            f"rounds without); a host of each JOB task flipped between rounds, both ways in each mode, "
            f"and the simulator's tasks moving",
        ),
        quiet.row(
            f"polling CPU with the record on, {len(targets):,} watches, nothing changing",
            len(targets),
            f"{common}; the same watches once every task has ended, nothing forced: "
            f"{quiet.recorded:,} transitions recorded in the timed rounds ({quiet.recorded / polls:.2f} "
            f"a poll; the demo's pace is ~0.04): the cost every poll pays, changes or not",
        ),
    ]


class _Rounds:
    """The timed rounds of one row: process CPU on and off, in blocks of four (off, on, on, off),
    and what the process's CPU was made of (the polling thread, the writer, collections)."""

    def __init__(self) -> None:
        self.on: list[float] = []
        self.off: list[float] = []
        self.main = {True: 0.0, False: 0.0}  # the polling thread's own CPU, record on / off
        self.gc = {True: [0, 0, 0], False: [0, 0, 0]}  # collections by generation, on / off
        self.gc_cpu = {True: 0.0, False: 0.0}  # their CPU, whichever thread they ran in
        self.writer = 0.0  # the writer thread's own CPU in the recorded rounds
        self.polls = {True: 0, False: 0}
        self.recorded = self.unrecorded = 0

    def blocks(self) -> list[float]:
        """The ratio of each block of four rounds (two on, two off, next to each other)."""
        return [sum(self.on[k : k + 2]) / sum(self.off[k : k + 2]) for k in range(0, len(self.on) - 1, 2)]

    def row(self, what: str, n: int, note: str) -> Row:
        # Means, not medians: a garbage collection costs ~0.1 ms a poll to the round it lands in,
        # and which rounds a median keeps moved the ratio by ±10 % from run to run. What the
        # record adds to the CPU of polling is its share of the sum, collections included.
        cpu_on, cpu_off = statistics.fmean(self.on), statistics.fmean(self.off)
        ratio = cpu_on / cpu_off
        rounds = len(self.on)
        writer = self.writer / rounds
        blocks = sorted(self.blocks())
        main_on, main_off = self.main[True] / rounds, self.main[False] / rounds
        gc_on, gc_off = (self.gc_cpu[k] / rounds / n * 1000 for k in (True, False))
        return Row(
            "record",
            what,
            cpu_on / n * 1000,
            "CPU ms per poll",
            cpu_off / n * 1000,
            "record off, same run",
            ratio,
            "<= 1.05",
            ratio <= 1.05,
            [
                note,
                f"the writer thread's own CPU (its clock, steadier than the ratio on a busy machine): "
                f"{writer / n * 1000:.3f} ms per poll, {writer / cpu_off:.1%} of polling without the record",
                f"spread: the ratio of each block of four rounds (off, on, on, off) "
                f"{', '.join(f'{b:.2f}' for b in blocks)} (median {statistics.median(blocks):.2f}); "
                f"one round's CPU from {min(self.on + self.off) / n * 1000:.2f} to "
                f"{max(self.on + self.off) / n * 1000:.2f} ms per poll",
                f"the polling thread alone: {main_on / n * 1000:.3f} ms per poll on, "
                f"{main_off / n * 1000:.3f} off (ratio {main_on / main_off:.2f}); collections by "
                f"generation {self.gc[True]} on, {self.gc[False]} off, their CPU "
                f"{gc_on:.3f} and {gc_off:.3f} ms per poll",
            ],
        )


class _Collections:
    """Garbage collections counted and timed (each on its thread's CPU clock) while installed."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.cpu = 0.0
        self._started: dict[int, float] = {}

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        thread = threading.get_ident()
        if phase == "start":
            self._started[thread] = time.thread_time()
        elif thread in self._started:
            self.cpu += time.thread_time() - self._started.pop(thread)
            self.count[info["generation"]] += 1


async def _rounds(sim: Any, poller: Poller, recorder: Recorder, flips: list[Any], rounds: int) -> _Rounds:
    """`rounds` polls of every watch with the record on and as many with it off, the process's CPU
    of each (the writer's included: flushed inside the timed part)."""
    writer = _writer_clock()
    got = _Rounds()
    collections = _Collections()
    gc.callbacks.append(collections)
    try:
        for i in range(-1, rounds * 2):
            for key, step_id, host in flips:
                sim.force(key, (11, 9)[i % 2], host=host, step=step_id)
            _advance(sim, STEP)
            # The rig's own requests above (a client each, its response and stream a cycle: ~27,000
            # objects a round at 2,000 watches) are its garbage, not polling's: collected here, or
            # their ~0.4 s collection fell into whichever timed round came next.
            gc.collect()
            if i < 0:  # untimed: the first flip moves more than a host (a running step with it)
                await poller.poll_all()
                recorder.flush(60)
                continue
            # On and off as off, on, on, off, ...: each sees the host flip both ways (the two
            # directions make different changes to record and to diff), not one each, and a drift
            # of the machine's pace within a block of four weighs on both alike.
            recording = i % 4 in (1, 2)
            poller.observers[:] = [recorder.observe] if recording else []
            collections.count, collections.cpu = [0, 0, 0], 0.0
            c0, m0, w0 = time.process_time(), time.thread_time(), time.clock_gettime(writer)
            updates = await poller.poll_all()
            if recording:
                recorder.flush(60)
                got.writer += time.clock_gettime(writer) - w0
            got.main[recording] += time.thread_time() - m0
            (got.on if recording else got.off).append(time.process_time() - c0)
            got.gc[recording] = [a + b for a, b in zip(got.gc[recording], collections.count, strict=True)]
            got.gc_cpu[recording] += collections.cpu
            got.polls[recording] += len(updates)
            changes = sum(len(u.transitions) for u in updates)
            if recording:
                got.recorded += changes
            else:
                got.unrecorded += changes
    finally:
        gc.callbacks.remove(collections)
    # The same work both ways: every watch polled in every round, and as many changes (the flips
    # are the same; the simulator's own moves slow down as its tasks end, evenly in each block).
    assert got.polls[True] == got.polls[False] == rounds * len(poller.watches), got.polls
    polls = got.polls[True]
    gap = abs(got.recorded - got.unrecorded)
    assert gap <= max(0.05 * max(got.recorded, got.unrecorded), 0.01 * polls), (got.recorded, got.unrecorded)
    return got


def _advance(sim: Any, seconds: float) -> None:
    """The simulator's clock moved on (it is frozen: every round sees as much of its own pace)."""
    httpx.post(f"{sim.base_url}/_sim/advance", json={"seconds": seconds}, timeout=30).raise_for_status()


def _writer_clock() -> int:
    """The CPU clock of the record's writer thread (started by `Recorder`)."""
    thread = next(t for t in threading.enumerate() if t.name == "bkwatch-record" and t.is_alive())
    assert thread.ident is not None
    return time.pthread_getcpuclockid(thread.ident)


async def growth(tasks: int, minutes: float, where: Path) -> Row:
    sim = Simulator(SimConfig(seed=1, frozen=True, tasks_per_system=tasks // 5 + 2))
    targets = usable([t.target for t in sim.world.tasks()])[:tasks]
    client = BkClient(sim_profile("http://sim.invalid"), transport=httpx.ASGITransport(app=sim.app))
    poller = Poller(lambda t: fetch_task(client, t), cadence=SLOW, clock=sim.world.now)
    for t in targets:
        poller.add(parse_target(t))
    recorder = Recorder(where, clock=sim.world.now)
    poller.observers.append(recorder.observe)
    transitions = 0
    try:
        for _ in range(int(minutes * 60 / 15)):
            transitions += sum(len(u.transitions) for u in await poller.poll_all())
            sim.world.advance(15)
    finally:
        await client.aclose()
        recorder.flush(60)
        recorder.close()
    conn = sqlite3.connect(db_path(where))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = size_of(conn)
    done = conn.execute(
        "SELECT count(*) FROM tasks WHERE state IN ('succeeded','failed','stopped')"
    ).fetchone()[0]
    rows = conn.execute(  # a poll's host changes of one task share a row: counted one by one
        "SELECT (SELECT count(*) FROM transitions) + (SELECT coalesce(sum(n), 0) FROM unit_transitions)"
    ).fetchone()[0]
    conn.close()
    per_task = size / len(targets)
    # A day of 200 tasks each watched from start to end is what was measured (the demo's tasks
    # run for minutes); 200 watched at once all day, each replaced as it ends, is 24 h / life.
    day = per_task * tasks
    return Row(
        "record",
        f"record growth: a day of {tasks} watched tasks at the demo's pace",
        day / MiB,
        "MiB",
        None,
        "",
        None,
        "<= 50 MiB a day",
        day <= 50 * MiB,
        [
            f"{len(targets)} tasks polled every 15 simulated s for {minutes:.0f} min: {transitions:,} "
            f"transitions ({rows:,} kept), {done} tasks finished, file {size / MiB:.2f} MiB; "
            f"{size / max(rows, 1):,.0f} bytes per transition, {per_task / 1024:,.1f} KiB per task",
        ],
    )


async def report_time(hosts: int, failures: int, where: Path) -> list[Row]:
    sim = Simulator(SimConfig(seed=3, frozen=True))
    target = sim.world.add_task("job", kind="ok", hosts=hosts, scope=("biz", 2))
    sim.world.advance(3600)
    data = sim.world.get(target).data(sim.world.now(), True)
    step = data["step_instance_list"][0]
    for h in step["step_ip_result_list"][:failures]:
        sim.world.force(target, 11, host=f"{h['bk_cloud_id']}:{h['ip']}", step=step["step_instance_id"])
    client = BkClient(sim_profile("http://sim.invalid"), transport=httpx.ASGITransport(app=sim.app))
    poller = Poller(lambda t: fetch_task(client, t), cadence=SLOW)
    poller.add(parse_target(target))
    recorder = Recorder(where)
    poller.observers.append(recorder.observe)
    try:
        await poller.poll_all()
    finally:
        await client.aclose()
        recorder.flush(60)
        recorder.close()
    conn = sqlite3.connect(db_path(where))
    got = conn.execute("SELECT count(*) FROM failures WHERE target = ?", (target,)).fetchone()[0]
    times, reads = [], []
    for _ in range(REPORT_RUNS):
        t0 = time.perf_counter()
        story = load(conn, target)
        assert story is not None
        markdown(story)
        html_page(story)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for table in ("tasks", "units", "transitions", "unit_transitions", "failures", "actions", "outages"):
            conn.execute(f"SELECT * FROM {table} WHERE target = ?", (target,)).fetchall()
        reads.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    flaky_hosts(conn, 0.0)
    flaky = time.perf_counter() - t0
    conn.close()
    took, read = statistics.median(times), statistics.median(reads)
    return [
        Row(
            "record",
            f"report of a JOB task, {hosts:,} hosts, {got} failures (Markdown + HTML)",
            took * 1000,
            "ms",
            read * 1000,
            "reading its rows",
            took / read,
            "<= 1 s and <= 3x",
            took <= 1.0 and took / read <= 3,
            [f"median of {REPORT_RUNS}; `hosts --flaky` over that record: {flaky * 1000:.1f} ms"],
        )
    ]


def flaky_time(days: int, per_day: int, failures: int, where: Path) -> Row:
    """`hosts --flaky` over `days` of `per_day` tasks with `failures` failing hosts each, drawn
    from a pool of 5,000 machines (rows written straight into a new record)."""
    import random

    from bkwatch.record.db import open_db

    conn, _ = open_db(db_path(where))
    rng = random.Random(1)
    now = time.time()
    rows = []
    for d in range(days):
        for t in range(per_day):
            target = f"job:2:{d * per_day + t + 1}"
            at = now - d * 86_400 - t
            for host in rng.sample(range(5000), failures):
                key = f"0:10.{host // 250}.{host % 250}.1"
                rows.append((target, "host", key, "1", key, key, at, "9", "exit 1", f"sig {host % 7}"))
    conn.execute("BEGIN")
    conn.executemany("INSERT OR REPLACE INTO failures VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        found = flaky_hosts(conn, now - days * 86_400)
        times.append(time.perf_counter() - t0)
    conn.close()
    took = statistics.median(times)
    return Row(
        "record",
        f"hosts --flaky over {days} days of {per_day} tasks a day",
        took * 1000,
        "ms",
        None,
        "",
        None,
        "<= 1 s",
        took <= 1.0,
        [
            f"{len(rows):,} failure rows ({failures} failing hosts a task, 5,000 machines): "
            f"{len(found):,} hosts listed"
        ],
    )


async def run(quick: bool) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        rows.append(await growth(40 if quick else 200, 10 if quick else 40, Path(a)))
        rows += await report_time(1000 if quick else 10_000, 30 if quick else 300, Path(b))
    with tempfile.TemporaryDirectory() as d:
        rows.append(flaky_time(3 if quick else 30, 200, 20, Path(d)))
    with tempfile.TemporaryDirectory() as c:
        rows += await overhead(200 if quick else 2000, 2 if quick else 8, Path(c))
    return rows


def main(argv: list[str] | None = None) -> None:
    tune_gc()
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    emit(asyncio.run(run(args.quick)), args.json)


if __name__ == "__main__":
    main()
