"""NodeMan (v1 get_task_info, v2 job details) and GSEKit job_status (§5, §6)."""

from __future__ import annotations

from typing import Any

from .envelope import Reply, Req
from .fmt import cst_naive, cst_nospace, utc_str
from .gsekit import ERR, STATES, GsekitTask
from .nodeman import STEPS, NodemanTask, statistics
from .world import World

BIZ_NAMES = {2: "蓝鲸", 3: "demo-biz [red]3[/]"}
JOB_TYPE_DISPLAY = {"INSTALL_AGENT": "安装 Agent", "MAIN_INSTALL_PLUGIN": "安装插件"}
STATUS_DISPLAY = {
    "PENDING": "等待执行",
    "RUNNING": "正在 {step}",
    "SUCCESS": "执行成功",
    "FAILED": "执行失败",
    "FILTERED": "",
    "IGNORED": "已忽略",
}


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _nm_error(code: int, message: str) -> Reply:
    # NodeMan appends the code to the message in full-width parentheses.
    return Reply(
        200, {"result": False, "code": code, "data": None, "message": f"{message}（{code}）", "errors": None}
    )


def nodeman_v2(world: World, req: Req, page_cap: int = 0, all_rows: bool = True) -> Reply:
    """api/job/details as NodeMan 2.x pages it (bk-apis §10.2). `page_cap` > 0 caps every page
    like a proxy or an older server would (`pagesize=-1` included); `all_rows=False` refuses -1."""
    p = req.params
    job_id = _int(p.get("job_id"))
    if job_id is None:
        if req.transport == "esb":
            return Reply(
                200, {"result": False, "code": 1306406, "data": None, "message": "param job_id is required"}
            )
        return _nm_error(3800100, "job_id: 请填写合法的整数值。")
    task = world.find_nodeman(job_id)
    if task is None:
        return _nm_error(3801012, f"不存在ID为{job_id}的任务")
    page = max(1, _int(p.get("page")) or 1)
    pagesize = _int(p.get("pagesize"))
    if pagesize is None or pagesize == 0:
        pagesize = 10
    if pagesize < 0 and not all_rows:
        return _nm_error(3800100, "pagesize: 请确保该值大于或者等于 1。")
    if page_cap > 0 and (pagesize < 0 or pagesize > page_cap):
        pagesize = page_cap
    start_at = _int(p.get("start"))  # 1-based offset; wins over page
    offset = (start_at - 1) if start_at is not None and start_at >= 1 else (page - 1) * max(pagesize, 0)
    conds = p.get("conditions") or []
    now = world.now()
    views, status, end = task.view(now)
    rows = sorted((v for v in views if v.status != "FILTERED"), key=lambda v: v.h.host_id)
    filtered = [v for v in views if v.status == "FILTERED"]
    if isinstance(conds, list):
        for c in conds:
            if not isinstance(c, dict):
                continue
            key, value = c.get("key"), c.get("value")
            values = {str(x) for x in value} if isinstance(value, list) else {str(value)}
            if key == "status":
                rows = [v for v in rows if v.status in values]
                filtered = [v for v in filtered if v.h.filtered_status in values]
            elif key in ("ip", "inner_ip"):
                rows = [v for v in rows if any(x in v.h.ip for x in values)]
    total = len(rows)
    # Record ids ascending are sliced, then the page is sorted by id descending.
    page_rows = rows if pagesize < 0 else rows[offset : offset + pagesize]
    out = [_nm_row(task, v, now) for v in reversed(page_rows)]
    out.extend(_nm_row(task, v, now) for v in filtered)  # on every page, after that page's rows
    start = task.start
    cost = int((end if end is not None else task.local(now)) - start) % 86400  # upstream wraps at 24 h
    data = {
        "job_id": task.job_id,
        "created_by": task.operator,
        "job_type": task.job_type,
        "job_type_display": JOB_TYPE_DISPLAY.get(task.job_type, task.job_type),
        "status": status,
        "start_time": cst_nospace(start),
        "end_time": cst_nospace(end),
        "cost_time": str(cost),
        "statistics": statistics(views),
        "total": total,
        "ip_filter_list": [v.h.ip for v in filtered],
        "list": out,
        "meta": {
            "type": "AGENT" if task.job_type == "INSTALL_AGENT" else "PLUGIN",
            "step_type": "AGENT",
            "op_type": "INSTALL",
            "op_type_display": "安装",
            "step_type_display": "Agent",
        },
    }
    return Reply(200, {"result": True, "data": data, "code": 0, "message": ""})


def _nm_row(task: NodemanTask, v: Any, now: float) -> dict[str, Any]:
    h = v.h
    row: dict[str, Any] = {
        "instance_id": f"host|instance|host|{h.host_id}",
        "ip": h.ip,
        "inner_ip": h.ip,
        "inner_ipv6": "",
        "bk_host_id": h.host_id,
        "bk_cloud_id": h.cloud,
        "bk_cloud_name": "直连区域" if h.cloud == 0 else f"云区域-{h.cloud}",
        "bk_biz_id": task.biz,
        "bk_biz_name": BIZ_NAMES.get(task.biz, str(task.biz)),
        "status": v.status,
        "start_time": cst_nospace(v.start),
        "end_time": cst_nospace(v.end),
        "cost_time": round(((v.end if v.end is not None else task.local(now)) - v.start), 3)
        if v.start
        else 0.0,
        "op_type": "INSTALL",
        "op_type_display": "安装",
        "node_id": v.step,
        "is_manual": False,
        "ap_id": 1,
    }
    if v.status == "FILTERED":
        row.update(
            {
                "filter_host": True,
                "status": h.filtered_status,
                "status_display": h.filtered,
                "step": "",
                "node_id": -1,
            }
        )
    else:
        step = STEPS[v.step] if 0 <= v.step < len(STEPS) else ""
        row["step"] = step if v.status != "PENDING" else ""
        row["status_display"] = STATUS_DISPLAY.get(v.status, v.status).format(step=step)
        if v.status == "FAILED":
            row["status_display"] = f"{step}失败"
    return row


def nodeman_v1(world: World, req: Req) -> Reply:
    p = req.params
    biz, job_id = _int(p.get("bk_biz_id")), _int(p.get("job_id"))
    if biz is None or job_id is None:
        missing = "bk_biz_id" if biz is None else "job_id"
        return Reply(
            200, {"result": False, "code": 1306406, "data": None, "message": f"param {missing} is required"}
        )
    task = world.find_nodeman(job_id, biz)
    if task is None:
        return Reply(200, {"result": False, "code": "TASK_NOT_EXIST", "message": "任务不存在", "data": None})
    now = world.now()
    views, _status, end = task.view(now)
    hosts, running, failed, success = [], 0, 0, 0
    os_count = {"LINUX": 0, "WINDOWS": 0, "AIX": 0}
    for v in views:
        if v.status == "FILTERED":
            continue
        h = v.h
        os_count[h.os_type] = os_count.get(h.os_type, 0) + 1
        status = {"PENDING": "QUEUE"}.get(v.status, v.status)
        running += status in ("QUEUE", "PENDING", "RUNNING")
        failed += status == "FAILED"
        success += status == "SUCCESS"
        step = STEPS[v.step] if 0 <= v.step < len(STEPS) else ""
        hosts.append(
            {
                "job_id": str(task.job_id),
                "status": status,
                "err_code": h.err_code if status == "FAILED" else "",
                "step": f"任务执行失败({step})" if status == "FAILED" else step,
                "err_code_desc": h.err_desc if status == "FAILED" else "",
                "host": {
                    "id": h.host_id,
                    "bk_biz_id": str(task.biz),
                    "bk_cloud_id": str(h.cloud),
                    "inner_ip": h.ip,
                    "outer_ip": "",
                    "node_type": "AGENT",
                    "os_type": h.os_type,
                    "has_cygwin": False,
                },
            }
        )
    data = {
        "id": task.job_id,
        "creator": task.operator,
        "bk_biz_id": str(task.biz),
        "bk_supplier_account": "",
        "bk_supplier_id": "0",
        "bk_cloud_id": "0",
        "job_type": "INSTALL_AGENT",
        "hosts": hosts,
        "global_params": None,
        "start_time": cst_naive(task.start),
        "end_time": cst_naive(end),
        "status_count": {"running_count": running, "failed_count": failed, "success_count": success},
        "os_count": os_count,
        "host_count": len(hosts),
        "job_type_desc": "安装AGENT",
        "op_target": {"config_file": "", "name": ""},
    }
    return Reply(200, {"message": "success", "code": "OK", "data": data, "result": True})


def gsekit_status(world: World, req: Req, all_rows_without_ids: bool) -> Reply:
    p = req.params
    biz, job_id = _int(p.get("bk_biz_id")), _int(p.get("job_id"))
    if biz is None or job_id is None:
        missing = "bk_biz_id" if biz is None else "job_id"
        return Reply(
            200,
            {
                "result": False,
                "code": 0,
                "data": {missing: ["该字段是必填项。"]},
                "message": f"{missing}: 该字段是必填项。",
            },
        )
    task = world.find_gsekit(biz, job_id)
    if task is None:
        return Reply(200, {"result": False, "code": "4102005", "message": "作业不存在", "data": None})
    ids = p.get("job_task_id_list")
    now = world.now()
    views, status, end = task.view(now)
    if isinstance(ids, list) and ids:
        wanted = {_int(x) for x in ids}
        rows = [v for v in views if v.t.id in wanted]
    elif all_rows_without_ids:
        rows = list(views)
    else:
        rows = []  # the handler filters id__in=[]: nothing
    counter = dict.fromkeys(STATES, 0)
    for v in views:
        counter[v.status] = counter.get(v.status, 0) + 1
    data = {
        "job_info": _job_info(task, status, end, now),
        "job_tasks": [_gs_row(task, v) for v in rows],
        "count": len(views),
        "status_counter": counter,
    }
    return Reply(200, {"result": True, "data": data, "code": 0, "message": ""})


def _job_info(task: GsekitTask, status: str, end: float | None, now: float) -> dict[str, Any]:
    started = task.local(now) >= task.start + task.attach_after
    return {
        "id": task.job_id,
        "bk_biz_id": task.biz,
        "expression": "*.*.*.*.*",
        "scope": {
            "bk_set_env": "3",
            "bk_set_ids": [],
            "bk_module_ids": [],
            "bk_process_ids": [],
            "bk_service_ids": [],
            "bk_process_names": [],
        },
        "expression_scope": {
            "bk_set_name": "*",
            "bk_module_name": "*",
            "service_instance_name": "*",
            "bk_process_name": "*",
            "bk_process_id": "*",
        },
        "job_object": task.job_object,
        "job_action": task.job_action,
        "status": status,
        "created_by": task.operator,
        "is_ready": True,
        "start_time": utc_str(task.start + 0.080806),
        "end_time": utc_str(end),
        "pipeline_id": task.pipeline_id if started else "",
        "task_granularity": "process",
        "extra_data": {},
        "bk_app_code": "bk_gsekit",
    }


def _gs_row(task: GsekitTask, v: Any) -> dict[str, Any]:
    t = v.t
    failed = v.status == "failed"
    row: dict[str, Any] = {
        "id": t.id,
        "job_id": task.job_id,
        "bk_process_id": t.process["process"]["bk_process_id"],
        "status": v.status,
        "err_code": t.err_code if v.status in ("failed", "ignored") else ERR.get(v.status, -1),
        "start_time": utc_str(v.start),
        "end_time": utc_str(v.end),
        "pipeline_id": task.pipeline_id,
    }
    if task.flat_extra:
        row["extra_data__failed_reason"] = t.failed_reason if failed else None
        row["extra_data__retryable"] = t.retryable if failed else None
        row["extra_data__solutions"] = t.solutions if failed else None
        return row
    extra: dict[str, Any] = {
        "process_info": t.process,
        "inst_id": 1,
        "local_inst_id": 1,
        "topo_level_info": {"set": t.process["set"]["bk_set_name"]},
    }
    if failed:
        extra.update(
            {
                "failed_reason": t.failed_reason,
                "retryable": t.retryable,
                "solutions": t.solutions,
                "err_code": t.err_code,
            }
        )
    row["extra_data"] = extra
    return row
