"""NodeMan and GSEKit evidence: a host's install log sub-step by sub-step (`api/job/log`,
fact sheet §5.5, §10.2) and a GSEKit job task's failure from the task already fetched."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bkwatch.evidence.base import Evidence, clean_value
from bkwatch.model import BkError, ErrorKind, Host, System, Task
from bkwatch.text import one_line

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.targets import Target


async def nodeman_host(client: BkClient, target: Target, host: Host) -> Evidence:
    """The install log of one host, sub-step by sub-step (api/job/log, NodeMan 2.x)."""
    ev = Evidence(
        str(target), System.NODEMAN, f"{target} host {host.key}", host=host.key, done=host.state.is_done
    )
    ev.fields = {
        "status": host.status_text,
        "step": clean_value(host.step),
        "error": clean_value(host.error_text),
    }
    if client.nodeman_api == "v1" or host.host_id is None:
        ev.error = BkError(ErrorKind.CONFIG, "nodeman: install logs need NodeMan 2.x and a host id")
        return ev
    instance = f"host|instance|host|{host.host_id}"
    via = client.transport_for(System.NODEMAN)
    params: dict[str, Any] = {"instance_id": instance}
    if via == "esb":
        path = "nodeman/api/job/log/"
        params["job_id"] = target.id
    else:
        path = f"api/job/{target.id}/log/"
    data = await client.call(System.NODEMAN, path, via=via, method="GET", params=params)
    parts = []
    for entry in data if isinstance(data, list) else []:
        if isinstance(entry, dict):
            if entry.get("status") == "FAILED":
                ev.failure_text = str(entry.get("log") or "")
            parts.append(
                f"== {entry.get('step') or '?'} [{entry.get('status') or '?'}] "
                f"{entry.get('start_time') or ''} - {entry.get('finish_time') or ''}\n"
                f"{entry.get('log') or ''}\n"
            )
    ev.raw_text = "".join(parts)
    return ev


def gsekit_task(task: Task, job_task_id: str) -> Evidence:
    """A GSEKit job task's failure, from the task already fetched (no request)."""
    jt = task.job_tasks[job_task_id]
    lines = [f"failed_reason: {jt.failed_reason}", f"err_code: {jt.err_code}"]
    lines += [f"solution: {s}" for s in jt.solutions]
    return Evidence(
        task.target,
        System.GSEKIT,
        f"{task.target} task {jt.id} {one_line(jt.process, 40)} {jt.ip}".rstrip(),
        "\n".join(lines) + "\n",
        host=f"{jt.cloud_id}:{jt.ip}" if jt.ip else None,
        done=jt.state.is_done,
        fields={
            "status": jt.raw_state,
            "err_code": str(jt.err_code),
            "failed_reason": clean_value(jt.failed_reason),
        },
    )
