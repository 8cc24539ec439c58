"""The live world: evolution over simulated time, force, retry, arrivals, determinism."""

from __future__ import annotations

import json

import httpx
import pytest

from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME, SimConfig, SimError, Simulator

T0 = 1_700_000_000.0
AUTH = {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET, "bk_username": DEMO_USERNAME}
GW = {"X-Bkapi-Authorization": json.dumps(AUTH)}


def frozen(**kw) -> Simulator:
    return Simulator(SimConfig(seed=1, frozen=True, clock=lambda: T0, **kw))


def states(sim: Simulator) -> dict[str, str]:
    return {t.target: t.state for t in sim.world.tasks()}


async def get_job(sim: Simulator, job_id: int, scope: str = "2") -> dict:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://sim") as c:
        r = await c.get(
            "/api/bk-job/prod/api/v3/get_job_instance_status",
            headers=GW,
            params={
                "bk_scope_type": "biz",
                "bk_scope_id": scope,
                "job_instance_id": job_id,
                "return_ip_result": "true",
            },
        )
    return r.json()["data"]


def test_world_is_interesting_at_t0() -> None:
    sim = frozen()
    infos = sim.world.tasks()
    assert {t.system for t in infos} == {"job", "sops", "bkflow", "nodeman", "gsekit"}
    st = states(sim)
    assert st["job:2:20001"] == "3" and st["job:2:20002"] == "4" and st["job:2:20004"] == "7"
    assert st["sops:2:102"] == "FAILED" and st["sops:project:5:103"] == "NODE_SUSPENDED"
    assert st["nodeman:2:302"] == "PART_FAILED" and st["nodeman:2:303"] == "RUNNING"
    assert st["gsekit:2:802"] == "failed" and st["bkflow:1:503"] == "RUNNING"
    assert any(t.target.startswith("job:biz_set:9991:") for t in infos)
    assert any(t.target.startswith("sops:project:5:") for t in infos)


def test_same_seed_and_clock_same_world() -> None:
    a, b = frozen(), frozen()
    a.world.advance(17)
    b.world.advance(17)
    assert a.world.tasks() == b.world.tasks()
    ja, jb = a.world.get("job:3:20003"), b.world.get("job:3:20003")
    assert ja.data(a.world.now(), True) == jb.data(b.world.now(), True)
    c = Simulator(SimConfig(seed=2, frozen=True, clock=lambda: T0))
    assert c.world.get("sops:2:101").root_id != a.world.get("sops:2:101").root_id


def test_changes_within_five_seconds_at_speed_one() -> None:
    clock = [T0]
    sim = Simulator(SimConfig(seed=1, clock=lambda: clock[0]))

    def snapshot() -> list[object]:
        now = sim.world.now()
        return [
            sim.world.get("job:biz_set:9991:20005").data(now, True),
            sim.world.get("job:3:20003").data(now, True),
            [v.status for v in sim.world.get("nodeman:2:303").view(now)[0]],
        ]

    before = snapshot()
    clock[0] += 5
    after = snapshot()
    assert sum(x != y for x, y in zip(before, after, strict=True)) >= 2


async def test_job_runs_to_completion_and_rolling_waits() -> None:
    sim = frozen()
    seen = set()
    for _ in range(120):
        data = await get_job(sim, 20003, "3")
        seen.add(data["job_instance"]["status"])
        seen |= {s["status"] for s in data["step_instance_list"]}
        if data["finished"]:
            break
        sim.world.advance(1)
    assert data["finished"] is True and 15 in seen and 2 in seen
    assert data["job_instance"]["end_time"] >= data["job_instance"]["start_time"]


async def test_manual_confirm_step_waits_then_continues() -> None:
    sim = frozen()
    data = await get_job(sim, 20006)
    assert data["step_instance_list"][1]["type"] == 3
    sim.world.advance(25)
    statuses = [s["status"] for s in (await get_job(sim, 20006))["step_instance_list"]]
    assert statuses[1] == 3 and statuses[2] in (2, 3, 4)


async def test_job_retry_bumps_execute_count_and_reruns() -> None:
    sim = frozen()
    data = await get_job(sim, 20002)
    failed = next(s for s in data["step_instance_list"] if s["status"] == 4)
    ok_hosts = {h["bk_host_id"] for h in failed["step_ip_result_list"] if h["status"] == 9}
    sim.world.retry("job:2:20002")
    data = await get_job(sim, 20002)
    step = next(s for s in data["step_instance_list"] if s["step_instance_id"] == failed["step_instance_id"])
    assert data["job_instance"]["status"] == 2 and data["finished"] is False
    assert step["execute_count"] == 1 and step["status"] == 2
    assert {h["status"] for h in step["step_ip_result_list"] if h["bk_host_id"] in ok_hosts} == {3}
    sim.world.advance(120)
    data = await get_job(sim, 20002)
    assert data["job_instance"]["status"] == 3 and data["finished"] is True


async def test_force_job_host_step_and_task() -> None:
    sim = frozen()
    sim.world.force("job:2:20001", 9 + 2, host="1:10.2.0.8", step=200011)  # host 11 failed
    data = await get_job(sim, 20001)
    host = next(h for h in data["step_instance_list"][0]["step_ip_result_list"] if h["ip"] == "10.2.0.8")
    assert host["status"] == 11
    sim.world.force("job:2:20001", 10, step=200012)
    assert (await get_job(sim, 20001))["step_instance_list"][1]["status"] == 10
    sim.world.force("job:biz_set:9991:20005", 8)
    assert states(sim)["job:biz_set:9991:20005"] == "8"
    sim.world.advance(300)
    assert states(sim)["job:biz_set:9991:20005"] == "8"  # pinned
    with pytest.raises(SimError):
        sim.world.force("job:2:20001", 12)
    with pytest.raises(SimError):
        sim.world.force("job:9:1", 3)


def test_sops_force_node_and_retry_failed_node() -> None:
    sim = frozen()
    task = sim.world.get("sops:2:102")
    failed = task.failed_leaves(sim.world.now())
    assert failed
    sim.world.retry("sops:2:102")
    assert task.find_out(sim.world.now(), failed[0].id).state == "RUNNING"
    assert task.find_out(sim.world.now(), failed[0].id).retry == 1
    sim.world.advance(200)
    assert states(sim)["sops:2:102"] == "FINISHED"
    node = task.failed_leaves(sim.world.now())
    assert node == []
    leaf = next(o.id for o in [task.tree(sim.world.now())] for o in o.children.values() if o.kind == "act")
    sim.world.force("sops:2:102", "FAILED", node=leaf)
    assert states(sim)["sops:2:102"] == "FAILED"
    sim.world.force("sops:2:101", "REVOKED")
    assert states(sim)["sops:2:101"] == "REVOKED"


async def test_retry_resumes_waiting_job_and_suspended_pipeline() -> None:
    sim = frozen()
    sim.world.advance(5)
    assert states(sim)["job:2:20004"] == "7" and states(sim)["sops:project:5:103"] == "NODE_SUSPENDED"
    sim.world.retry("job:2:20004")
    sim.world.retry("sops:project:5:103")
    assert states(sim)["job:2:20004"] == "2"
    assert states(sim)["sops:project:5:103"] == "RUNNING"
    sim.world.advance(300)
    assert states(sim)["job:2:20004"] == "3" and states(sim)["sops:project:5:103"] == "FINISHED"
    data = await get_job(sim, 20004)
    assert data["step_instance_list"][1]["status"] == 3 and data["step_instance_list"][1]["end_time"]


def test_nodeman_and_gsekit_retry() -> None:
    sim = frozen()
    sim.world.retry("nodeman:2:302")
    assert states(sim)["nodeman:2:302"] == "RUNNING"
    sim.world.advance(120)
    assert states(sim)["nodeman:2:302"] == "SUCCESS"
    sim.world.force("nodeman:2:302", "FAILED", host="0:10.12.0.2")
    assert states(sim)["nodeman:2:302"] == "PART_FAILED"
    sim.world.retry("gsekit:2:802")
    assert states(sim)["gsekit:2:802"] == "pending"
    sim.world.advance(1.2)
    assert states(sim)["gsekit:2:802"] == "running"
    sim.world.advance(60)
    assert states(sim)["gsekit:2:802"] == "succeeded"
    sim.world.force("gsekit:2:802", "failed", host="80203")
    assert states(sim)["gsekit:2:802"] == "failed"


def test_add_task_and_arrivals() -> None:
    clock = [T0]
    sim = Simulator(SimConfig(seed=1, clock=lambda: clock[0], arrival_interval=10))
    n = len(sim.world.tasks())
    clock[0] += 35
    assert len(sim.world.tasks()) == n + 3
    target = sim.world.add_task("job", hosts=500, scope=("biz", 3))
    assert target.startswith("job:3:")
    assert len(sim.world.get(target).steps[0].hosts) == 500
    assert sim.world.add_task("bkflow", nodes=300).startswith("bkflow:1:")
    f = frozen()
    f.world.advance(100)
    assert len(f.world.tasks()) == n  # frozen: no arrivals


async def test_sops_stale_cache() -> None:
    sim = frozen(sops_cache_seconds=10)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://sim") as c:
        first = (await c.get("/api/bk-sops/prod/get_task_status/104/2/", headers=GW)).json()["data"]
        sim.world.advance(5)
        again = (await c.get("/api/bk-sops/prod/get_task_status/104/2/", headers=GW)).json()["data"]
        sim.world.advance(6)
        fresh = (await c.get("/api/bk-sops/prod/get_task_status/104/2/", headers=GW)).json()["data"]
    assert again == first and fresh != first


async def test_large_payloads() -> None:
    sim = frozen(job_hosts=2000, pipeline_nodes=400, nodeman_hosts=1200)
    data = await get_job(sim, 20001)
    assert all(len(s["step_ip_result_list"]) == 2000 for s in data["step_instance_list"])
    root = sim.world.get("sops:2:101").render(sim.world.now(), "sops")
    leaves = 0
    stack = [root]
    while stack:
        n = stack.pop()
        leaves += not n["children"]
        stack.extend(n["children"].values())
    assert leaves > 400
