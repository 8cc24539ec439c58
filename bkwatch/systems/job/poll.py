"""JOB (作业平台) v3 get_job_instance_status -> Task with steps and per-host results."""

from __future__ import annotations

import sys
from dataclasses import replace
from operator import itemgetter
from typing import Any

from bkwatch.client import UNCHANGED, BkClient
from bkwatch.model import Host, State, Step, System, Task
from bkwatch.systems.common import (
    MAX_IP,
    Answers,
    bad,
    build_task,
    clean_text,
    host_ip,
    ms_to_s,
    need_dict,
    need_list,
    raw_text,
    readable,
    to_int,
)
from bkwatch.target import Target

API = "get_job_instance_status"
S = State

# RunStatusEnum: job and step status (docs/states.md).
RUN_STATUS: dict[int, tuple[State, str]] = {
    1: (S.PENDING, "waiting to start"),
    2: (S.RUNNING, "running"),
    3: (S.SUCCEEDED, "succeeded"),
    4: (S.FAILED, "failed"),
    5: (S.SUCCEEDED, "skipped"),
    6: (S.SUCCEEDED, "failed, error ignored"),
    7: (S.WAITING, "waiting for confirmation"),
    8: (S.STOPPED, "terminated"),
    9: (S.STOPPED, "abnormal state"),
    10: (S.RUNNING, "stopping"),
    11: (S.STOPPED, "force-stopped"),
    12: (S.FAILED, "force-stop failed"),
    13: (S.STOPPED, "confirmation refused"),
    14: (S.STOPPED, "abandoned"),
    15: (S.WAITING, "rolling: waiting for next batch"),
}

# ExecuteObjectTaskStatusEnum: per-host status.
_F = S.FAILED
HOST_STATUS: dict[int, tuple[State, str]] = {
    0: (_F, "unknown error"),
    1: (_F, "agent error"),
    2: (_F, "invalid host"),
    3: (S.SUCCEEDED, "succeeded earlier (skipped on retry)"),
    5: (S.PENDING, "waiting"),
    7: (S.RUNNING, "running"),
    9: (S.SUCCEEDED, "succeeded"),
    11: (_F, "failed"),
    12: (_F, "submit failed"),
    13: (_F, "task timeout"),
    15: (_F, "log error"),
    16: (_F, "GSE script log timeout"),
    17: (_F, "GSE file log timeout"),
    18: (_F, "agent not installed"),
    101: (_F, "script failed"),
    102: (_F, "script timeout"),
    103: (S.STOPPED, "script terminated"),
    104: (_F, "script exit code non-zero"),
    202: (_F, "file copy failed"),
    203: (_F, "source file not found"),
    301: (_F, "file task error"),
    303: (_F, "file task timeout"),
    310: (_F, "GSE agent error"),
    311: (_F, "account does not exist"),
    312: (_F, "account password wrong"),
    320: (_F, "file fetch failed"),
    321: (_F, "file size over limit"),
    329: (_F, "file transfer error"),
    399: (_F, "GSE task error"),
    403: (S.STOPPED, "force-terminated"),
    404: (_F, "force-terminate failed"),
    500: (S.UNKNOWN, "unknown status"),
}
# GSE-side error_code values the gateway docs name; anything else is shown as the number.
ERROR_CODES: dict[int, str] = {115: "GSE task still running", 126: "terminated", -1: "other error"}
STEP_KINDS = {1: "script", 2: "file", 3: "manual", 4: "sql"}


def _run_status(raw: Any) -> tuple[State, str, str]:
    code = to_int(raw)
    hit = RUN_STATUS.get(code) if code is not None else None
    if hit is None:
        text = raw_text(raw)
        return S.UNKNOWN, text, f"status {text}"
    return hit[0], str(code), hit[1]


# status -> (state, raw status text, words), so a row costs one lookup and no str().
_HOST_ROWS: dict[int, tuple[State, str, str]] = {k: (v[0], str(k), v[1]) for k, v in HOST_STATUS.items()}
_HOST_FIELDS = (
    "status",
    "bk_cloud_id",
    "ip",
    "bk_host_id",
    "exit_code",
    "error_code",
    "tag",
    "start_time",
    "end_time",
    "total_time",
)
# All fields in one C call; rows missing one take the .get() path.
_row_fields = itemgetter(*_HOST_FIELDS)


def _host_status(status: Any) -> tuple[State, str, str]:
    hit = HOST_STATUS.get(status) if type(status) is int else None
    if hit is None:
        status_i = to_int(status)
        hit = HOST_STATUS.get(status_i) if status_i is not None else None
    text = raw_text(status)
    if hit is None:
        hit = (S.UNKNOWN, f"status {text}")
    return hit[0], text, hit[1]


def _hosts(rows: list[Any], where: str) -> dict[str, Host]:
    out: dict[str, Host] = {}
    intern = sys.intern
    rows_table = _HOST_ROWS
    fields = _row_fields
    error_codes = ERROR_CODES
    for row in rows:
        if type(row) is not dict:
            raise bad(where, "a host result is not an object")
        try:
            status, cloud, ip, host_id, exit_code, err, tag, start, end, total = fields(row)
        except KeyError:
            status, cloud, ip, host_id, exit_code, err, tag, start, end, total = map(row.get, _HOST_FIELDS)
        hit = rows_table.get(status) if type(status) is int else None
        if hit is None:
            hit = _host_status(status)
        if type(cloud) is not int:
            cloud = to_int(cloud, 0)
        if type(host_id) is not int:
            host_id = to_int(host_id)
        # Inline test of the usual short printable address: this loop runs for every host.
        if type(ip) is not str or not ip or len(ip) > MAX_IP or not ip.isprintable():
            ip = host_ip(ip, row.get("ipv6"), fallback=host_id)
        if not err:
            err_code = None
            err_text = ""
        else:
            err_code = str(err) if type(err) is int else raw_text(err)
            err_text = error_codes.get(err, "") if type(err) is int else ""
            if not err_text:
                err_text = f"GSE error {err_code}"
        # One string per host for the whole process, not one per step and poll: a task holds the
        # same hosts in each of its steps, and a business's jobs run on the same hosts.
        key = intern(f"{cloud}:{ip}")
        out[key] = Host(
            key,
            intern(ip),
            cloud,
            hit[0],
            hit[1],
            hit[2],
            host_id,
            exit_code if type(exit_code) is int else to_int(exit_code),
            err_code,
            err_text,
            clean_text(tag[:1600], 200) if tag and type(tag) is str else "",
            "",
            # A host not started yet has no times: None taken as it is, like an int (a third
            # of a running step's hosts).
            start / 1000.0 if type(start) is int else start if start is None else ms_to_s(start),
            end / 1000.0 if type(end) is int else end if end is None else ms_to_s(end),
            total / 1000.0 if type(total) is int else total if total is None else ms_to_s(total),
        )
    return out


def _retire_earlier_attempt(step: Step) -> None:
    """A retried step that is running again, whose answer still carries a host's failure from
    before this attempt started (its result ended before the step's new start: JOB writes the
    new attempt's rows as the agents take it up): that failure is over, so the host shows as
    waiting for the new attempt from the first poll that sees it, not from some later one."""
    if step.execute_count < 1 or step.start is None or not step.state.is_active:
        return
    for key, host in step.hosts.items():
        ended = host.end if host.end is not None else host.start
        if host.state.is_bad and ended is not None and ended < step.start:
            step.hosts[key] = replace(
                host,
                state=State.PENDING,
                status_text=f"waiting for attempt {step.execute_count + 1} (was: {host.status_text})",
                exit_code=None,
                error_code=None,
                error_text="",
                start=None,
                end=None,
                elapsed=None,
            )


def parse(payload: Any, target: Target) -> Task:
    """`data` of get_job_instance_status -> Task (pure)."""
    where = f"JOB {API}"
    job = need_dict(payload, "job_instance", where)
    if "status" not in job:
        raise bad(where, "field 'job_instance.status' is missing")
    state, raw, _ = _run_status(job["status"])
    steps: list[Step] = []
    for srow in need_list(payload, "step_instance_list", where):
        if not isinstance(srow, dict):
            raise bad(where, "a step is not an object")
        if "status" not in srow:
            raise bad(where, "field 'step_instance_list[].status' is missing")
        sstate, sraw, _ = _run_status(srow["status"])
        ip_rows = srow.get("step_ip_result_list") or []
        if not isinstance(ip_rows, list):
            raise bad(where, "'step_ip_result_list' should be a list")
        step = Step(
            id=raw_text(srow.get("step_instance_id", len(steps))),
            name=readable(srow.get("name"), 200),
            kind=STEP_KINDS.get(to_int(srow.get("type"), 0) or 0, "unknown"),
            state=sstate,
            raw_state=sraw,
            execute_count=to_int(srow.get("execute_count"), 0) or 0,
            start=ms_to_s(srow.get("start_time")),
            end=ms_to_s(srow.get("end_time")),
            elapsed=ms_to_s(srow.get("total_time")),
            hosts=_hosts(ip_rows, where),
        )
        _retire_earlier_attempt(step)
        steps.append(step)
    finished = payload.get("finished")
    terminal = bool(finished) if isinstance(finished, bool) else state.is_done
    return Task(
        target=str(target),
        system=System.JOB,
        name=readable(job.get("name"), 200) or None,
        state=state,
        raw_state=raw,
        terminal=terminal,
        start=ms_to_s(job.get("start_time")),
        end=ms_to_s(job.get("end_time")),
        elapsed=ms_to_s(job.get("total_time")),
        steps=steps,
    )


def request_params(target: Target) -> dict[str, Any]:
    scope_type = "biz_set" if target.scope_type == "biz_set" else "biz"
    return {
        "bk_scope_type": scope_type,
        "bk_scope_id": str(target.scope),  # a string in JOB's API, even for numbers
        "job_instance_id": to_int(target.id, None) or target.id,
        "return_ip_result": True,
    }


async def fetch(client: BkClient, target: Target) -> Task:
    via = client.transport_for(System.JOB)
    params = request_params(target)
    answers, key = Answers.of(client), str(target)
    seen, held = answers.held(key)
    if via == "esb":
        path, method = f"jobv3/{API}/", "POST"
    else:
        path, method = f"api/v3/{API}", "GET"
    data, fingerprint = await client.call_unless(
        seen, System.JOB, path, via=via, method=method, params=params
    )
    if data is UNCHANGED and held is not None:
        return held
    task = await build_task(_rows(data), parse, data, target)
    answers.keep(key, fingerprint, task)
    return task


def _rows(data: Any) -> int:
    """Host rows in an answer, however odd its shape (`parse` judges the shape)."""
    steps = data.get("step_instance_list") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        return 0
    lists = (s.get("step_ip_result_list") for s in steps if isinstance(s, dict))
    return sum(len(rows) for rows in lists if isinstance(rows, list))
