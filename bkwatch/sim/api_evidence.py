"""Logs and node details beyond the status APIs: SOPS get_task_node_log (gateway only, paged),
BKFlow get_task_node_detail, NodeMan api/job/log (fact sheet §3.7, §4.3, §5.5, §10.2, §10.5).

JOB host logs live in api_job.py; SOPS get_task_node_detail in api_pipeline.py (its extra fields
come from evidence.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import logtext
from .api_agent import _nm_error
from .api_pipeline import _sops_task, bkflow_located, bkflow_not_found
from .envelope import Reply, Req, hex32
from .evidence import failure_text, node_fields
from .fmt import cst_nospace
from .nodeman import STEPS
from .pipeline import TERMINAL
from .world import World

# Route tables read by routes.py: ESB component path -> (system, api); gateway entries.
ESB_ROUTES = {"nodeman/api/job/log": ("nodeman", "job_log")}
GATEWAY_ROUTES = [
    (
        "bk-sops",
        "GET",
        r"/get_task_node_log/(?P<task_id>[^/]+)/(?P<bk_biz_id>[^/]+)/",
        "sops",
        "get_task_node_log",
    ),
    (
        "bk-flow-engine",
        "GET",
        r"/space/(?P<space_id>[^/]+)/task/(?P<task_id>[^/]+)/node/(?P<node_id>[^/]+)/get_task_node_detail/",
        "bkflow",
        "get_task_node_detail",
    ),
    ("bk-nodeman", "GET", r"/api/job/(?P<job_id>[^/]+)/log/", "nodeman", "job_log"),
]
MAX_PAGE_SIZE = 1000


def _int(v: Any, default: int | None = None) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def sops_node_log(world: World, req: Req) -> Reply:
    """A DRF Response: {result, message, data: plain text, page}; no `code` key (§3.7)."""
    err, task = _sops_task(world, req)
    if err is not None or task is None:
        return err  # type: ignore[return-value]
    p = req.params
    node_id, version = str(p.get("node_id") or ""), str(p.get("version") or "")
    page, size = _int(p.get("page"), 1), _int(p.get("page_size"), 30)
    if not node_id or page is None or size is None or page < 1 or not 0 < size <= MAX_PAGE_SIZE:
        return Reply(
            200, {"result": False, "message": "node_id, page and page_size must be valid", "data": None}
        )
    now = world.now()
    out = task.find_out(now, node_id)
    lines: list[str] = []
    if out is not None and out.kind == "act" and out.start is not None and version == out.version:
        n = out.node
        attempt = n.attempts[min(out.retry, len(n.attempts) - 1)] if n is not None and n.attempts else None
        dur = attempt.dur if attempt is not None else 5.0
        done = out.state in TERMINAL
        failed = failure_text(out) if out.state == "FAILED" else None
        key = f"{world.config.seed}:{task.target}:{node_id}:{version}"
        lines = logtext.node_log_lines(key, out.start, (task.local(now) - out.start) / dur, done, failed)
    chunk = lines[(page - 1) * size : page * size]
    return Reply(
        200,
        {
            "result": True,
            "message": "success",
            "data": "\n".join(chunk),
            "page": {"page": page, "page_size": size, "total": len(lines)},
        },
    )


def bkflow_node_detail(world: World, req: Req) -> Reply:
    err, task, _ = bkflow_located(world, req)
    if err is not None or task is None:
        return err  # type: ignore[return-value]
    node_id = req.path_params.get("node_id", "")
    now = world.now()
    out = task.find_out(now, node_id)
    if out is None:
        return bkflow_not_found(f"node[id={node_id}]")
    data = task.render_node(out, task.root_id, task.root_id, task.local(now), "bkflow")
    data.pop("children", None)
    data["name"] = out.name
    data.update(node_fields(world, task, out, now))
    return Reply(200, {"result": True, "data": data, "code": "0", "message": "", "trace_id": hex32()})


def nodeman_job_log(world: World, req: Req) -> Reply:
    """[{step, status, log, start_time, finish_time}] one entry per sub-step reached (§5.5)."""
    p = req.params
    job_id, instance = _int(p.get("job_id")), str(p.get("instance_id") or "")
    if job_id is None or not instance:
        return _nm_error(3800100, "job_id 和 instance_id 为必填项")
    task = world.find_nodeman(job_id)
    if task is None:
        return _nm_error(3801012, f"不存在ID为{job_id}的任务")
    views, _, _ = task.view(world.now())
    view = next((v for v in views if f"host|instance|host|{v.h.host_id}" == instance), None)
    if view is None:
        return _nm_error(3800100, f"实例 {instance} 不属于任务 {job_id}")
    out: list[dict[str, Any]] = []
    if view.status not in ("PENDING", "FILTERED") and view.start is not None:
        per = view.h.dur / len(STEPS)
        last = view.step if view.status != "SUCCESS" else len(STEPS) - 1
        key = f"{world.config.seed}:{task.target}:{view.h.host_id}"
        for i in range(last + 1):
            t = view.start + i * per
            current = i == last
            status = view.status if current else "SUCCESS"
            failed = view.h.err_desc or "安装失败" if current and status == "FAILED" else None
            out.append(
                {
                    "step": STEPS[i],
                    "status": status,
                    "log": logtext.nodeman_step_log(key, i, t, failed),
                    "start_time": cst_nospace(t),
                    "finish_time": cst_nospace(view.end if current else t + per)
                    if status != "RUNNING"
                    else None,
                }
            )
    return Reply(200, {"result": True, "data": out, "code": 0, "message": ""})


HANDLERS: dict[tuple[str, str], Callable[[World, Req], Reply]] = {
    ("sops", "get_task_node_log"): sops_node_log,
    ("bkflow", "get_task_node_detail"): bkflow_node_detail,
    ("nodeman", "job_log"): nodeman_job_log,
}
