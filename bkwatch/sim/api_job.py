"""JOB v3: get_job_instance_status and the host log APIs (fact sheet §2)."""

from __future__ import annotations

from typing import Any

import orjson

from . import logtext
from .config import JOB_BIZ, JOB_BIZ_SET
from .envelope import Reply, Req, hex32
from .job import HOST_OK, JobTask
from .world import World


def _resp(status: int, code: int, message: str, data: Any = None, **extra: Any) -> Reply:
    body = {"result": code == 0, "code": code, "message": message, "job_request_id": hex32(), "data": data}
    body.update(extra)
    return Reply(status, body)


def _truthy(v: Any) -> bool:
    return v is True or str(v).lower() == "true"


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _missing(name: str) -> Reply:
    # JOB answers parameter errors with HTTP 200 and the code (EsbExceptionControllerAdvice).
    return _resp(200, 1241007, f"请求参数[{name}]缺失或不合法")


def _locate(world: World, p: dict[str, Any]) -> tuple[Reply | None, JobTask | None]:
    stype, sid = p.get("bk_scope_type"), p.get("bk_scope_id")
    if not stype and p.get("bk_biz_id") is not None:
        stype, sid = "biz", p.get("bk_biz_id")
    if stype not in ("biz", "biz_set") or _int(sid) is None:
        return _missing("bk_scope_type" if stype not in ("biz", "biz_set") else "bk_scope_id"), None
    raw_id = p.get("job_instance_id")
    if raw_id is None:
        return _missing("job_instance_id"), None
    job_id = _int(raw_id)
    if job_id is None or job_id < 1:
        return _missing("job_instance_id"), None
    scope_id = int(sid)  # type: ignore[arg-type]
    known = scope_id in JOB_BIZ if stype == "biz" else scope_id == JOB_BIZ_SET
    if not known:
        kind = "业务" if stype == "biz" else "业务集"
        perm = {
            "system_id": "bk_job",
            "system_name": "作业平台",
            "actions": [
                {
                    "id": "access_business",
                    "name": "业务访问",
                    "related_resource_types": [
                        {
                            "system_id": "bk_cmdb",
                            "system_name": "配置平台",
                            "type": stype,
                            "type_name": kind,
                            "instances": [
                                [
                                    {
                                        "type": stype,
                                        "type_name": kind,
                                        "id": str(scope_id),
                                        "name": str(scope_id),
                                    }
                                ]
                            ],
                        }
                    ],
                }
            ],
        }
        return _resp(
            200, 9900403, "用户(admin)权限不足，请前往权限中心确认并申请补充后重试", permission=perm
        ), None
    task = world.find_job(stype, str(scope_id), job_id)
    if task is None:
        return _resp(200, 1244006, "作业实例不存在"), None
    return None, task


def status(world: World, req: Req) -> Reply:
    err, task = _locate(world, req.params)
    if err is not None or task is None:
        return err  # type: ignore[return-value]
    with_hosts = _truthy(req.params.get("return_ip_result", False))
    now = world.now()

    def build(lt: float) -> tuple[Any, float]:
        data, nxt = task.evaluate(lt, with_hosts)
        return orjson.Fragment(orjson.dumps(data)), nxt

    return _resp(200, 0, "", task.cached(("frag", with_hosts), now, build))


def _step_and_hosts(world: World, req: Req) -> tuple[Reply | None, JobTask | None, dict[str, Any] | None]:
    err, task = _locate(world, req.params)
    if err is not None or task is None:
        return err, None, None
    step_id = _int(req.params.get("step_instance_id"))
    if step_id is None:
        return _missing("step_instance_id"), None, None
    data = task.data(world.now(), True)
    step = next((s for s in data["step_instance_list"] if s["step_instance_id"] == step_id), None)
    if step is None:
        return _resp(200, 1244007, "作业步骤实例不存在"), None, None
    return None, task, step


def _run(
    world: World, task: JobTask, step: dict[str, Any], host: dict[str, Any]
) -> tuple[str, float, float, float]:
    """(log key, start, duration, progress) of a host's run in the step's current execute_count."""
    h = task.find_host(step["step_instance_id"], host["bk_host_id"], None, None)
    seed = world.config.seed if world.config.hostile else f"{world.config.seed}{logtext.TAME}"
    key = logtext.job_log_key(
        seed, task.target, step["step_instance_id"], host["bk_host_id"], step["execute_count"]
    )
    start = (host["start_time"] or 0) / 1000
    dur = h.dur if h is not None and h.dur > 0 else 1.0
    progress = (task.local(world.now()) - start) / dur if start else 0.0
    return key, start, dur, progress


def _log_text(world: World, task: JobTask, step: dict[str, Any], host: dict[str, Any]) -> str:
    status = host["status"]
    if status == 5 or not host["start_time"]:
        return ""
    key, start, dur, progress = _run(world, task, step, host)
    done = status != 7
    failed = None if status in HOST_OK else logtext.error_kind(key, status)
    return logtext.script_log(key, world.config.log_bytes, start, dur, progress, failed, done)


def _file_logs(
    world: World, task: JobTask, step: dict[str, Any], host: dict[str, Any]
) -> list[dict[str, Any]]:
    status = host["status"]
    key, _, _, progress = _run(world, task, step, host)
    ok, running = status in HOST_OK, status in (5, 7)
    failed = None if ok or running else logtext.error_kind(key, status, logtext.FILE_ERROR_KINDS)
    dest = {"bk_host_id": host["bk_host_id"], "bk_cloud_id": host["bk_cloud_id"], "ip": host["ip"]}
    entries = logtext.file_entries(key, ok, running, progress, failed)
    return [{**e, "dest_ip": dest} for e in entries]


def ip_log(world: World, req: Req) -> Reply:
    err, task, step = _step_and_hosts(world, req)
    if err is not None or task is None or step is None:
        return err  # type: ignore[return-value]
    p = req.params
    hid, cloud, ip = _int(p.get("bk_host_id") or p.get("host_id")), _int(p.get("bk_cloud_id")), p.get("ip")
    if hid is None and (cloud is None or not ip):
        return _missing("bk_host_id")
    host = next(
        (
            h
            for h in step["step_ip_result_list"]
            if (hid is not None and h["bk_host_id"] == hid) or (h["ip"] == ip and h["bk_cloud_id"] == cloud)
        ),
        None,
    )
    if host is None:
        return _resp(200, 1241002, "请求参数不合法: host not in step")
    is_file = step["type"] == 2
    data = {
        "log_type": 2 if is_file else 1,
        "bk_host_id": host["bk_host_id"],
        "bk_cloud_id": host["bk_cloud_id"],
        "ip": host["ip"],
        "log_content": None if is_file else _log_text(world, task, step, host),
        "file_logs": _file_logs(world, task, step, host) if is_file else None,
    }
    return _resp(200, 0, "", data)


def batch_ip_log(world: World, req: Req) -> Reply:
    err, task, step = _step_and_hosts(world, req)
    if err is not None or task is None or step is None:
        return err  # type: ignore[return-value]
    p = req.params
    ids = p.get("host_id_list") or []
    ips = p.get("ip_list") or []
    if not isinstance(ids, list) or not isinstance(ips, list) or (not ids and not ips):
        return _missing("host_id_list")
    if len(ids) + len(ips) > 500:
        return _resp(200, 1241002, "请求参数不合法: 主机数量超过限制(500)")
    wanted_ids = {_int(x) for x in ids}
    wanted_ips = {(_int(x.get("bk_cloud_id")), x.get("ip")) for x in ips if isinstance(x, dict)}
    hosts = [
        h
        for h in step["step_ip_result_list"]
        if h["bk_host_id"] in wanted_ids or (h["bk_cloud_id"], h["ip"]) in wanted_ips
    ]
    is_file = step["type"] == 2
    data = {
        "job_instance_id": task.job_id,
        "step_instance_id": step["step_instance_id"],
        "log_type": 2 if is_file else 1,
        "script_task_logs": None
        if is_file
        else [
            {
                "bk_host_id": h["bk_host_id"],
                "bk_cloud_id": h["bk_cloud_id"],
                "ip": h["ip"],
                "log_content": _log_text(world, task, step, h),
            }
            for h in hosts
        ],
        "file_task_logs": [
            {
                "bk_host_id": h["bk_host_id"],
                "bk_cloud_id": h["bk_cloud_id"],
                "ip": h["ip"],
                "file_logs": _file_logs(world, task, step, h),
            }
            for h in hosts
        ]
        if is_file
        else None,
    }
    return _resp(200, 0, "", data)
