"""What a pipeline node's detail carries besides its state: inputs, outputs, ex_data, histories
(SOPS and BKFlow `get_task_node_detail`, fact sheet §3.7, §4.3), and the failure text of a node
that has none of its own."""

from __future__ import annotations

import random
from typing import Any

from . import logtext
from .config import SOPS_PROJECTS
from .fmt import cst_space
from .job import JobTask
from .pipeline import Out, PipelineTask
from .world import World

JOB_PLUGIN_PREFIXES = ("作业平台(JOB)执行脚本", "分发文件")
JOB_SITE = "http://job.example.invalid/"


def is_job_plugin(out: Out) -> bool:
    return out.kind == "act" and out.name.startswith(JOB_PLUGIN_PREFIXES)


def linked_job(world: World, task: PipelineTask, node_id: str) -> JobTask | None:
    """The JOB instance a JOB-plugin node ran: a JOB task of the same business."""
    biz = 2
    if task.scope.startswith("project:"):
        biz = SOPS_PROJECTS.get(int(task.scope[8:]), 2)
    jobs = [
        t
        for t in world._tasks.values()
        if isinstance(t, JobTask) and t.scope_type == "biz" and t.scope_id == biz
    ]
    if not jobs:
        return None
    return jobs[random.Random(node_id).randrange(len(jobs))]


def failure_text(out: Out) -> str:
    n = out.node
    if n is not None and n.message:
        return str(n.message)
    return logtext.node_failure(out.id)


def node_fields(world: World, task: PipelineTask, out: Out, now: float) -> dict[str, Any]:
    """inputs, outputs, ex_data, histories, history_id of one node as the detail API gives them."""
    failed = out.state == "FAILED"
    r = random.Random(f"inputs:{out.id}")
    inputs: dict[str, Any] = {"biz_cc_id": 2, "bk_timeout": r.choice([60, 600, 3600])}
    outputs: list[dict[str, Any]] = [
        {"key": "_result", "name": "执行结果", "value": out.state == "FINISHED", "preset": True},
        {"key": "_loop", "name": "循环次数", "value": 1, "preset": True},
    ]
    if is_job_plugin(out):
        inputs.update(
            {
                "job_script_type": "1",
                "job_content": "#!/bin/bash\nset -e\n./deploy.sh --env prod\n",
                "job_target_ip_list": ",".join(f"10.2.0.{i}" for i in range(1, 1 + r.randrange(2, 9))),
            }
        )
        job = linked_job(world, task, out.id)
        if job is not None and out.start is not None:
            outputs[:0] = [
                {"key": "job_inst_id", "name": "JOB任务ID", "value": job.job_id, "preset": True},
                {"key": "job_inst_name", "name": "JOB任务名称", "value": job.name, "preset": True},
                {
                    "key": "job_inst_url",
                    "name": "JOB任务链接",
                    "value": f"{JOB_SITE}api_execute/{job.job_id}",
                    "preset": True,
                },
            ]
    else:
        inputs["notify_receivers"] = "admin"
    histories = []
    start = out.start or task.local(now)
    for i in range(out.retry):
        t = start - (out.retry - i) * 30.0
        histories.append(
            {
                "history_id": i + 1,
                "state": "FAILED",
                "start_time": cst_space(t),
                "finish_time": cst_space(t + 5.0),
                "elapsed_time": 5,
                "loop": 1,
                "skip": False,
                "retry": i,
                "version": f"v{random.Random(f'{out.id}:{i}').getrandbits(124):031x}",
                "inputs": inputs,
                "outputs": [],
                "ex_data": failure_text(out),
            }
        )
    return {
        "inputs": inputs,
        "outputs": outputs,
        "ex_data": failure_text(out) if failed else "",
        "histories": histories,
        "history_id": len(histories) or -1,
    }
