"""SOPS get_task_status / get_task_node_detail and BKFlow get_task_states (§3, §4)."""

from __future__ import annotations

from typing import Any

import orjson

from .config import BKFLOW_SPACES, SOPS_PROJECTS
from .envelope import Reply, Req, hex32
from .evidence import node_fields
from .pipeline import PipelineTask
from .world import World


def _sops(code: int, message: str, data: Any = None) -> Reply:
    return Reply(
        200, {"result": code == 0, "data": data, "code": code, "message": message, "trace_id": hex32()}
    )


def _flag(p: dict[str, Any], name: str) -> bool:
    # The view tests the raw query string: any non-empty value, even "false" or "0", is truthy.
    v = p.get(name)
    return v is not None and str(v) != ""


def sops_project(biz: int | None, scope: str) -> int | None:
    """The project a SOPS call names: `bk_biz_id` is a project id with scope "project", else a
    CMDB business whose project it finds."""
    if scope == "project":
        return biz if biz in SOPS_PROJECTS else None
    return next((pid for pid, b in SOPS_PROJECTS.items() if b == biz), None)


def _sops_task(
    world: World, req: Req, *, status_api: bool = True
) -> tuple[Reply | None, PipelineTask | None]:
    p = req.params
    biz, task_id = p.get("bk_biz_id"), p.get("task_id")
    if biz in (None, "") or task_id in (None, ""):
        missing = "bk_biz_id" if biz in (None, "") else "task_id"
        return Reply(
            200, {"result": False, "code": 1306406, "data": None, "message": f"param {missing} is required"}
        ), None
    scope = str(p.get("scope") or "cmdb_biz")
    try:
        biz_i, task_i = int(biz), int(task_id)
    except (TypeError, ValueError):
        return _sops(3540000, f"invalid params: bk_biz_id={biz}, task_id={task_id}"), None
    project = sops_project(biz_i, scope)
    if project is None:
        return _sops(3540400, f"project({biz}) with scope({scope}) does not exist."), None
    task = world.find_sops(project, task_i)
    if task is None and not status_api:
        # Views other than get_task_status look the task up first: CONTENT_NOT_EXIST.
        return _sops(3540400, f"task[id={task_id}] of project[{project}] does not exist"), None
    if task is None:
        return _sops(
            3599999, f"task[id={task_id}] get status error: TaskFlowInstance matching query does not exist."
        ), None
    return None, task


def sops_status(world: World, req: Req, cache: dict[Any, tuple[float, Any]], cache_seconds: float) -> Reply:
    err, task = _sops_task(world, req)
    if err is not None or task is None:
        return err  # type: ignore[return-value]
    p = req.params
    flags = (_flag(p, "with_ex_data"), _flag(p, "with_failed_node_info"), _flag(p, "with_auto_retry_status"))
    sub = str(p.get("subprocess_id") or "") or None
    now = world.now()
    key = (task.target, flags, sub)
    if cache_seconds > 0:
        hit = cache.get(key)
        if hit is not None and now - hit[0] < cache_seconds:
            return _sops(0, "", hit[1])
    data = task.render(now, "sops", sub)
    if not isinstance(data, dict) or "id" not in data:
        if flags[1] or flags[2]:
            return _sops(3599999, f"task[id={task.task_id}] extract failed node info error: 'id'")
        return _sops(0, "", data)  # CREATED / EXPIRED payloads are never cached
    if flags[0] and data["state"] == "FAILED":
        data["ex_data"] = task.ex_data(now)
    if flags[1]:
        data["failed_node_info"] = task.failed_node_info(now)
    if flags[2]:
        data["auto_retry_status"] = task.auto_retry_status(now)
    frag = orjson.Fragment(orjson.dumps(data))
    if cache_seconds > 0:
        cache[key] = (now, frag)
    return _sops(0, "", frag)


def sops_node_detail(world: World, req: Req) -> Reply:
    err, task = _sops_task(world, req, status_api=False)
    if err is not None or task is None:
        return err  # type: ignore[return-value]
    node_id = str(req.params.get("node_id") or "")
    if not node_id:
        return _sops(3540000, "node_id is required")
    now = world.now()
    out = task.find_out(now, node_id)
    if out is None:
        return _sops(3599999, f"node[node_id={node_id}] not found in task[id={task.task_id}]")
    tree = task.render_node(out, task.root_id, task.root_id, task.local(now), "sops")
    tree.pop("children", None)
    tree.update(node_fields(world, task, out, now))
    return _sops(0, "", tree)


def bkflow_space(req: Req) -> tuple[Reply | None, int]:
    """The space a BKFlow path names, or its 403 (an unknown space, or another app's)."""
    raw = req.path_params.get("space_id", "")
    space = int(raw) if raw.isdigit() else None
    if space is None or space not in BKFLOW_SPACES:
        return Reply(403, {"result": False, "message": f"空间不存在，space_id={raw}"}), 0
    if BKFLOW_SPACES[space] != req.app_code:
        return Reply(403, {"result": False, "message": f"当前应用无权操作此空间，app={req.app_code}"}), 0
    return None, space


def bkflow_not_found(what: str) -> Reply:
    """BKFlow's answer for a task or node it does not have (HTTP 200, DRF's detail)."""
    return Reply(
        200,
        {
            "result": False,
            "data": {"detail": "未找到。"},
            "code": "not_found",
            "message": f"{what} not found",
        },
    )


def bkflow_task(world: World, req: Req, space: int) -> tuple[Reply | None, PipelineTask | None]:
    """The task a BKFlow path names in `space`, or its not-found answer."""
    raw = req.path_params.get("task_id", "")
    task = world.find_bkflow(space, int(raw)) if raw.isdigit() else None
    return (bkflow_not_found(f"task[id={raw}]"), None) if task is None else (None, task)


def bkflow_located(world: World, req: Req) -> tuple[Reply | None, PipelineTask | None, int]:
    """The space and the task a BKFlow path names, or the answer for the first one missing."""
    err, space = bkflow_space(req)
    if err is not None:
        return err, None, 0
    err, task = bkflow_task(world, req, space)
    return err, task, space


def bkflow_states(world: World, req: Req) -> Reply:
    err, task, _ = bkflow_located(world, req)
    if err is not None or task is None:
        return err  # type: ignore[return-value]
    data = task.render(world.now(), "bkflow")
    if isinstance(data, dict) and "name" in data and data.get("state") == "CREATED":
        data.pop("name")
    return Reply(
        200,
        {
            "result": True,
            "message": "",
            "exc": None,
            "exc_trace": None,
            "trace_id": hex32(),
            "data": orjson.Fragment(orjson.dumps(data)),
        },
    )
