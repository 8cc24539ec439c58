"""SOPS / BKFlow pipelines in flow order (bk-apis §10.3): get_task_detail read once per task
beside the status poll, pending nodes, gateway branches and nested subprocesses in order, every
node named; the fallback when the detail cannot be read; the simulator's detail and task list."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bkwatch.client import BkClient
from bkwatch.model import Node, State, Task
from bkwatch.poller import diff
from bkwatch.sim import DEMO_TOKEN, SimConfig, Simulator
from bkwatch.systems.adapters import fetch_task, settle
from bkwatch.systems.pipeline import flow
from bkwatch.targets import parse_target
from tests.conftest import T0, sim_profile

FAILING = {"sops": "sops:2:102", "bkflow": "bkflow:1:502"}


def _sim() -> Simulator:
    return Simulator(SimConfig(seed=1, frozen=True, clock=lambda: T0))


def _client(sim: Simulator, *, gateway: bool = True) -> BkClient:
    return BkClient(
        sim_profile(gateway=gateway, token=DEMO_TOKEN), transport=httpx.ASGITransport(app=sim.app)
    )


def _expected(sim: Simulator, target: str) -> list[tuple[int, str, str]]:
    """(depth, kind, name) in flow order, straight from the simulator's own pipeline."""
    out: list[tuple[int, str, str]] = []

    def seq(nodes: list, depth: int) -> None:
        for n in nodes:
            if n.kind == "par":
                out.append((depth, "gateway", "parallel gateway"))
                for i, branch in enumerate(n.branches, 1):
                    out.append((depth + 1, "branch", f"branch {i}"))
                    seq(branch, depth + 2)
                out.append((depth, "converge", "converge"))
            else:
                out.append((depth, n.kind, n.name or n.kind))
                if n.kind == "sub":
                    seq(n.body, depth + 1)

    seq(sim.world.get(target).body, 1)
    return out


def _shown(task: Task) -> list[tuple[int, str]]:
    assert task.root is not None
    return [(d, n.name) for n, d in task.root.walk() if n is not task.root]


async def _ordered(client: BkClient, target: str) -> Task:
    first = await fetch_task(client, parse_target(target))
    assert await settle(client)
    second = await fetch_task(client, parse_target(target))
    assert first.root is not None and second.root is not None
    return second


@pytest.mark.parametrize("system", ["sops", "bkflow"])
async def test_the_whole_pipeline_in_flow_order_with_names_and_pending_nodes(system: str) -> None:
    sim = _sim()
    target = FAILING[system]
    async with _client(sim) as client:
        task = await asyncio.wait_for(_ordered(client, target), 30)
    expected = _expected(sim, target)
    assert _shown(task) == [(d, name) for d, _, name in expected]
    nodes = [n for n, _ in task.root.walk() if n is not task.root]  # type: ignore[union-attr]
    assert all(n.name and n.name != n.id for n in nodes)  # every node named, BKFlow's too
    pending = [n for n in nodes if n.state is State.PENDING and not n.raw_state]
    assert pending, "nodes not reached yet are shown"
    # The failed leaf is the one failure (with SOPS's ex_data message); its branch failed.
    failed = [n for n in nodes if n.state is State.FAILED and not n.children]
    assert len(failed) == 1 and (bool(failed[0].message) is (system == "sops"))
    branches = [n for n in nodes if n.synthetic]
    assert [b.name for b in branches] == ["branch 1", "branch 2", "branch 3"]
    assert any(b.state is State.FAILED for b in branches)
    assert task.name and "flow order" not in task.detail


async def test_status_trees_hold_only_reached_nodes_in_row_order_and_bkflow_no_names() -> None:
    sim = _sim()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://sim") as c:
        from tests.test_wire_auth import _header

        r = await c.get("/api/bk-flow-engine/prod/space/1/task/502/get_task_states/", headers=_header())
        states = r.json()["data"]
        d = await c.get("/api/bk-flow-engine/prod/space/1/task/502/get_task_detail/", headers=_header())
        detail = d.json()
    assert detail["result"] is True and detail["code"] == "0"
    tree = detail["data"]["pipeline_tree"]
    ids = (
        set(tree["activities"]) | set(tree["gateways"]) | {tree["start_event"]["id"], tree["end_event"]["id"]}
    )
    reached = set(states["children"])
    assert reached < ids  # the status tree's keys are pipeline ids, and not all were reached
    assert list(states["children"]) == sorted(states["children"])  # row order, not flow order
    assert not any("name" in n for n in states["children"].values())
    sub = next(a for a in tree["activities"].values() if a["type"] == "SubProcess")
    assert {"start_event", "end_event", "activities", "flows"} <= set(sub["pipeline"])
    gw = next(g for g in tree["gateways"].values() if g["type"] == "ParallelGateway")
    assert tree["gateways"][gw["converge_gateway_id"]]["type"] == "ConvergeGateway"
    assert all(a.get("retryable") is True and a.get("skippable") is True for a in tree["activities"].values())
    for flow_id, f in tree["flows"].items():
        assert (
            f["id"] == flow_id and f["source"] in ids | _all_ids(tree) and f["target"] in ids | _all_ids(tree)
        )


def _all_ids(tree: dict) -> set[str]:
    out = (
        set(tree["activities"]) | set(tree["gateways"]) | {tree["start_event"]["id"], tree["end_event"]["id"]}
    )
    for a in tree["activities"].values():
        if "pipeline" in a:
            out |= _all_ids(a["pipeline"])
    return out


async def test_bkflow_task_list_names_tasks_as_a_drf_page() -> None:
    sim = _sim()
    async with _client(sim) as client:
        page = await client.call(
            parse_target("bkflow:1:502").system, "space/1/get_task_list/", params={"id": 502, "limit": 10}
        )
        assert set(page) == {"count", "next", "previous", "results"}
        assert page["count"] == 1 and page["results"][0]["id"] == 502 and page["results"][0]["name"]
        every = await client.call(
            parse_target("bkflow:1:502").system, "space/1/get_task_list/", params={"limit": 2}
        )
        assert every["count"] > 2 and len(every["results"]) == 2 and every["next"]


@pytest.mark.parametrize("system", ["sops", "bkflow"])
async def test_without_the_detail_the_reached_nodes_are_shown_and_the_task_says_so(system: str) -> None:
    sim = _sim()
    sim.faults.set("http_500", route="get_task_detail")
    target = FAILING[system]
    async with _client(sim) as client:
        task = await asyncio.wait_for(_ordered(client, target), 30)
        again = await fetch_task(client, parse_target(target))
    assert "flow order unavailable" in task.detail and again.detail == task.detail
    names = [n.name for n, _ in task.root.walk()]  # type: ignore[union-attr]
    assert not any(n.synthetic for n, _ in task.root.walk())  # type: ignore[union-attr]
    assert task.state is State.FAILED and len(names) > 3
    if system == "bkflow":  # named from get_task_list instead
        assert task.name == sim.world.get(target).name


async def test_the_status_poll_never_waits_for_the_detail() -> None:
    sim = _sim()
    sim.faults.set("delay", route="get_task_detail", delay=3.0)
    async with _client(sim) as client:
        started = time.monotonic()
        task = await fetch_task(client, parse_target("sops:2:102"))
        assert time.monotonic() - started < 2.0 and task.state is State.FAILED
        assert not any(n.synthetic for n, _ in task.root.walk())  # type: ignore[union-attr]
        await asyncio.wait_for(settle(client), 30)
        task = await fetch_task(client, parse_target("sops:2:102"))
        assert any(n.synthetic for n, _ in task.root.walk())  # type: ignore[union-attr]


async def test_detail_read_once_per_task_and_again_after_a_retry() -> None:
    sim = _sim()
    async with _client(sim, gateway=False) as client:  # SOPS over the ESB this time
        before = sum(1 for r in sim.bk.wire.requests() if "get_task_detail" in r.path)
        task = await _ordered(client, "sops:2:102")
        for _ in range(3):
            task = await fetch_task(client, parse_target("sops:2:102"))
        await settle(client)
        reads = [r for r in sim.bk.wire.requests() if "get_task_detail" in r.path]
        assert len(reads) - before == 1
        sim.world.retry("sops:2:102")
        sim.world.advance(60)
        retried = await fetch_task(client, parse_target("sops:2:102"))
        await settle(client)
        reads = [r for r in sim.bk.wire.requests() if "get_task_detail" in r.path]
        assert len(reads) - before == 2  # a retry may bring new inputs: the tree is read again
    changes = diff(task, retried, 0.0)
    assert not any(
        c.key.startswith("l") and c.level == "node" and c.name.startswith("branch") for c in changes
    )


def test_layout_orders_conditions_default_first_and_survives_loops() -> None:
    def act(i: str, inc: list[str], out: str) -> dict:
        return {"id": i, "name": i.upper(), "type": "ServiceActivity", "incoming": inc, "outgoing": out}

    tree = {
        "start_event": {"id": "s", "outgoing": "f1", "type": "EmptyStartEvent"},
        "end_event": {"id": "e", "incoming": ["f6"], "type": "EmptyEndEvent"},
        "activities": {
            "a": act("a", ["f1", "f7"], "f2"),
            "b": act("b", ["f3"], "f5"),
            "c": act("c", ["f4"], "f7"),
        },
        "gateways": {
            "g": {
                "id": "g",
                "type": "ExclusiveGateway",
                "outgoing": ["f3", "f4"],
                "conditions": {"f3": {"evaluate": "1 == 1", "name": "ok"}},
                "default_condition": {"flow_id": "f4", "name": "default"},
            },
            "j": {"id": "j", "type": "ConvergeGateway", "incoming": ["f5"], "outgoing": "f6"},
        },
        "flows": {
            f: {"id": f, "source": s, "target": t}
            for f, s, t in [
                ("f1", "s", "a"), ("f2", "a", "g"), ("f3", "g", "b"), ("f4", "g", "c"),
                ("f5", "b", "j"), ("f6", "j", "e"), ("f7", "c", "a"),
            ]
        },
    }  # fmt: skip
    items = flow.layout(tree)
    assert [i.name for i in items] == ["start", "A", "exclusive gateway", "converge", "end"]
    branches = items[2].children
    assert [b.name for b in branches] == ["branch 1: default", "branch 2: ok"]  # default first
    assert [[i.name for i in b.children] for b in branches] == [["C"], ["B"]]  # the loop back stops


def test_a_node_the_detail_does_not_know_is_kept_and_marks_it_stale() -> None:
    task = Task("sops:2:1", parse_target("sops:2:1").system, "t", State.RUNNING, "RUNNING", False)
    task.root = Node("root", "t", State.RUNNING, "RUNNING")
    items = [flow.FlowItem("s", "start", "event"), flow.FlowItem("a", "A", "activity")]
    reached = {"s": {"id": "s", "state": "FINISHED"}, "x": {"id": "x", "state": "RUNNING", "name": "new"}}
    payload = {"id": "root", "state": "RUNNING", "children": reached}
    unknown = flow.ordered(task, payload, items, "test")
    assert unknown == ["x"]
    assert [(n.id, n.state) for n in task.root.children] == [
        ("s", State.SUCCEEDED), ("a", State.PENDING), ("x", State.RUNNING)]  # fmt: skip


def test_a_failed_gateway_stays_a_failure_of_its_own() -> None:
    from bkwatch.model import failures

    task = Task("sops:2:1", parse_target("sops:2:1").system, "t", State.FAILED, "FAILED", True)
    task.root = Node("root", "t", State.FAILED, "FAILED")
    branch = flow.FlowItem("f1", "branch 1", "branch", [flow.FlowItem("a", "A", "activity")])
    items = [flow.FlowItem("g", "exclusive gateway", "gateway", [branch])]
    payload = {"id": "root", "state": "FAILED", "children": {"g": {"id": "g", "state": "FAILED"}}}
    flow.ordered(task, payload, items, "test")
    assert [n.id for n in task.root.children] == ["g", "f1"] and not task.root.children[0].children
    assert [f.id for f in failures(task)] == ["g"]


@pytest.mark.parametrize("target", ["bkflow:1:501", "sops:2:101"])
async def test_the_monitor_polls_a_finished_pipeline_again_once_its_detail_is_read(target: str) -> None:
    """A finished task is polled once a minute; its flow order and names must not wait for that:
    the monitor's fetch polls it again as soon as the detail read beside the first poll is in."""
    from bkwatch.cli.run import LazyFetch, repoll
    from bkwatch.poller import Poller

    sim = _sim()
    expected = [(d, name) for d, _, name in _expected(sim, target)]
    async with _client(sim) as client:

        async def same_client() -> BkClient:
            return client

        fetch = LazyFetch(same_client)
        poller = Poller(fetch)
        fetch.on_detail = repoll(poller)
        watch = poller.add(parse_target(target))
        runner = asyncio.create_task(poller.run())
        try:
            async with asyncio.timeout(10):  # the next turn of a finished task is a minute away
                while watch.task is None or _shown(watch.task) != expected:
                    await asyncio.sleep(0.02)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    assert watch.task.name and watch.task.state is State.SUCCEEDED
