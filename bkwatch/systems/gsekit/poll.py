"""GSEKit (进程配置管理) job_status -> Task. ESB only.

`job_tasks` comes back empty unless task ids are passed, and no listed API gives the ids, so a
poll normally yields the job state plus `status_counts` from `status_counter`. Rows are used
when a server does return them (old servers, or flattened `extra_data__*` keys).
"""

from __future__ import annotations

from typing import Any

from bkwatch.client import UNCHANGED, BkClient
from bkwatch.model import JobTask, State, System, Task
from bkwatch.systems.common import (
    MAX_IP,
    Answers,
    bad,
    need,
    need_dict,
    parse_time,
    plain_text,
    raw_text,
    readable,
    span,
    to_int,
)
from bkwatch.target import Target

API = "job_status"
S = State

STATUS: dict[str, State] = {
    "pending": S.PENDING,
    "running": S.RUNNING,
    "succeeded": S.SUCCEEDED,
    "failed": S.FAILED,
    "ignored": S.SUCCEEDED,  # nothing to do for that process: counted as done, not as a failure
}
TERMINAL = frozenset({"succeeded", "failed"})


def _status(raw: Any) -> State:
    return STATUS.get(raw.strip().lower(), S.UNKNOWN) if isinstance(raw, str) else S.UNKNOWN


def _extra(row: dict[str, Any]) -> dict[str, Any]:
    extra = row.get("extra_data")
    out: dict[str, Any] = dict(extra) if isinstance(extra, dict) else {}
    for key, value in row.items():
        if key.startswith("extra_data__") and value is not None:
            out.setdefault(key[len("extra_data__") :], value)
    return out


def _solutions(value: Any) -> list[str]:
    if not isinstance(value, list):
        return [plain_text(value)] if isinstance(value, str) and value else []
    out: list[str] = []
    for item in value:
        if isinstance(item, dict):
            text = readable(item.get("html") or item.get("text")) or readable(item)
        else:
            text = readable(item)
        if text:
            out.append(text)
    return out


def _process(info: Any) -> tuple[str, int | None, str]:
    if not isinstance(info, dict):
        return "", None, ""
    host = info.get("host") if isinstance(info.get("host"), dict) else {}
    proc = info.get("process") if isinstance(info.get("process"), dict) else {}
    found = host.get("bk_host_innerip") or host.get("inner_ip") or host.get("ip")
    ip = raw_text(found, MAX_IP) if found else ""
    name = proc.get("bk_process_name") or proc.get("bk_func_name") or ""
    return ip, to_int(host.get("bk_cloud_id")), readable(name, 200)


def _row(row: Any, where: str) -> JobTask:
    if not isinstance(row, dict):
        raise bad(where, "a job task is not an object")
    raw = row.get("status")
    extra = _extra(row)
    err = row.get("err_code", extra.get("err_code"))
    ip, cloud, proc = _process(extra.get("process_info") or row.get("process_info"))
    retryable = extra.get("retryable")
    process_id = row.get("bk_process_id")
    return JobTask(
        id=raw_text(need(row, "id", where)),
        state=_status(raw),
        raw_state=raw_text(raw),
        err_code=None if err in (None, "", 0, "0") else raw_text(err),
        failed_reason=readable(extra.get("failed_reason"), 1000),
        retryable=retryable if isinstance(retryable, bool) else None,
        solutions=_solutions(extra.get("solutions")),
        ip=ip,
        cloud_id=cloud,
        process=proc or (raw_text(process_id) if process_id is not None else ""),
        start=parse_time(row.get("start_time")),
        end=parse_time(row.get("end_time")),
    )


def parse(payload: Any, target: Target) -> Task:
    """`data` of job_status -> Task (pure)."""
    where = f"GSEKit {API}"
    info = need_dict(payload, "job_info", where)
    raw = need(info, "status", f"{where} job_info")
    rows = payload.get("job_tasks") or []
    if not isinstance(rows, list):
        raise bad(where, "'job_tasks' should be a list")
    tasks = {jt.id: jt for jt in (_row(r, where) for r in rows)}
    counts: dict[State, int] | None = None
    counter = payload.get("status_counter")
    if isinstance(counter, dict):
        counts = {}
        for key, n in counter.items():
            st = _status(key)
            # A negative count would make done exceed total in progress().
            counts[st] = counts.get(st, 0) + max(0, to_int(n, 0) or 0)
    detail = " ".join(raw_text(x) for x in (info.get("job_object"), info.get("job_action")) if x)
    extra = info.get("extra_data") if isinstance(info.get("extra_data"), dict) else {}
    reason = readable(extra.get("failed_reason"), 300)
    start = parse_time(info.get("start_time"))
    end = parse_time(info.get("end_time"))
    return Task(
        target=str(target),
        system=System.GSEKIT,
        name=readable(detail, 200) or None,
        state=_status(raw),
        raw_state=raw_text(raw),
        terminal=isinstance(raw, str) and raw.strip().lower() in TERMINAL,
        start=start,
        end=end,
        elapsed=span(start, end),
        job_tasks=tasks,
        status_counts=counts,
        detail=f"{detail}: {reason}" if reason else detail,
        started_by=readable(info.get("created_by"), 100) or None,
    )


async def fetch(client: BkClient, target: Target) -> Task:
    client.transport_for(System.GSEKIT)  # ESB only; BkError(CONFIG) when esb_url is missing
    params = {"bk_biz_id": to_int(target.scope) or target.scope, "job_id": to_int(target.id) or target.id}
    answers, key = Answers.of(client), str(target)
    seen, held = answers.held(key)
    data, fingerprint = await client.call_unless(
        seen, System.GSEKIT, f"gsekit/api/job/{API}/", via="esb", method="POST", params=params
    )
    if data is UNCHANGED and held is not None:
        return held
    task = parse(data, target)
    answers.keep(key, fingerprint, task)
    return task
