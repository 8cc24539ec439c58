"""Credentials, not-found and permission answers, each in its system's own shape."""

from __future__ import annotations

import json

import httpx
import pytest

from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_TOKEN, DEMO_USERNAME, SimConfig, Simulator

T0 = 1_700_000_000.0
ESB_AUTH = {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET, "bk_username": DEMO_USERNAME}
JOB_ESB = "/api/c/compapi/v2/jobv3/get_job_instance_status/"
JOB_GW = "/api/bk-job/prod/api/v3/get_job_instance_status"
JOB_Q = {"bk_scope_type": "biz", "bk_scope_id": "2", "job_instance_id": 20001}


def gw(**creds: str) -> dict[str, str]:
    return {"X-Bkapi-Authorization": json.dumps(creds)}


@pytest.fixture
async def client():
    sim = Simulator(SimConfig(seed=1, frozen=True, clock=lambda: T0))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://sim") as c:
        c.sim = sim  # type: ignore[attr-defined]
        yield c


@pytest.mark.parametrize(
    ("creds", "fragment"),
    [
        ({}, "APP Code [bk_app_code] cannot be empty"),
        (
            {"bk_app_code": "nope", "bk_app_secret": "x", "bk_username": "admin"},
            "Invalid APP Code [bk_app_code=nope]",
        ),
        (
            {"bk_app_code": DEMO_APP_CODE, "bk_username": "admin"},
            "APP Secret [bk_app_secret] cannot be empty",
        ),
        (
            {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": "bad", "bk_username": "admin"},
            "APP Secret verification failed",
        ),
        (
            {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET},
            "please provide a valid user identity",
        ),
        (
            {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET, "bk_token": "stale"},
            "bk_token is valid",
        ),
    ],
)
async def test_esb_auth_failures(client: httpx.AsyncClient, creds: dict, fragment: str) -> None:
    r = await client.get(JOB_ESB, params={**creds, **JOB_Q})
    body = r.json()
    assert r.status_code == 200 and body["result"] is False and body["code"] == 1306000
    assert fragment in body["message"] and body["data"] is None and len(body["request_id"]) == 32
    assert DEMO_APP_SECRET not in r.text


async def test_esb_aliases_and_token(client: httpx.AsyncClient) -> None:
    r = await client.post(
        JOB_ESB,
        json={"app_code": DEMO_APP_CODE, "app_secret": DEMO_APP_SECRET, "username": DEMO_USERNAME, **JOB_Q},
    )
    assert r.json()["result"] is True
    r = await client.get(
        JOB_ESB,
        params={
            "bk_app_code": DEMO_APP_CODE,
            "bk_app_secret": DEMO_APP_SECRET,
            "bk_token": DEMO_TOKEN,
            **JOB_Q,
        },
    )
    assert r.json()["result"] is True


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({"X-Bkapi-Authorization": "{not json"}, "is not a valid JSON"),
        (gw(bk_username="admin"), "app code cannot be empty"),
        (gw(bk_app_code=DEMO_APP_CODE, bk_username="admin"), "please provide bk_app_secret"),
        (
            gw(bk_app_code=DEMO_APP_CODE, bk_app_secret="bad", bk_username="admin"),
            "bk_app_code or bk_app_secret is incorrect",
        ),
        (
            gw(bk_app_code=DEMO_APP_CODE, bk_app_secret=DEMO_APP_SECRET),
            "please provide a valid user identity",
        ),
        (
            gw(bk_app_code=DEMO_APP_CODE, bk_app_secret=DEMO_APP_SECRET, bk_username="mallory"),
            "is not verified",
        ),
    ],
)
async def test_gateway_auth_failures(client: httpx.AsyncClient, headers: dict, fragment: str) -> None:
    r = await client.get(JOB_GW, params=JOB_Q, headers=headers)
    body = r.json()
    assert r.status_code == 400
    assert body == {
        "code": 1640001,
        "code_name": "INVALID_ARGS",
        "result": False,
        "data": None,
        "message": body["message"],
    }
    assert fragment in body["message"] and body["message"].startswith("Parameters error [reason=")
    assert r.headers["x-bkapi-error-code"] == "1640001" and r.headers["x-bkapi-error-message"]
    assert len(r.headers["x-bkapi-request-id"]) == 36


async def test_job_gateway_refuses_credentials_in_params(client: httpx.AsyncClient) -> None:
    r = await client.get(JOB_GW, params={**ESB_AUTH, **JOB_Q})
    assert r.status_code == 400 and "app code cannot be empty" in r.json()["message"]
    # Other gateways accept them from params when the header is absent.
    r = await client.get("/api/bk-sops/prod/get_task_status/101/2/", params=ESB_AUTH)
    assert r.status_code == 200 and r.json()["result"] is True


async def test_bkflow_needs_only_app_credentials(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/bk-flow-engine/prod/space/1/task/501/get_task_states/",
        headers=gw(bk_app_code=DEMO_APP_CODE, bk_app_secret=DEMO_APP_SECRET),
    )
    assert r.status_code == 200 and r.json()["data"]["state"] == "FINISHED"


async def test_unpublished_path_is_api_not_found(client: httpx.AsyncClient) -> None:
    h = gw(**ESB_AUTH)
    for method, path in [
        ("GET", "/api/bk-job/prod/api/v3/get_job_instance_status/"),  # trailing slash
        ("POST", JOB_GW),
        ("GET", "/api/bk-sops/prod/get_task_status/101/2"),
        ("GET", "/api/bk-nodeman/prod/api/job/302/details/"),
        ("GET", "/api/bk-job/test/x"),
    ]:
        r = await client.request(method, path, headers=h)
        assert r.status_code == 404, path
        assert r.json()["code"] == 1640401 and r.json()["code_name"] == "API_NOT_FOUND"
        assert f'method="{method}"' in r.json()["message"]
    r = await client.get("/api/bk-job/prod/api/v3/%1b]0;x%07%E4%BD%A0", headers=h)
    assert r.status_code == 404 and r.headers["x-bkapi-error-message"].isascii()
    # ESB trailing slash is optional and both methods work.
    r = await client.get(JOB_ESB.rstrip("/"), params={**ESB_AUTH, **JOB_Q})
    assert r.json()["result"] is True


async def test_not_found_and_permission_shapes(client: httpx.AsyncClient) -> None:
    h = gw(**ESB_AUTH)
    r = await client.get(JOB_GW, params={**JOB_Q, "job_instance_id": 999}, headers=h)
    assert r.json()["code"] == 1244006 and r.json()["result"] is False
    r = await client.get(JOB_GW, params={**JOB_Q, "bk_scope_id": "77"}, headers=h)
    assert r.json()["code"] == 9900403 and r.json()["permission"]["system_id"] == "bk_job"
    r = await client.get(JOB_GW, params={**JOB_Q, "job_instance_id": 0}, headers=h)
    assert r.json()["code"] == 1241007
    r = await client.get("/api/bk-sops/prod/get_task_status/101/77/", headers=h)
    assert r.json() | {"trace_id": ""} == {
        "result": False,
        "data": None,
        "code": 3540400,
        "trace_id": "",
        "message": "project(77) with scope(cmdb_biz) does not exist.",
    }
    r = await client.get("/api/bk-sops/prod/get_task_status/9999/2/", headers=h)
    assert r.json()["code"] == 3599999 and "task[id=9999]" in r.json()["message"]
    r = await client.get("/api/bk-flow-engine/prod/space/4/task/501/get_task_states/", headers=h)
    assert r.status_code == 403 and r.json() == {"result": False, "message": "空间不存在，space_id=4"}
    r = await client.get("/api/bk-flow-engine/prod/space/7/task/506/get_task_states/", headers=h)
    assert r.status_code == 403 and "当前应用无权操作此空间" in r.json()["message"] and "code" not in r.json()
    r = await client.get("/api/bk-flow-engine/prod/space/1/task/9999/get_task_states/", headers=h)
    assert r.status_code == 200 and r.json()["result"] is False and r.json()["code"] == "not_found"
    r = await client.post("/api/bk-nodeman/prod/api/job/9999/details/", json={}, headers=h)
    assert r.json()["code"] == 3801012 and r.json()["message"] == "不存在ID为9999的任务（3801012）"
    r = await client.post(
        "/api/c/compapi/v2/gsekit/api/job/job_status/", json={**ESB_AUTH, "bk_biz_id": 2, "job_id": 1}
    )
    assert r.json()["code"] == "4102005" and r.json()["message"] == "作业不存在"
    r = await client.get(
        "/api/c/compapi/v2/nodeman/get_task_info/", params={**ESB_AUTH, "bk_biz_id": 3, "job_id": 302}
    )
    assert r.json()["result"] is False and isinstance(r.json()["code"], str)
