"""GSEKit evidence: a job task's failure, reasons and solutions, from the task already fetched
(no request), and its signatures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bkwatch.evidence.base import Evidence, clean_value
from bkwatch.evidence.signatures import Signatures, group
from bkwatch.model import BkError, ErrorKind, State, System, Task
from bkwatch.text import one_line

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.target import Target


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


async def evidence(
    client: BkClient, task: Task, target: Target, step: str | None, host: str | None, node: str | None
) -> Evidence:
    """A job task by its id, or by the host it ran on."""
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


async def signatures(client: BkClient, target: Target, task: Task, step_id: str | None) -> Signatures:
    items = [
        (f"{jt.cloud_id}:{jt.ip}" if jt.ip else jt.id, None, f"{jt.failed_reason} (err_code {jt.err_code})")
        for jt in task.job_tasks.values()
        if jt.state.is_bad
    ]
    # Without task ids the ESB answers counts only (fact sheet §6.4): the failures are there, unread.
    hidden = (task.status_counts or {}).get(State.FAILED, 0) if not task.job_tasks else 0
    reasons = {"no job task rows": hidden} if hidden else {}
    return Signatures(str(target), System.GSEKIT, group(items), len(items), hidden, reasons)
