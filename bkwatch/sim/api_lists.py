"""The list and batch-status APIs a client discovers tasks with (fact sheet §2.6, §3.7, §4.3, §10.5).

JOB ``get_job_instance_list`` (ESB POST, gateway GET), SOPS ``get_task_list`` (GET) and
``get_tasks_status`` (POST), BKFlow ``space/{s}/get_task_list/`` (GET) and
``space/{s}/get_tasks_states/`` (POST), each with upstream's limits and errors.
(Every request the simulator answers is kept in ``world.requests_log``: tests check what a
client sent there.)

Just over 400 lines: five APIs on two transports, each short, with upstream's limits and error
codes, sharing the time-window, paging and filter helpers that would otherwise be imported back
and forth.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .api_pipeline import sops_project
from .config import BKFLOW_SPACES, JOB_BIZ, JOB_BIZ_SET, SOPS_PROJECTS
from .envelope import Reply, Req, hex32
from .fmt import CST, cst_nospace, cst_space, iso_ms_z, ms
from .job import JobTask
from .pipeline import PipelineTask
from .routes import Route
from .world import World

# Registered beside the status APIs (see app.py).
ESB_ROUTES = {
    "jobv3/get_job_instance_list": Route("job", "get_job_instance_list"),
    "sops/get_task_list": Route("sops", "get_task_list"),
    "sops/get_tasks_status": Route("sops", "get_tasks_status"),
}
_GW = {
    ("bk-job", "GET", r"/api/v3/get_job_instance_list"): Route("job", "get_job_instance_list"),
    ("bk-sops", "GET", r"/get_task_list/(?P<bk_biz_id>[^/]+)/"): Route("sops", "get_task_list"),
    ("bk-sops", "POST", r"/get_tasks_status/(?P<bk_biz_id>[^/]+)/"): Route("sops", "get_tasks_status"),
    ("bk-flow-engine", "GET", r"/space/(?P<space_id>[^/]+)/get_task_list/"): Route("bkflow", "get_task_list"),
    ("bk-flow-engine", "POST", r"/space/(?P<space_id>[^/]+)/get_tasks_states/"): Route(
        "bkflow", "get_tasks_states"
    ),
}
APIS = frozenset(r.api for r in [*ESB_ROUTES.values(), *_GW.values()])
JOB_MAX_SPAN_MS = 30 * 86400 * 1000
SOPS_MAX_IDS = 50
LIMIT_CAP = 200


def gateway_routes() -> list[tuple[str, str, Any, Route]]:
    return [(gw, method, re.compile(rx), route) for (gw, method, rx), route in _GW.items()]


def dispatch(world: World, req: Req) -> Reply:
    if req.system == "job":
        return job_list(world, req)
    if req.system == "sops":
        return sops_list(world, req) if req.api == "get_task_list" else sops_batch(world, req)
    return bkflow_list(world, req) if req.api == "get_task_list" else bkflow_batch(world, req)


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


# -- JOB ------------------------------------------------------------------------------------------


def _job(code: int, message: str, data: Any = None) -> Reply:
    # Parameter errors are HTTP 200 on JOB (§10.4).
    body = {"result": code == 0, "code": code, "message": message, "job_request_id": hex32(), "data": data}
    return Reply(200, body)


def job_list(world: World, req: Req) -> Reply:
    p = req.params
    stype, sid = p.get("bk_scope_type"), p.get("bk_scope_id")
    if not stype and p.get("bk_biz_id") is not None:
        stype, sid = "biz", p.get("bk_biz_id")
    scope_id = _int(sid)
    if stype not in ("biz", "biz_set") or scope_id is None:
        name = "bk_scope_type" if stype not in ("biz", "biz_set") else "bk_scope_id"
        return _job(1241007, f"请求参数[{name}]缺失或不合法")
    known = scope_id in JOB_BIZ if stype == "biz" else scope_id == JOB_BIZ_SET
    if not known:
        return _job(9900403, "用户(admin)权限不足，请前往权限中心确认并申请补充后重试")
    start_ms, end_ms = _int(p.get("create_time_start")), _int(p.get("create_time_end"))
    for name, value in (("create_time_start", start_ms), ("create_time_end", end_ms)):
        if value is None:
            return _job(1241007, f"请求参数[{name}]缺失或不合法")
    assert start_ms is not None and end_ms is not None
    if end_ms < start_ms or end_ms - start_ms > JOB_MAX_SPAN_MS:
        return _job(1241002, "请求参数不合法: 创建时间范围不能超过30天")
    offset = _int(p.get("start", 0))
    length = _int(p.get("length", 20))
    if offset is None or offset < 0:
        return _job(1241002, "请求参数[start]不合法")
    if length is None or not 1 <= length <= 1000:
        return _job(1241002, "请求参数[length]不合法: 1-1000")
    operator = p.get("operator") or None
    name_part = str(p.get("name") or "")
    mode = _int(p.get("launch_mode")) if p.get("launch_mode") not in (None, "") else None
    status = _int(p.get("status")) if p.get("status") not in (None, "") else None
    job_id = _int(p.get("job_instance_id")) if p.get("job_instance_id") not in (None, "") else None
    now = world.now()
    lo, hi = start_ms / 1000, end_ms / 1000
    rows = [
        t
        for t in world.all_tasks()
        if isinstance(t, JobTask)
        and t.scope_type == stype
        and t.scope_id == scope_id
        and lo <= t.created <= hi
        and (operator is None or t.operator == operator)
        and (mode is None or t.launch_mode == mode)
        and (not name_part or name_part in t.name)
        and (job_id is None or t.job_id == job_id)
    ]
    if status is not None:
        rows = [t for t in rows if int(t.raw_state(now)) == status]
    rows.sort(key=lambda t: (t.created, t.job_id), reverse=True)  # newest first
    page = rows[offset : offset + length]
    items = []
    for t in page:
        job = t.data(now, False)["job_instance"]
        items.append(
            {
                "job_instance_id": t.job_id,
                "job_plan_id": 1000 + t.job_id % 17,
                "job_template_id": 100 + t.job_id % 7,
                "name": t.name,
                "operator": t.operator,
                "launch_mode": t.launch_mode,
                "status": job["status"],
                "type": 0,
                "create_time": ms(t.created),
                "start_time": job["start_time"],
                "end_time": job["end_time"],
                "total_time": job["total_time"],
                "bk_scope_type": t.scope_type,
                "bk_scope_id": str(t.scope_id),
            }
        )
    return _job(0, "", {"start": offset, "length": length, "total": len(rows), "data": items})


# -- SOPS -----------------------------------------------------------------------------------------


def _sops(code: int, message: str, data: Any = None, **extra: Any) -> Reply:
    body = {"result": code == 0, "data": data, "code": code, "message": message, "trace_id": hex32()}
    body.update(extra)
    return Reply(200, body)


def _django_bool(v: Any) -> bool | None:
    """A Django BooleanField filter value: "false"/"0" are False (§10.5)."""
    if v is None or v == "":
        return None
    text = str(v).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    return None


def _when(v: Any) -> float | None:
    """A datetime filter value: ISO 8601 with or without an offset (naive = the server's CST)."""
    if v in (None, ""):
        return None
    text = str(v).strip().replace("Z", "+00:00")
    try:
        d = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (d if d.tzinfo else d.replace(tzinfo=CST)).timestamp()


def _sops_project(p: dict[str, Any]) -> tuple[Reply | None, int | None]:
    biz = p.get("bk_biz_id")
    if biz in (None, ""):
        return Reply(
            200, {"result": False, "code": 1306406, "data": None, "message": "param bk_biz_id is required"}
        ), None
    scope = str(p.get("scope") or "cmdb_biz")
    biz_i = _int(biz)
    project = sops_project(biz_i, scope)
    if project is None:
        return _sops(3540400, f"project({biz}) with scope({scope}) does not exist."), None
    return None, project


def _pipelines(world: World, system: str, scope: str) -> list[PipelineTask]:
    tasks = world.all_tasks()
    return [t for t in tasks if isinstance(t, PipelineTask) and t.system == system and t.scope == scope]


def _started_finished(t: PipelineTask, now: float) -> tuple[bool, bool, bool, str]:
    state = t.raw_state(now)
    started = state not in ("CREATED",)
    # The task record is finished on success or revoke; a FAILED task is still open (retryable).
    finished = state in ("FINISHED", "REVOKED", "EXPIRED")
    return started, finished, state == "REVOKED", state


def sops_list(world: World, req: Req) -> Reply:
    p = req.params
    err, project = _sops_project(p)
    if err is not None:
        return err
    offset = max(0, _int(p.get("offset", 0)) or 0)
    limit = _int(p.get("limit", 100))
    limit = 100 if limit is None or limit <= 0 else min(limit, LIMIT_CAP)  # silently capped
    is_started, is_finished = _django_bool(p.get("is_started")), _django_bool(p.get("is_finished"))
    executor = p.get("executor") or None
    keyword = str(p.get("keyword") or "")
    lo, hi = _when(p.get("create_time_start")), _when(p.get("create_time_end"))
    now = world.now()
    rows = []
    for t in _pipelines(world, "sops", f"project:{project}"):
        started, finished, _, _ = _started_finished(t, now)
        if (
            (is_started is not None and started != is_started)
            or (is_finished is not None and finished != is_finished)
            or (executor is not None and (t.operator if started else "") != executor)
            or (keyword and keyword not in t.name)
            or (lo is not None and t.created < lo)
            or (hi is not None and t.created > hi)
        ):
            continue
        rows.append(t)
    rows.sort(key=lambda t: t.task_id, reverse=True)  # newest first (order by -id)
    biz = SOPS_PROJECTS[project]  # type: ignore[index]
    items = []
    for t in rows[offset : offset + limit]:
        started, finished, _, _ = _started_finished(t, now)
        root = t.tree(now)
        items.append(
            {
                "id": t.task_id,
                "name": t.name,
                "category": "Default",
                "create_method": "app",
                "creator": t.operator,
                "executor": t.operator if started else "",
                "start_time": iso_ms_z(t.start) if started else None,
                "finish_time": iso_ms_z(root.end) if finished and root is not None and root.end else None,
                "is_started": started,
                "is_finished": finished,
                "template_source": "project",
                "template_id": 10 + t.task_id % 9,
                "is_child_taskflow": False,
                "project_id": project,
                "project_name": f"project {project}",
                "bk_biz_id": biz,
                "bk_biz_name": f"biz {biz}",
                "auth_actions": ["task_view", "task_operate"],
            }
        )
    count = -1 if str(p.get("without_count") or "").lower() in ("true", "1") else len(rows)
    return _sops(0, "", items, count=count)


def sops_batch(world: World, req: Req) -> Reply:
    p = req.params
    err, project = _sops_project(p)
    if err is not None:
        return err
    ids = p.get("task_id_list")
    if not isinstance(ids, list) or not ids:
        return _sops(3540000, "task_id_list must be a non-empty list")
    if len(ids) > SOPS_MAX_IDS:
        return _sops(3540000, f"task_id_list length must not exceed {SOPS_MAX_IDS}")
    wanted = {_int(i) for i in ids}
    children = bool(p.get("include_children_status"))
    now = world.now()
    out = []
    for t in _pipelines(world, "sops", f"project:{project}"):
        if t.task_id not in wanted:
            continue
        status = t.render(now, "sops")
        if isinstance(status, dict) and not children:
            status = {k: v for k, v in status.items() if k != "children"}
        root = t.tree(now)
        started, finished, _, _ = _started_finished(t, now)
        out.append(
            {
                "id": t.task_id,
                "name": t.name,
                "status": status,
                "flow_type": "common",
                "current_flow": "finished" if finished else ("execute_task" if started else "select_steps"),
                "is_deleted": False,
                "create_time": cst_space(t.created, ""),
                "start_time": cst_space(t.start if started else None, ""),
                "finish_time": cst_space(root.end if root is not None and finished else None, ""),
                "url": f"http://sops.example.invalid/taskflow/execute/{project}/?instance_id={t.task_id}",
            }
        )
    return _sops(0, "", out)


# -- BKFlow ---------------------------------------------------------------------------------------


def _space(world: World, req: Req) -> tuple[Reply | None, int | None]:
    raw = req.path_params.get("space_id", "")
    space = int(raw) if raw.isdigit() else None
    if space is None or space not in BKFLOW_SPACES:
        return Reply(403, {"result": False, "message": f"空间不存在，space_id={raw}"}), None
    if BKFLOW_SPACES[space] != req.app_code:
        return Reply(403, {"result": False, "message": f"当前应用无权操作此空间，app={req.app_code}"}), None
    return None, space


def _bkflow_ok(data: Any) -> Reply:
    return Reply(200, {"result": True, "data": data, "code": "0", "message": "", "trace_id": hex32()})


def bkflow_list(world: World, req: Req) -> Reply:
    err, space = _space(world, req)
    if err is not None:
        return err
    p = req.params
    offset = max(0, _int(p.get("offset", 0)) or 0)
    limit = _int(p.get("limit", 100))
    limit = 100 if limit is None or limit <= 0 else min(limit, LIMIT_CAP)
    ids_raw = p.get("task_id_list")
    if isinstance(ids_raw, str):
        ids_raw = [x for x in ids_raw.split(",") if x.strip()]
    if ids_raw is not None and not isinstance(ids_raw, list):
        ids_raw = [ids_raw]
    if ids_raw is not None and not 1 <= len(ids_raw) <= 50:
        return Reply(
            200,
            {"result": False, "data": None, "code": "400", "message": "task_id_list: 1 to 50 ids"},
        )
    wanted = None if ids_raw is None else {_int(i) for i in ids_raw}
    one = _int(p.get("id")) if p.get("id") not in (None, "") else None
    name = str(p.get("name") or "")
    creator, executor = p.get("creator") or None, p.get("executor") or None
    lo, hi = _when(p.get("create_at_start")), _when(p.get("create_at_end"))
    now = world.now()
    rows = []
    for t in _pipelines(world, "bkflow", f"space:{space}"):
        started, _, _, _ = _started_finished(t, now)
        if (
            (one is not None and t.task_id != one)
            or (wanted is not None and t.task_id not in wanted)
            or (name and name not in t.name)
            or (creator is not None and t.operator != creator)
            or (executor is not None and (t.operator if started else "") != executor)
            or (lo is not None and t.created < lo)
            or (hi is not None and t.created > hi)
        ):
            continue
        rows.append(t)
    # is_started / is_finished are not accepted by the serializer: ignored, as upstream.
    rows.sort(key=lambda t: t.task_id, reverse=True)
    results = []
    for t in rows[offset : offset + limit]:
        started, finished, revoked, _ = _started_finished(t, now)
        root = t.tree(now)
        results.append(
            {
                "id": t.task_id,
                "create_time": cst_nospace(t.created),
                "start_time": cst_nospace(t.start) if started else None,
                "finish_time": cst_nospace(root.end) if finished and root is not None else None,
                "space_id": space,
                "scope_type": None,
                "scope_value": None,
                "instance_id": f"p{t.root_id[1:]}",
                "template_id": 20 + t.task_id % 5,
                "name": t.name,
                "creator": t.operator,
                "create_method": "API",
                "executor": t.operator if started else "",
                "is_started": started,
                "is_finished": finished,
                "is_revoked": revoked,
                "is_deleted": False,
                "is_expired": False,
            }
        )
    base = f"/space/{space}/get_task_list/"
    nxt = f"{base}?limit={limit}&offset={offset + limit}" if offset + limit < len(rows) else None
    prev = f"{base}?limit={limit}&offset={max(0, offset - limit)}" if offset > 0 else None
    return _bkflow_ok({"count": len(rows), "next": nxt, "previous": prev, "results": results})


def bkflow_batch(world: World, req: Req) -> Reply:
    err, space = _space(world, req)
    if err is not None:
        return err
    ids = req.params.get("task_ids")
    if not isinstance(ids, list) or not all(_int(i) is not None for i in ids):
        message = "task_ids: a list of ids"
        return Reply(200, {"result": False, "data": None, "code": "400", "message": message})
    now = world.now()
    data: dict[str, Any] = {}
    for raw in ids:
        t = world.find_bkflow(space, int(raw))  # type: ignore[arg-type]
        data[str(int(raw))] = None if t is None else {"state": t.raw_state(now)}
    return _bkflow_ok(data)
