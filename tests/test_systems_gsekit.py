from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bkwatch.model import BkError, ErrorKind, State, System, failures
from bkwatch.systems.gsekit import poll as gsekit
from bkwatch.targets import Target

T = Target(System.GSEKIT, "3", "1")


def status(
    job_status: str = "running", tasks: list[dict[str, Any]] | None = None, **counter: int
) -> dict[str, Any]:
    return {
        "job_info": {
            "id": 1,
            "bk_biz_id": 3,
            "expression": "*.*.*.*.*",
            "scope": {},
            "job_object": "configfile",
            "job_action": "release",
            "status": job_status,
            "created_by": "admin",
            "is_ready": True,
            "start_time": "2020-12-03 02:12:36.080806+00:00",
            "end_time": None,
            "pipeline_id": "p",
            "extra_data": {},
        },
        "job_tasks": tasks or [],
        "count": sum(counter.values()),
        "status_counter": {"pending": 0, "running": 0, "succeeded": 0, "failed": 0, "ignored": 0, **counter},
    }


def test_counts_only_when_no_rows() -> None:
    task = gsekit.parse(status(pending=2, running=3, succeeded=4, failed=1, ignored=2), T)
    assert (task.system, task.state, task.terminal, task.name) == (
        System.GSEKIT,
        State.RUNNING,
        False,
        "configfile release",
    )
    assert task.job_tasks == {}
    assert task.counts() == {State.PENDING: 2, State.RUNNING: 3, State.SUCCEEDED: 6, State.FAILED: 1}
    assert task.progress() == (7, 12)
    assert task.start == datetime.fromisoformat("2020-12-03T02:12:36.080806+00:00").timestamp()


def test_rows_nested_extra_data_with_process_info() -> None:
    rows = [
        {
            "id": 7,
            "job_id": 1,
            "bk_process_id": 55,
            "status": "failed",
            "err_code": 4102011,
            "start_time": "2020-12-03 02:12:36+00:00",
            "end_time": "2020-12-03 02:12:40.5+00:00",
            "extra_data": {
                "failed_reason": "render failed: <b>x</b> undefined",
                "retryable": False,
                "solutions": [
                    {"html": "<span>Check <a href='http://x'>the template</a>&gt;now</span>"},
                    "plain tip",
                ],
                "process_info": {
                    "host": {"bk_host_innerip": "10.0.0.5", "bk_cloud_id": 0},
                    "process": {"bk_process_name": "nginx"},
                },
            },
        },
        {"id": 8, "status": "succeeded", "err_code": 0, "bk_process_id": 56},
    ]
    task = gsekit.parse(status("failed", rows, failed=1, succeeded=1), T)
    assert task.terminal and task.state is State.FAILED
    jt = task.job_tasks["7"]
    assert (jt.state, jt.err_code, jt.retryable, jt.ip, jt.cloud_id, jt.process) == (
        State.FAILED,
        "4102011",
        False,
        "10.0.0.5",
        0,
        "nginx",
    )
    assert jt.failed_reason == "render failed: x undefined"
    assert jt.solutions == ["Check the template>now", "plain tip"]
    assert jt.end == pytest.approx(datetime.fromisoformat("2020-12-03T02:12:40.5+00:00").timestamp())
    ok = task.job_tasks["8"]
    assert (ok.err_code, ok.process, ok.retryable) == (None, "56", None)
    assert task.counts() == {State.FAILED: 1, State.SUCCEEDED: 1}  # rows win over the counter
    assert [f.reason for f in failures(task)] == ["render failed: x undefined"]


def test_rows_flattened_extra_data_keys_from_esb_doc() -> None:
    rows = [
        {
            "id": 1,
            "status": "succeeded",
            "extra_data__failed_reason": None,
            "extra_data__retryable": None,
            "extra_data__solutions": None,
        },
        {
            "id": 2,
            "status": "failed",
            "extra_data__failed_reason": "boom",
            "extra_data__retryable": True,
            "extra_data__solutions": [{"html": "<p>retry</p>"}],
            "err_code": "65535",
        },
    ]
    task = gsekit.parse(status("failed", rows), T)
    assert task.job_tasks["1"].state is State.SUCCEEDED and task.job_tasks["1"].failed_reason == ""
    two = task.job_tasks["2"]
    assert (two.failed_reason, two.retryable, two.solutions, two.err_code) == (
        "boom",
        True,
        ["retry"],
        "65535",
    )


@pytest.mark.parametrize(
    ("raw", "state", "terminal"),
    [
        ("pending", State.PENDING, False),
        ("running", State.RUNNING, False),
        ("succeeded", State.SUCCEEDED, True),
        ("failed", State.FAILED, True),
        ("ignored", State.SUCCEEDED, False),
        ("weird", State.UNKNOWN, False),
    ],
)
def test_job_states(raw: str, state: State, terminal: bool) -> None:
    task = gsekit.parse(status(raw), T)
    assert (task.state, task.terminal, task.raw_state) == (state, terminal, raw)


def test_job_failed_reason_in_detail() -> None:
    data = status("failed")
    data["job_info"]["extra_data"] = {"failed_reason": "pipeline start error"}
    assert gsekit.parse(data, T).detail == "configfile release: pipeline start error"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("job_info"),
        lambda d: d["job_info"].pop("status"),
        lambda d: d.update(job_tasks="x"),
        lambda d: d.update(job_tasks=[{"status": "failed"}]),
    ],
)
def test_bad_shapes(mutate: Any) -> None:
    data = status()
    mutate(data)
    with pytest.raises(BkError) as err:
        gsekit.parse(data, T)
    assert err.value.kind is ErrorKind.BAD_RESPONSE
