"""Builders for the seeded demo world: every task kind the monitor has to show."""

from __future__ import annotations

import random
from typing import Any

from .fmt import hex_id
from .gsekit import GsekitTask, GTask
from .job import JobTask, SimHost, SimStep
from .nodeman import NHost, NodemanTask
from .pipeline import Attempt, PipelineTask, PNode

# Text a server may send that must stay text on screen.
NASTY = [
    "[bold red]x[/]",
    "\x1b[31mred\x1b[0m",
    "\x1b]0;pwned\x07title",
    "[link=http://example.invalid]点我[/link]",
    "超长的名称-" + "非常长的步骤说明文字" * 12,
]
JOB_NAMES = {
    "ok": "deploy-web",
    "fail": "发布-订单服务（灰度）",
    "rolling": "rolling restart nginx",
    "waiting": "db migrate (needs approval)",
    "running": "日志清理 + 配置下发",
    "confirm": "",  # an unfriendly name, picked from NASTY
}
STEP_NAMES = {
    1: ["执行脚本-检查环境", "run script", "重启服务"],
    2: ["分发文件-安装包", "sync config"],
    3: ["人工确认：是否继续发布？"],
}
ACT_NAMES = [
    "作业平台(JOB)执行脚本",
    "分发文件",
    "暂停",
    "定时",
    "发送通知",
    "HTTP回调",
    "检查健康状态",
    "更新CMDB属性",
    "审批",
    "执行SQL",
]
FAIL_MESSAGES = [
    "定时时间需晚于当前时间",
    "<span style='color:red'>JOB执行失败</span>，<a href='http://job.example.invalid/42'>查看详情</a>",
    '{"code": 1244006, "message": "作业实例不存在"}',
    "[bold red]FAILED[/] \x1b[31mexit code 1\x1b[0m",
    "get ex_data fail: 'NoneType' object has no attribute 'outputs'",
]
HOST_FAILS = [  # (status, exit_code, error_code, tag, log)
    (1, 0, 1, "", "Agent异常：GSE agent is not running"),
    (104, 2, 0, "", "rm: cannot remove '/data/app': Permission denied\nexit 2"),
    (102, 0, 0, "", "script timeout after 600s"),
    (13, 0, -1, "", "任务超时"),
    (104, 1, 0, "[bold]fail[/]", "\x1b[31mERROR\x1b[0m health check failed\x1b]0;pwned\x07"),
    (310, 0, 1, "", "GSE agent error"),
]
NM_FAILS = [
    ("START_JOB_FAILED", "启动任务失败", 0),
    ("SSH_LOGIN_FAILED", "SSH登录失败: Authentication failed (publickey,password)", 1),
    ("AGENT_CONNECT_TIMEOUT", "等待Agent上报心跳超时", 3),
    ("SCRIPT_EXEC_FAILED", "执行安装脚本失败: \x1b[31mexit 1\x1b[0m [red]setup_agent.sh[/]", 2),
]
GSE_FAILS = [
    (829, "进程未运行，无法停止", True, "请先启动进程"),
    (65535, "进程操作命令执行失败: start.sh returned 127", True, "检查启动脚本是否存在"),
    (4102017, "配置文件渲染失败: 变量 ${port} 未定义", False, "在模板中定义变量"),
    (117, "Agent不存在 \x1b[31m(agent not found)\x1b[0m", True, "[bold]安装Agent[/]"),
]


DOC_URL = "http://gsekit.example.invalid/doc"


def _ip(biz: int, i: int) -> str:
    return f"10.{biz}.{i // 250 % 250}.{i % 250 + 1}"


def build_job(
    rng: random.Random,
    kind: str,
    target: str,
    scope_type: str,
    scope_id: int,
    job_id: int,
    start: float,
    n_hosts: int,
    name: str,
) -> JobTask:
    biz = scope_id if scope_type == "biz" else 2
    sid = job_id * 10

    def hosts(fail_rate: float, spread: float, base: float = 1.0) -> list[SimHost]:
        out = []
        for i in range(n_hosts):
            h = SimHost(
                host_id=1000 + i,
                ip=_ip(biz, i),
                cloud=0 if i % 7 else 1,
                off=rng.uniform(0, spread),
                dur=base + rng.uniform(0, 4),
                status=9,
                log=f"[{_ip(biz, i)}] done\n",
            )
            if rng.random() < fail_rate:
                st, ex, err, tag, log = HOST_FAILS[rng.randrange(len(HOST_FAILS))]
                h.status, h.exit_code, h.error_code, h.tag, h.log = st, ex, err, tag, log
            out.append(h)
        return out

    steps: list[SimStep]
    if kind == "waiting":
        steps = [
            SimStep(sid + 1, STEP_NAMES[1][0], 1, hosts(0, 2)),
            SimStep(sid + 2, STEP_NAMES[3][0], 3, confirm_after=None),
            SimStep(sid + 3, STEP_NAMES[1][2], 1, hosts(0, 3)),
        ]
    elif kind == "rolling":
        step = SimStep(
            sid + 1, "滚动重启 " + name, 1, hosts(0.05, 1.5), batch_size=max(1, n_hosts // 4), batch_pause=4.0
        )
        steps = [step, SimStep(sid + 2, STEP_NAMES[2][1], 2, hosts(0, 3))]
    elif kind == "fail":
        steps = [
            SimStep(sid + 1, STEP_NAMES[1][0], 1, hosts(0, 2)),
            SimStep(sid + 2, STEP_NAMES[2][0], 2, hosts(0.3, 6)),
            SimStep(sid + 3, STEP_NAMES[1][2], 1, hosts(0, 2)),
        ]
    elif kind == "confirm":
        steps = [
            SimStep(sid + 1, STEP_NAMES[1][1], 1, hosts(0, 5)),
            SimStep(sid + 2, STEP_NAMES[3][0], 3, confirm_after=12.0),
            SimStep(sid + 3, STEP_NAMES[1][2], 1, hosts(0.1, 20)),
        ]
    else:  # ok / running: a long script step so hosts keep finishing
        steps = [
            SimStep(sid + 1, STEP_NAMES[1][0], 1, hosts(0, 3)),
            SimStep(sid + 2, STEP_NAMES[2][0], 2, hosts(0, 10)),
            SimStep(sid + 3, STEP_NAMES[1][1], 1, hosts(0.02 if kind == "running" else 0, 40, 3.0)),
        ]
    return JobTask(target, name, scope_type, scope_id, job_id, start, steps)


def _act(rng: random.Random, name: str, dur: float, outcome: str = "FINISHED") -> PNode:
    n = PNode(hex_id(rng), name, "act", hex_id(rng, "v"), [Attempt(dur, outcome)])
    if outcome == "FAILED":
        n.message = FAIL_MESSAGES[rng.randrange(len(FAIL_MESSAGES))]
    return n


def _ev(rng: random.Random, kind: str) -> PNode:
    return PNode(hex_id(rng), "", kind, hex_id(rng, "v"))


def build_pipeline(
    rng: random.Random,
    system: str,
    kind: str,
    target: str,
    scope: str,
    task_id: int,
    start: float,
    n_nodes: int,
    name: str,
) -> PipelineTask:
    def acts(count: int, base: float = 2.0) -> list[PNode]:
        return [
            _act(rng, ACT_NAMES[rng.randrange(len(ACT_NAMES))] + f" #{i + 1}", base + rng.uniform(0, 3))
            for i in range(count)
        ]

    extra = max(0, n_nodes - 8)
    deep = PNode(
        hex_id(rng),
        "子流程-二级: 数据校验",
        "sub",
        hex_id(rng, "v"),
        body=[_ev(rng, "start"), *acts(2), _ev(rng, "end")],
    )
    mid = PNode(
        hex_id(rng),
        "子流程: 发布应用",
        "sub",
        hex_id(rng, "v"),
        body=[_ev(rng, "start"), *acts(1), deep, _ev(rng, "end")],
    )
    branch_a = acts(2 + extra // 2)
    branch_b = [mid]
    branch_c = acts(1 + extra - extra // 2, 3.0)
    par = PNode(
        hex_id(rng),
        "",
        "par",
        branches=[branch_a, branch_b, branch_c],
        gw_ids=(hex_id(rng), hex_id(rng, "v"), hex_id(rng), hex_id(rng, "v")),
    )
    tail = acts(1)
    body = [_ev(rng, "start"), *acts(1), par, *tail, _ev(rng, "end")]
    if kind == "fail":
        victim = branch_a[min(1, len(branch_a) - 1)]
        victim.attempts = [Attempt(3.0, "FAILED")]
        victim.message = FAIL_MESSAGES[rng.randrange(len(FAIL_MESSAGES))]
    elif kind == "deepfail":
        victim = deep.body[2]
        victim.attempts = [Attempt(4.0, "FAILED")]
        victim.message = FAIL_MESSAGES[1]
    elif kind == "suspended":
        branch_c[0].suspend_for = float("inf")
        branch_c[0].name = "暂停：等待人工确认 " + NASTY[0]
    elif kind == "autoretry":
        victim = branch_c[0]
        victim.auto_retry = 3
        victim.gap = 3.0
        victim.attempts = [Attempt(2.0, "FAILED"), Attempt(2.0, "FAILED"), Attempt(2.0, "FINISHED")]
        victim.message = "HTTP回调失败: 502 Bad Gateway"
    elif kind == "running":
        for n in branch_c:
            n.attempts = [Attempt(15.0 + rng.uniform(0, 20), "FINISHED")]
    elif kind == "widefail":  # every node on its own branch, each failing: ex_data to group
        wide = [
            [_act(rng, ACT_NAMES[i % len(ACT_NAMES)] + f" #{i + 1}", 1.0 + i % 3, "FAILED")]
            for i in range(n_nodes)
        ]
        for (n,) in wide:
            n.message = ""  # the simulator's own error kinds (logtext.node_failure)
        gw = (hex_id(rng), hex_id(rng, "v"), hex_id(rng), hex_id(rng, "v"))
        body = [_ev(rng, "start"), PNode(hex_id(rng), "", "par", branches=wide, gw_ids=gw), _ev(rng, "end")]
    engine = 1 if kind == "v1" else 2
    return PipelineTask(
        system, target, name, scope, task_id, start, hex_id(rng), hex_id(rng, "v"), body, engine
    )


def build_nodeman(
    rng: random.Random, kind: str, target: str, biz: int, job_id: int, start: float, n_hosts: int
) -> NodemanTask:
    hosts = []
    fail_rate = {"ok": 0.0, "fail": 1.0}.get(kind, 0.15)
    for i in range(n_hosts):
        h = NHost(
            host_id=5000 + i,
            ip=_ip(biz + 10, i),
            cloud=0 if i % 5 else 218,
            os_type="WINDOWS" if i % 9 == 0 else "LINUX",
            off=(i // 10) * 3.0 + rng.uniform(0, 2),
            dur=6 + rng.uniform(0, 8),
            outcome="SUCCESS",
        )
        if rng.random() < fail_rate:
            code, desc, step = NM_FAILS[rng.randrange(len(NM_FAILS))]
            h.outcome, h.err_code, h.err_desc, h.fail_step = "FAILED", code, desc, step
        hosts.append(h)
    if kind != "ok" and n_hosts > 4:
        hosts[3].filtered = "主机已被其他任务锁定，暂不执行 (job 17)"
        if job_id % 2:  # a recorded IGNORED; FAILED is NodeMan's default for a filtered row
            hosts[3].filtered_status = "IGNORED"
    job_type = "INSTALL_AGENT" if kind != "plugin" else "MAIN_INSTALL_PLUGIN"
    return NodemanTask(
        target,
        "安装 Agent" if job_type == "INSTALL_AGENT" else "安装插件 bkmonitorbeat",
        biz,
        job_id,
        start,
        job_type,
        hosts,
    )


def build_gsekit(
    rng: random.Random, kind: str, target: str, biz: int, job_id: int, start: float, n_tasks: int, flat: bool
) -> GsekitTask:
    job_object, job_action = ("configfile", "release") if job_id % 2 else ("process", "restart")
    tasks = []
    fail_rate = {"ok": 0.0}.get(kind, 0.2)
    for i in range(n_tasks):
        ip = _ip(biz + 20, i)
        proc = {
            "set": {"bk_set_id": 10 + i % 3, "bk_set_name": f"set-{i % 3}"},
            "module": {
                "bk_module_id": 50 + i % 4,
                "bk_module_name": ["gamesvr", "dbproxy", "nginx", "模块-α"][i % 4],
            },
            "host": {"bk_host_id": 9000 + i, "bk_host_innerip": ip, "bk_cloud_id": 0},
            "process": {
                "bk_process_id": 700 + i,
                "bk_process_name": ["gamesvr", "dbproxy", "nginx", "agentd"][i % 4],
            },
        }
        t = GTask(
            job_id * 100 + i, proc, off=rng.uniform(0, 12), dur=2 + rng.uniform(0, 6), outcome="succeeded"
        )
        if rng.random() < fail_rate:
            code, reason, retryable, sol = GSE_FAILS[rng.randrange(len(GSE_FAILS))]
            t.outcome, t.err_code, t.failed_reason, t.retryable = "failed", code, reason, retryable
            t.solutions = [{"html": f"<span>{sol}，<a href='{DOC_URL}' target='_blank'>查看文档</a></span>"}]
        elif i % 11 == 10:
            t.outcome, t.err_code = "ignored", 4
        tasks.append(t)
    return GsekitTask(
        target,
        f"{job_object} {job_action}",
        biz,
        job_id,
        start,
        job_object,
        job_action,
        tasks,
        flat,
        f"{rng.getrandbits(128):032x}",
    )


def describe(kind: str) -> dict[str, Any]:
    return {"kind": kind}
