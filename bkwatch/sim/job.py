"""A JOB job instance: sequential steps, per-host runs, manual confirm, rolling batches."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .base import SimError, SimTask
from .fmt import ms

FINISHED = {3, 4, 5, 6, 8, 9, 11, 13, 14}
VALID = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15}
HOST_OK = {9, 3}
INF = math.inf


@dataclass(slots=True)
class SimHost:
    host_id: int
    ip: str
    cloud: int
    off: float  # start offset from the step's execution start
    dur: float
    status: int  # final host status
    exit_code: int = 0
    error_code: int = 0
    tag: str = ""
    log: str = ""
    last: tuple[float, float] | None = None  # absolute run of a previous success (status 3 on retry)
    forced: int | None = None
    forced_at: float = 0.0


@dataclass(slots=True)
class SimStep:
    id: int
    name: str
    type: int  # 1 script, 2 file, 3 manual confirm
    hosts: list[SimHost] = field(default_factory=list)
    confirm_after: float | None = None  # manual step: seconds until a user confirms; None: never
    batch_size: int = 0  # rolling: hosts per batch, 0 = not rolling
    batch_pause: float = 0.0  # rolling: seconds waiting (15) between batches
    exec_start: float | None = None  # set by retry; else follows the previous step
    execute_count: int = 0
    forced: int | None = None
    seen_start: float | None = None  # start of the current execution, as last evaluated


class JobTask(SimTask):
    system = "job"

    def __init__(
        self,
        target: str,
        name: str,
        scope_type: str,
        scope_id: int,
        job_id: int,
        start: float,
        steps: list[SimStep],
    ) -> None:
        super().__init__(target, name, f"{scope_type}:{scope_id}", start)
        self.scope_type = scope_type
        self.scope_id = scope_id
        self.job_id = job_id
        self.steps = steps

    # -- evaluation ---------------------------------------------------------------------------
    def _host(
        self, h: SimHost, st: float, lt: float, nxt: list[float]
    ) -> tuple[int, float | None, float | None]:
        if h.forced is not None:
            start = min(st + h.off, h.forced_at)
            return h.forced, start, (None if h.forced in (5, 7) else h.forced_at)
        if h.last is not None and h.status in HOST_OK and h.dur == 0:
            return 3, h.last[0], h.last[1]
        s, e = st + h.off, st + h.off + h.dur
        if lt < s:
            nxt.append(s)
            return 5, None, None
        if lt < e:
            nxt.append(e)
            return 7, s, None
        return h.status, s, e

    def evaluate(self, lt: float, with_hosts: bool) -> tuple[dict[str, Any], float]:
        nxt: list[float] = []
        cursor: float | None = self.start
        steps_out: list[dict[str, Any]] = []
        job_status = 1 if lt < self.start else 3
        if lt < self.start:
            nxt.append(self.start)
        job_end: float | None = None
        for step in self.steps:
            st = step.exec_start if step.exec_start is not None else cursor
            step.seen_start = st
            status, s_start, s_end, hosts = self._step(step, st, lt, nxt, with_hosts)
            if step.forced is not None:
                status = step.forced
            cursor = s_end if status in (3, 5, 6) else None
            d: dict[str, Any] = {
                "step_instance_id": step.id,
                "type": step.type,
                "name": step.name,
                "status": status,
                "execute_count": step.execute_count,
                "create_time": ms(self.start),
                "start_time": ms(s_start),
                "end_time": ms(s_end),
                "total_time": ms(s_end - s_start) if s_end is not None and s_start is not None else None,
            }
            if with_hosts:
                d["step_ip_result_list"] = hosts
            steps_out.append(d)
            if job_status == 3 and status not in (3, 5, 6):
                job_status = status if status != 1 else 2
            if s_end is not None:
                job_end = s_end
        if self.forced is not None:
            job_status = self.forced
        finished = job_status in FINISHED
        end = job_end if finished else None
        if finished and end is None:
            end = self.pinned_at - self.shift if self.pinned_at is not None else lt
        job = {
            "job_instance_id": self.job_id,
            "bk_scope_type": self.scope_type,
            "bk_scope_id": str(self.scope_id),
            "name": self.name,
            "status": job_status,
            "create_time": ms(self.start),
            "start_time": ms(self.start) if lt >= self.start else None,
            "end_time": ms(end),
            "total_time": ms(end - self.start) if end is not None else None,
        }
        if self.scope_type == "biz":
            job["bk_biz_id"] = self.scope_id
        data = {"finished": finished, "job_instance": job, "step_instance_list": steps_out}
        return data, min((t for t in nxt if t > lt), default=INF)

    def _step(self, step: SimStep, st: float | None, lt: float, nxt: list[float], with_hosts: bool):
        if st is None or lt < st:
            if st is not None:
                nxt.append(st)
            hosts = [self._host_dict(h, 5, None, None) for h in step.hosts] if with_hosts else []
            return 1, None, None, hosts
        if step.type == 3:
            if step.confirm_after is None or lt < st + step.confirm_after:
                if step.confirm_after is not None:
                    nxt.append(st + step.confirm_after)
                return 7, st, None, []
            return 3, st, st + step.confirm_after, []
        statuses: list[int] = []
        hosts: list[dict[str, Any]] = []
        end = st
        waiting = False
        n = len(step.hosts)
        batch_span = 0.0
        if step.batch_size:
            batch_span = max(h.off + h.dur for h in step.hosts[: step.batch_size]) + step.batch_pause
        for i, h in enumerate(step.hosts):
            base = st + (i // step.batch_size) * batch_span if step.batch_size else st
            status, s, e = self._host(h, base, lt, nxt)
            statuses.append(status)
            if e is not None and e > end:
                end = e
            if with_hosts:
                hosts.append(self._host_dict(h, status, s, e))
        if step.batch_size and n > step.batch_size:
            batches = math.ceil(n / step.batch_size)
            for b in range(1, batches):
                bs = st + b * batch_span
                prev = statuses[(b - 1) * step.batch_size : b * step.batch_size]
                if lt < bs and all(x not in (5, 7) for x in prev) and lt >= bs - step.batch_pause:
                    waiting = True
        running = any(x in (5, 7) for x in statuses)
        if waiting:
            return 15, st, None, hosts
        if running:
            return 2, st, None, hosts
        if any(x not in HOST_OK for x in statuses):
            return 4, st, end, hosts
        return 3, st, end, hosts

    @staticmethod
    def _host_dict(h: SimHost, status: int, s: float | None, e: float | None) -> dict[str, Any]:
        done = e is not None
        return {
            "bk_host_id": h.host_id,
            "ip": h.ip,
            "bk_cloud_id": h.cloud,
            "status": status,
            "tag": h.tag if done else "",
            "exit_code": h.exit_code if done else 0,
            "error_code": h.error_code if done else 0,
            "start_time": ms(s),
            "end_time": ms(e),
            "total_time": ms(e - s) if done and s is not None else None,
        }

    def data(self, now: float, with_hosts: bool) -> dict[str, Any]:
        return self.cached(("data", with_hosts), now, lambda lt: self.evaluate(lt, with_hosts))

    def raw_state(self, now: float) -> str:
        return str(self.data(now, False)["job_instance"]["status"])

    def find_host(
        self, step_id: int, host_id: int | None, cloud: int | None, ip: str | None
    ) -> SimHost | None:
        for step in self.steps:
            if step.id != step_id:
                continue
            for h in step.hosts:
                if (host_id is not None and h.host_id == host_id) or (ip == h.ip and cloud == h.cloud):
                    return h
        return None

    # -- control ------------------------------------------------------------------------------
    def force(self, now: float, state: Any, *, host: str | None, node: str | None, step: str | None) -> None:
        value = int(state)
        lt = self.local(now)
        if host is not None:
            cloud, _, ip = host.partition(":")
            targets = [s for s in self.steps if step is None or str(s.id) == str(step)]
            for s in targets:
                for h in s.hosts:
                    if (h.ip == ip and str(h.cloud) == cloud) or (not ip and str(h.host_id) == cloud):
                        h.forced, h.forced_at = value, lt
                        self.touch()
                        return
            raise SimError(f"no host {host} in {self.target}")
        if step is not None:
            for s in self.steps:
                if str(s.id) == str(step):
                    s.forced = value
                    self.touch()
                    return
            raise SimError(f"no step {step} in {self.target}")
        if value not in VALID:
            raise SimError(f"JOB has no status {value}")
        self.pin(now, value)

    def retry(self, now: float) -> None:
        self.unpin(now)
        lt = self.local(now)
        data, _ = self.evaluate(lt, True)
        for step, out in zip(self.steps, data["step_instance_list"], strict=True):
            if out["status"] == 7 and step.type == 3:
                # A manual-confirm step waiting for a user: retry confirms it.
                step.confirm_after = lt - (step.seen_start if step.seen_start is not None else lt)
                step.forced = None
                break
            if out["status"] not in (4, 9, 8, 11, 13) and step.forced is None:
                continue
            step.forced = None
            step.execute_count += 1
            step.exec_start = lt
            for h, hd in zip(step.hosts, out["step_ip_result_list"], strict=True):
                if hd["status"] in HOST_OK:
                    # Hosts that already succeeded are skipped on the retry and reported as 3.
                    h.last = (
                        hd["start_time"] / 1000 if hd["start_time"] else lt,
                        hd["end_time"] / 1000 if hd["end_time"] else lt,
                    )
                    h.off, h.dur = 0.0, 0.0
                else:
                    h.last = None
                    h.forced = None
                    h.off, h.dur = 0.5 + (h.host_id % 7) * 0.4, 2.0 + (h.host_id % 5)
                    h.status, h.exit_code, h.error_code, h.tag = 9, 0, 0, "retry-ok"
            break
        self.touch()
