"""Client rules that need no server: transport choice, URLs, credentials, scrubbing; and its
connection pool against a simulator served on a port."""

from __future__ import annotations

import asyncio
import socket

import httpx
import orjson
import pytest

from bkwatch.client import ApiNotFound, BkClient
from bkwatch.config import Profile
from bkwatch.errors import retry_after_from
from bkwatch.lean_httpx import LeanPool, _LeanStream
from bkwatch.model import BkError, ErrorKind, State, System
from bkwatch.sim import DEMO_APP_SECRET, DEMO_TOKEN, SimConfig, Simulator
from bkwatch.systems.adapters import fetch_task
from bkwatch.systems.common import parse_time, readable, to_bool, to_int
from bkwatch.targets import parse_target
from bkwatch.text import clean_text, html_to_text
from tests.conftest import sim_profile

SECRET = "top-secret-value-9"
TOKEN = "tok-en-value-7"


def prof(**kw: object) -> Profile:
    base: dict[str, object] = {
        "esb_url": "http://paas.example.com/",
        "app_code": "bkw",
        "app_secret": SECRET,
        "username": "admin",
        "token": TOKEN,
    }
    base.update(kw)
    return Profile(name="t", **base)  # type: ignore[arg-type]


async def test_transport_rule() -> None:
    esb_only = BkClient(prof())
    both = BkClient(prof(apigw_tmpl="http://gw.example.com/api/{api_name}"))
    gw_only = BkClient(prof(esb_url=None, apigw_tmpl="http://gw.example.com/api/{api_name}"))
    nothing = BkClient(Profile())
    try:
        assert [
            esb_only.transport_for(s) for s in (System.JOB, System.SOPS, System.NODEMAN, System.GSEKIT)
        ] == ["esb"] * 4
        with pytest.raises(BkError) as err:
            esb_only.transport_for(System.BKFLOW)
        assert err.value.kind is ErrorKind.CONFIG
        assert err.value.message == (
            "BKFlow is only reachable through the API gateway: "
            "set BK_API_URL_TMPL or apigw_tmpl in the profile"
        )
        assert [both.transport_for(s) for s in System] == ["apigw", "apigw", "apigw", "apigw", "esb"]
        with pytest.raises(BkError) as err:
            gw_only.transport_for(System.GSEKIT)  # no gateway for GSEKit, and no ESB configured
        assert err.value.kind is ErrorKind.CONFIG and "BK_COMPONENT_API_URL" in err.value.message
        with pytest.raises(BkError, match="BK_COMPONENT_API_URL"):
            nothing.transport_for(System.JOB)
    finally:
        for c in (esb_only, both, gw_only, nothing):
            await c.aclose()


async def test_urls() -> None:
    c = BkClient(prof(apigw_tmpl="https://bkapi.example.com/api/{api_name}/", stage="stag"))
    try:
        assert c.url_for(System.JOB, "esb", "jobv3/get_job_instance_status/") == (
            "http://paas.example.com/api/c/compapi/v2/jobv3/get_job_instance_status/"
        )
        assert c.url_for(System.BKFLOW, "apigw", "space/1/task/2/get_task_states/") == (
            "https://bkapi.example.com/api/bk-flow-engine/stag/space/1/task/2/get_task_states/"
        )
    finally:
        await c.aclose()


async def test_missing_credentials_named() -> None:
    c = BkClient(prof(app_secret=None, username=None, token=None))
    try:
        with pytest.raises(BkError) as err:
            await c.call(System.JOB, "jobv3/get_job_instance_status/")
        assert err.value.kind is ErrorKind.CONFIG
        assert "BK_APP_SECRET" in err.value.message and "BK_USERNAME or BK_TOKEN" in err.value.message
    finally:
        await c.aclose()


async def test_bad_ca_bundle_is_config_error(tmp_path: object) -> None:
    with pytest.raises(BkError) as err:
        BkClient(prof(ca_bundle="/nonexistent/ca.pem"))
    assert err.value.kind is ErrorKind.CONFIG and "ca_bundle" in err.value.message


async def test_scrub_removes_secrets_and_controls() -> None:
    c = BkClient(prof())
    try:
        text = c.scrub(f"GET http://x/?bk_app_secret={SECRET}&bk_token=abc&x=1 \x1b[2J{TOKEN} token=other")
        assert SECRET not in text and TOKEN not in text and "abc" not in text and "\x1b" not in text
        assert "x=1" in text
    finally:
        await c.aclose()


def test_retry_after_headers() -> None:
    assert retry_after_from(httpx.Headers({"X-Bkapi-RateLimit-Reset": "7"})) == 7.0
    assert retry_after_from(httpx.Headers({"Retry-After": "2.5"})) == 2.5
    assert retry_after_from(httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after_from(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_from(httpx.Headers({})) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2024-05-01 10:02:03 +0800", 1714528923.0),
        ("2024-05-01 10:02:03+0800", 1714528923.0),
        ("2024-05-01T02:02:03.320Z", 1714528923.32),
        ("2024-05-01 02:02:03.5+00:00", 1714528923.5),
        ("", None),
        ("garbage", None),
        (None, None),
        (1714528923000, 1714528923.0),
    ],
)
def test_parse_time(text: object, value: float | None) -> None:
    got = parse_time(text)
    assert got == (pytest.approx(value) if value is not None else None)


def test_text_helpers() -> None:
    assert html_to_text("<span>a<br/>b &lt;c&gt;</span><script>evil()</script>") == "a\nb <c>"
    assert clean_text("ok\x07\x1b[1mbold\x9b", 20) == "okbold"
    assert clean_text("x" * 50, 10) == "x" * 9 + "…"
    assert readable({"a": [1, {"b": "<i>2</i>"}]}) == "a: 1\nb: 2"
    assert [to_int(v) for v in ("12", " 3 ", 4.0, "4.5", "x", None, True)] == [12, 3, 4, 4, None, None, None]
    assert [to_bool(v) for v in ("True", "false", 1, 0, None, "0", True)] == [
        True,
        False,
        True,
        False,
        False,
        False,
        True,
    ]


# -- against the simulator: every error kind from a real error response or fault -------------


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimConfig(seed=1, frozen=True))


@pytest.fixture(params=["esb", "apigw"])
def via(request: pytest.FixtureRequest) -> str:
    return request.param


def sim_client(sim: Simulator, via: str, **kw: object) -> BkClient:
    return BkClient(sim_profile(gateway=via == "apigw", **kw), transport=httpx.ASGITransport(app=sim.app))


JOB_T = "job:2:20001"


async def expect(client: BkClient, kind: ErrorKind, target: str = JOB_T) -> BkError:
    with pytest.raises(BkError) as err:
        await fetch_task(client, parse_target(target))
    assert err.value.kind is kind, err.value.message
    text = err.value.message + repr(err.value.to_dict())
    for secret in (DEMO_APP_SECRET, DEMO_TOKEN, SECRET, "wrong-secret-1"):
        assert secret not in text
    assert "\x1b" not in text
    return err.value


async def test_success_over_both_transports(sim: Simulator, via: str) -> None:
    async with sim_client(sim, via) as c:
        data = await fetch_task(c, parse_target(JOB_T))
    assert data.raw_state == "3"


async def test_auth_wrong_secret(sim: Simulator, via: str) -> None:
    async with sim_client(sim, via, app_secret="wrong-secret-1") as c:
        err = await expect(c, ErrorKind.AUTH)
    assert ("1306000" if via == "esb" else "1640001") in err.message
    assert "app_secret" in err.message  # the hint says what to check


async def test_auth_bad_token_and_revoked(sim: Simulator, via: str) -> None:
    async with sim_client(sim, via, username=None, token="not-the-token") as c:
        err = await expect(c, ErrorKind.AUTH)
        assert "not-the-token" not in err.message
    sim.faults.set("revoke_credentials", count=1)
    async with sim_client(sim, via) as c:
        await expect(c, ErrorKind.AUTH)
        assert (await fetch_task(c, parse_target(JOB_T))).raw_state == "3"  # count consumed


async def test_permission(sim: Simulator, via: str) -> None:
    async with sim_client(sim, via) as c:
        err = await expect(c, ErrorKind.PERMISSION, "job:77:20001")
    assert "9900403" in err.message


async def test_not_found_and_unpublished_path(sim: Simulator, via: str) -> None:
    async with sim_client(sim, via) as c:
        await expect(c, ErrorKind.NOT_FOUND, "job:2:99999")
        with pytest.raises(ApiNotFound) as err:
            await c.call(System.JOB, "jobv3/no_such_api/" if via == "esb" else "api/v3/no_such_api", via=via)  # type: ignore[arg-type]
    assert err.value.kind is ErrorKind.NOT_FOUND and "not published" in err.value.message


async def test_rate_limited_with_retry_after(sim: Simulator, via: str) -> None:
    sim.faults.set("rate_limit", route="job", count=1)
    async with sim_client(sim, via) as c:
        err = await expect(c, ErrorKind.RATE_LIMITED)
    if via == "apigw":
        assert err.retry_after == 30.0
    else:
        assert "1306429" in err.message


@pytest.mark.parametrize("fault", ["http_500", "http_502", "http_504"])
async def test_server_errors(sim: Simulator, via: str, fault: str) -> None:
    sim.faults.set(fault)
    async with sim_client(sim, via) as c:
        err = await expect(c, ErrorKind.SERVER)
    assert "165" in err.message


@pytest.mark.parametrize("fault", ["html", "malformed_json", "truncated"])
async def test_bad_responses(sim: Simulator, via: str, fault: str) -> None:
    sim.faults.set(fault)
    async with sim_client(sim, via) as c:
        err = await expect(c, ErrorKind.BAD_RESPONSE)
    if fault == "html":
        assert "HTML" in err.message and "<" not in err.message


async def test_connection_reset_is_network(sim: Simulator, via: str) -> None:
    sim.faults.set("reset", route="job")
    async with sim_client(sim, via) as c:
        await expect(c, ErrorKind.NETWORK)


async def test_gsekit_server_error_code_and_string_not_found(sim: Simulator) -> None:
    async with sim_client(sim, "esb") as c:
        err = await expect(c, ErrorKind.NOT_FOUND, "gsekit:2:99999")
        assert "4102005" in err.message


# -- real loopback sockets ----------------------------------------------------------------------


async def test_real_socket_end_to_end_and_faults() -> None:
    sim = Simulator(SimConfig(seed=1, frozen=True))
    with sim.serve() as server:
        async with BkClient(sim_profile(server.base_url, timeout=0.5)) as c:
            for target in ("job:2:20002", "sops:2:102", "bkflow:1:502", "nodeman:2:302", "gsekit:2:802"):
                task = await fetch_task(c, parse_target(target))
                assert task.state is State.FAILED, target
            sim.faults.set("delay", route="job", delay=2.0, count=1)
            err = await expect(c, ErrorKind.TIMEOUT)
            assert "0.5 s" in err.message
            sim.faults.set("truncated", route="sops", count=1)
            await expect(c, ErrorKind.BAD_RESPONSE, "sops:2:102")
            sim.faults.set("reset", route="sops", count=1)
            await expect(c, ErrorKind.NETWORK, "sops:2:102")
            ua = httpx.Headers(c._http.headers)["user-agent"]
            assert ua.startswith("bkwatch/")


async def test_connection_refused_is_network() -> None:
    sim = Simulator(SimConfig(seed=1, frozen=True))
    with sim.serve() as server:
        base = server.base_url
    async with BkClient(sim_profile(base)) as c:  # server stopped: the port refuses connections
        err = await expect(c, ErrorKind.NETWORK)
    assert "connect" in err.message


# -- documented envelopes the simulator does not produce, served by a stand-in server -----------

ENVELOPES = [
    (200, {"code": 0, "data": {}}, {}, ErrorKind.BAD_RESPONSE),
    (200, [1, 2], {}, ErrorKind.BAD_RESPONSE),
    (200, {"result": True}, {}, ErrorKind.BAD_RESPONSE),
    (200, {"result": "true", "data": {}}, {}, ErrorKind.BAD_RESPONSE),  # only `result is True` is success
    (
        200,
        {"result": False, "code": 1306000, "message": "task[id=9] get status error: missing"},
        {},
        ErrorKind.NOT_FOUND,
    ),
    (
        200,
        {"result": False, "code": 1306000, "message": "User authentication failed, bk_token"},
        {},
        ErrorKind.AUTH,
    ),
    (
        200,
        {"result": False, "code": 3599999, "message": "iam authentication exception"},
        {},
        ErrorKind.PERMISSION,
    ),
    (200, {"result": False, "code": 3540100, "message": "forbidden"}, {}, ErrorKind.PERMISSION),
    (200, {"result": False, "code": 1306402, "message": "no"}, {}, ErrorKind.PERMISSION),
    (
        200,
        {"result": False, "code": 3801012, "message": "不存在ID为1的任务（3801012）"},
        {},
        ErrorKind.NOT_FOUND,
    ),
    (200, {"result": False, "code": 1306201, "message": "third party"}, {}, ErrorKind.SERVER),
    (499, {"result": False, "code": 9900403, "message": "you have no permission"}, {}, ErrorKind.PERMISSION),
    (
        400,
        {"code": 1640001, "code_name": "INVALID_ARGS", "result": False, "message": "app not found"},
        {},
        ErrorKind.AUTH,
    ),
    (
        403,
        {"code": 1640301, "code_name": "APP_NO_PERMISSION", "result": False, "message": "x"},
        {},
        ErrorKind.PERMISSION,
    ),
    (
        429,
        {"code": 1642903, "code_name": "RATE_LIMIT_RESTRICTION", "result": False, "message": "slow"},
        {"Retry-After": "12"},
        ErrorKind.RATE_LIMITED,
    ),
    (
        500,
        {"code": 50000, "message": "系统异常,请联系管理员处理", "data": "", "result": False},
        {},
        ErrorKind.SERVER,
    ),
    (403, b"This API can only be accessed through API gateway", {}, ErrorKind.PERMISSION),
    (503, b"<html><body>Service Unavailable</body></html>", {}, ErrorKind.SERVER),
    (429, b"", {"Retry-After": "3"}, ErrorKind.RATE_LIMITED),
    (401, b"", {}, ErrorKind.AUTH),
]


@pytest.mark.parametrize(("status", "body", "headers", "kind"), ENVELOPES)
async def test_documented_envelopes_classified(
    status: int, body: object, headers: dict[str, str], kind: ErrorKind
) -> None:
    content = body if isinstance(body, bytes) else orjson.dumps(body)

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=headers)

    async with BkClient(sim_profile(gateway=False), transport=httpx.MockTransport(serve)) as c:
        with pytest.raises(BkError) as err:
            await c.call(System.SOPS, "sops/get_task_status/", params={"bk_biz_id": 2, "task_id": 9})
    assert err.value.kind is kind, err.value.message
    if "Retry-After" in headers:
        assert err.value.retry_after == float(headers["Retry-After"])
    assert DEMO_APP_SECRET not in err.value.message


async def test_nodeman_v1_needs_esb(sim: Simulator) -> None:
    async with sim_client(sim, "apigw", esb_url=None, nodeman_api="v1") as c:
        err = await expect(c, ErrorKind.CONFIG, "nodeman:2:301")
    assert "BK_COMPONENT_API_URL" in err.message


async def test_pool_reuses_connections_and_replaces_ones_the_server_closed() -> None:
    """The client's lean connection pool: many polls over few connections, and an idle
    connection the server closed (it restarted) is noticed before reuse, not answered with an
    error."""
    sim = Simulator(SimConfig(seed=3, frozen=True, tasks_per_system=4))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    targets = [parse_target(t.target) for t in sim.world.tasks() if not t.target.startswith("bkflow:7:")]
    client = BkClient(sim_profile(f"http://127.0.0.1:{port}"), max_connections=3)
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    assert type(pool) is LeanPool
    try:
        with sim.serve(port=port):
            tasks = await asyncio.gather(*(fetch_task(client, t) for t in targets * 3))
            assert [t.target for t in tasks] == [str(t) for t in targets * 3]
            assert 1 <= len(pool.connections) <= 3  # 3 x len(targets) requests, 3 connections at most
            kept = list(pool.connections)
            # The idle-connection probe reads the socket each stream looked up once.
            assert all(type(c._connection._network_stream) is _LeanStream for c in kept)  # type: ignore[attr-defined]
        with sim.serve(port=port):  # a restart: the kept connections were closed by the server
            again = await asyncio.gather(*(fetch_task(client, t) for t in targets[:5]))
            assert [t.target for t in again] == [str(t) for t in targets[:5]]
            assert not set(map(id, pool.connections)) & set(map(id, kept))
    finally:
        await client.aclose()


async def test_a_request_leaves_nothing_for_the_cyclic_collector(sim: Simulator) -> None:
    """A poll's response is freed when the call returns, not left (with its request, headers and
    streams: ~40 objects) for the cyclic collector, whose passes over 2,000 watches' garbage were a
    fifth of polling's CPU."""
    import gc

    client = BkClient(sim_profile(), transport=httpx.ASGITransport(app=sim.app))
    target = parse_target(sim.world.add_task("job", kind="running", hosts=3))
    try:
        await fetch_task(client, target)  # connections and caches made
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(5):
                await fetch_task(client, target)
            gc.collect()
            left = [type(o).__qualname__ for o in gc.garbage if isinstance(o, httpx.Response | httpx.Request)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        assert left == [], left
    finally:
        await client.aclose()
