"""The simulator's log and node-detail APIs: upstream's shapes, limits and errors."""

from __future__ import annotations

import httpx

from bkwatch.sim import Simulator, logtext

AUTH = '{"bk_app_code": "bkwatch-demo", "bk_app_secret": "sim-secret-0000", "bk_username": "admin"}'
GW = {"X-Bkapi-Authorization": AUTH}
ESB = {"bk_app_code": "bkwatch-demo", "bk_app_secret": "sim-secret-0000", "bk_username": "admin"}


def _walk(node: dict) -> list[dict]:
    out = [node]
    for child in (node.get("children") or {}).values():
        out += _walk(child)
    return out


async def test_sops_node_log_paged_plain_text_no_code(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.world.advance(300)
    r = await client.get("/api/bk-sops/prod/get_task_status/102/2/", params={"with_ex_data": 1}, headers=GW)
    node_id = next(iter(r.json()["data"]["ex_data"]))
    detail = (
        await client.get(
            "/api/bk-sops/prod/get_task_node_detail/102/2/", params={"node_id": node_id}, headers=GW
        )
    ).json()
    version = detail["data"]["version"]
    assert set(detail["data"]) >= {"inputs", "outputs", "ex_data", "histories", "history_id", "version"}
    pages = []
    for page in (1, 2, 3, 4, 5, 6):
        body = (
            await client.get(
                "/api/bk-sops/prod/get_task_node_log/102/2/",
                params={"node_id": node_id, "version": version, "page": page},
                headers=GW,
            )
        ).json()
        assert "code" not in body and body["result"] is True and isinstance(body["data"], str)
        assert body["page"]["page_size"] == 30
        pages.append(body["data"])
    total = body["page"]["total"]
    lines = "\n".join(p for p in pages if p).split("\n")
    assert len(lines) == total and all(p.count("\n") == 29 for p in pages[: total // 30])
    # A wrong version has no log; the ESB does not publish the API at all.
    wrong = await client.get(
        "/api/bk-sops/prod/get_task_node_log/102/2/", params={"node_id": node_id, "version": "v0"}, headers=GW
    )
    assert wrong.json()["data"] == "" and wrong.json()["page"]["total"] == 0
    esb = await client.get(
        "/api/c/compapi/v2/sops/get_task_node_log/", params={**ESB, "task_id": 102, "bk_biz_id": 2}
    )
    assert esb.json()["code"] == 1306404


async def test_bkflow_node_detail_and_space_checks(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.world.advance(300)
    tree = (
        await client.get("/api/bk-flow-engine/prod/space/1/task/502/get_task_states/", headers=GW)
    ).json()["data"]
    failed = next(n for n in _walk(tree) if n["state"] == "FAILED" and not n["children"])
    path = f"/api/bk-flow-engine/prod/space/1/task/502/node/{failed['id']}/get_task_node_detail/"
    body = (await client.get(path, headers=GW)).json()
    assert body["code"] == "0" and body["data"]["ex_data"] and body["data"]["state"] == "FAILED"
    assert (await client.get(path.replace("/space/1/", "/space/7/"), headers=GW)).status_code == 403
    missing = await client.get(path.replace(failed["id"], "nope"), headers=GW)
    assert missing.json()["code"] == "not_found"


async def test_nodeman_job_log_per_step_and_errors(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.world.advance(600)
    r = await client.get(
        "/api/c/compapi/v2/nodeman/api/job/log/",
        params={**ESB, "job_id": 304, "instance_id": "host|instance|host|5000"},
    )
    steps = r.json()["data"]
    assert steps and set(steps[0]) == {"step", "status", "log", "start_time", "finish_time"}
    assert steps[-1]["status"] == "FAILED" and "[ERROR]" in steps[-1]["log"]
    assert all(s["status"] == "SUCCESS" for s in steps[:-1])
    r = await client.get(
        "/api/c/compapi/v2/nodeman/api/job/log/", params={**ESB, "job_id": 999999, "instance_id": "x"}
    )
    assert r.json()["code"] == 3801012 and r.json()["message"].endswith("（3801012）")


def test_logs_are_deterministic_lazy_and_varying() -> None:
    a = logtext.script_log("1:x:1:1:0", 300_000, 1e9, 10, 1.0, "conn_refused", True)
    assert a == logtext.script_log("1:x:1:1:0", 300_000, 1e9, 10, 1.0, "conn_refused", True)
    half = logtext.script_log("1:x:1:1:0", 300_000, 1e9, 10, 0.5, None, False)
    assert a.startswith(half) and 0.4 < len(half) / len(a) < 0.6  # a running host's log grows
    b = logtext.error_lines("1:x:1:2:0", "conn_refused")
    assert b != logtext.error_lines("1:x:1:1:0", "conn_refused")  # the varying parts vary
    big = logtext.script_log("1:y", 5 * 1024 * 1024, 1e9, 10, 1.0, None, True)
    assert 5_000_000 < len(big.encode()) < 6_000_000
    assert "\x1b]52;" in big and "\x1b]0;" in big and "\x1b[32m" in big and "中" in big
    assert max(len(x) for x in big.split("\n")) > 2000  # very long lines too
