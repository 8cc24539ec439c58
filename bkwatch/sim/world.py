"""The simulated world: every task of the five systems, evolving with the simulated clock."""

from __future__ import annotations

import random
import threading
from collections import deque
from typing import Any

from .base import SimError, SimTask, SimTaskInfo
from .config import SOPS_PROJECTS, SimConfig
from .gsekit import GsekitTask
from .job import JobTask
from .nodeman import NodemanTask
from .oplog import OpLog
from .pipeline import PipelineTask
from .scenario import JOB_NAMES, NASTY, build_gsekit, build_job, build_nodeman, build_pipeline
from .tame import tame

SYSTEMS = ("job", "sops", "bkflow", "nodeman", "gsekit")
# (kind, scope, seconds ago it started) for the tasks present at t=0.
JOB_PLAN = [
    ("ok", ("biz", 2), 600),
    ("fail", ("biz", 2), 90),
    ("rolling", ("biz", 3), 3),
    ("waiting", ("biz", 2), 30),
    ("running", ("biz_set", 9991), 10),
    ("confirm", ("biz", 2), 2),
]
SOPS_PLAN = [
    ("ok", "2", 900),
    ("fail", "2", 25),
    ("suspended", "project:5", 15),
    ("autoretry", "2", 2),
    ("v1", "3", 300),
    ("deepfail", "2", 0),
    ("created", "2", -3600),
    ("expired", "3", 86400),
]
BKFLOW_PLAN = [
    ("ok", 1, 900),
    ("fail", 1, 25),
    ("running", 1, 1),
    ("suspended", 1, 15),
    ("deepfail", 1, 0),
    ("ok", 7, 100),
]
NODEMAN_PLAN = [("ok", 2, 1200), ("mixed", 2, 120), ("mixed", 2, 4), ("fail", 3, 60), ("plugin", 3, 1)]
GSEKIT_PLAN = [("ok", 2, 700), ("mixed", 2, 60), ("mixed", 2, 2), ("mixed", 3, -4), ("flat", 3, 30)]
ARRIVAL_KINDS = {
    "job": ["running", "fail", "rolling"],
    "sops": ["running", "fail", "autoretry"],
    "bkflow": ["running", "fail"],
    "nodeman": ["mixed"],
    "gsekit": ["mixed"],
}
# Who starts tasks: the demo user and colleagues, so "--mine" has something to leave out.
OPERATORS = ("admin", "alice", "bob", "ci-robot")
CRON_OPERATOR = "ops-cron"


class World:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.rng = random.Random(config.seed)
        self._t0 = config.clock()
        self._offset = 0.0
        self._tasks: dict[str, SimTask] = {}
        self.operations = OpLog()  # task operations received (sim/ops.py)
        self._ids = {"job": 20000, "sops": 100, "bkflow": 500, "nodeman": 300, "gsekit": 800}
        self._arrived = 0
        self._next_arrival = self._t0 + config.arrival_interval
        # Cron jobs and bursts draw from their own generator: the seeded world stays the same
        # with them on or off.
        self._flow_rng = random.Random(config.seed + 7919)
        self._next_cron = self._t0 + config.cron_interval
        self._next_burst = self._t0 + config.burst_every
        # Every request answered, as (api, transport, params without credentials), the newest
        # 10,000: tests and benchmarks check what a client asked for (sim/app.py records it).
        self.requests_log: deque[tuple[str, str, dict[str, Any]]] = deque(maxlen=10_000)
        with self.lock:
            self._build()

    # -- time ---------------------------------------------------------------------------------
    def now(self) -> float:
        if self.config.frozen:
            return self._t0 + self._offset
        return self._t0 + (self.config.clock() - self._t0) * self.config.speed + self._offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self._offset += float(seconds)
            self._arrivals()

    def _arrivals(self) -> None:
        if not self.config.arrivals_on:
            return
        now = self.now()
        self._flows(now)
        while self._next_arrival <= now and self._arrived < self.config.max_arrivals:
            system = SYSTEMS[self._arrived % len(SYSTEMS)]
            kinds = ARRIVAL_KINDS[system]
            self._add(system, kinds[(self._arrived // len(SYSTEMS)) % len(kinds)], self._next_arrival)
            self._arrived += 1
            self._next_arrival += self.config.arrival_interval

    def _flows(self, now: float) -> None:
        """Cron-launched JOB jobs and bursts of new tasks (both off unless configured)."""
        cfg, rng = self.config, self._flow_rng
        while cfg.cron_interval > 0 and self._next_cron <= now:
            self._add(
                "job",
                "ok",
                self._next_cron,
                scope=("biz", 2),
                hosts=1,
                rng=rng,
                operator=CRON_OPERATOR,
                launch_mode=3,
            )
            self._next_cron += cfg.cron_interval
        while cfg.burst_every > 0 and self._next_burst <= now:
            for i in range(cfg.burst_size):
                system = ("sops", "bkflow", "job")[i % 3]
                kind = ARRIVAL_KINDS[system][rng.randrange(len(ARRIVAL_KINDS[system]))]
                self._add(system, kind, self._next_burst, rng=rng, operator=OPERATORS[rng.randrange(4)])
            self._next_burst += cfg.burst_every

    # -- building -----------------------------------------------------------------------------
    def _next_id(self, system: str) -> int:
        self._ids[system] += 1
        return self._ids[system]

    def _build(self) -> None:
        t0 = self._t0
        extra = max(0, self.config.tasks_per_system - 6)
        for kind, scope, ago in JOB_PLAN + [("running", ("biz", 2), i * 7) for i in range(extra)]:
            self._add("job", kind, t0 - ago, scope=scope)
        for kind, scope, ago in SOPS_PLAN + [("running", "2", i * 5) for i in range(extra)]:
            self._add("sops", kind, t0 - ago, scope=scope)
        for kind, space, ago in BKFLOW_PLAN + [("running", 1, i * 5) for i in range(extra)]:
            self._add("bkflow", kind, t0 - ago, scope=space)
        for kind, biz, ago in NODEMAN_PLAN + [("mixed", 2, i * 9) for i in range(extra)]:
            self._add("nodeman", kind, t0 - ago, scope=biz)
        for kind, biz, ago in GSEKIT_PLAN + [("mixed", 2, i * 4) for i in range(extra)]:
            self._add("gsekit", kind, t0 - ago, scope=biz)

    def _add(
        self,
        system: str,
        kind: str,
        start: float,
        *,
        scope: Any = None,
        rng: random.Random | None = None,
        operator: str | None = None,
        launch_mode: int | None = None,
        **scale: Any,
    ) -> SimTask:
        cfg = self.config
        rng = rng or self.rng
        tid = int(scale["id"]) if scale.get("id") is not None else self._next_id(system)
        task: SimTask
        if system == "job":
            stype, sid = scope or ("biz", 2)
            target = f"job:{sid}:{tid}" if stype == "biz" else f"job:biz_set:{sid}:{tid}"
            name = JOB_NAMES.get(kind) or NASTY[tid % len(NASTY)]
            if kind == "running" and tid % 3 == 0:
                name = NASTY[(tid // 3) % len(NASTY)]
            task = build_job(
                rng, kind, target, stype, int(sid), tid, start, int(scale.get("hosts") or cfg.job_hosts), name
            )
        elif system in ("sops", "bkflow"):
            nodes = int(scale.get("nodes") or cfg.pipeline_nodes)
            if system == "sops":
                sc = str(scope or "2")
                if sc.startswith("project:"):
                    target, tscope = f"sops:project:{sc[8:]}:{tid}", sc
                else:
                    project = next(p for p, b in SOPS_PROJECTS.items() if b == int(sc))
                    target, tscope = f"sops:{sc}:{tid}", f"project:{project}"
                name = "每日发布流水线 " + (
                    "\x1b[31mred\x1b[0m" if kind == "fail" and cfg.hostile else f"#{tid}"
                )
            else:
                space = int(scope or 1)
                target, tscope, name = f"bkflow:{space}:{tid}", f"space:{space}", f"bkflow task {tid}"
            task = build_pipeline(rng, system, kind, target, tscope, tid, start, nodes, name)
            if kind == "created":
                task.start = start  # starts in the future: CREATED payload until then
            if kind == "expired":
                task.pin(start, "EXPIRED")
        elif system == "nodeman":
            biz = int(scope or 2)
            task = build_nodeman(
                rng,
                kind,
                f"nodeman:{biz}:{tid}",
                biz,
                tid,
                start,
                int(scale.get("hosts") or cfg.nodeman_hosts),
            )
        elif system == "gsekit":
            biz = int(scope or 2)
            task = build_gsekit(
                rng,
                kind,
                f"gsekit:{biz}:{tid}",
                biz,
                tid,
                start,
                int(scale.get("tasks") or cfg.gsekit_tasks),
                kind == "flat",
            )
        else:
            raise SimError(f"unknown system {system!r}; expected one of {', '.join(SYSTEMS)}")
        if not cfg.hostile:
            tame(task)
        task.created = min(start, self.now())  # a task set to start later exists already
        task.operator = operator or OPERATORS[tid % len(OPERATORS)]
        task.launch_mode = int(launch_mode or (2 if tid % 5 == 0 else 1))
        self._tasks[task.target] = task
        return task

    def all_tasks(self) -> list[SimTask]:
        """Every task object, for the list APIs (callers hold the lock)."""
        return list(self._tasks.values())

    # -- public API ---------------------------------------------------------------------------
    def tasks(self) -> list[SimTaskInfo]:
        with self.lock:
            self._arrivals()
            now = self.now()
            return [t.info(now) for t in self._tasks.values()]

    def get(self, target: str) -> SimTask:
        task = self._tasks.get(target)
        if task is None:
            raise SimError(f"no such task: {target}")
        return task

    def force(
        self,
        target: str,
        state: Any,
        *,
        host: str | None = None,
        node: str | None = None,
        step: str | int | None = None,
    ) -> None:
        with self.lock:
            self.get(target).force(
                self.now(), state, host=host, node=node, step=None if step is None else str(step)
            )

    def retry(self, target: str) -> None:
        with self.lock:
            self.get(target).retry(self.now())

    def add_task(self, system: str, **scale: Any) -> str:
        """scale: kind, scope (("biz", 2) / "project:5" / space / biz), hosts, nodes, tasks, delay,
        operator, launch_mode (JOB 1 web, 2 API, 3 cron)."""
        with self.lock:
            kind = scale.pop("kind", None) or ARRIVAL_KINDS.get(system, ["running"])[0]
            scope = scale.pop("scope", None)
            start = self.now() + float(scale.pop("delay", 0.0))
            return self._add(system, kind, start, scope=scope, **scale).target

    # Lookups by what each API identifies a task with.
    def tick(self) -> float:
        """Let due arrivals in; returns the simulated now."""
        self._arrivals()
        return self.now()

    def find_job(self, scope_type: str, scope_id: str, job_id: int) -> JobTask | None:
        t = self._tasks.get(
            f"job:{scope_id}:{job_id}" if scope_type == "biz" else f"job:biz_set:{scope_id}:{job_id}"
        )
        return t if isinstance(t, JobTask) else None

    def find_sops(self, project_id: int, task_id: int) -> PipelineTask | None:
        for t in self._tasks.values():
            if isinstance(t, PipelineTask) and t.system == "sops" and t.task_id == task_id:
                return t if t.scope == f"project:{project_id}" else None
        return None

    def find_bkflow(self, space: int, task_id: int) -> PipelineTask | None:
        t = self._tasks.get(f"bkflow:{space}:{task_id}")
        return t if isinstance(t, PipelineTask) else None

    def find_nodeman(self, job_id: int, biz: int | None = None) -> NodemanTask | None:
        for t in self._tasks.values():
            if isinstance(t, NodemanTask) and t.job_id == job_id and (biz is None or t.biz == biz):
                return t
        return None

    def find_gsekit(self, biz: int, job_id: int) -> GsekitTask | None:
        t = self._tasks.get(f"gsekit:{biz}:{job_id}")
        return t if isinstance(t, GsekitTask) else None
