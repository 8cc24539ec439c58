"""Response shapes per system and transport, against the fact sheet and the seed documents."""

from __future__ import annotations

import json
import re

import httpx

from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME, SimConfig, Simulator
from tests.conftest import T0

ESB_AUTH = {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET, "bk_username": DEMO_USERNAME}
GW = {"X-Bkapi-Authorization": json.dumps(ESB_AUTH)}
HEX32 = re.compile(r"^[0-9a-f]{32}$")
SOPS_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0800$")
NM_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+0800$")
NAIVE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
GSE_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00$")


def walk(node: dict):
    yield node
    for child in node["children"].values():
        yield from walk(child)


async def test_job_esb_shape_matches_seed(client: httpx.AsyncClient) -> None:
    params = {
        **ESB_AUTH,
        "bk_scope_type": "biz",
        "bk_scope_id": "2",
        "job_instance_id": 20002,
        "return_ip_result": "true",
    }
    r = await client.post("/api/c/compapi/v2/jobv3/get_job_instance_status/", json=params)
    assert r.status_code == 200
    body = r.json()
    assert body["result"] is True and body["code"] == 0 and isinstance(body["message"], str)
    assert HEX32.match(body["request_id"])
    data = body["data"]
    assert data["finished"] is True
    job = data["job_instance"]
    assert {
        "job_instance_id",
        "name",
        "create_time",
        "status",
        "start_time",
        "end_time",
        "total_time",
    } <= set(job)
    assert job["bk_scope_id"] == "2" and job["status"] == 4
    assert all(isinstance(job[k], int) for k in ("create_time", "start_time", "end_time", "total_time"))
    step_keys = {
        "status",
        "total_time",
        "name",
        "step_instance_id",
        "execute_count",
        "create_time",
        "end_time",
        "type",
        "start_time",
        "step_ip_result_list",
    }
    host_keys = {
        "ip",
        "bk_cloud_id",
        "status",
        "tag",
        "exit_code",
        "error_code",
        "start_time",
        "end_time",
        "total_time",
        "bk_host_id",
    }
    statuses = set()
    for step in data["step_instance_list"]:
        assert step_keys <= set(step)
        assert step["type"] in (1, 2, 3, 4)
        for h in step["step_ip_result_list"]:
            assert set(h) == host_keys
            statuses.add(h["status"])
    assert 9 in statuses and statuses & {1, 13, 102, 104, 310}  # successes and real failures


async def test_job_gateway_get_without_hosts_and_waiting(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/bk-job/prod/api/v3/get_job_instance_status",
        params={"bk_scope_type": "biz", "bk_scope_id": "2", "job_instance_id": 20004},
        headers=GW,
    )
    assert r.status_code == 200
    assert len(r.headers["x-bkapi-request-id"]) == 36 and r.headers["x-request-id"]
    data = r.json()["data"]
    assert "request_id" not in r.json()
    assert data["job_instance"]["status"] == 7 and data["finished"] is False
    assert all("step_ip_result_list" not in s for s in data["step_instance_list"])
    assert [s["type"] for s in data["step_instance_list"]] == [1, 3, 1]


async def test_job_biz_set_scope(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/bk-job/prod/api/v3/get_job_instance_status",
        params={"bk_scope_type": "biz_set", "bk_scope_id": "9991", "job_instance_id": 20005},
        headers=GW,
    )
    job = r.json()["data"]["job_instance"]
    assert job["bk_scope_type"] == "biz_set" and job["bk_scope_id"] == "9991" and "bk_biz_id" not in job


async def test_job_ip_logs(client: httpx.AsyncClient) -> None:
    base = {"bk_scope_type": "biz", "bk_scope_id": "2", "job_instance_id": 20002, "step_instance_id": 200022}
    r = await client.get(
        "/api/bk-job/prod/api/v3/get_job_instance_ip_log", params={**base, "bk_host_id": 1000}, headers=GW
    )
    d = r.json()["data"]
    assert d["log_type"] == 2 and d["file_logs"][0]["mode"] == 1
    r = await client.post(
        "/api/bk-job/prod/api/v3/batch_get_job_instance_ip_log",
        json={**base, "step_instance_id": 200021, "host_id_list": [1000, 1001]},
        headers=GW,
    )
    d = r.json()["data"]
    assert d["log_type"] == 1 and [x["bk_host_id"] for x in d["script_task_logs"]] == [1000, 1001]
    r = await client.post(
        "/api/bk-job/prod/api/v3/batch_get_job_instance_ip_log",
        json={**base, "host_id_list": list(range(501))},
        headers=GW,
    )
    assert r.json()["result"] is False and r.json()["code"] == 1241002


async def test_sops_v2_tree_keys_and_nested_subprocess(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.world.advance(120)
    r = await client.get(
        "/api/bk-sops/prod/get_task_status/106/2/", params={"with_ex_data": "false"}, headers=GW
    )
    body = r.json()
    assert body["result"] is True and body["code"] == 0 and body["message"] == ""
    root = body["data"]
    assert root["state"] == "FAILED"
    keys = {
        "id",
        "state",
        "root_id:",
        "parent_id",
        "version",
        "loop",
        "retry",
        "skip",
        "error_ignorable",
        "error_ignored",
        "elapsed_time",
        "start_time",
        "finish_time",
        "name",
        "children",
    }
    for node in walk(root):
        assert keys <= set(node)
        assert node["root_id:"] == root["id"]
        assert node["state"] in {
            "CREATED",
            "READY",
            "RUNNING",
            "SUSPENDED",
            "FINISHED",
            "FAILED",
            "REVOKED",
            "NODE_SUSPENDED",
        }
        assert node["start_time"] is None or SOPS_TIME.match(node["start_time"])
        assert node["finish_time"] is None or SOPS_TIME.match(node["finish_time"])
        assert isinstance(node["elapsed_time"], int) and node["skip"] is False
    # Two levels of embedded subprocesses, the failure at the bottom; "false" is truthy.
    subs = [n for n in walk(root) if n["children"] and n is not root]
    assert len(subs) == 2 and all(s["state"] == "FAILED" for s in subs)
    inner = subs[0]["children"][subs[1]["id"]]
    assert inner["parent_id"] == subs[0]["id"]
    failed_leaf = next(n for n in walk(inner) if n["state"] == "FAILED" and not n["children"])
    assert failed_leaf["id"] in root["ex_data"]
    r = await client.get(
        "/api/bk-sops/prod/get_task_status/106/2/", params={"subprocess_id": subs[1]["id"]}, headers=GW
    )
    assert r.json()["data"]["id"] == subs[1]["id"]


async def test_sops_esb_v1_engine_matches_seed(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/c/compapi/v2/sops/get_task_status/", params={**ESB_AUTH, "bk_biz_id": 3, "task_id": 105}
    )
    body = r.json()
    assert HEX32.match(body["request_id"]) and "trace_id" in body
    root = body["data"]
    seed_keys = {
        "id",
        "state",
        "name",
        "retry",
        "loop",
        "skip",
        "error_ignorable",
        "version",
        "state_refresh_at",
        "elapsed_time",
        "children",
        "start_time",
        "finish_time",
    }
    assert set(root) == seed_keys
    assert root["name"] == "<class 'pipeline.core.pipeline.Pipeline'>"
    assert any(c["name"].startswith("<class 'pipeline.core.flow.event.") for c in root["children"].values())
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", root["state_refresh_at"])


async def test_sops_created_expired_flags(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/bk-sops/prod/get_task_status/107/2/", headers=GW)
    data = r.json()["data"]
    assert data["state"] == "CREATED" and "id" not in data and data["skip"] == 0 and data["skip"] is not False
    r = await client.get("/api/bk-sops/prod/get_task_status/108/3/", headers=GW)
    assert r.json()["data"]["state"] == "EXPIRED"
    r = await client.get(
        "/api/bk-sops/prod/get_task_status/107/2/", params={"with_failed_node_info": "1"}, headers=GW
    )
    assert r.json()["result"] is False and r.json()["code"] == 3599999 and "'id'" in r.json()["message"]
    # Project scope, suspended node, omitted flag = no ex_data.
    r = await client.get("/api/bk-sops/prod/get_task_status/103/5/", params={"scope": "project"}, headers=GW)
    data = r.json()["data"]
    assert data["state"] == "NODE_SUSPENDED" and "ex_data" not in data
    assert any(n["state"] == "SUSPENDED" for n in walk(data))


async def test_sops_auto_retry_and_node_detail(client: httpx.AsyncClient, sim: Simulator) -> None:
    seen_retries: list[dict] = []
    for _ in range(40):  # step through the auto-retry cycle a second at a time
        r = await client.get(
            "/api/bk-sops/prod/get_task_status/104/2/",
            params={"with_failed_node_info": "x", "with_auto_retry_status": "x"},
            headers=GW,
        )
        data = r.json()["data"]
        assert data["auto_retry_status"]["exist_auto_retry_nodes"] is True
        seen_retries += [v for v in data["failed_node_info"].values() if v]
        sim.world.advance(1)
    assert data["state"] in ("RUNNING", "FINISHED")  # auto retry eventually succeeded
    retrying = seen_retries
    assert retrying and retrying[0]["max_auto_retry_times"] == 3
    assert {v["auto_retry_times"] for v in retrying} == {0, 1}
    node_id = retrying[0]["node_id"]
    r = await client.get(
        "/api/bk-sops/prod/get_task_node_detail/104/2/", params={"node_id": node_id}, headers=GW
    )
    d = r.json()["data"]
    assert d["id"] == node_id and isinstance(d["outputs"], list) and "inputs" in d and "children" not in d


async def test_bkflow_shape_no_code_empty_times(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/bk-flow-engine/prod/space/1/task/503/get_task_states/", headers=GW)
    body = r.json()
    assert r.status_code == 200 and "code" not in body and body["exc"] is None and body["exc_trace"] is None
    root = body["data"]
    assert "name" not in root and root["finish_time"] == ""
    for node in walk(root):
        assert "root_id:" in node and (node["finish_time"] == "" or SOPS_TIME.match(node["finish_time"]))


async def test_nodeman_v2_both_transports_with_paging(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/bk-nodeman/prod/api/job/302/details/",
        json={"page": 2, "pagesize": 5, "conditions": [{"key": "status", "value": ["SUCCESS"]}]},
        headers=GW,
    )
    body = r.json()
    assert body["result"] is True and body["code"] == 0
    d = body["data"]
    assert d["status"] == "PART_FAILED" and isinstance(d["cost_time"], str) and NM_TIME.match(d["start_time"])
    assert set(d["statistics"]) == {
        "total_count",
        "pending_count",
        "running_count",
        "success_count",
        "failed_count",
        "ignored_count",
    }
    assert d["total"] == d["statistics"]["success_count"] and len(d["list"]) == 5
    row = d["list"][0]
    assert row["status"] == "SUCCESS" and row["instance_id"].startswith("host|instance|host|")
    assert isinstance(row["cost_time"], float)
    r = await client.post(
        "/api/c/compapi/v2/nodeman/api/job/details/",
        json={**ESB_AUTH, "job_id": 302, "page": 1, "pagesize": 100},
    )
    d = r.json()["data"]
    assert HEX32.match(r.json()["request_id"])
    assert any(x.get("filter_host") for x in d["list"]) and d["ip_filter_list"]
    assert {x["status"] for x in d["list"] if not x.get("filter_host")} == {"SUCCESS", "FAILED"}


async def test_nodeman_v1_matches_seed(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/c/compapi/v2/nodeman/get_task_info/", params={**ESB_AUTH, "bk_biz_id": 2, "job_id": 302}
    )
    body = r.json()
    assert body["code"] == "OK" and body["result"] is True and body["message"] == "success"
    d = body["data"]
    seed = {
        "id",
        "creator",
        "bk_biz_id",
        "bk_supplier_account",
        "bk_supplier_id",
        "bk_cloud_id",
        "job_type",
        "hosts",
        "global_params",
        "start_time",
        "end_time",
        "status_count",
        "os_count",
        "host_count",
        "job_type_desc",
        "op_target",
    }
    assert set(d) == seed
    assert isinstance(d["id"], int) and d["bk_biz_id"] == "2" and NAIVE.match(d["start_time"])
    failed = [h for h in d["hosts"] if h["status"] == "FAILED"]
    assert failed and failed[0]["job_id"] == "302" and isinstance(failed[0]["host"]["bk_cloud_id"], str)
    assert failed[0]["err_code"] and failed[0]["err_code_desc"]
    assert d["status_count"]["failed_count"] == len(failed)


async def test_gsekit_rows_only_with_ids_and_times(client: httpx.AsyncClient) -> None:
    url = "/api/c/compapi/v2/gsekit/api/job/job_status/"
    r = await client.post(url, json={**ESB_AUTH, "bk_biz_id": 2, "job_id": 802})
    d = r.json()["data"]
    assert d["job_tasks"] == [] and d["count"] == 16
    assert set(d["status_counter"]) == {"pending", "running", "succeeded", "failed", "ignored"}
    info = d["job_info"]
    assert info["status"] == "failed" and GSE_TIME.match(info["start_time"])
    ids = list(range(80200, 80216))
    r = await client.post(url, json={**ESB_AUTH, "bk_biz_id": 2, "job_id": 802, "job_task_id_list": ids})
    rows = r.json()["data"]["job_tasks"]
    assert len(rows) == 16
    failed = [x for x in rows if x["status"] == "failed"]
    assert (
        failed
        and failed[0]["extra_data"]["failed_reason"]
        and "<a " in failed[0]["extra_data"]["solutions"][0]["html"]
    )
    assert isinstance(failed[0]["extra_data"]["retryable"], bool)


async def test_gsekit_flat_extra_data_like_seed(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/c/compapi/v2/gsekit/api/job/job_status/",
        json={**ESB_AUTH, "bk_biz_id": 3, "job_id": 805, "job_task_id_list": [80500, 80501]},
    )
    rows = r.json()["data"]["job_tasks"]
    assert len(rows) == 2
    for row in rows:
        assert {
            "id",
            "status",
            "extra_data__failed_reason",
            "extra_data__retryable",
            "extra_data__solutions",
        } <= set(row)
        assert "extra_data" not in row


async def test_gsekit_old_server_returns_all_rows() -> None:
    sim = Simulator(SimConfig(seed=1, frozen=True, clock=lambda: T0, gsekit_rows_without_ids=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://sim") as c:
        r = await c.post(
            "/api/c/compapi/v2/gsekit/api/job/job_status/", json={**ESB_AUTH, "bk_biz_id": 2, "job_id": 802}
        )
    assert len(r.json()["data"]["job_tasks"]) == 16


async def test_unfriendly_text_is_present(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/bk-job/prod/api/v3/get_job_instance_status",
        params={"bk_scope_type": "biz", "bk_scope_id": "2", "job_instance_id": 20006},
        headers=GW,
    )
    name = r.json()["data"]["job_instance"]["name"]
    assert "\x1b" in name or "[" in name or len(name) > 100
