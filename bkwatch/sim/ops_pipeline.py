"""SOPS operate_task / operate_node and BKFlow operate_task / operate_node (§3.8, §4.4, §10.5).

One engine for both (bamboo-engine); the envelopes differ. SOPS: task refusals are 3545000,
``operate_node`` forces its code to 0 / 3599999. BKFlow: ``operator`` is required in the body;
a refusal is ``result: false`` from the task module with no code.
"""

from __future__ import annotations

from typing import Any

from .api_pipeline import _sops, _sops_task, bkflow_space, bkflow_task
from .envelope import Reply, Req, hex32
from .pipeline import Attempt, PipelineTask, PNode, _all_nodes
from .world import World

INVALID_OPERATION = 3545000
NODE_FAILED = 3599999
PARAM_INVALID = 3540000
TASK_ACTIONS = ("start", "pause", "resume", "revoke")
SOPS_NODE_ACTIONS = (
    "retry",
    "skip",
    "callback",
    "skip_exg",
    "skip_cpg",
    "pause",
    "resume",
    "pause_subproc",
    "resume_subproc",
    "forced_fail",
    "retry_subprocess",
)
BKFLOW_NODE_ACTIONS = ("retry", "skip", "callback", "forced_fail", "skip_exg", "skip_cpg")
NOT_SIMULATED = ("callback", "skip_exg", "skip_cpg", "retry_subprocess", "pause")


def task_op(world: World, task: PipelineTask, action: str) -> str | None:
    """Apply a task operation; the reason it is refused, or None when done."""
    now = world.now()
    raw = task.raw_state(now)
    if action == "start":
        if raw != "CREATED":
            return f"task[id={task.task_id}] already started"
        if task.forced == "CREATED":
            task.unpin(now)
        task.start = task.local(now)
        task.touch()
        return None
    if raw in ("CREATED", "EXPIRED"):
        return "task not started" if raw == "CREATED" else "task expired"
    if action == "pause":
        if raw not in ("RUNNING", "NODE_SUSPENDED"):
            return f"pipeline state is {raw}; pause needs RUNNING"
        task.pin(now, "SUSPENDED")
    elif action == "resume":
        if raw != "SUSPENDED":
            return f"pipeline state is {raw}; resume needs SUSPENDED"
        task.unpin(now)
    else:  # revoke
        if raw in ("FINISHED", "REVOKED"):
            return f"pipeline state is {raw}; it cannot be revoked"
        task.pin(now, "REVOKED")
    return None


def node_op(world: World, task: PipelineTask, node_id: str, action: str) -> str | None:
    """Apply a node operation; the reason it is refused, or None when done."""
    now = world.now()
    if task.raw_state(now) in ("CREATED", "EXPIRED", "REVOKED"):
        return f"task[id={task.task_id}] is {task.raw_state(now)}"
    out = task.find_out(now, node_id)
    node = next((n for n in _all_nodes(task.body) if n.id == node_id), None)
    if out is None or node is None:
        return f"node[node_id={node_id}] not found in task[id={task.task_id}]"
    if action in NOT_SIMULATED:
        return f"node[node_id={node_id}] {action}: not offered for this node"
    state, is_sub = out.state, node.kind == "sub"
    need = {
        "retry": ("FAILED", False),
        "skip": ("FAILED", False),
        "forced_fail": ("RUNNING", False),
        "resume": ("SUSPENDED", False),
        "pause_subproc": ("RUNNING", True),
        "resume_subproc": ("SUSPENDED", True),
    }[action]
    if state != need[0] or is_sub != need[1]:
        kind = "subprocess" if need[1] else "activity"
        return f"node[node_id={node_id}] state is {state}; {action} needs a {need[0]} {kind}"
    lt = task.local(now)
    if task.forced is not None:
        task.unpin(now)
        lt = task.local(now)
    if action == "retry":
        fail = task.target in world.operations.fail_next
        world.operations.fail_next.discard(task.target)
        _retry(node, lt, "FAILED" if fail else "FINISHED")
    elif action == "skip":
        node.forced, node.forced_at = "FINISHED", lt
        task.skipped.add(node.id)
    elif action == "forced_fail":
        node.forced, node.forced_at = "FAILED", lt
        node.message = "forced fail by user"
    elif action == "resume":
        if node.forced == "SUSPENDED":
            node.forced = None
        node.suspend_for = max(0.0, lt - (out.start if out.start is not None else lt))
    elif action == "pause_subproc":
        node.forced, node.forced_at = "SUSPENDED", lt
    else:  # resume_subproc
        node.forced = None
    task.touch()
    return None


def _retry(node: PNode, lt: float, outcome: str) -> None:
    dur = 3.0 + len(node.id) % 3
    if node.forced is not None:
        node.forced = None
        node.attempts = [Attempt(0.0, "FAILED"), Attempt(dur, outcome, lt)]
    else:
        node.attempts.append(Attempt(dur, outcome, lt))
    node.auto_retry = 0  # a manual retry: no automatic ones after it


# -- SOPS -------------------------------------------------------------------------------------


def sops(world: World, req: Req) -> Reply:
    err, task = _sops_task(world, req)
    if err is not None or task is None:
        return err  # type: ignore[return-value]
    p = req.params
    action = str(p.get("action") or "")
    if req.api == "operate_task":
        if action not in TASK_ACTIONS:
            return _sops(PARAM_INVALID, f"invalid action: {action}")
        reason = task_op(world, task, action)
        if reason is not None:
            return _sops(INVALID_OPERATION, reason)
        return _sops_ok()
    node_id = str(p.get("node_id") or "")
    if not node_id or action not in SOPS_NODE_ACTIONS:
        return _sops(PARAM_INVALID, "node_id is required" if not node_id else f"invalid action: {action}")
    reason = node_op(world, task, node_id, action)
    if reason is not None:
        return Reply(200, {"result": False, "message": reason, "code": NODE_FAILED})
    return _sops_ok()


def _sops_ok() -> Reply:
    return Reply(200, {"result": True, "message": "success", "code": 0})


# -- BKFlow -----------------------------------------------------------------------------------


def bkflow(world: World, req: Req) -> Reply:
    pp = req.path_params
    err, space = bkflow_space(req)
    if err is not None:
        return err
    operator = req.params.get("operator")
    if not isinstance(operator, str) or not operator.strip():
        return Reply(
            200,
            {
                "result": False,
                "data": None,
                "code": "validation_error",
                "message": "operator: 该字段是必填项。",
            },
        )
    err, task = bkflow_task(world, req, space)
    if err is not None or task is None:
        return err  # type: ignore[return-value]
    operation = pp.get("operation", "")
    if req.api == "operate_task":
        valid = operation in TASK_ACTIONS
        reason = task_op(world, task, operation) if valid else f"invalid operation: {operation}"
    else:
        valid = operation in BKFLOW_NODE_ACTIONS
        node_id = pp.get("node_id", "")
        reason = node_op(world, task, node_id, operation) if valid else f"invalid operation: {operation}"
    if reason is not None:
        return Reply(200, _bkflow_body(False, reason, None))
    return Reply(200, {**_bkflow_body(True, "success", {}), "code": "0"})


def _bkflow_body(ok: bool, message: str, data: Any) -> dict[str, Any]:
    body = {"result": ok, "message": message, "data": data, "exc": None, "exc_trace": None}
    return {**body, "trace_id": hex32()}
