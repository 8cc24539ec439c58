"""Task operations end to end through the engine (bkwatch.actions) against the simulator in-process:
every action of every system accepted when allowed (its effect in the next poll), refused when not,
nothing sent when off or stale, exactly one request each, audited without secrets."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bkwatch.actions import BY_ID, Actor, Plan, Result, offers, unreachable
from bkwatch.client import BkClient
from bkwatch.model import State, System, Task
from bkwatch.sim import DEMO_APP_SECRET, SimConfig, Simulator
from bkwatch.systems.adapters import fetch_task
from bkwatch.targets import parse_target
from tests.conftest import sim_profile

LIMIT = 30  # seconds any one test may take


@pytest.fixture
def world_sim() -> Simulator:
    return Simulator(SimConfig(seed=7, frozen=True))


class Rig:
    def __init__(self, sim: Simulator, tmp: Path, *, gateway: bool = True, allow: bool = True) -> None:
        self.sim = sim
        self.profile = sim_profile(gateway=gateway, allow_actions=allow)
        self.client = BkClient(self.profile, transport=httpx.ASGITransport(app=sim.app))
        self.actor = Actor(self.client, self.profile, data_dir=tmp)
        self.audit = tmp / "audit.jsonl"

    async def task(self, text: str) -> Task:
        return await fetch_task(self.client, parse_target(text))

    async def plan(self, text: str, action: str, subject: str | None = None) -> Plan:
        return Plan(BY_ID[action], parse_target(text), await self.task(text), subject, time.time())

    async def act(self, text: str, action: str, subject: str | None = None) -> Any:
        async with asyncio.timeout(LIMIT):
            return await self.actor.perform(await self.plan(text, action, subject))

    def ops(self) -> list[dict[str, Any]]:
        return self.sim.world.operations.list()

    def race(self, meanwhile: Callable[[], None]) -> None:
        """Someone else changes the task on the server right after the actor's last read (the
        one right before sending), once: the server then refuses what that read allowed."""
        done: list[bool] = []

        async def fetch(client: BkClient, target: Any) -> Task:
            task = await fetch_task(client, target)
            if not done:
                done.append(True)
                meanwhile()
            return task

        self.actor._fetch = fetch


@pytest.fixture(params=["apigw", "esb"])
async def rig(request: pytest.FixtureRequest, world_sim: Simulator, tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(world_sim, tmp_path, gateway=request.param == "apigw")
    yield r
    await r.client.aclose()


@pytest.fixture
async def gw_rig(world_sim: Simulator, tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(world_sim, tmp_path)
    yield r
    await r.client.aclose()


def step(task: Task, step_id: str) -> Any:
    return next(s for s in task.steps if s.id == step_id)


def node(task: Task, node_id: str) -> Any:
    assert task.root is not None
    return next(n for n, _ in task.root.walk() if n.id == node_id)


def first_leaf(task: Task, raw: str) -> str:
    return next(n.id for n in task.leaf_nodes() if n.raw_state == raw)


def the_one_op(rig: Rig, api: str) -> dict[str, Any]:
    ops = rig.ops()
    assert len(ops) == 1, ops
    op = ops[0]
    assert op["api"] == api
    assert op["transport"] == ("apigw" if rig.profile.apigw_tmpl else "esb")
    assert not any("secret" in k or "token" in k for k in op["params"])
    return op


# -- JOB ------------------------------------------------------------------------------------------

FAILED_JOB, FAILED_STEP, NEXT_STEP = "job:2:20002", "200022", "200023"
WAITING_JOB, MANUAL_STEP = "job:2:20004", "200042"
ROLLING_JOB, ROLLING_STEP = "job:3:20003", "200031"


async def test_job_retry_failed_hosts_reruns_them(rig: Rig) -> None:
    before = step(await rig.task(FAILED_JOB), FAILED_STEP)
    failed = [h.key for h in before.hosts.values() if h.state is not State.SUCCEEDED]
    out = await rig.act(FAILED_JOB, "job.retry_failed", FAILED_STEP)
    assert out.result is Result.DONE and out.exit_code == 0
    op = the_one_op(rig, "operate_step_instance")
    assert op["params"]["operation_code"] == 2 and str(op["params"]["step_instance_id"]) == FAILED_STEP
    after = step(await rig.task(FAILED_JOB), FAILED_STEP)
    assert after.execute_count == before.execute_count + 1
    assert after.state in (State.PENDING, State.RUNNING)
    rig.sim.world.advance(30)
    done = step(await rig.task(FAILED_JOB), FAILED_STEP)
    assert done.state is State.SUCCEEDED
    assert all(done.hosts[k].state is State.SUCCEEDED for k in failed)


async def test_job_retry_can_fail_again(gw_rig: Rig) -> None:
    gw_rig.sim.world.operations.fail_next.add(FAILED_JOB)
    assert (await gw_rig.act(FAILED_JOB, "job.retry_all", FAILED_STEP)).result is Result.DONE
    assert gw_rig.ops()[0]["params"]["operation_code"] == 8
    gw_rig.sim.world.advance(30)
    again = step(await gw_rig.task(FAILED_JOB), FAILED_STEP)
    assert again.state is State.FAILED and again.execute_count == 1


async def test_job_ignore_error_moves_on(rig: Rig) -> None:
    out = await rig.act(FAILED_JOB, "job.ignore_error", FAILED_STEP)
    assert out.result is Result.DONE
    assert the_one_op(rig, "operate_step_instance")["params"]["operation_code"] == 3
    task = await rig.task(FAILED_JOB)
    assert step(task, FAILED_STEP).raw_state == "6"
    assert step(task, NEXT_STEP).state in (State.PENDING, State.RUNNING) and task.state is State.RUNNING


async def test_job_confirm_and_reject_and_ask_again(rig: Rig) -> None:
    out = await rig.act(WAITING_JOB, "job.reject", MANUAL_STEP)
    assert out.result is Result.DONE
    task = await rig.task(WAITING_JOB)
    assert step(task, MANUAL_STEP).raw_state == "13" and task.raw_state == "13"
    assert (await rig.act(WAITING_JOB, "job.reconfirm", MANUAL_STEP)).result is Result.DONE
    assert step(await rig.task(WAITING_JOB), MANUAL_STEP).raw_state == "7"
    assert (await rig.act(WAITING_JOB, "job.confirm", MANUAL_STEP)).result is Result.DONE
    assert [o["params"]["operation_code"] for o in rig.ops()] == [9, 10, 6]
    assert step(await rig.task(WAITING_JOB), MANUAL_STEP).raw_state == "3"


async def test_job_continue_rolling_starts_next_batch(rig: Rig) -> None:
    for _ in range(30):  # until the first batch is done and the next one waits
        rig.sim.world.advance(1)
        if step(await rig.task(ROLLING_JOB), ROLLING_STEP).raw_state == "15":
            break
    assert step(await rig.task(ROLLING_JOB), ROLLING_STEP).raw_state == "15"
    out = await rig.act(ROLLING_JOB, "job.continue_rolling", ROLLING_STEP)
    assert out.result is Result.DONE
    assert the_one_op(rig, "operate_step_instance")["params"]["operation_code"] == 13
    assert step(await rig.task(ROLLING_JOB), ROLLING_STEP).raw_state == "2"


async def test_job_terminate_then_next_step(rig: Rig) -> None:
    out = await rig.act(ROLLING_JOB, "job.terminate")
    assert out.result is Result.DONE
    assert the_one_op(rig, "operate_job_instance")["params"]["operation_code"] == 1
    task = await rig.task(ROLLING_JOB)
    assert task.raw_state == "11" and step(task, ROLLING_STEP).raw_state == "11"
    assert (await rig.act(ROLLING_JOB, "job.next_step", ROLLING_STEP)).result is Result.DONE
    assert (await rig.task(ROLLING_JOB)).state is State.RUNNING


async def test_job_force_skip_while_stopping(gw_rig: Rig) -> None:
    gw_rig.sim.world.force(ROLLING_JOB, 10, step=ROLLING_STEP)
    assert (await gw_rig.act(ROLLING_JOB, "job.force_skip", ROLLING_STEP)).result is Result.DONE
    assert gw_rig.ops()[0]["params"]["operation_code"] == 12
    assert step(await gw_rig.task(ROLLING_JOB), ROLLING_STEP).raw_state == "5"


async def test_job_start_a_job_not_started(rig: Rig) -> None:
    target = rig.sim.world.add_task("job", kind="running", scope=("biz", 2), delay=600)
    text = target
    assert (await rig.task(text)).raw_state == "1"
    assert (await rig.act(text, "job.start")).result is Result.DONE
    assert (await rig.task(text)).state is State.RUNNING


async def test_job_server_refusal_is_code_1241003_exit_1(rig: Rig) -> None:
    plan = await rig.plan(FAILED_JOB, "job.retry_failed", FAILED_STEP)  # judged fresh: allowed
    rig.race(lambda: rig.sim.world.force(FAILED_JOB, 3, step=FAILED_STEP))  # then it succeeded
    async with asyncio.timeout(LIMIT):
        out = await rig.actor.perform(plan)
    assert out.result is Result.REFUSED and out.exit_code == 1 and out.code == "1241003"
    assert "1241003" in out.message
    assert len(rig.ops()) == 1 and rig.ops()[0]["result"] is False


async def test_the_task_is_read_again_before_sending_and_nothing_sent(gw_rig: Rig) -> None:
    plan = await gw_rig.plan(FAILED_JOB, "job.retry_failed", FAILED_STEP)  # fresh: read just now
    gw_rig.sim.world.force(FAILED_JOB, 2, step=FAILED_STEP)
    async with asyncio.timeout(LIMIT):
        out = await gw_rig.actor.perform(plan)
    assert out.result is Result.NOT_ALLOWED and out.exit_code == 1
    assert "step is running; retry needs it failed" in out.message
    assert gw_rig.ops() == []


async def test_greyed_reasons_on_the_model(gw_rig: Rig) -> None:
    task = await gw_rig.task(ROLLING_JOB)
    by_id = {o.spec.id: o for o in offers(task, step_id=ROLLING_STEP, hosts=True)}
    assert by_id["job.retry_failed"].reason == "step is running; retry needs it failed, abnormal or stopped"
    assert by_id["job.terminate"].allowed
    ordered = [o.spec.id for o in offers(task, step_id=ROLLING_STEP, hosts=True)]
    assert ordered[:2] == ["job.retry_failed", "job.retry_all"] and ordered[-1] == "job.start"


# -- SOPS / BKFlow --------------------------------------------------------------------------------

SOPS_FAILED, SOPS_SUSPENDED, SOPS_RUNNING, SOPS_CREATED = (
    "sops:2:102",
    "sops:project:5:103",
    "sops:2:106",
    "sops:2:107",
)
BKFLOW_FAILED, BKFLOW_RUNNING = "bkflow:1:502", "bkflow:1:503"


async def test_sops_retry_node_reversed_path_and_can_fail_again(rig: Rig) -> None:
    failed = first_leaf(await rig.task(SOPS_FAILED), "FAILED")
    rig.sim.world.operations.fail_next.add(SOPS_FAILED)
    assert (await rig.act(SOPS_FAILED, "sops.retry_node", failed)).result is Result.DONE
    op = the_one_op(rig, "operate_node")
    assert op["params"]["action"] == "retry" and op["params"]["node_id"] == failed
    assert "inputs" not in op["params"]  # the same inputs
    if op["transport"] == "apigw":
        assert op["path"] == "/api/bk-sops/prod/operate_node/2/102/"  # bk_biz_id first
    else:
        assert op["path"].startswith("/api/c/compapi/v2/sops/operate_node")
        assert str(op["params"]["bk_biz_id"]) == "2" and str(op["params"]["task_id"]) == "102"
    assert node(await rig.task(SOPS_FAILED), failed).state is State.RUNNING
    rig.sim.world.advance(10)
    assert node(await rig.task(SOPS_FAILED), failed).state is State.FAILED  # failed again
    assert (await rig.act(SOPS_FAILED, "sops.retry_node", failed)).result is Result.DONE
    rig.sim.world.advance(10)
    again = node(await rig.task(SOPS_FAILED), failed)
    assert again.state is State.SUCCEEDED and again.retry >= 2


async def test_sops_skip_node_pipeline_continues(rig: Rig) -> None:
    before = await rig.task(SOPS_FAILED)
    failed = first_leaf(before, "FAILED")
    assert (await rig.act(SOPS_FAILED, "sops.skip_node", failed)).result is Result.DONE
    after = await rig.task(SOPS_FAILED)
    skipped = node(after, failed)
    assert skipped.skip is True and skipped.state is State.SUCCEEDED
    assert after.state is not State.FAILED
    assert len(after.leaf_nodes()) > len(before.leaf_nodes())  # nodes after it were reached


async def test_sops_force_fail_resume_and_subprocess(rig: Rig) -> None:
    running = first_leaf(await rig.task(SOPS_RUNNING), "RUNNING")
    assert (await rig.act(SOPS_RUNNING, "sops.force_fail", running)).result is Result.DONE
    assert node(await rig.task(SOPS_RUNNING), running).state is State.FAILED
    paused = first_leaf(await rig.task(SOPS_SUSPENDED), "SUSPENDED")
    assert (await rig.act(SOPS_SUSPENDED, "sops.resume_node", paused)).result is Result.DONE
    assert node(await rig.task(SOPS_SUSPENDED), paused).state is not State.WAITING
    sub = ""
    for _ in range(20):  # until the pipeline reaches a subprocess
        rig.sim.world.advance(1)
        task = await rig.task("sops:2:104")
        assert task.root is not None
        subs = [
            n.id
            for n, _ in task.root.walk()
            if n.children and n is not task.root and n.raw_state == "RUNNING"
        ]
        if subs:
            sub = subs[0]
            break
    assert (await rig.act("sops:2:104", "sops.pause_subprocess", sub)).result is Result.DONE
    assert node(await rig.task("sops:2:104"), sub).raw_state == "SUSPENDED"
    assert (await rig.act("sops:2:104", "sops.resume_subprocess", sub)).result is Result.DONE
    assert node(await rig.task("sops:2:104"), sub).raw_state == "RUNNING"
    actions = [o["params"]["action"] for o in rig.ops()]
    assert actions == ["forced_fail", "resume", "pause_subproc", "resume_subproc"]


async def test_sops_task_pause_resume_revoke_start(rig: Rig) -> None:
    assert (await rig.act(SOPS_RUNNING, "sops.pause")).result is Result.DONE
    assert (await rig.task(SOPS_RUNNING)).raw_state == "SUSPENDED"
    assert (await rig.act(SOPS_RUNNING, "sops.resume")).result is Result.DONE
    assert (await rig.task(SOPS_RUNNING)).raw_state == "RUNNING"
    assert (await rig.act(SOPS_RUNNING, "sops.revoke")).result is Result.DONE
    revoked = await rig.task(SOPS_RUNNING)
    assert revoked.raw_state == "REVOKED" and revoked.state is State.STOPPED
    assert (await rig.act(SOPS_CREATED, "sops.start")).result is Result.DONE
    assert (await rig.task(SOPS_CREATED)).raw_state != "CREATED"
    assert [o["params"]["action"] for o in rig.ops()] == ["pause", "resume", "revoke", "start"]
    if rig.profile.apigw_tmpl:
        assert rig.ops()[0]["path"] == "/api/bk-sops/prod/operate_task/106/2/"  # task first here


async def test_sops_refusal_3545000_when_not_started(rig: Rig) -> None:
    plan = await rig.plan(SOPS_RUNNING, "sops.pause")
    rig.race(lambda: rig.sim.world.force(SOPS_RUNNING, "CREATED"))
    async with asyncio.timeout(LIMIT):
        out = await rig.actor.perform(plan)
    assert out.result is Result.REFUSED and out.code == "3545000" and "task not started" in out.message


async def test_sops_node_refusal_3599999(gw_rig: Rig) -> None:
    failed = first_leaf(await gw_rig.task(SOPS_FAILED), "FAILED")
    plan = await gw_rig.plan(SOPS_FAILED, "sops.retry_node", failed)
    gw_rig.race(lambda: gw_rig.sim.world.force(SOPS_FAILED, "RUNNING", node=failed))
    async with asyncio.timeout(LIMIT):
        out = await gw_rig.actor.perform(plan)
    assert out.result is Result.REFUSED and out.code == "3599999" and out.exit_code == 1


async def test_bkflow_node_operations_carry_operator(gw_rig: Rig) -> None:
    failed = first_leaf(await gw_rig.task(BKFLOW_FAILED), "FAILED")
    assert (await gw_rig.act(BKFLOW_FAILED, "bkflow.retry_node", failed)).result is Result.DONE
    op = the_one_op(gw_rig, "operate_node")
    assert op["path"] == f"/api/bk-flow-engine/prod/space/1/task/502/node/{failed}/operate_node/retry/"
    assert op["params"]["operator"] == gw_rig.profile.username
    gw_rig.sim.world.advance(10)
    assert node(await gw_rig.task(BKFLOW_FAILED), failed).state is State.SUCCEEDED
    running = first_leaf(await gw_rig.task(BKFLOW_RUNNING), "RUNNING")
    assert (await gw_rig.act(BKFLOW_RUNNING, "bkflow.force_fail", running)).result is Result.DONE
    assert node(await gw_rig.task(BKFLOW_RUNNING), running).state is State.FAILED
    assert (await gw_rig.act(BKFLOW_RUNNING, "bkflow.skip_node", running)).result is Result.DONE
    skipped = node(await gw_rig.task(BKFLOW_RUNNING), running)
    assert skipped.skip is True and skipped.state is State.SUCCEEDED


async def test_bkflow_task_operations_and_refusal(gw_rig: Rig) -> None:
    for action, raw in (("pause", "SUSPENDED"), ("resume", "RUNNING"), ("revoke", "REVOKED")):
        assert (await gw_rig.act(BKFLOW_RUNNING, f"bkflow.{action}")).result is Result.DONE
        assert (await gw_rig.task(BKFLOW_RUNNING)).raw_state == raw
    paths = [o["path"] for o in gw_rig.ops()]
    assert paths[0] == "/api/bk-flow-engine/prod/space/1/task/503/operate_task/pause/"
    created = gw_rig.sim.world.add_task("bkflow", kind="running", scope=1, delay=600)
    assert (await gw_rig.task(created)).raw_state == "CREATED"
    assert (await gw_rig.act(created, "bkflow.start")).result is Result.DONE
    plan = await gw_rig.plan(BKFLOW_FAILED, "bkflow.revoke")
    gw_rig.race(lambda: gw_rig.sim.world.force(BKFLOW_FAILED, "REVOKED"))
    async with asyncio.timeout(LIMIT):
        out = await gw_rig.actor.perform(plan)
    assert out.result is Result.REFUSED and out.exit_code == 1 and "cannot be revoked" in out.message


async def test_bkflow_without_username_sends_nothing(world_sim: Simulator, tmp_path: Path) -> None:
    r = Rig(world_sim, tmp_path)
    r.profile.username = None
    r.profile.token = "tok"  # a user identity for the poll, yet no operator name
    try:
        out = await r.act(BKFLOW_RUNNING, "bkflow.pause")
    finally:
        await r.client.aclose()
    assert out.result is Result.ERROR and "operator" in out.message and r.ops() == []


async def test_bkflow_simulator_requires_operator(world_sim: Simulator) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world_sim.app), base_url="http://sim"
    ) as c:
        from bkwatch.sim import DEMO_APP_CODE

        header = {
            "X-Bkapi-Authorization": json.dumps(
                {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET}
            )
        }
        resp = await c.post(
            "/api/bk-flow-engine/prod/space/1/task/503/operate_task/pause/", json={}, headers=header
        )
    body = resp.json()
    assert body["result"] is False and "operator" in body["message"]
    assert world_sim.world.operations.list()[0]["result"] is False


# -- safety ---------------------------------------------------------------------------------------


async def test_actions_off_send_nothing_and_say_how(world_sim: Simulator, tmp_path: Path) -> None:
    r = Rig(world_sim, tmp_path, allow=False)
    try:
        out = await r.act(FAILED_JOB, "job.retry_failed", FAILED_STEP)
    finally:
        await r.client.aclose()
    assert out.result is Result.DISABLED and out.exit_code == 1
    for hint in ("allow_actions = true", "--allow-actions", "BKWATCH_ALLOW_ACTIONS=1"):
        assert hint in out.message
    assert r.ops() == []


async def test_second_press_while_in_flight_sends_nothing(gw_rig: Rig) -> None:
    gw_rig.sim.faults.set("delay", route="operate_step_instance", delay=0.5)
    plan = await gw_rig.plan(FAILED_JOB, "job.retry_failed", FAILED_STEP)
    async with asyncio.timeout(LIMIT):
        first = asyncio.create_task(gw_rig.actor.perform(plan))
        await asyncio.sleep(0.1)
        second = await gw_rig.actor.perform(plan)
        assert (await first).result is Result.DONE
    assert second.result is Result.BUSY and len(gw_rig.ops()) == 1


async def test_timeout_repolls_and_says_what_the_task_shows(tmp_path: Path) -> None:
    sim = Simulator(SimConfig(seed=7, frozen=True))
    sim.faults.set("delay", route="operate_step_instance", delay=2.0, count=1)
    with sim.serve() as server:
        profile = sim_profile(server.base_url, allow_actions=True, timeout=0.5)
        client = BkClient(profile)
        actor = Actor(client, profile, data_dir=tmp_path)
        try:
            async with asyncio.timeout(LIMIT):
                task = await fetch_task(client, parse_target(FAILED_JOB))
                plan = Plan(BY_ID["job.retry_failed"], parse_target(FAILED_JOB), task, FAILED_STEP)
                out = await actor.perform(plan)
                await asyncio.sleep(2.0)  # the server finishes the delayed request
        finally:
            await client.aclose()
    assert out.result is Result.UNKNOWN and out.exit_code == 3
    assert "may or may not have happened" in out.message
    # The delayed request had not reached the handler when the task was read again: "probably".
    assert (
        out.settled
        == "the step is still failed: the request to retry the failed hosts probably did not arrive"
    )
    assert len(sim.world.operations.list()) == 1  # sent once, never repeated


async def test_audit_lines_written_0600_without_secrets(gw_rig: Rig) -> None:
    await gw_rig.act(FAILED_JOB, "job.retry_failed", FAILED_STEP)
    await gw_rig.act(ROLLING_JOB, "job.confirm", ROLLING_STEP)  # not allowed: recorded too
    text = gw_rig.audit.read_text()
    assert stat.S_IMODE(os.stat(gw_rig.audit).st_mode) == 0o600
    lines = [json.loads(x) for x in text.splitlines()]
    assert [x["result"] for x in lines] == ["sent", "done", "refused"]
    assert (lines[2]["by"], lines[2]["why"]) == ("bkwatch", "not_allowed")
    first = lines[0]
    assert first["profile"] == "sim" and first["user"] == gw_rig.profile.username
    assert first["target"] == FAILED_JOB and first["action"] == "job.retry_failed"
    assert first["subject"] == {"step": FAILED_STEP} and first["parameters"]["operation_code"] == 2
    assert lines[1]["parameters"] == first["parameters"]
    assert DEMO_APP_SECRET not in text and "bk_app_secret" not in text


def test_nodeman_and_gsekit_say_where_to_do_it() -> None:
    text = unreachable(System.NODEMAN, "2", "301", "https://paas.example.com")
    assert text is not None and "https://paas.example.com/o/bk_nodeman/#/task-list/detail/301" in text
    text = unreachable(System.GSEKIT, "2", "801", "https://paas.example.com")
    assert text is not None and "/o/bk_gsekit/task-history/detail/801?biz=2" in text
    assert unreachable(System.JOB, "2", "1") is None


def test_every_action_declared_once_with_a_precondition() -> None:
    ids = [a.id for a in BY_ID.values()]
    assert len(ids) == len(set(ids)) == 11 + 10 + 7
    job_codes = sorted(a.operation for a in BY_ID.values() if a.api == "operate_step_instance")
    assert job_codes == [2, 3, 6, 8, 9, 10, 11, 12, 13]
