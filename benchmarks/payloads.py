"""Processing one poll of a huge task: orjson.loads + the adapter's pure parse + poller.diff against
the previous snapshot (~1 % of units changed) vs json.loads of the same bytes alone.

Bytes come from an in-process simulator once, through BkClient (so the requests are exactly
the ones bkwatch sends); timing covers only the pure processing. NodeMan v2 is paginated: all
pages are decoded on both sides.

python -m benchmarks.payloads [--quick]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import orjson

from benchmarks.common import Row, emit, parser, sim_profile
from bkwatch.client import BkClient
from bkwatch.model import System, Task
from bkwatch.poller import diff
from bkwatch.sim import SimConfig, Simulator
from bkwatch.systems.adapters import fetch_task
from bkwatch.systems.job import poll as job_poll
from bkwatch.systems.nodeman import poll as nodeman_poll
from bkwatch.systems.sops import poll as sops_poll
from bkwatch.targets import Target, parse_target

# The pure parse of one poll's answer, per system measured here (the adapters fetch and parse
# in one call; the benchmark times the parse alone).
PARSE: dict[System, Callable[..., Task]] = {
    System.JOB: job_poll.parse,
    System.NODEMAN: nodeman_poll.parse,
    System.SOPS: sops_poll.parse,
}


class Capture(httpx.AsyncBaseTransport):
    """An in-process transport to the simulator that keeps every response body."""

    def __init__(self, app: object) -> None:
        self.inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        body = await resp.aread()
        self.bodies.append(body)
        return httpx.Response(resp.status_code, headers=resp.headers, content=body)


@dataclass
class Case:
    label: str
    target: Target
    units: int
    before: list[bytes]
    after: list[bytes]
    changed: int


async def _fetch(sim: Simulator, target: Target) -> tuple[Task, list[bytes]]:
    cap = Capture(sim.app)
    async with BkClient(sim_profile("http://sim"), transport=cap) as client:
        task = await fetch_task(client, target)
    return task, cap.bodies


def _units(task: Task) -> list[tuple[str, str, str | None]]:
    """(key, raw state, step id) of every host / node, for choosing which ones to change."""
    if task.steps:
        return [(k, h.raw_status, s.id) for s in task.steps for k, h in s.hosts.items()]
    if task.hosts:
        return [(k, h.raw_status, None) for k, h in task.hosts.items()]
    assert task.root is not None
    return [(n.id, n.raw_state, None) for n, _ in task.root.walk() if n is not task.root]


def _flip(system: str, raw: str) -> object:
    if system == "job":
        return 9 if raw != "9" else 11  # success <-> failed
    return "FAILED" if raw != "FAILED" else "SUCCESS"


async def _pipeline_case(label: str, nodes: int) -> Case:
    """A finished SOPS pipeline seen twice: ~40 simulated seconds before its end, then at its end.

    Forcing a node in a sequence would cut the rest of the tree, so the changes here are the
    natural ones: the last activities finishing and appearing, about 1 % of the tree.
    """

    def world() -> Simulator:
        return Simulator(SimConfig(seed=3, frozen=True, arrivals=False, tasks_per_system=1))

    probe = world()
    name = probe.world.add_task("sops", kind="ok", nodes=nodes, delay=0.0)
    probe.world.advance(1e6)
    done, _ = await _fetch(probe, parse_target(name))
    assert done.start is not None and done.end is not None
    sim = world()  # same seed and calls: the same tree
    name = sim.world.add_task("sops", kind="ok", nodes=nodes, delay=-(done.end - done.start - 40.0))
    target = parse_target(name)
    before_task, before = await _fetch(sim, target)
    sim.world.advance(41.0)
    after_task, after = await _fetch(sim, target)
    return Case(label, target, len(_units(after_task)), before, after, _changed(before_task, after_task))


def _changed(before: Task, after: Task) -> int:
    """Units whose raw state differs between the snapshots, or that appeared."""
    old = {(k, s): raw for k, raw, s in _units(before)}
    return sum(1 for k, raw, s in _units(after) if old.get((k, s)) != raw)


async def build_cases(quick: bool) -> list[Case]:
    scale = 10 if quick else 1
    sim = Simulator(SimConfig(seed=3, frozen=True, arrivals=False, tasks_per_system=1))
    world = sim.world
    specs = [
        (
            f"JOB job, 3 steps x {10_000 // scale:,} hosts",
            "job",
            {"kind": "running", "hosts": 10_000 // scale},
        ),
        (f"NodeMan v2 job, {5_000 // scale:,} hosts", "nodeman", {"kind": "mixed", "hosts": 5_000 // scale}),
    ]
    cases = []
    for label, system, scale_args in specs:
        name = world.add_task(system, delay=-25.0, **scale_args)
        target = parse_target(name)
        before_task, before = await _fetch(sim, target)
        units = _units(before_task)
        # Change hosts of the last step only: failing a host of an earlier step would stop the
        # job and change every later host too.
        last = [u for u in units if u[2] == units[-1][2]]
        for key, raw, step_id in last[:: max(1, len(last) * 100 // len(units))][: len(units) // 100]:
            world.force(name, _flip(system, raw), host=key, step=step_id)
        after_task, after = await _fetch(sim, target)
        cases.append(Case(label, target, len(units), before, after, _changed(before_task, after_task)))
    cases.append(await _pipeline_case(f"SOPS pipeline, {1_000 // scale:,} nodes (nested)", 1_000 // scale))
    return cases


def _process(case: Case) -> tuple[Callable[[], object], Callable[[], object]]:
    parse = PARSE[case.target.system]
    prev = _parse_pages(parse, case.target, case.before)

    def engine() -> object:
        new = _parse_pages(parse, case.target, case.after)
        return diff(prev, new, 0.0)

    def baseline() -> object:
        return [json.loads(b) for b in case.after]

    return engine, baseline


def _parse_pages(parse: Callable[..., Task], target: Target, bodies: list[bytes]) -> Task:
    datas = [orjson.loads(b)["data"] for b in bodies]
    if len(datas) > 1:
        return parse(datas[0], target, pages=datas[1:])
    return parse(datas[0], target)


def _timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    cases = asyncio.run(build_cases(args.quick))
    repeat = 3 if args.quick else 9
    rows = []
    for case in cases:
        engine, baseline = _process(case)
        events = engine()
        assert isinstance(events, list) and len(events) >= case.changed > 0, (case.label, len(events))
        e = _timed(engine, repeat)
        b = _timed(baseline, repeat)
        size = sum(len(x) for x in case.after)
        rows.append(
            Row(
                "payloads",
                f"{case.label}: orjson + parse + diff",
                e * 1000,
                "ms",
                b * 1000,
                "json.loads alone, ms",
                e / b,
                "<= 3.0",
                e / b <= 3.0,
                [
                    f"{size / 1e6:.2f} MB in {len(case.after)} response(s), "
                    f"{case.units} units, "
                    f"{case.changed} changed -> {len(events)} transitions; median of {repeat}"
                ],
            )
        )
    emit(rows, args.json)


if __name__ == "__main__":
    main()
