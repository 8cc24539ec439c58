"""NodeMan evidence: a host's install log sub-step by sub-step (`api/job/log`, fact sheet §5.5,
§10.2), and the failure signatures of a job's hosts (no batch log API: one request per host)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bkwatch.evidence.base import Evidence, clean_value
from bkwatch.evidence.signatures import Signatures, group, reason_of
from bkwatch.model import BkError, ErrorKind, Host, State, System, Task

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.target import Target

NODEMAN_MAX_HOSTS = 200  # failing hosts whose logs are read for signatures


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


async def evidence(
    client: BkClient, task: Task, target: Target, step: str | None, host: str | None, node: str | None
) -> Evidence:
    if host not in task.hosts:
        raise BkError(ErrorKind.NOT_FOUND, f"no host {host} in {task.target}")
    return await nodeman_host(client, target, task.hosts[host])


async def signatures(client: BkClient, target: Target, task: Task, step_id: str | None) -> Signatures:
    # Hosts filtered out before execution read STOPPED: not failures (fact sheet §10.2).
    failing = [h for h in task.hosts.values() if h.state is State.FAILED]
    take, rest = failing[:NODEMAN_MAX_HOSTS], failing[NODEMAN_MAX_HOSTS:]
    reasons: dict[str, int] = {"limit": len(rest)} if rest else {}
    sem = asyncio.Semaphore(8)

    async def one(h: Any) -> tuple[str, str | None, str] | BkError:
        async with sem:
            try:
                ev = await nodeman_host(client, target, h)
            except BkError as exc:
                return exc
            return (
                ev.error
                if ev.error is not None
                else (h.key, None, ev.failure_text or ev.raw_text or h.error_text)
            )

    items: list[tuple[str, str | None, str]] = []
    for r in await asyncio.gather(*(one(h) for h in take)):
        if isinstance(r, BkError):
            reasons[reason_of(r)] = reasons.get(reason_of(r), 0) + 1
        else:
            items.append(r)
    return Signatures(str(target), System.NODEMAN, group(items), len(items), sum(reasons.values()), reasons)
