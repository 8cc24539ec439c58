from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from bkwatch.model import BkError, ErrorKind, State, System
from bkwatch.systems.job import poll as job
from bkwatch.targets import Target

T = Target(System.JOB, "2", "42")


def payload(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "finished": False,
        "job_instance": {
            "job_instance_id": 42,
            "bk_scope_type": "biz",
            "bk_scope_id": "2",
            "name": "deploy-web",
            "status": 2,
            "create_time": 1718000000000,
            "start_time": 1718000000500,
            "end_time": None,
            "total_time": None,
        },
        "step_instance_list": [
            {
                "step_instance_id": 420,
                "type": 1,
                "name": "run script",
                "status": 4,
                "execute_count": 1,
                "start_time": 1718000000600,
                "end_time": 1718000003600,
                "total_time": 3000,
                "step_ip_result_list": [
                    {
                        "bk_host_id": 101,
                        "ip": "10.0.0.1",
                        "bk_cloud_id": 0,
                        "status": 9,
                        "tag": "ok",
                        "exit_code": 0,
                        "error_code": 0,
                        "start_time": 1718000000700,
                        "end_time": 1718000001700,
                        "total_time": 1000,
                    },
                    {
                        "bk_host_id": 102,
                        "ip": "10.0.0.2",
                        "bk_cloud_id": 3,
                        "status": 104,
                        "tag": "",
                        "exit_code": 2,
                        "error_code": 115,
                        "start_time": 1718000000700,
                        "end_time": None,
                        "total_time": None,
                    },
                ],
            },
            {
                "step_instance_id": 421,
                "type": 3,
                "name": "confirm",
                "status": 7,
                "execute_count": 0,
                "start_time": None,
                "end_time": None,
                "total_time": None,
                "step_ip_result_list": [],
            },
        ],
    }
    data.update(over)
    return data


def test_parse_job_steps_and_hosts() -> None:
    task = job.parse(payload(), T)
    assert (task.system, task.target, task.name) == (System.JOB, "job:2:42", "deploy-web")
    assert (task.state, task.raw_state, task.terminal) == (State.RUNNING, "2", False)
    assert task.start == pytest.approx(1718000000.5) and task.end is None
    s1, s2 = task.steps
    assert (s1.id, s1.kind, s1.state, s1.execute_count, s1.elapsed) == ("420", "script", State.FAILED, 1, 3.0)
    assert (s2.kind, s2.state, s2.hosts) == ("manual", State.WAITING, {})
    ok, bad = s1.hosts.values()
    assert list(s1.hosts) == ["0:10.0.0.1", "3:10.0.0.2"]
    assert (ok.state, ok.status_text, ok.tag, ok.error_code, ok.elapsed) == (
        State.SUCCEEDED,
        "succeeded",
        "ok",
        None,
        1.0,
    )
    assert (bad.state, bad.raw_status, bad.exit_code, bad.error_code) == (State.FAILED, "104", 2, "115")
    assert bad.status_text == "script exit code non-zero" and "running" in bad.error_text
    assert (bad.cloud_id, bad.host_id, bad.end) == (3, 102, None)
    assert task.counts() == {State.SUCCEEDED: 1, State.FAILED: 1}


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        (1, State.PENDING),
        (2, State.RUNNING),
        (3, State.SUCCEEDED),
        (4, State.FAILED),
        (5, State.SUCCEEDED),
        (6, State.SUCCEEDED),
        (7, State.WAITING),
        (8, State.STOPPED),
        (9, State.STOPPED),
        (10, State.RUNNING),
        (11, State.STOPPED),
        (12, State.FAILED),
        (13, State.STOPPED),
        (14, State.STOPPED),
        (15, State.WAITING),
    ],
)
def test_every_job_status(raw: int, state: State) -> None:
    data = payload()
    data["job_instance"]["status"] = raw
    data["step_instance_list"][0]["status"] = raw
    task = job.parse(data, T)
    assert task.state is state and task.steps[0].state is state and task.raw_state == str(raw)


def test_unknown_values_become_unknown_not_errors() -> None:
    data = payload()
    data["job_instance"]["status"] = 99
    data["step_instance_list"][0]["step_ip_result_list"][0]["status"] = 777
    data["step_instance_list"][0]["type"] = 9
    task = job.parse(data, T)
    assert task.state is State.UNKNOWN and task.raw_state == "99"
    host = task.steps[0].hosts["0:10.0.0.1"]
    assert (host.state, host.raw_status) == (State.UNKNOWN, "777")
    assert task.steps[0].kind == "unknown"
    assert job.HOST_STATUS[500][0] is State.UNKNOWN


def test_finished_flag_is_terminal_and_stop_states() -> None:
    data = payload(finished=True)
    data["job_instance"].update(status=4, end_time=1718000009000, total_time=8500)
    task = job.parse(data, T)
    assert task.terminal and task.state is State.FAILED and task.elapsed == 8.5
    assert job.HOST_STATUS[403][0] is State.STOPPED and job.HOST_STATUS[5][0] is State.PENDING


def test_ip_results_absent_without_return_ip_result() -> None:
    data = payload()
    for s in data["step_instance_list"]:
        s.pop("step_ip_result_list")
    task = job.parse(data, T)
    assert all(s.hosts == {} for s in task.steps)


def test_string_numbers_and_extra_fields_tolerated() -> None:
    data = payload(new_field={"x": 1})
    data["job_instance"]["status"] = "3"
    row = data["step_instance_list"][0]["step_ip_result_list"][0]
    row.update(status="9", bk_cloud_id="0", exit_code="0", extra="x")
    task = job.parse(data, T)
    assert task.state is State.SUCCEEDED and task.steps[0].hosts["0:10.0.0.1"].state is State.SUCCEEDED


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("job_instance"), "job_instance"),
        (lambda d: d["job_instance"].pop("status"), "status"),
        (lambda d: d.pop("step_instance_list"), "step_instance_list"),
        (lambda d: d["step_instance_list"][0].pop("status"), "status"),
    ],
)
def test_missing_fields_are_bad_response(mutate: Any, field: str) -> None:
    data = payload()
    mutate(data)
    with pytest.raises(BkError) as err:
        job.parse(data, T)
    assert err.value.kind is ErrorKind.BAD_RESPONSE and field in err.value.message


@pytest.mark.parametrize(
    "garbage",
    [None, [], "x", {"job_instance": "x"}, {"job_instance": {"status": 2}, "step_instance_list": [1]}],
)
def test_wrong_shapes_are_bad_response(garbage: Any) -> None:
    with pytest.raises(BkError) as err:
        job.parse(garbage, T)
    assert err.value.kind is ErrorKind.BAD_RESPONSE


def test_biz_set_request_params() -> None:
    params = job.request_params(Target(System.JOB, "9991", "7", "biz_set"))
    assert params == {
        "bk_scope_type": "biz_set",
        "bk_scope_id": "9991",
        "job_instance_id": 7,
        "return_ip_result": True,
    }


def test_ten_thousand_hosts_parse() -> None:
    data = payload()
    base = data["step_instance_list"][0]["step_ip_result_list"][0]
    rows = []
    for i in range(10_000):
        row = copy.copy(base)
        row["ip"] = f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}"
        row["bk_host_id"] = i
        rows.append(row)
    data["step_instance_list"][0]["step_ip_result_list"] = rows
    raw = orjson.dumps({"result": True, "data": data})
    task = job.parse(orjson.loads(raw)["data"], T)
    assert len(task.steps[0].hosts) == 10_000
    assert task.progress() == (10_000, 10_000)
