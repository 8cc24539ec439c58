"""A host's or node's evidence, fetched per system, as plain data (fact sheet §2.6, §3.7, §4.3,
§5.5, §10.2, §10.5).

Everything here is fetched when asked for, never by a poll. `Evidence.raw_text` is the server's
text as sent (untrusted: show it through `LogBuffer` or `text.clean_text`); `fields` are already
cleaned. `LogSource` is one opened log: `open()` once, then `more()` per poll returns only what
was added (SOPS node logs are paged, so only the last page and the next are asked for; JOB and
NodeMan answer whole logs, so only the new tail is handed on).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bkwatch.evidence.agents import gsekit_task, nodeman_host
from bkwatch.evidence.base import Chunk, Evidence, find_node, job_unit
from bkwatch.evidence.job import batch_evidence, job_host, job_hosts
from bkwatch.evidence.pipeline import bkflow_node, sops_node
from bkwatch.model import BkError, ErrorKind, State, System, Task

if TYPE_CHECKING:
    from bkwatch.client import BkClient

__all__ = [
    "Chunk",
    "Evidence",
    "batch_evidence",
    "bkflow_node",
    "fetch_evidence",
    "gsekit_task",
    "job_host",
    "job_hosts",
    "nodeman_host",
    "sops_node",
]


async def fetch_evidence(
    client: BkClient, task: Task, *, step: str | None = None, host: str | None = None, node: str | None = None
) -> Evidence:
    """The evidence of one host (JOB, NodeMan, GSEKit job task by id or host) or node (SOPS, BKFlow)."""
    from bkwatch.targets import parse_target

    target = parse_target(task.target)
    system = task.system
    if system is System.JOB:
        s, h = job_unit(task, step, host)
        return await job_host(client, target, s, h)
    if system is System.NODEMAN:
        if host not in task.hosts:
            raise BkError(ErrorKind.NOT_FOUND, f"no host {host} in {task.target}")
        return await nodeman_host(client, target, task.hosts[host])
    if system is System.GSEKIT:
        key = node or host or ""
        match = (
            key
            if key in task.job_tasks
            else next(
                (k for k, jt in task.job_tasks.items() if f"{jt.cloud_id}:{jt.ip}" == key or jt.ip == key),
                None,
            )
        )
        if match is None:
            raise BkError(ErrorKind.NOT_FOUND, f"no job task {key} in {task.target}")
        return gsekit_task(task, match)
    if not node:
        raise BkError(ErrorKind.CONFIG, f"{system}: name a node (--node NODE_ID)")
    if system is System.SOPS:
        ev = await sops_node(client, target, node)
    else:
        ev = await bkflow_node(client, target, node)
    found = find_node(task, node)
    if found is not None:
        ev.done = found.state.is_done or found.state is State.FAILED
    return ev
