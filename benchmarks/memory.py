"""Memory held by parsed tasks: 1,000 watched tasks x ~1,000 hosts each, kept as the poller keeps
them (the last Task per watch), vs the total size of the raw JSON responses they came from.

Payloads come from an in-process simulator through the real fetch path (BkClient +
fetch_task), one task at a time; the raw bytes are counted and dropped. The simulator serves a
pool of tasks whose bodies it has already built before the baseline reading, so its own cache
does not count; every fetch still yields fresh bytes and a fresh Task (the client's reuse of the
Task made of the same answer, `systems.common.Answers`, forgotten before each: 1,000 watches
hold 1,000 tasks, not the pool's).

python -m benchmarks.memory [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import os

import httpx

from benchmarks.common import Row, emit, parser, sim_profile
from bkwatch.client import BkClient
from bkwatch.model import Task
from bkwatch.sim import SimConfig, Simulator
from bkwatch.systems.adapters import fetch_task
from bkwatch.targets import Target, parse_target

POOL = 10  # simulated tasks per system in the pool


class Counting(httpx.AsyncBaseTransport):
    """In-process transport to the simulator that counts response bytes and keeps none."""

    def __init__(self, app: object) -> None:
        self.inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.bytes = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        body = await resp.aread()
        self.bytes += len(body)
        return httpx.Response(resp.status_code, headers=resp.headers, content=body)


def rss() -> int:
    gc.collect()
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def run(n_tasks: int) -> Row:
    sim = Simulator(SimConfig(seed=5, frozen=True, arrivals=False, tasks_per_system=1))
    pool: list[Target] = []
    for _ in range(POOL):
        # JOB: 3 steps x 334 hosts ~ 1,000 host results; NodeMan: 1,000 hosts (2 pages).
        pool.append(parse_target(sim.world.add_task("job", kind="ok", hosts=334, delay=-3600)))
        pool.append(parse_target(sim.world.add_task("nodeman", kind="mixed", hosts=1000, delay=-3600)))
    transport = Counting(sim.app)
    client = BkClient(sim_profile("http://sim"), transport=transport)
    for t in pool:  # warm the simulator's body cache and every code path
        await fetch_task(client, t)
    transport.bytes = 0
    before = rss()
    kept: list[Task] = []
    for i in range(n_tasks):
        client.adapter_state.pop("answers", None)
        kept.append(await fetch_task(client, pool[i % len(pool)]))
    after = rss()
    await client.aclose()
    hosts = sum(len(t.hosts) + sum(len(s.hosts) for s in t.steps) for t in kept)
    growth = after - before
    raw = transport.bytes
    ratio = growth / raw
    return Row(
        "memory",
        f"RSS growth holding {n_tasks:,} parsed tasks",
        growth / 2**20,
        "MiB",
        raw / 2**20,
        "raw JSON received, MiB",
        ratio,
        "<= 2.0",
        ratio <= 2.0,
        [
            f"{hosts:,} host results in total ({hosts / n_tasks:,.0f} per task; half JOB 3 steps x 334 "
            f"hosts, half NodeMan 1,000 hosts); {growth / hosts:,.0f} bytes of RSS per host result"
        ],
    )


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    emit([asyncio.run(run(100 if args.quick else 1000))], args.json)


if __name__ == "__main__":
    main()
