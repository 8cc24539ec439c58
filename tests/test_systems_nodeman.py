from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bkwatch.model import BkError, ErrorKind, State, System, failures
from bkwatch.systems.nodeman import poll as nodeman
from bkwatch.targets import Target

T = Target(System.NODEMAN, "2", "12")


def row(i: int, status: str = "SUCCESS", **kw: Any) -> dict[str, Any]:
    out = {
        "instance_id": f"host|instance|host|{i}",
        "ip": f"10.1.0.{i}",
        "inner_ip": f"10.1.0.{i}",
        "bk_host_id": i,
        "bk_cloud_id": 0,
        "bk_biz_id": 2,
        "status": status,
        "start_time": "2021-09-16 15:06:03+0800",
        "end_time": "2021-09-16 15:07:20+0800",
        "cost_time": 77.25,
        "node_id": 3,
        "status_display": "正在 安装",
        "step": "安装",
        "is_manual": False,
    }
    out.update(kw)
    return out


def details(rows: list[dict[str, Any]], status: str = "RUNNING", total: int | None = None) -> dict[str, Any]:
    return {
        "job_id": 12,
        "created_by": "admin",
        "job_type": "INSTALL_AGENT",
        "job_type_display": "安装 Agent",
        "status": status,
        "start_time": "2021-09-16 15:06:03+0800",
        "end_time": None,
        "cost_time": "77",
        "statistics": {"total_count": len(rows), "success_count": 1},
        "total": len(rows) if total is None else total,
        "ip_filter_list": [],
        "list": rows,
        "meta": {"type": "AGENT", "step_type": "AGENT", "op_type": "INSTALL"},
    }


def test_parse_v2_hosts_times_and_filtered() -> None:
    rows = [
        row(1),
        row(2, "FAILED", status_display="<b>安装失败</b>: agent 连接超时", cost_time="12.5"),
        row(3, "RUNNING", end_time=None),
        {
            "ip": "10.1.0.9",
            "bk_cloud_id": 0,
            "filter_host": True,
            "status": "FAILED",  # what NodeMan reports for a filtered host
            "status_display": "主机已被其他任务占用",
            "step": "",
        },
    ]
    task = nodeman.parse(details(rows), T)
    assert (task.system, task.state, task.terminal, task.name, task.detail) == (
        System.NODEMAN,
        State.RUNNING,
        False,
        "安装 Agent",
        "INSTALL_AGENT",
    )
    assert task.start == datetime.fromisoformat("2021-09-16T07:06:03+00:00").timestamp()
    assert task.elapsed == 77.0  # cost_time is a string at job level
    assert list(task.hosts) == ["0:10.1.0.1", "0:10.1.0.2", "0:10.1.0.3", "0:10.1.0.9"]
    ok, bad, run, filt = task.hosts.values()
    assert (ok.state, ok.elapsed, ok.step, ok.host_id) == (State.SUCCEEDED, 77.25, "安装", 1)
    assert (bad.state, bad.elapsed, bad.error_text) == (State.FAILED, 12.5, "安装失败: agent 连接超时")
    assert (run.state, run.end) == (State.RUNNING, None)
    assert (filt.state, filt.status_text, filt.error_text) == (
        State.NOT_RUN,  # nothing was done on it: not "ok"
        "filtered: 主机已被其他任务占用",
        "",
    )
    assert [f.id for f in failures(task)] == ["0:10.1.0.2"]  # a filtered host is not a failure
    assert task.progress() == (2, 3)  # nor any work: left out of both counts


def test_v2_pages_are_merged() -> None:
    first = details([row(i) for i in range(1, 4)], "SUCCESS", total=5)
    second = {**first, "list": [row(4), row(5, "FAILED")]}
    task = nodeman.parse(first, T, pages=[second])
    assert len(task.hosts) == 5 and task.state is State.SUCCEEDED and task.terminal
    assert task.counts() == {State.SUCCEEDED: 4, State.FAILED: 1}


@pytest.mark.parametrize(
    ("raw", "state", "terminal"),
    [
        ("PENDING", State.PENDING, False),
        ("RUNNING", State.RUNNING, False),
        ("SUCCESS", State.SUCCEEDED, True),
        ("FAILED", State.FAILED, True),
        ("PART_FAILED", State.FAILED, True),
        ("TERMINATED", State.STOPPED, True),
        ("SOMETHING_NEW", State.UNKNOWN, False),
    ],
)
def test_v2_job_states(raw: str, state: State, terminal: bool) -> None:
    task = nodeman.parse(details([row(1, raw)], raw), T)
    assert (task.state, task.terminal, task.raw_state) == (state, terminal, raw)


def test_v2_host_states() -> None:
    statuses = [
        "QUEUE",
        "PENDING",
        "RUNNING",
        "SUCCESS",
        "FAILED",
        "TERMINATED",
        "REMOVED",
        "FILTERED",
        "IGNORED",
        "ODD",
    ]
    task = nodeman.parse(details([row(i, s) for i, s in enumerate(statuses)]), T)
    got = [h.state for h in task.hosts.values()]
    assert got == [
        State.PENDING,
        State.PENDING,
        State.RUNNING,
        State.SUCCEEDED,
        State.FAILED,
        State.STOPPED,
        State.STOPPED,
        State.NOT_RUN,
        State.SUCCEEDED,
        State.UNKNOWN,
    ]


def test_v2_missing_fields() -> None:
    for key in ("status", "list"):
        data = details([row(1)])
        data.pop(key)
        with pytest.raises(BkError) as err:
            nodeman.parse(data, T)
        assert err.value.kind is ErrorKind.BAD_RESPONSE and key in err.value.message


def v1(hosts: list[dict[str, Any]], running: int, failed: int, success: int) -> dict[str, Any]:
    return {
        "id": 187,
        "creator": "admin",
        "bk_biz_id": "2",
        "bk_cloud_id": "218",
        "bk_supplier_id": "0",
        "job_type": "INSTALL_PAGENT",
        "job_type_desc": "安装PAGENT",
        "global_params": None,
        "start_time": "2018-12-05 21:20:20",
        "end_time": None,
        "status_count": {"running_count": running, "failed_count": failed, "success_count": success},
        "host_count": len(hosts),
        "hosts": hosts,
    }


def v1host(ip: str, status: str, **kw: Any) -> dict[str, Any]:
    return {
        "job_id": "187",
        "status": status,
        "err_code": kw.get("err_code", ""),
        "err_code_desc": kw.get("desc", ""),
        "step": "任务执行失败(安装)",
        "host": {"id": 43, "bk_biz_id": "2", "bk_cloud_id": "218", "inner_ip": ip, "outer_ip": ""},
    }


def test_parse_v1_string_numbers_and_tzless_times() -> None:
    data = v1(
        [v1host("10.0.0.9", "FAILED", err_code="START_JOB_FAILED", desc="<p>启动任务&amp;失败</p>")], 0, 1, 0
    )
    task = nodeman.parse_v1(data, T)
    assert (task.state, task.raw_state, task.terminal, task.name) == (
        State.FAILED,
        "FAILED",
        True,
        "安装PAGENT",
    )
    host = task.hosts["218:10.0.0.9"]
    assert (host.state, host.error_code, host.error_text, host.cloud_id, host.host_id) == (
        State.FAILED,
        "START_JOB_FAILED",
        "启动任务&失败",
        218,
        43,
    )
    # No offset: taken as this machine's local time.
    assert task.start == datetime(2018, 12, 5, 21, 20, 20).timestamp()


@pytest.mark.parametrize(
    ("hosts", "counts", "state"),
    [
        ([("a", "RUNNING")], (1, 0, 0), State.RUNNING),
        ([("a", "QUEUE")], (0, 0, 0), State.PENDING),
        ([("a", "SUCCESS"), ("b", "PENDING")], (0, 0, 1), State.RUNNING),
        ([("a", "SUCCESS")], (0, 0, 1), State.SUCCEEDED),
        ([("a", "SUCCESS"), ("b", "FAILED")], (0, 1, 1), State.FAILED),
        ([], (0, 0, 0), State.PENDING),
    ],
)
def test_v1_job_state_derived_from_status_count(
    hosts: list[tuple[str, str]], counts: tuple[int, int, int], state: State
) -> None:
    task = nodeman.parse_v1(v1([v1host(ip, st) for ip, st in hosts], *counts), T)
    assert task.state is state


def test_v1_missing_hosts_is_bad_response() -> None:
    data = v1([], 0, 0, 0)
    data.pop("hosts")
    with pytest.raises(BkError, match="hosts"):
        nodeman.parse_v1(data, T)
