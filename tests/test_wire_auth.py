"""Credentials on the wire (bk-apis §10.4), asserted on what the simulator received: the
X-Bkapi-Authorization header on the ESB as on the gateway, no secret in any URL, and the JSON-body
fallback for an ESB that ignores the header, remembered per profile."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from bkwatch.client import BkClient
from bkwatch.esb_auth import EsbAuthMemory
from bkwatch.model import System
from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_TOKEN, DEMO_USERNAME, SimConfig, Simulator
from bkwatch.sim.wire import WireRequest
from bkwatch.systems.adapters import fetch_task
from bkwatch.targets import parse_target
from tests.conftest import T0, sim_profile

CRED_WORDS = ("bk_app_secret", "app_secret", "bk_token", "bk_username", "bk_app_code", "app_code")
SECRETS = (DEMO_APP_SECRET, DEMO_TOKEN)


def one_target_per_system(sim: Simulator) -> dict[System, str]:
    out: dict[System, str] = {}
    for info in sim.world.tasks():
        out.setdefault(System(info.system), info.target)
    return out


def _url_is_clean(req: WireRequest) -> None:
    for word in (*CRED_WORDS, *SECRETS):
        assert word not in req.url, req.url


def _header_identity(req: WireRequest) -> dict[str, str]:
    assert req.auth_header is not None, f"no X-Bkapi-Authorization on {req.method} {req.path}"
    return orjson.loads(req.auth_header)


@pytest.mark.parametrize("gateway", [False, True], ids=["esb", "gateway"])
async def test_every_system_sends_credentials_only_in_the_header(gateway: bool) -> None:
    sim = Simulator(SimConfig(seed=1, frozen=True, clock=lambda: T0))
    profile = sim_profile(gateway=gateway, token=DEMO_TOKEN)
    transport = httpx.ASGITransport(app=sim.app)
    seen: set[str] = set()
    async with BkClient(profile, transport=transport) as client:
        for system, target in one_target_per_system(sim).items():
            if system is System.BKFLOW and not gateway:
                continue  # BKFlow has no ESB entry
            sim.bk.wire.clear()
            task = await fetch_task(client, parse_target(target))
            assert task.state is not None
            requests = sim.bk.wire.requests()
            assert requests, system
            for req in requests:
                _url_is_clean(req)
                identity = _header_identity(req)
                assert identity["bk_app_secret"] == DEMO_APP_SECRET and identity["bk_token"] == DEMO_TOKEN
                assert identity["bk_username"] == DEMO_USERNAME and identity["bk_app_code"] == DEMO_APP_CODE
                for secret in SECRETS:
                    assert secret.encode() not in req.body  # the header only, not the body too
                seen.add("esb" if req.path.startswith("/api/c/compapi/") else "apigw")
    assert seen == ({"apigw", "esb"} if gateway else {"esb"})  # GSEKit is ESB-only


async def test_an_esb_that_ignores_the_header_gets_a_json_body_remembered_per_profile(tmp_path: Path) -> None:
    sim = Simulator(SimConfig(seed=1, frozen=True, clock=lambda: T0, esb_reads_header=False))
    memory = EsbAuthMemory(tmp_path / "esb_auth.json")
    profile = sim_profile(gateway=False)
    targets = one_target_per_system(sim)
    transport = httpx.ASGITransport(app=sim.app)
    async with BkClient(profile, transport=transport, esb_memory=memory) as client:
        assert client.esb_auth == "header"
        task = await fetch_task(client, parse_target(targets[System.JOB]))
        assert task.steps and client.esb_auth == "body"
        first, *rest = sim.bk.wire.requests()
        assert first.auth_header is not None and b"bk_app_secret" not in first.body  # refused
        assert rest and all(r.method == "POST" and r.auth_header is None for r in rest)
        assert all(orjson.loads(r.body)["bk_app_secret"] == DEMO_APP_SECRET for r in rest)
        for system in (System.SOPS, System.NODEMAN, System.GSEKIT):  # GET-declared APIs too
            await fetch_task(client, parse_target(targets[system]))
    for req in sim.bk.wire.requests():
        _url_is_clean(req)
    assert memory.mode("sim", profile.esb_url) == "body"
    assert memory.mode("other", profile.esb_url) == "header"  # per profile
    assert memory.mode("sim", "http://elsewhere") == "header"  # and per ESB address
    # The next run starts in body mode: no refused request first.
    sim.bk.wire.clear()
    async with BkClient(profile, transport=transport, esb_memory=memory) as client:
        assert client.esb_auth == "body"
        await fetch_task(client, parse_target(targets[System.JOB]))
    assert all(r.auth_header is None and r.method == "POST" for r in sim.bk.wire.requests())


async def test_a_wrong_secret_in_the_header_is_not_mistaken_for_an_esb_without_header_support() -> None:
    sim = Simulator(SimConfig(seed=1, frozen=True, clock=lambda: T0))
    profile = sim_profile(gateway=False, app_secret="wrong-secret")
    async with BkClient(profile, transport=httpx.ASGITransport(app=sim.app)) as client:
        with pytest.raises(Exception, match="1306000"):
            await fetch_task(client, parse_target(one_target_per_system(sim)[System.JOB]))
        assert client.esb_auth == "header"
    assert len(sim.bk.wire.requests()) == 1


# -- the simulator's ESB --------------------------------------------------------------------------


def _header(secret: str = DEMO_APP_SECRET) -> dict[str, str]:
    creds = {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": secret, "bk_username": DEMO_USERNAME}
    return {"X-Bkapi-Authorization": orjson.dumps(creds).decode()}


JOB_ESB = "/api/c/compapi/v2/jobv3/get_job_instance_status/"
JOB_ARGS = {"bk_scope_type": "biz", "bk_scope_id": "2", "job_instance_id": "20001"}


async def test_sim_esb_reads_the_header_first_and_params_only_without_one(client: httpx.AsyncClient) -> None:
    wrong = {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": "nope", "bk_username": DEMO_USERNAME}
    right = {**wrong, "bk_app_secret": DEMO_APP_SECRET}
    r = await client.get(JOB_ESB, params={**JOB_ARGS, **wrong}, headers=_header())
    assert r.json()["result"] is True  # a correct header wins over wrong parameters
    r = await client.get(JOB_ESB, params={**JOB_ARGS, **right}, headers=_header("nope"))
    assert r.json()["code"] == 1306000 and "verification failed" in r.json()["message"]
    r = await client.get(JOB_ESB, params={**JOB_ARGS, **right})
    assert r.json()["result"] is True  # no header: the parameters
    r = await client.get(JOB_ESB, params=JOB_ARGS, headers={"X-Bkapi-Authorization": "{not json"})
    assert r.json()["code"] == 1306000 and "cannot be empty" in r.json()["message"]


async def test_sim_job_parameter_errors_are_http_200(client: httpx.AsyncClient) -> None:
    for args in ({"bk_scope_type": "biz", "bk_scope_id": "2"}, {"job_instance_id": "1"}):
        r = await client.get(JOB_ESB, params=args, headers=_header())
        assert r.status_code == 200 and r.json()["code"] == 1241007 and r.json()["result"] is False


async def test_sim_sops_node_detail_of_an_unknown_task_is_content_not_exist(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get(
        "/api/c/compapi/v2/sops/get_task_node_detail/",
        params={"bk_biz_id": "2", "task_id": "99999", "node_id": "n1"},
        headers=_header(),
    )
    body = r.json()
    assert r.status_code == 200 and body["code"] == 3540400
    assert "task[id=99999]" in body["message"] and "does not exist" in body["message"]
