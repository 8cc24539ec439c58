"""The /_sim/ admin API, the CLI, and one end-to-end run over a real loopback socket."""

from __future__ import annotations

import json

import httpx
import pytest

from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_TOKEN, SimConfig, Simulator
from bkwatch.sim.cli import _fault, build_parser


async def test_admin_tasks_force_retry_advance(client: httpx.AsyncClient, sim: Simulator) -> None:
    r = await client.get("/_sim/tasks")
    tasks = {t["target"]: t for t in r.json()["tasks"]}
    assert tasks["job:2:20002"]["state"] == "4" and tasks["job:2:20002"]["system"] == "job"
    r = await client.post("/_sim/tasks/job:2:20002/retry")
    assert r.status_code == 200
    assert {t.target: t.state for t in sim.world.tasks()}["job:2:20002"] == "2"
    r = await client.post("/_sim/tasks/sops:2:101/force", json={"state": "REVOKED"})
    assert r.status_code == 200
    assert {t.target: t.state for t in sim.world.tasks()}["sops:2:101"] == "REVOKED"
    before = sim.world.now()
    r = await client.post("/_sim/advance", json={"seconds": 30})
    assert r.json()["now"] == before + 30
    r = await client.post("/_sim/tasks", json={"system": "nodeman", "hosts": 7, "scope": 3})
    target = r.json()["target"]
    assert target.startswith("nodeman:3:") and len(sim.world.get(target).hosts) == 7


async def test_admin_errors(client: httpx.AsyncClient) -> None:
    r = await client.post("/_sim/tasks/job:2:1/force", json={"state": 3})
    assert r.status_code == 404 and "no such task" in r.json()["error"]
    r = await client.post("/_sim/tasks/job:2:20001/force", json={"state": 12})
    assert r.status_code == 400
    r = await client.post("/_sim/tasks/job:2:20001/force", content=b"[1")
    assert r.status_code == 400
    r = await client.post("/_sim/faults", json={"kind": "meteor"})
    assert r.status_code == 400


async def test_admin_faults(client: httpx.AsyncClient) -> None:
    r = await client.post("/_sim/faults", json={"kind": "502", "route": "job", "count": 1})
    assert r.json()["kind"] == "http_502"
    assert [f["kind"] for f in (await client.get("/_sim/faults")).json()["faults"]] == ["http_502"]
    r = await client.get("/api/bk-job/prod/api/v3/get_job_instance_status")
    assert r.status_code == 502
    await client.post("/_sim/faults", json={"kind": "html"})
    await client.delete("/_sim/faults")
    assert (await client.get("/_sim/faults")).json()["faults"] == []


def test_cli_parses_faults_and_scale() -> None:
    args = build_parser().parse_args(
        ["--port", "0", "--frozen", "--job-hosts", "1000", "--fault", "500:sops@0.25", "--fault", "reset"]
    )
    assert args.frozen and args.job_hosts == 1000
    assert args.fault == [("http_500", "sops", 0.25), ("reset", None, 1.0)]
    assert _fault("timeout:/api/bk-job") == ("delay", "/api/bk-job", 1.0)


def test_real_loopback_end_to_end() -> None:
    sim = Simulator(SimConfig(seed=3))
    with sim.serve(host="127.0.0.1", port=0) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        auth = json.dumps(
            {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET, "bk_token": DEMO_TOKEN}
        )
        with httpx.Client(base_url=server.base_url, timeout=5) as c:
            r = c.get(
                "/api/bk-sops/prod/get_task_status/102/2/",
                params={"with_ex_data": "1"},
                headers={"X-Bkapi-Authorization": auth},
            )
            assert r.json()["data"]["state"] == "FAILED" and r.json()["data"]["ex_data"]
            sim.faults.set("reset", count=1)
            with pytest.raises(httpx.TransportError):
                c.get("/api/bk-sops/prod/get_task_status/102/2/", headers={"X-Bkapi-Authorization": auth})
            assert c.get("/_sim/tasks").status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(server.base_url + "/_sim/tasks", timeout=1)  # stopped
