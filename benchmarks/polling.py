"""Polling throughput: bkwatch's engine (Poller + fetch_task + BkClient: fetch, parse, normalise,
diff, events) against a bare httpx loop sending the very same requests, same concurrency.

The simulator runs in its own process (frozen: bodies are cached there, so it serves fast and
is not what is measured). The bare loop replays the requests one round of the engine sends once
every watch has had its first poll and the pipelines' details are read (those are read once per
task, beside the polls, and are not part of a round), recorded at the transport, and only reads
the bodies.

Frozen, every task answers what it answered last round (but for the envelope's request id), as
a task that waits or is finished does: the engine reuses the Task it holds for such an answer
(`systems.common.Answers`). A third side, interleaved with the two, has the client forget those
before each round, so every answer is decoded, parsed and diffed: a task that changes each poll.

python -m benchmarks.polling [--quick]
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from benchmarks.common import Row, cpu_seconds, emit, parser, sim_process, sim_profile, usable
from bkwatch import tune_gc
from bkwatch.client import BkClient
from bkwatch.poller import Poller
from bkwatch.systems.adapters import fetch_task, settle
from bkwatch.targets import Target, parse_target

CONCURRENCY = 16  # Poller's default
MAX_CONNECTIONS = 32  # BkClient's default


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


class Recorder(httpx.AsyncBaseTransport):
    """Wraps a real transport and keeps a copy of every request that goes through it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: list[Recorded] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        headers = tuple(
            (k, v) for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        )
        self.seen.append(Recorded(request.method, str(request.url), headers, body))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def mixed(targets: Sequence[str], n: int) -> list[Target]:
    """n targets taken round-robin across systems."""
    by_system: dict[str, list[str]] = defaultdict(list)
    for t in targets:
        by_system[t.split(":", 1)[0]].append(t)
    out: list[str] = []
    while len(out) < n and any(by_system.values()):
        for queue in by_system.values():
            if queue and len(out) < n:
                out.append(queue.pop(0))
    return [parse_target(t) for t in out]


async def _bare_round(http: httpx.AsyncClient, reqs: Sequence[Recorded]) -> int:
    sem = asyncio.Semaphore(CONCURRENCY)
    size = 0

    async def one(r: Recorded) -> None:
        nonlocal size
        async with sem:
            resp = await http.request(r.method, r.url, headers=list(r.headers), content=r.body or None)
            size += len(resp.content)

    await asyncio.gather(*(one(r) for r in reqs))
    return size


async def measure(base_url: str, sim_pid: int, targets: list[Target], rounds: int) -> list[Row]:
    profile = sim_profile(base_url)
    recorder = Recorder()
    current: dict[str, BkClient] = {"client": BkClient(profile, transport=recorder)}
    poller = Poller(lambda t: fetch_task(current["client"], t), max_concurrency=CONCURRENCY)
    for t in targets:
        poller.add(t)
    # Round 0 gives every watch its first snapshot and starts the pipelines' detail reads; once
    # they are in, round 1 is a steady round: its requests are what the bare loop replays.
    first = await poller.poll_all()
    await settle(current["client"])
    recorder.seen.clear()
    first += await poller.poll_all()
    errors = [u for u in first if u.error is not None]
    await current["client"].aclose()
    reqs = list(recorder.seen)
    engine_client = BkClient(profile, max_connections=MAX_CONNECTIONS)
    current["client"] = engine_client
    await poller.poll_all()  # this client's own detail reads, untimed
    await settle(engine_client)
    bare = httpx.AsyncClient(
        timeout=httpx.Timeout(profile.timeout, connect=3.0),
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
        follow_redirects=False,
    )
    await poller.poll_all()  # warm connections, untimed
    await _bare_round(bare, reqs)

    eng_wall = eng_cpu = bare_wall = bare_cpu = parsed_wall = parsed_cpu = 0.0
    sim_cpu = sim_wall = 0.0
    polls = transitions = reused = 0
    bytes_round = 0
    for _ in range(rounds):  # interleaved, so machine noise hits every side alike
        held = {k: w.task for k, w in poller.watches.items()}
        s0, w0, c0 = cpu_seconds(sim_pid), time.perf_counter(), time.process_time()
        updates = await poller.poll_all()
        w1, c1, s1 = time.perf_counter(), time.process_time(), cpu_seconds(sim_pid)
        eng_wall += w1 - w0
        eng_cpu += c1 - c0
        sim_cpu += s1 - s0
        sim_wall += w1 - w0
        polls += len(updates)
        reused += sum(1 for u in updates if u.watch.task is held[u.key])
        transitions += sum(len(u.transitions) for u in updates)
        errors += [u for u in updates if u.error is not None]
        engine_client.adapter_state.pop("answers", None)  # every answer of this side parsed
        w0, c0 = time.perf_counter(), time.process_time()
        updates = await poller.poll_all()
        parsed_wall += time.perf_counter() - w0
        parsed_cpu += time.process_time() - c0
        transitions += sum(len(u.transitions) for u in updates)
        errors += [u for u in updates if u.error is not None]
        s0, w0, c0 = cpu_seconds(sim_pid), time.perf_counter(), time.process_time()
        bytes_round = await _bare_round(bare, reqs)
        w1, c1, s1 = time.perf_counter(), time.process_time(), cpu_seconds(sim_pid)
        bare_wall += w1 - w0
        bare_cpu += c1 - c0
        sim_cpu += s1 - s0
        sim_wall += w1 - w0
    await engine_client.aclose()
    await bare.aclose()

    n_req = len(reqs) * rounds
    eng_rps = n_req / eng_wall
    bare_rps = n_req / bare_wall
    ratio = eng_rps / bare_rps
    cpu_ratio = (eng_cpu / polls) / (bare_cpu / (len(reqs) * rounds))
    parsed_rps = n_req / parsed_wall
    sim_share = sim_cpu / sim_wall
    notes = [
        f"{len(targets)} watches, {len(reqs)} requests and {bytes_round / 1e6:.1f} MB per round (the "
        "pipelines' details already read), "
        f"{rounds} timed round(s) per side, concurrency {CONCURRENCY}",
        f"engine: {polls / eng_wall:,.0f} polls/s, {eng_cpu / polls * 1000:.2f} CPU s per 1,000 polls; "
        f"bare: {bare_cpu / (len(reqs) * rounds) * 1000:.2f} CPU s per 1,000 requests",
        f"answers the same as the last poll's, the Task held reused (not decoded, parsed or diffed): "
        f"{reused:,} of {polls:,} polls (the frozen simulator's; in a real deploy, the tasks "
        "that wait or are finished)",
        f"every answer parsed (the client's reuse forgotten before each round, the third side): "
        f"{parsed_rps:,.0f} req/s = {parsed_rps / bare_rps:.2f} x the bare loop, "
        f"{parsed_cpu / polls * 1000:.2f} CPU s per 1,000 polls",
        f"simulator process CPU: {sim_share * 100:.0f} % of one core during the engine's and bare rounds",
        f"errors: {len(errors)}; transitions seen in timed rounds: {transitions}",
    ]
    if errors:
        notes.append(f"first error: {errors[0].key}: {errors[0].error}")
    return [
        Row(
            "polling",
            "engine requests/s",
            eng_rps,
            "req/s",
            bare_rps,
            "bare httpx loop req/s",
            ratio,
            ">= 0.90",
            ratio >= 0.90,
            notes,
        ),
        Row(
            "polling",
            "engine CPU per 1,000 polls",
            eng_cpu / polls * 1000,
            "CPU s",
            bare_cpu / (len(reqs) * rounds) * 1000,
            "bare loop CPU s per 1,000 requests",
            cpu_ratio,
            "<= 1.25",
            cpu_ratio <= 1.25,
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    tune_gc()  # as the bkwatch command does at start
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    n, rounds = (60, 1) if args.quick else (500, 3)
    sim_args = ["--frozen", "--no-arrivals", "--tasks-per-system", str(n // 5 + 2)]
    sim_args += [
        "--job-hosts",
        "200",
        "--nodeman-hosts",
        "300",
        "--pipeline-nodes",
        "200",
        "--gsekit-tasks",
        "200",
    ]
    with sim_process(*sim_args) as sim:
        targets = mixed(usable(sim.targets()), n)
        rows = asyncio.run(measure(sim.base_url, sim.pid, targets, rounds))
    emit(rows, args.json)


if __name__ == "__main__":
    main()
