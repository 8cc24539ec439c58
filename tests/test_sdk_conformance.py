"""BlueKing's own Python SDK against the simulator on a real loopback socket (bk-apis §10.4).

`bkapi-component-open` drives the ESB components it knows (JOB v3, SOPS); `bkapi-client-core`
operations cover the ESB paths it lacks (NodeMan, GSEKit) and every gateway resource. Each API the
simulator serves, on each transport, with right and wrong credentials: the SDK builds its URLs
with a trailing slash, sends credentials only in `X-Bkapi-Authorization`, raises on HTTP >= 400
and on `X-Bkapi-Error-Code`, and returns the dict otherwise without looking at `result`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from bkapi_client_core.apigateway import APIGatewayClient, Operation, OperationGroup, bind_property
from bkapi_client_core.esb import ESBClient
from bkapi_client_core.exceptions import APIGatewayResponseError
from bkapi_component.open.client import Client as OpenClient

from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME, SimConfig, Simulator
from bkwatch.sim.routes import ESB, GATEWAY

RIGHT = {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET, "bk_username": DEMO_USERNAME}
WRONG = {**RIGHT, "bk_app_secret": "not-the-secret"}
JOB = {"bk_scope_type": "biz", "bk_scope_id": "2", "job_instance_id": 20002}


def _op(name: str, method: str, path: str) -> Any:
    return bind_property(Operation, name=name, method=method, path=path)


class _EsbExtras(OperationGroup):
    """ESB components `bkapi-component-open` does not ship."""

    get_task_info = _op("get_task_info", "GET", "/api/c/compapi/v2/nodeman/get_task_info/")
    job_details = _op("job_details", "POST", "/api/c/compapi/v2/nodeman/api/job/details/")
    job_status = _op("job_status", "POST", "/api/c/compapi/v2/gsekit/api/job/job_status/")
    job_log = _op("job_log", "GET", "/api/c/compapi/v2/nodeman/api/job/log/")


class EsbExtrasClient(ESBClient):
    extra = bind_property(_EsbExtras, name="extra")


class _Job(OperationGroup):
    get_job_instance_status = _op("get_job_instance_status", "GET", "/api/v3/get_job_instance_status")
    get_job_instance_ip_log = _op("get_job_instance_ip_log", "GET", "/api/v3/get_job_instance_ip_log")
    batch_get_job_instance_ip_log = _op(
        "batch_get_job_instance_ip_log", "POST", "/api/v3/batch_get_job_instance_ip_log"
    )
    get_job_instance_list = _op("get_job_instance_list", "GET", "/api/v3/get_job_instance_list")
    operate_step_instance = _op("operate_step_instance", "POST", "/api/v3/operate_step_instance")
    operate_job_instance = _op("operate_job_instance", "POST", "/api/v3/operate_job_instance")


class _Sops(OperationGroup):
    get_task_status = _op("get_task_status", "GET", "/get_task_status/{task_id}/{bk_biz_id}/")
    get_task_node_detail = _op("get_task_node_detail", "GET", "/get_task_node_detail/{task_id}/{bk_biz_id}/")
    get_task_detail = _op("get_task_detail", "GET", "/get_task_detail/{task_id}/{bk_biz_id}/")
    get_task_node_log = _op("get_task_node_log", "GET", "/get_task_node_log/{task_id}/{bk_biz_id}/")
    get_task_list = _op("get_task_list", "GET", "/get_task_list/{bk_biz_id}/")
    get_tasks_status = _op("get_tasks_status", "POST", "/get_tasks_status/{bk_biz_id}/")
    operate_task = _op("operate_task", "POST", "/operate_task/{task_id}/{bk_biz_id}/")
    operate_node = _op("operate_node", "POST", "/operate_node/{bk_biz_id}/{task_id}/")  # reversed


class _Flow(OperationGroup):
    get_task_states = _op("get_task_states", "GET", "/space/{space_id}/task/{task_id}/get_task_states/")
    get_task_detail = _op("get_task_detail", "GET", "/space/{space_id}/task/{task_id}/get_task_detail/")
    get_task_list = _op("get_task_list", "GET", "/space/{space_id}/get_task_list/")
    get_tasks_states = _op("get_tasks_states", "POST", "/space/{space_id}/get_tasks_states/")
    get_task_node_detail = _op(
        "get_task_node_detail", "GET", "/space/{space_id}/task/{task_id}/node/{node_id}/get_task_node_detail/"
    )
    operate_task = _op("operate_task", "POST", "/space/{space_id}/task/{task_id}/operate_task/{operation}/")
    operate_node = _op(
        "operate_node", "POST", "/space/{space_id}/task/{task_id}/node/{node_id}/operate_node/{operation}/"
    )


class _Nodeman(OperationGroup):
    job_details = _op("job_details", "POST", "/api/job/{job_id}/details/")
    job_log = _op("job_log", "GET", "/api/job/{job_id}/log/")


def _gateway(api_name: str, group: type[OperationGroup]) -> type[APIGatewayClient]:
    return type(
        f"Gw{group.__name__}",
        (APIGatewayClient,),
        {"_api_name": api_name, "api": bind_property(group, name="api")},
    )


JobGw, SopsGw, FlowGw, NodemanGw = (
    _gateway("bk-job", _Job),
    _gateway("bk-sops", _Sops),
    _gateway("bk-flow-engine", _Flow),
    _gateway("bk-nodeman", _Nodeman),
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    sim = Simulator(SimConfig(seed=1, frozen=True))
    with sim.serve() as server:
        yield server.base_url


def _clients(base_url: str, auth: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "open": OpenClient(endpoint=base_url, bk_api_ver="v2"),
        "esb": EsbExtrasClient(endpoint=base_url),
        "bk-job": JobGw(endpoint=base_url + "/api/{api_name}"),
        "bk-sops": SopsGw(endpoint=base_url + "/api/{api_name}"),
        "bk-flow-engine": FlowGw(endpoint=base_url + "/api/{api_name}"),
        "bk-nodeman": NodemanGw(endpoint=base_url + "/api/{api_name}"),
    }
    for client in out.values():
        client.update_bkapi_authorization(**auth)
    return out


def _host_of_step(c: dict[str, Any], via: str) -> tuple[int, int]:
    args = {**JOB, "return_ip_result": True}
    if via == "esb":
        data = c["open"].jobv3.get_job_instance_status(args)["data"]
    else:
        data = c["bk-job"].api.get_job_instance_status(args)["data"]
    step = next(s for s in data["step_instance_list"] if s.get("step_ip_result_list"))
    return step["step_instance_id"], step["step_ip_result_list"][0]["bk_host_id"]


def _sops_node(c: dict[str, Any]) -> str:
    data = c["open"].sops.get_task_status({"bk_biz_id": 2, "task_id": 102})["data"]
    return next(iter(data["children"]))


# Ids found in the seeded state, kept: once an operation has changed the state, the
# wrong-credential variant of the same call still names the same step or node.
_SEEDED: dict[tuple[Any, ...], Any] = {}


def _step_in(c: dict[str, Any], via: str, job: dict[str, Any], status: int) -> int:
    """The id of a step of a seeded job in `status` (read with the right credentials)."""
    key = ("job", job["job_instance_id"], status)
    if key not in _SEEDED:
        if via == "esb":
            data = c["open"].jobv3.get_job_instance_status(job)["data"]
        else:
            data = c["bk-job"].api.get_job_instance_status(job)["data"]
        steps = data["step_instance_list"]
        _SEEDED[key] = next(s["step_instance_id"] for s in steps if s["status"] == status)
    return _SEEDED[key]


def _node_in(c: dict[str, Any], system: str, task_id: int, state: str) -> dict[str, Any]:
    """A top-level node of a seeded pipeline in `state` (read with the right credentials)."""
    key = (system, task_id, state)
    if key not in _SEEDED:
        if system == "sops":
            data = c["open"].sops.get_task_status({"bk_biz_id": 2, "task_id": task_id})["data"]
        else:
            path = {"space_id": 1, "task_id": task_id}
            data = c["bk-flow-engine"].api.get_task_states(path_params=path)["data"]
        _SEEDED[key] = next(n for n in data["children"].values() if n["state"] == state)
    return _SEEDED[key]


def _nodeman_instance(c: dict[str, Any]) -> str:
    return c["esb"].extra.job_details({"job_id": 302, "pagesize": -1})["data"]["list"][0]["instance_id"]


def _job_window() -> dict[str, Any]:
    """JOB's list needs a creation window of at most 30 days (epoch ms)."""
    now_ms = int(time.time() * 1000)
    return {"bk_scope_type": "biz", "bk_scope_id": "2", "length": 10} | {
        "create_time_start": now_ms - 29 * 86_400_000,
        "create_time_end": now_ms + 3_600_000,
    }


# Operations change the module's shared world, so each transport operates on a task no other call
# reads, with an operation its seeded state allows: JOB 20004 waits for a confirmation, 20002 has a
# failed step, 20003 and 20006 run; SOPS 107 is not started, 103 has a paused node, 104 and 106
# run; BKFlow 503 and 505 run.
JOB_WAITING = {"bk_scope_type": "biz", "bk_scope_id": "2", "job_instance_id": 20004}
OPERATOR = {"operator": DEMO_USERNAME}

Call = Callable[[dict[str, Any]], Any]
# (transport, system, api) -> the SDK call; every route of the simulator has one (checked below).
CALLS: dict[tuple[str, str, str], Call] = {
    ("esb", "job", "get_job_instance_status"): lambda c: c["open"].jobv3.get_job_instance_status(JOB),
    ("esb", "job", "get_job_instance_ip_log"): lambda c: c["open"].jobv3.get_job_instance_ip_log(
        {**JOB, **dict(zip(("step_instance_id", "bk_host_id"), _host_of_step(c, "esb"), strict=True))}
    ),
    ("esb", "job", "batch_get_job_instance_ip_log"): lambda c: c["open"].jobv3.batch_get_job_instance_ip_log(
        {**JOB, "step_instance_id": _host_of_step(c, "esb")[0], "host_id_list": [_host_of_step(c, "esb")[1]]}
    ),
    ("esb", "sops", "get_task_status"): lambda c: c["open"].sops.get_task_status(
        {"bk_biz_id": 2, "task_id": 102}
    ),
    ("esb", "sops", "get_task_node_detail"): lambda c: c["open"].sops.get_task_node_detail(
        {"bk_biz_id": 2, "task_id": 102, "node_id": _sops_node(c)}
    ),
    ("esb", "sops", "get_task_detail"): lambda c: c["open"].sops.get_task_detail(
        {"bk_biz_id": 2, "task_id": 102}
    ),
    ("esb", "nodeman", "get_task_info"): lambda c: c["esb"].extra.get_task_info(
        {"bk_biz_id": 2, "job_id": 302}
    ),
    ("esb", "nodeman", "job_details"): lambda c: c["esb"].extra.job_details({"job_id": 302, "pagesize": -1}),
    ("esb", "gsekit", "job_status"): lambda c: c["esb"].extra.job_status({"bk_biz_id": 2, "job_id": 802}),
    ("apigw", "job", "get_job_instance_status"): lambda c: c["bk-job"].api.get_job_instance_status(JOB),
    ("apigw", "job", "get_job_instance_ip_log"): lambda c: c["bk-job"].api.get_job_instance_ip_log(
        {**JOB, **dict(zip(("step_instance_id", "bk_host_id"), _host_of_step(c, "apigw"), strict=True))}
    ),
    ("apigw", "job", "batch_get_job_instance_ip_log"): lambda c: c[
        "bk-job"
    ].api.batch_get_job_instance_ip_log(
        {
            **JOB,
            "step_instance_id": _host_of_step(c, "apigw")[0],
            "host_id_list": [_host_of_step(c, "apigw")[1]],
        }
    ),
    ("apigw", "sops", "get_task_status"): lambda c: c["bk-sops"].api.get_task_status(
        path_params={"task_id": 102, "bk_biz_id": 2}
    ),
    ("apigw", "sops", "get_task_node_detail"): lambda c: c["bk-sops"].api.get_task_node_detail(
        {"node_id": _sops_node(c)}, path_params={"task_id": 102, "bk_biz_id": 2}
    ),
    ("apigw", "sops", "get_task_detail"): lambda c: c["bk-sops"].api.get_task_detail(
        path_params={"task_id": 102, "bk_biz_id": 2}
    ),
    ("apigw", "bkflow", "get_task_states"): lambda c: c["bk-flow-engine"].api.get_task_states(
        path_params={"space_id": 1, "task_id": 502}
    ),
    ("apigw", "bkflow", "get_task_detail"): lambda c: c["bk-flow-engine"].api.get_task_detail(
        path_params={"space_id": 1, "task_id": 502}
    ),
    ("apigw", "bkflow", "get_task_list"): lambda c: c["bk-flow-engine"].api.get_task_list(
        {"id": 502}, path_params={"space_id": 1}
    ),
    ("apigw", "nodeman", "job_details"): lambda c: c["bk-nodeman"].api.job_details(
        {"pagesize": -1}, path_params={"job_id": 302}
    ),
    # Logs and node details.
    ("esb", "nodeman", "job_log"): lambda c: c["esb"].extra.job_log(
        {"job_id": 302, "instance_id": _nodeman_instance(c)}
    ),
    ("apigw", "nodeman", "job_log"): lambda c: c["bk-nodeman"].api.job_log(
        {"instance_id": _nodeman_instance(c)}, path_params={"job_id": 302}
    ),
    ("apigw", "sops", "get_task_node_log"): lambda c: c["bk-sops"].api.get_task_node_log(
        {k: _node_in(c, "sops", 102, "FAILED")[f] for k, f in (("node_id", "id"), ("version", "version"))},
        path_params={"task_id": 102, "bk_biz_id": 2},
    ),
    ("apigw", "bkflow", "get_task_node_detail"): lambda c: c["bk-flow-engine"].api.get_task_node_detail(
        path_params={"space_id": 1, "task_id": 502, "node_id": _node_in(c, "bkflow", 502, "FAILED")["id"]}
    ),
    # Lists and batch status reads.
    ("esb", "job", "get_job_instance_list"): lambda c: c["open"].jobv3.get_job_instance_list(_job_window()),
    ("apigw", "job", "get_job_instance_list"): lambda c: c["bk-job"].api.get_job_instance_list(_job_window()),
    ("esb", "sops", "get_task_list"): lambda c: c["open"].sops.get_task_list({"bk_biz_id": 2, "limit": 10}),
    ("apigw", "sops", "get_task_list"): lambda c: c["bk-sops"].api.get_task_list(
        {"limit": 10}, path_params={"bk_biz_id": 2}
    ),
    ("esb", "sops", "get_tasks_status"): lambda c: c["open"].sops.get_tasks_status(
        {"bk_biz_id": 2, "task_id_list": [101, 102]}
    ),
    ("apigw", "sops", "get_tasks_status"): lambda c: c["bk-sops"].api.get_tasks_status(
        {"task_id_list": [101, 102]}, path_params={"bk_biz_id": 2}
    ),
    ("apigw", "bkflow", "get_tasks_states"): lambda c: c["bk-flow-engine"].api.get_tasks_states(
        {"task_ids": [501, 502]}, path_params={"space_id": 1}
    ),
    # Operations (see the note on the tasks above).
    ("esb", "job", "operate_step_instance"): lambda c: c["open"].jobv3.operate_step_instance(
        {**JOB_WAITING, "step_instance_id": _step_in(c, "esb", JOB_WAITING, 7), "operation_code": 6}
    ),
    ("apigw", "job", "operate_step_instance"): lambda c: c["bk-job"].api.operate_step_instance(
        {**JOB, "step_instance_id": _step_in(c, "apigw", JOB, 4), "operation_code": 2}
    ),
    ("esb", "job", "operate_job_instance"): lambda c: c["open"].jobv3.operate_job_instance(
        {**JOB, "job_instance_id": 20006, "operation_code": 1}
    ),
    ("apigw", "job", "operate_job_instance"): lambda c: c["bk-job"].api.operate_job_instance(
        {**JOB, "bk_scope_id": "3", "job_instance_id": 20003, "operation_code": 1}
    ),
    ("esb", "sops", "operate_task"): lambda c: c["open"].sops.operate_task(
        {"bk_biz_id": 2, "task_id": 107, "action": "start"}
    ),
    ("apigw", "sops", "operate_task"): lambda c: c["bk-sops"].api.operate_task(
        {"action": "pause"}, path_params={"task_id": 106, "bk_biz_id": 2}
    ),
    ("esb", "sops", "operate_node"): lambda c: c["open"].sops.operate_node(
        {"bk_biz_id": 2, "task_id": 104, "node_id": _node_in(c, "sops", 104, "RUNNING")["id"]}
        | {"action": "forced_fail"}
    ),
    ("apigw", "sops", "operate_node"): lambda c: c["bk-sops"].api.operate_node(
        {"node_id": _node_in(c, "sops", 103, "SUSPENDED")["id"], "action": "resume"},
        path_params={"bk_biz_id": 2, "task_id": 103},
    ),
    ("apigw", "bkflow", "operate_task"): lambda c: c["bk-flow-engine"].api.operate_task(
        OPERATOR, path_params={"space_id": 1, "task_id": 503, "operation": "pause"}
    ),
    ("apigw", "bkflow", "operate_node"): lambda c: c["bk-flow-engine"].api.operate_node(
        OPERATOR,
        path_params={
            "space_id": 1,
            "task_id": 505,
            "node_id": _node_in(c, "bkflow", 505, "RUNNING")["id"],
            "operation": "forced_fail",
        },
    ),
}
# SOPS operations answer {result, message, code} and nothing else (bk-apis §10.5).
WITHOUT_DATA = {("sops", "operate_task"), ("sops", "operate_node")}


def test_every_simulated_api_has_an_sdk_call() -> None:
    served = {("esb", r.system, r.api) for r in ESB.values()} | {
        ("apigw", r.system, r.api) for *_, r in GATEWAY
    }
    assert served == set(CALLS)


@pytest.mark.parametrize("key", sorted(CALLS), ids=lambda k: "-".join(k))
def test_the_sdk_gets_what_it_expects_with_the_right_credentials(
    base_url: str, key: tuple[str, str, str]
) -> None:
    answer = CALLS[key](_clients(base_url, RIGHT))
    assert isinstance(answer, dict) and answer["result"] is True, answer
    assert ("data" in answer) is (key[1:] not in WITHOUT_DATA), answer


@pytest.mark.parametrize("key", sorted(CALLS), ids=lambda k: "-".join(k))
def test_wrong_credentials_are_refused_the_way_the_sdk_expects(
    base_url: str, key: tuple[str, str, str]
) -> None:
    clients = _clients(base_url, RIGHT)
    wrong = _clients(base_url, WRONG)
    # Arguments that need a first answer (a step, a node) are read with the right credentials.
    if key[0] == "apigw":
        with pytest.raises(APIGatewayResponseError) as info:
            CALLS[key](_swap(clients, wrong, key))
        response = info.value.response
        assert response is not None and response.status_code == 400
        assert response.headers["X-Bkapi-Error-Code"] and response.json()["code"] == 1640001
    else:  # the ESB answers HTTP 200; the SDK hands the dict back without looking at `result`
        answer = CALLS[key](_swap(clients, wrong, key))
        assert answer["result"] is False and answer["code"] == 1306000, answer
        assert "verification failed" in answer["message"]


def _swap(right: dict[str, Any], wrong: dict[str, Any], key: tuple[str, str, str]) -> dict[str, Any]:
    """The wrong-credential client for the call under test, right ones for its preparation."""
    out = dict(right)

    class Last:
        def __init__(self, good: Any, bad: Any) -> None:
            self.good, self.bad = good, bad

        def __getattr__(self, group: str) -> Any:
            return _LastGroup(getattr(self.good, group), getattr(self.bad, group), key[2])

    for name in right:
        out[name] = Last(right[name], wrong[name])
    return out


class _LastGroup:
    def __init__(self, good: Any, bad: Any, api: str) -> None:
        self.good, self.bad, self.api = good, bad, api

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bad if name == self.api else self.good, name)


def test_the_sdk_sends_credentials_only_in_the_header_with_a_trailing_slash(base_url: str) -> None:
    clients = _clients(base_url, RIGHT)
    response = clients["open"].jobv3.get_job_instance_status.request(JOB)
    request = response.request
    assert request.url.split("?")[0].endswith("/jobv3/get_job_instance_status/")
    assert DEMO_APP_SECRET not in request.url and "X-Bkapi-Authorization" in request.headers
    assert response.json()["result"] is True
