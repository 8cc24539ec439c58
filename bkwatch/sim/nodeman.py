"""A NodeMan job: many hosts installing in waves, per-host steps and error codes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .base import SimError, SimTask

INF = math.inf
JOB_STATES = {"PENDING", "RUNNING", "SUCCESS", "FAILED", "PART_FAILED", "TERMINATED"}
STEPS = ["选择接入点", "下发安装脚本", "执行安装脚本", "查询Agent状态", "安装预置插件"]


@dataclass(slots=True)
class NHost:
    host_id: int
    ip: str
    cloud: int
    os_type: str
    off: float
    dur: float
    outcome: str  # SUCCESS | FAILED
    fail_step: int = 2
    err_code: str = ""
    err_desc: str = ""
    filtered: str = ""  # reason when filtered out before execution
    filtered_status: str = "FAILED"  # the row status NodeMan gives it: FAILED unless IGNORED recorded
    forced: str | None = None
    forced_at: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.cloud}:{self.ip}"


@dataclass(slots=True)
class HostView:
    h: NHost
    status: str  # PENDING | RUNNING | SUCCESS | FAILED | FILTERED...
    step: int
    start: float | None
    end: float | None


class NodemanTask(SimTask):
    system = "nodeman"

    def __init__(
        self, target: str, name: str, biz: int, job_id: int, start: float, job_type: str, hosts: list[NHost]
    ) -> None:
        super().__init__(target, name, f"biz:{biz}", start)
        self.biz = biz
        self.job_id = job_id
        self.job_type = job_type
        self.hosts = hosts

    def evaluate(self, lt: float) -> tuple[tuple[list[HostView], str, float | None], float]:
        nxt: list[float] = []
        views: list[HostView] = []
        for h in self.hosts:
            if h.filtered:
                views.append(HostView(h, "FILTERED", -1, None, None))
                continue
            s, e = self.start + h.off, self.start + h.off + h.dur
            if h.forced is not None:
                done = h.forced not in ("PENDING", "RUNNING")
                views.append(
                    HostView(h, h.forced, h.fail_step, s if lt >= s else None, h.forced_at if done else None)
                )
            elif lt < s:
                nxt.append(s)
                views.append(HostView(h, "PENDING", 0, None, None))
            elif lt < e:
                per = h.dur / len(STEPS)
                idx = min(int((lt - s) / per), len(STEPS) - 1)
                if h.outcome == "FAILED":
                    idx = min(idx, h.fail_step)
                nxt.append(s + per * (idx + 1) if idx + 1 < len(STEPS) else e)
                views.append(HostView(h, "RUNNING", idx, s, None))
            else:
                step = h.fail_step if h.outcome == "FAILED" else len(STEPS) - 1
                views.append(HostView(h, h.outcome, step, s, e))
        counts = _counts(views)
        active = [v for v in views if v.status != "FILTERED"]
        if lt < self.start or not active:
            status = "PENDING"
        elif counts["running_count"] or counts["pending_count"]:
            status = "RUNNING"
        elif counts["ignored_count"] == len(active) or not counts["failed_count"]:
            status = "SUCCESS"
        elif counts["success_count"]:
            status = "PART_FAILED"
        else:
            status = "FAILED"
        if self.forced is not None:
            status = self.forced
        end = None
        if status not in ("PENDING", "RUNNING"):
            ends = [v.end for v in views if v.end is not None]
            end = max(ends) if ends else lt
        return (views, status, end), min((t for t in nxt if t > lt), default=INF)

    def view(self, now: float) -> tuple[list[HostView], str, float | None]:
        return self.cached("view", now, self.evaluate)

    def raw_state(self, now: float) -> str:
        return self.view(now)[1]

    def force(self, now: float, state: Any, *, host: str | None, node: str | None, step: str | None) -> None:
        value = str(state)
        if host is not None:
            for h in self.hosts:
                if h.key == host:
                    h.forced, h.forced_at = value, self.local(now)
                    self.touch()
                    return
            raise SimError(f"no host {host} in {self.target}")
        if value not in JOB_STATES:
            raise SimError(f"NodeMan has no job status {value}")
        self.pin(now, value)

    def retry(self, now: float) -> None:
        self.unpin(now)
        lt = self.local(now)
        views, _, _ = self.view(now)
        for v in views:
            if v.status == "FAILED":
                h = v.h
                h.forced = None
                h.off = lt - self.start + 0.5 + (h.host_id % 10) * 0.3
                h.dur = 4.0 + (h.host_id % 4)
                h.outcome = "SUCCESS"
        self.touch()


def _counts(views: list[HostView]) -> dict[str, int]:
    c = {
        "total_count": 0,
        "pending_count": 0,
        "running_count": 0,
        "success_count": 0,
        "failed_count": 0,
        "ignored_count": 0,
    }
    for v in views:
        c["total_count"] += 1
        if v.status == "FILTERED":
            c["ignored_count"] += 1  # the job's statistics count filtered hosts as ignored
            continue
        key = {
            "PENDING": "pending_count",
            "RUNNING": "running_count",
            "SUCCESS": "success_count",
            "FAILED": "failed_count",
            "IGNORED": "ignored_count",
        }.get(v.status)
        if key:
            c[key] += 1
    return c


def statistics(views: list[HostView]) -> dict[str, int]:
    return _counts(views)
