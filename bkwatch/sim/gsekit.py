"""A GSEKit config/process job: one task per process instance."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .base import SimError, SimTask

INF = math.inf
STATES = ("pending", "running", "succeeded", "failed", "ignored")
ERR = {"succeeded": 0, "pending": 1, "running": 2, "failed": 3, "ignored": 4}


@dataclass(slots=True)
class GTask:
    id: int
    process: dict[str, Any]  # process_info
    off: float
    dur: float
    outcome: str  # succeeded | failed | ignored
    err_code: int = 0
    failed_reason: str = ""
    retryable: bool = True
    solutions: list[dict[str, str]] = field(default_factory=list)
    forced: str | None = None
    forced_at: float = 0.0


@dataclass(slots=True)
class GView:
    t: GTask
    status: str
    start: float | None
    end: float | None


class GsekitTask(SimTask):
    system = "gsekit"

    def __init__(
        self,
        target: str,
        name: str,
        biz: int,
        job_id: int,
        start: float,
        job_object: str,
        job_action: str,
        tasks: list[GTask],
        flat_extra: bool,
        pipeline_id: str,
    ) -> None:
        super().__init__(target, name, f"biz:{biz}", start)
        self.biz = biz
        self.job_id = job_id
        self.job_object = job_object
        self.job_action = job_action
        self.tasks = tasks
        self.flat_extra = flat_extra  # older servers return flattened extra_data__* keys
        self.pipeline_id = pipeline_id
        self.attach_after = 1.0  # pending until the pipeline is attached
        self.pending_until = 0.0  # a retry sends the job back to pending until its pipeline restarts

    def evaluate(self, lt: float) -> tuple[tuple[list[GView], str, float | None], float]:
        nxt: list[float] = []
        views: list[GView] = []
        begin = self.start + self.attach_after
        for t in self.tasks:
            s, e = begin + t.off, begin + t.off + t.dur
            if t.forced is not None:
                done = t.forced not in ("pending", "running")
                views.append(GView(t, t.forced, s if lt >= s else None, t.forced_at if done else None))
            elif lt < s:
                nxt.append(s)
                views.append(GView(t, "pending", None, None))
            elif lt < e:
                nxt.append(e)
                views.append(GView(t, "running", s, None))
            else:
                views.append(GView(t, t.outcome, s, e))
        if lt < begin or lt < self.pending_until:
            nxt.append(begin if lt < begin else self.pending_until)
            status = "pending"
        elif any(v.status in ("pending", "running") for v in views):
            status = "running"
        elif any(v.status == "failed" for v in views):
            status = "failed"
        else:
            status = "succeeded"
        if self.forced is not None:
            status = self.forced
        end = None
        if status in ("succeeded", "failed"):
            ends = [v.end for v in views if v.end is not None]
            end = max(ends) if ends else lt
        return (views, status, end), min((t for t in nxt if t > lt), default=INF)

    def view(self, now: float) -> tuple[list[GView], str, float | None]:
        return self.cached("view", now, self.evaluate)

    def raw_state(self, now: float) -> str:
        return self.view(now)[1]

    def force(self, now: float, state: Any, *, host: str | None, node: str | None, step: str | None) -> None:
        value = str(state)
        if value not in STATES:
            raise SimError(f"GSEKit has no status {value}")
        if host is not None:
            for t in self.tasks:
                if str(t.id) == str(host):
                    t.forced, t.forced_at = value, self.local(now)
                    self.touch()
                    return
            raise SimError(f"no job task {host} in {self.target}")
        self.pin(now, value)

    def retry(self, now: float) -> None:
        self.unpin(now)
        lt = self.local(now)
        views, _, _ = self.view(now)
        begin = self.start + self.attach_after
        for v in views:
            if v.status in ("failed", "pending"):
                t = v.t
                t.forced = None
                # Back to pending first, then running again.
                t.off = lt - begin + 1.5 + (t.id % 5) * 0.4
                t.dur = 2.0 + (t.id % 3)
                t.outcome, t.err_code, t.failed_reason, t.solutions = "succeeded", 0, "", []
        self.pending_until = lt + 1.0
        self.touch()
