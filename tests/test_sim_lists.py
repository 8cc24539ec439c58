"""The simulator's list and batch-status APIs: upstream shapes, limits and errors on each transport."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME, SimConfig, Simulator
from tests.conftest import T0

AUTH = {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET, "bk_username": DEMO_USERNAME}
HEADERS = {"X-Bkapi-Authorization": orjson.dumps(AUTH).decode()}
ESB = "/api/c/compapi/v2/"
WINDOW = {"create_time_start": int((T0 - 7200) * 1000), "create_time_end": int(T0 * 1000)}


def job_params(**extra: Any) -> dict[str, Any]:
    return {"bk_scope_type": "biz", "bk_scope_id": "2", **WINDOW, **extra}


async def test_job_list_on_both_transports_with_the_id_under_job_instance_id(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    gw = (
        await client.get(
            "/api/bk-job/prod/api/v3/get_job_instance_list", params=job_params(), headers=HEADERS
        )
    ).json()
    esb = (await client.post(ESB + "jobv3/get_job_instance_list/", json={**AUTH, **job_params()})).json()
    assert gw["result"] is True and gw["code"] == 0 and esb["data"]["total"] == gw["data"]["total"] == 4
    page = gw["data"]
    assert set(page) == {"start", "length", "total", "data"} and page["length"] == 20
    item = page["data"][0]
    assert {
        "job_instance_id",
        "name",
        "operator",
        "launch_mode",
        "status",
        "create_time",
        "bk_scope_id",
    } <= set(item)
    assert "id" not in item and isinstance(item["bk_scope_id"], str)
    creates = [row["create_time"] for row in page["data"]]
    assert creates == sorted(creates, reverse=True)  # newest first


async def test_job_list_refuses_a_missing_or_too_wide_window_and_bad_lengths(
    client: httpx.AsyncClient,
) -> None:
    url = "/api/bk-job/prod/api/v3/get_job_instance_list"
    missing = await client.get(url, params={"bk_scope_type": "biz", "bk_scope_id": "2"}, headers=HEADERS)
    assert missing.status_code == 200 and missing.json()["code"] == 1241007
    wide = job_params(create_time_start=WINDOW["create_time_end"] - 31 * 86400 * 1000)
    body = (await client.get(url, params=wide, headers=HEADERS)).json()
    assert body["result"] is False and body["code"] == 1241002
    exactly = job_params(create_time_start=WINDOW["create_time_end"] - 30 * 86400 * 1000)
    assert (await client.get(url, params=exactly, headers=HEADERS)).json()["result"] is True
    for length in (0, 1001):
        body = (await client.get(url, params=job_params(length=length), headers=HEADERS)).json()
        assert body["code"] == 1241002, length
    body = (await client.get(url, params=job_params(length=1000), headers=HEADERS)).json()
    assert body["result"] is True


async def test_job_list_filters(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.world.add_task("job", kind="running", scope=("biz", 2), hosts=1, operator="carol", launch_mode=3)
    url = "/api/bk-job/prod/api/v3/get_job_instance_list"

    async def ids(**extra: Any) -> set[int]:
        body = (await client.get(url, params=job_params(**extra), headers=HEADERS)).json()
        return {row["job_instance_id"] for row in body["data"]["data"]}

    everything = await ids()
    assert await ids(operator="carol") == await ids(launch_mode=3) == {max(everything)}
    assert await ids(name="deploy") == {20001}
    assert await ids(status=7) == {20004}
    page = (await client.get(url, params=job_params(start=1, length=2), headers=HEADERS)).json()["data"]
    assert len(page["data"]) == 2 and page["start"] == 1 and page["total"] == len(everything)


async def test_sops_list_caps_limit_at_200_silently_and_parses_django_booleans(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    for _ in range(250):
        sim.world.add_task("sops", scope="2", kind="running", nodes=1)
    url = "/api/bk-sops/prod/get_task_list/2/"
    body = (await client.get(url, params={"limit": 500}, headers=HEADERS)).json()
    assert body["result"] is True and len(body["data"]) == 200 and body["count"] > 250
    assert len((await client.get(url, headers=HEADERS)).json()["data"]) == 100  # default
    ids = [row["id"] for row in body["data"]]
    assert ids == sorted(ids, reverse=True)
    for false in ("false", "0"):
        rows = (await client.get(url, params={"is_started": false, "limit": 200}, headers=HEADERS)).json()[
            "data"
        ]
        assert rows and all(row["is_started"] is False for row in rows)
    rows = (await client.get(url, params={"executor": "alice", "limit": 200}, headers=HEADERS)).json()["data"]
    assert rows and all(row["executor"] == "alice" for row in rows)
    esb = (
        await client.get(ESB + "sops/get_task_list/", params={**AUTH, "bk_biz_id": 2, "keyword": "#101"})
    ).json()
    assert [row["id"] for row in esb["data"]] == [101]


async def test_sops_batch_status_takes_50_ids_at_most(client: httpx.AsyncClient) -> None:
    url = "/api/bk-sops/prod/get_tasks_status/2/"
    ok = (await client.post(url, json={"task_id_list": [101, 102]}, headers=HEADERS)).json()
    assert ok["result"] is True and {row["id"] for row in ok["data"]} == {101, 102}
    row = next(r for r in ok["data"] if r["id"] == 102)
    assert row["status"]["state"] == "FAILED" and "children" not in row["status"]
    too_many = (await client.post(url, json={"task_id_list": list(range(1, 52))}, headers=HEADERS)).json()
    assert too_many["result"] is False and too_many["code"] == 3540000
    esb = await client.post(
        ESB + "sops/get_tasks_status/", json={**AUTH, "bk_biz_id": 2, "task_id_list": [101]}
    )
    assert esb.json()["data"][0]["id"] == 101


async def test_bkflow_list_is_a_drf_page_ignoring_is_started(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    for _ in range(210):
        sim.world.add_task("bkflow", scope=1, kind="running", nodes=1)
    url = "/api/bk-flow-engine/prod/space/1/get_task_list/"
    body = (await client.get(url, params={"limit": 1000}, headers=HEADERS)).json()
    assert body["result"] is True and body["code"] == "0"
    page = body["data"]
    assert set(page) == {"count", "next", "previous", "results"} and len(page["results"]) == 200
    assert page["next"] and page["previous"] is None
    same = (await client.get(url, params={"limit": 1000, "is_started": "false"}, headers=HEADERS)).json()
    assert same["data"]["count"] == page["count"]  # not accepted upstream: ignored
    one = (await client.get(url, params={"id": 502}, headers=HEADERS)).json()["data"]["results"]
    assert [r["name"] for r in one] == ["bkflow task 502"]
    assert (
        await client.get("/api/bk-flow-engine/prod/space/7/get_task_list/", headers=HEADERS)
    ).status_code == 403
    esb = await client.get(ESB + "bkflow/get_task_list/", params=AUTH)
    assert esb.json()["code"] == 1306404  # BKFlow has no ESB entry


async def test_bkflow_batch_states(client: httpx.AsyncClient) -> None:
    url = "/api/bk-flow-engine/prod/space/1/get_tasks_states/"
    body = (await client.post(url, json={"task_ids": [501, 502, 9]}, headers=HEADERS)).json()
    assert body["code"] == "0" and body["data"] == {
        "501": {"state": "FINISHED"},
        "502": {"state": "FAILED"},
        "9": None,
    }


def test_cron_flow_and_bursts_leave_the_seeded_world_alone() -> None:
    plain = Simulator(SimConfig(seed=5, frozen=True, clock=lambda: T0, arrivals=True))
    busy = Simulator(
        SimConfig(seed=5, frozen=True, clock=lambda: T0, arrivals=True, cron_interval=30, burst_every=60)
    )
    seeded = {t.target for t in plain.world.tasks()}
    assert seeded == {t.target for t in busy.world.tasks()}
    plain.world.advance(120)
    busy.world.advance(120)
    before = {t.target: t.state for t in plain.world.tasks() if t.target in seeded}
    after = {t.target: t.state for t in busy.world.tasks() if t.target in seeded}
    assert before == after  # the same seeded tasks move the same way
    modes = [t.launch_mode for t in busy.world.all_tasks() if t.launch_mode == 3]
    assert len(modes) == 4
    assert len(busy.world.all_tasks()) == len(plain.world.all_tasks()) + 4 + 2 * busy.config.burst_size
    assert len({t.operator for t in busy.world.all_tasks()}) >= 4  # several operators
