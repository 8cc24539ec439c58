"""JOB host evidence: script output or file-transfer lines of the step's current execute_count
(`get_job_instance_ip_log` for one host, `batch_get_job_instance_ip_log` for many, ≤ 500 a call;
fact sheet §2.6, §10.5)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bkwatch.evidence.base import Evidence, clean_value, job_unit
from bkwatch.evidence.signatures import MAX_HOSTS, Signatures, group, reason_of
from bkwatch.model import BkError, ErrorKind, Host, Step, System, Task
from bkwatch.systems.job.poll import request_params

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.target import Target

JOB_BATCH_MAX = 500  # batch_get_job_instance_ip_log: at most 500 hosts a call (§2.6)
FILE_STATUS = {1: "waiting", 2: "uploading", 3: "downloading", 4: "success", 5: "failed"}


def _job_path(client: BkClient, api: str) -> tuple[str, str]:
    via = client.transport_for(System.JOB)
    return via, (f"jobv3/{api}/" if via == "esb" else f"api/v3/{api}")


def _host_ref(h: Host) -> dict[str, Any]:
    if h.host_id is not None:
        return {"bk_host_id": h.host_id}
    return {"bk_cloud_id": h.cloud_id, "ip": h.ip}


def file_lines(file_logs: Any) -> str:
    """file_logs[] as one line per transfer: source, target, status, size, speed, progress."""
    out = []
    for f in file_logs if isinstance(file_logs, list) else []:
        if not isinstance(f, dict):
            continue
        src = f.get("src_ip") if isinstance(f.get("src_ip"), dict) else {}
        source = f"{src.get('bk_cloud_id', '?')}:{src.get('ip', '?')}:{f.get('src_path') or '?'}"
        mode = "upload" if f.get("mode") == 0 else "download"
        status = FILE_STATUS.get(f.get("status"), str(f.get("status")))  # type: ignore[arg-type]
        out.append(
            f"{mode} {source} -> {f.get('dest_path') or '-'} [{status}] size {f.get('size') or '?'} "
            f"speed {f.get('speed') or '?'} progress {f.get('process') or '?'}: {f.get('log_content') or ''}"
        )
    return "\n".join(out) + ("\n" if out else "")


def failed_transfers(file_logs: Any) -> str:
    """What the failed transfers of a host said: their signature, without sizes and paths."""
    rows = file_logs if isinstance(file_logs, list) else []
    return "\n".join(
        str(f.get("log_content") or "") for f in rows if isinstance(f, dict) and f.get("status") == 5
    )


def _job_evidence(target: Target, step: Step, h: Host, raw: str) -> Evidence:
    return Evidence(
        str(target),
        System.JOB,
        f"{target} step {step.id} host {h.key}",
        raw,
        step=step.id,
        host=h.key,
        done=h.state.is_done,
        fields={"status": h.status_text, "exit_code": str(h.exit_code), "error": clean_value(h.error_text)},
    )


async def job_host(client: BkClient, target: Target, step: Step, host: Host) -> Evidence:
    """One host's script output (or file-transfer lines) for the step's current execute_count."""
    via, path = _job_path(client, "get_job_instance_ip_log")
    params = {**request_params(target), "step_instance_id": int(step.id), **_host_ref(host)}
    params.pop("return_ip_result", None)
    data = await client.call(
        System.JOB, path, via=via, method="POST" if via == "esb" else "GET", params=params
    )
    if not isinstance(data, dict):
        raise BkError(ErrorKind.BAD_RESPONSE, "job: get_job_instance_ip_log answered no object")
    files = data.get("file_logs")
    raw = data.get("log_content") if files is None else file_lines(files)
    ev = _job_evidence(target, step, host, raw if isinstance(raw, str) else "")
    if files is not None:
        ev.failure_text = failed_transfers(files)
    return ev


async def job_hosts(
    client: BkClient, target: Target, step: Step, hosts: list[Host], *, concurrency: int = 4
) -> list[Evidence]:
    """Many hosts' logs through batch_get_job_instance_ip_log, at most 500 a call; a host a batch
    did not answer (or a batch that failed) comes back with `error` set."""
    via, path = _job_path(client, "batch_get_job_instance_ip_log")
    base = {**request_params(target), "step_instance_id": int(step.id)}
    base.pop("return_ip_result", None)
    sem = asyncio.Semaphore(concurrency)

    async def batch(chunk: list[Host]) -> list[Evidence]:
        params = dict(base)
        if all(h.host_id is not None for h in chunk):
            params["host_id_list"] = [h.host_id for h in chunk]
        else:
            params["ip_list"] = [{"bk_cloud_id": h.cloud_id, "ip": h.ip} for h in chunk]
        try:
            async with sem:
                data = await client.call(System.JOB, path, via=via, method="POST", params=params)
        except BkError as exc:
            return [_unread(target, step, h, exc) for h in chunk]
        return batch_evidence(target, step, chunk, data)

    chunks = [hosts[i : i + JOB_BATCH_MAX] for i in range(0, len(hosts), JOB_BATCH_MAX)]
    results = await asyncio.gather(*(batch(c) for c in chunks))
    return [e for r in results for e in r]


def batch_evidence(target: Target, step: Step, hosts: list[Host], data: Any) -> list[Evidence]:
    """The `data` of one batch_get_job_instance_ip_log answer -> one Evidence per asked host."""
    by_id: dict[Any, tuple[str, str | None]] = {}
    by_ip: dict[tuple[Any, Any], tuple[str, str | None]] = {}
    data = data if isinstance(data, dict) else {}
    for row in data.get("script_task_logs") or []:
        if isinstance(row, dict):
            content = row.get("log_content")
            text = (content if isinstance(content, str) else "", None)
            by_id[row.get("bk_host_id")] = text
            by_ip[(row.get("bk_cloud_id"), row.get("ip"))] = text
    for row in data.get("file_task_logs") or []:
        if isinstance(row, dict):
            files = row.get("file_logs")
            text = (file_lines(files), failed_transfers(files))
            by_id[row.get("bk_host_id")] = text
            by_ip[(row.get("bk_cloud_id"), row.get("ip"))] = text
    out = []
    for h in hosts:
        got = by_id.get(h.host_id) if h.host_id is not None else None
        got = got if got is not None else by_ip.get((h.cloud_id, h.ip))
        if got is None:
            missing = BkError(ErrorKind.NOT_FOUND, "job: no log for this host")
            out.append(_unread(target, step, h, missing))
        else:
            ev = _job_evidence(target, step, h, got[0])
            ev.failure_text = got[1]
            out.append(ev)
    return out


def _unread(target: Target, step: Step, h: Host, exc: BkError) -> Evidence:
    ev = _job_evidence(target, step, h, "")
    ev.error = exc
    return ev


async def evidence(
    client: BkClient, task: Task, target: Target, step: str | None, host: str | None, node: str | None
) -> Evidence:
    s, h = job_unit(task, step, host)
    return await job_host(client, target, s, h)


async def evidence_batch(
    client: BkClient, target: Target, task: Task, wanted: list[dict[str, str | None]]
) -> list[Evidence]:
    """The hosts of one step, up to 500 a call (`wanted`: hosts of the same step)."""
    step = next(s for s in task.steps if s.id == wanted[0]["step"])
    return await job_hosts(client, target, step, [step.hosts[str(u["host"])] for u in wanted])


async def signatures(client: BkClient, target: Target, task: Task, step_id: str | None) -> Signatures:
    """Failing hosts of one step (or of every step) grouped by the signature of their logs."""
    steps = [s for s in task.steps if step_id is None or s.id == step_id]
    items: list[tuple[str, str | None, str]] = []
    reasons: dict[str, int] = {}
    budget = MAX_HOSTS
    for step in steps:
        failing = [h for h in step.hosts.values() if h.state.is_bad]
        if not failing:
            continue
        take, rest = failing[:budget], failing[budget:]
        budget -= len(take)
        if rest:
            reasons["limit"] = reasons.get("limit", 0) + len(rest)
        for ev in await job_hosts(client, target, step, take) if take else []:
            if ev.error is not None:
                reasons[reason_of(ev.error)] = reasons.get(reason_of(ev.error), 0) + 1
            else:
                items.append((ev.host or "", step.id, ev.failure_text or ev.raw_text))
    return Signatures(str(target), System.JOB, group(items), len(items), sum(reasons.values()), reasons)
