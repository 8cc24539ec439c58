"""JOB operate_step_instance / operate_job_instance: preconditions, codes and effects (§10.5).

A wrong state answers ``result: false`` with code 1241003 (start of a started job: 1241015).
Effects change the simulated job in place, so the next poll shows them.
"""

from __future__ import annotations

from typing import Any

from .api_job import _int, _locate, _missing, _resp
from .envelope import Reply, Req
from .job import HOST_OK, JobTask, SimStep
from .world import World

WRONG_STATE = 1241003
NOT_STARTABLE = 1241015
STEP_OPS = {2, 3, 6, 8, 9, 10, 11, 12, 13}
# operation_code -> step statuses it is allowed from (bk-job TaskExecuteServiceImpl, §10.5).
ALLOWED_FROM: dict[int, set[int]] = {
    2: {4, 9, 11},
    8: {4, 9, 11},
    3: {4, 9},
    6: {7},
    9: {7},
    10: {13},
    11: {11},
    12: {10},
    13: {7, 15},
}
MANUAL_ONLY = {6, 9, 10}
JOB_TERMINABLE = {2, 7, 15}
STOPPED_HOST = 403  # force-terminate succeeded


def handle(world: World, req: Req) -> Reply:
    err, task = _locate(world, req.params)
    if err is not None or task is None:
        return err  # type: ignore[return-value]
    code = _int(req.params.get("operation_code"))
    if req.api == "operate_job_instance":
        if code not in (1, 2):
            return _missing("operation_code")
        return _job_op(world, task, code)
    step_id = _int(req.params.get("step_instance_id"))
    if step_id is None:
        return _missing("step_instance_id")
    if code not in STEP_OPS:
        return _missing("operation_code")
    step = next((s for s in task.steps if s.id == step_id), None)
    if step is None:
        return _resp(200, 1244007, "作业步骤实例不存在")
    now = world.now()
    lt = task.local(now)
    data, _ = task.evaluate(lt, True)
    index = task.steps.index(step)
    out = data["step_instance_list"][index]
    status = out["status"]
    manual_ok = step.type == 3 if code in MANUAL_ONLY else not (code == 13 and step.type == 3)
    if status not in ALLOWED_FROM[code] or not manual_ok:
        return _resp(200, WRONG_STATE, f"步骤实例状态({status})不支持该操作(operation_code={code})")
    task.unpin(now)
    lt = task.local(now)
    fail = task.target in world.operations.fail_next
    if code in (2, 8):
        world.operations.fail_next.discard(task.target)
        _rerun(step, out["step_ip_result_list"], lt, all_hosts=code == 8, fail=fail)
    elif code == 3:
        step.forced = 6
        _next_starts(task, index, lt)
    elif code == 6:
        started = step.seen_start if step.seen_start is not None else lt  # exact, not the ms shown
        step.confirm_after = max(0.0, lt - started)
        step.forced = None
    elif code == 9:
        step.forced = 13
    elif code == 10:
        step.forced, step.confirm_after, step.exec_start = None, None, lt
    elif code in (11, 12):
        # The simulator shows the stopped step as skipped (5) once the job goes on.
        step.forced = 5
        _next_starts(task, index, lt)
    elif code == 13:
        _continue_rolling(task, step, lt)
    task.touch()
    return _resp(200, 0, "success", {"job_instance_id": task.job_id, "step_instance_id": step.id})


def _job_op(world: World, task: JobTask, code: int) -> Reply:
    now = world.now()
    lt = task.local(now)
    data, _ = task.evaluate(lt, True)
    status = data["job_instance"]["status"]
    if code == 2:
        if status != 1:
            return _resp(200, NOT_STARTABLE, f"作业实例状态({status})不支持启动")
        task.start = lt
    else:
        if status not in JOB_TERMINABLE:
            return _resp(200, WRONG_STATE, f"作业实例状态({status})不支持终止")
        for step, out in zip(task.steps, data["step_instance_list"], strict=True):
            if out["status"] in (2, 7, 15):
                step.forced = 11
                for h, hd in zip(step.hosts, out["step_ip_result_list"] or [], strict=False):
                    if hd["status"] in (5, 7):
                        h.forced, h.forced_at = STOPPED_HOST, lt
                break
    task.touch()
    return _resp(200, 0, "success", {"job_instance_id": task.job_id})


def _rerun(step: SimStep, hosts: list[dict[str, Any]], lt: float, *, all_hosts: bool, fail: bool) -> None:
    """A new execution of the step from now: failed (or all) hosts run again."""
    step.forced = None
    step.execute_count += 1
    step.exec_start = lt
    for h, hd in zip(step.hosts, hosts, strict=True):
        if hd["status"] in HOST_OK and not all_hosts:
            # Hosts that already succeeded are skipped on the retry and reported as 3.
            h.last = (
                hd["start_time"] / 1000 if hd["start_time"] else lt,
                hd["end_time"] / 1000 if hd["end_time"] else lt,
            )
            h.off, h.dur = 0.0, 0.0
            continue
        h.last, h.forced = None, None
        h.off, h.dur = 0.5 + (h.host_id % 7) * 0.4, 2.0 + (h.host_id % 5)
        if fail and hd["status"] not in HOST_OK:
            h.status, h.exit_code, h.error_code, h.tag = 104, 1, 0, ""
            h.log = "retry failed again: exit 1\n"
        else:
            h.status, h.exit_code, h.error_code, h.tag = 9, 0, 0, "retry-ok"


def _next_starts(task: JobTask, index: int, lt: float) -> None:
    if index + 1 < len(task.steps):
        nxt = task.steps[index + 1]
        nxt.exec_start, nxt.forced = lt, None


def _continue_rolling(task: JobTask, step: SimStep, lt: float) -> None:
    """The batch waiting for its turn starts now: the step's time line moves earlier by the rest
    of the pause."""
    start = step.seen_start if step.seen_start is not None else lt
    if not step.batch_size:
        step.forced = None
        return
    span = max(h.off + h.dur for h in step.hosts[: step.batch_size]) + step.batch_pause
    batch = int((lt - start) // span) + 1
    wait = start + batch * span - lt
    step.exec_start = start - max(0.0, wait)
    step.forced = None
