"""Every fault kind, per route, by count and by probability."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME

AUTH = {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET, "bk_username": DEMO_USERNAME}
GW = {"X-Bkapi-Authorization": json.dumps(AUTH)}
SOPS = "/api/bk-sops/prod/get_task_status/101/2/"
JOB_ESB = "/api/c/compapi/v2/jobv3/get_job_instance_status/"
JOB_Q = {**AUTH, "bk_scope_type": "biz", "bk_scope_id": "2", "job_instance_id": 20001}


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("http_500", 500, 1650001), ("http_502", 502, 1650200), ("http_504", 504, 1650401)],
)
async def test_server_errors_use_gateway_envelope(client, sim, kind: str, status: int, code: int) -> None:
    sim.faults.set(kind, route="sops", count=1)
    r = await client.get(SOPS, headers=GW)
    assert r.status_code == status and r.json()["code"] == code and r.json()["code_name"]
    assert r.headers["x-bkapi-error-code"] == str(code)
    r = await client.get(SOPS, headers=GW)  # count exhausted
    assert r.status_code == 200 and r.json()["result"] is True


async def test_route_scoping(client, sim) -> None:
    sim.faults.set("500", route="nodeman")
    r = await client.get(SOPS, headers=GW)
    assert r.status_code == 200
    r = await client.post("/api/bk-nodeman/prod/api/job/302/details/", json={}, headers=GW)
    assert r.status_code == 500
    sim.faults.clear()
    r = await client.post("/api/bk-nodeman/prod/api/job/302/details/", json={}, headers=GW)
    assert r.status_code == 200


async def test_probability_is_seeded_and_partial(sim) -> None:
    sim.faults.set("http_502", probability=0.5)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://sim") as c:
        statuses = [(await c.get(SOPS, headers=GW)).status_code for _ in range(40)]
    assert 5 < statuses.count(502) < 35 and 200 in statuses


async def test_delay_outlasts_client_timeout(client, sim) -> None:
    sim.faults.set("delay", route="get_task_status", delay=5.0, count=1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.get(SOPS, headers=GW), timeout=0.2)


@pytest.mark.parametrize("kind", ["reset", "truncated"])
async def test_connection_faults_are_transport_errors(client, sim, kind: str) -> None:
    sim.faults.set(kind, count=1)
    with pytest.raises(httpx.TransportError):
        await client.get(SOPS, headers=GW)
    assert (await client.get(SOPS, headers=GW)).status_code == 200


async def test_malformed_json_and_html(client, sim) -> None:
    sim.faults.set("malformed_json", count=1)
    r = await client.get(SOPS, headers=GW)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    sim.faults.set("html", count=1)
    r = await client.get(JOB_ESB, params=JOB_Q)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html") and "<html>" in r.text


async def test_rate_limit_both_transports(client, sim) -> None:
    sim.faults.set("rate_limit", count=2)
    r = await client.get(SOPS, headers=GW)
    assert r.status_code == 429 and r.json()["code"] == 1642901
    assert r.headers["x-bkapi-ratelimit-remaining"] == "0" and r.headers["x-bkapi-ratelimit-reset"]
    assert r.headers["x-bkapi-ratelimit-limit"] and r.headers["x-bkapi-ratelimit-plugin"]
    r = await client.get(JOB_ESB, params=JOB_Q)
    assert r.status_code == 200 and r.json()["code"] == 1306429 and r.json()["result"] is False


async def test_revoked_credentials(client, sim) -> None:
    sim.faults.set("revoke_credentials")
    r = await client.get(SOPS, headers=GW)
    assert r.status_code == 400 and "incorrect" in r.json()["message"]
    r = await client.get(JOB_ESB, params=JOB_Q)
    assert r.json()["code"] == 1306000 and "verification failed" in r.json()["message"]
    sim.faults.clear("revoke_credentials")
    assert (await client.get(SOPS, headers=GW)).json()["result"] is True


async def test_schema_drift(client, sim) -> None:
    sim.faults.set("drift", count=2)
    r = await client.get(SOPS, headers=GW)
    data = r.json()["data"]
    assert data["state"] == "ZOMBIE" and "sim_new_field" in data and "start_time" not in data
    assert all(c["state"] == "ZOMBIE" for c in data["children"].values())
    r = await client.get(JOB_ESB, params={**JOB_Q, "return_ip_result": "true"})
    job = r.json()["data"]["job_instance"]
    assert job["status"] == 99 and "start_time" not in job


def test_unknown_fault_kind_is_refused(sim) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        sim.faults.set("meteor")


async def test_oversize_streams_a_valid_answer_of_the_asked_size(client, sim) -> None:
    sim.faults.set("oversize", route="sops", size=3_000_000, count=1)
    r = await client.get(SOPS, headers=GW)
    assert "content-length" not in r.headers  # streamed: only counting what arrives can refuse it
    assert len(r.content) == 3_000_000 and r.json()["result"] is True


async def test_traffic_counts_requests_per_task_and_faults_per_kind(client, sim) -> None:
    sim.faults.set("http_502", route="sops", count=2)
    for _ in range(3):
        await client.get(SOPS, headers=GW)
    await client.get(JOB_ESB, params=JOB_Q)
    seen = (await client.get("/_sim/traffic")).json()
    assert seen["requests"] == 4
    assert seen["by_task"] == {"sops:101": 3, "job:20001": 1}
    assert seen["faults"] == {"http_502": 2}
    await client.delete("/_sim/traffic")
    assert (await client.get("/_sim/traffic")).json() == {"requests": 0, "by_task": {}, "faults": {}}


async def test_rate_limit_reset_is_configurable(client, sim) -> None:
    sim.config.rate_limit_reset = 2
    sim.faults.set("rate_limit", route="sops", count=1)
    r = await client.get(SOPS, headers=GW)
    assert r.status_code == 429 and r.headers["x-bkapi-ratelimit-reset"] == "2"
