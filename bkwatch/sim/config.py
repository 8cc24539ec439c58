"""Simulator settings and the credentials it accepts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

DEMO_APP_CODE = "bkwatch-demo"
DEMO_APP_SECRET = "sim-secret-0000"
DEMO_USERNAME = "admin"
DEMO_TOKEN = "sim-bk-token"

# Scopes the simulated world knows.
JOB_BIZ = (2, 3)
JOB_BIZ_SET = 9991
SOPS_PROJECTS = {5: 2, 6: 3}  # SOPS project id -> CMDB biz id
BKFLOW_SPACES = {1: DEMO_APP_CODE, 7: "another-app"}  # space id -> app bound to it


@dataclass
class SimConfig:
    seed: int = 1
    speed: float = 1.0  # simulated seconds per real second
    clock: Callable[[], float] = time.time
    frozen: bool = False  # no automatic evolution: only force/retry/advance change state
    arrivals: bool | None = None  # new tasks keep arriving; default: True unless frozen
    arrival_interval: float = 20.0  # simulated seconds between new tasks
    max_arrivals: int = 200
    tasks_per_system: int = 6
    job_hosts: int = 24  # hosts per JOB step (up to 10,000)
    log_bytes: int = 16 * 1024  # script log size per JOB host, generated on demand (up to 5 MB)
    nodeman_hosts: int = 40  # up to 5,000
    pipeline_nodes: int = 12  # activity nodes per SOPS/BKFlow task (up to 1,000)
    gsekit_tasks: int = 16
    gsekit_rows_without_ids: bool = False  # True: old server returning every row without ids
    sops_cache_seconds: float = 0.0  # 10 reproduces SOPS's stale per-process cache
    rate_limit_reset: int = 30  # seconds a 429 fault tells the client to wait
    cron_interval: float = 0.0  # > 0: a cron-launched JOB job in biz 2 every N simulated seconds
    burst_every: float = 0.0  # > 0: every N simulated seconds a burst of new SOPS/BKFlow/JOB tasks
    burst_size: int = 10  # tasks per burst
    nodeman_page_cap: int = 0  # > 0: NodeMan pages never larger, as behind a capping proxy
    nodeman_all_rows: bool = True  # False: an older NodeMan refusing pagesize=-1
    esb_reads_header: bool = True  # False: an older ESB that takes credentials only as parameters
    hostile: bool = True  # False: no text made to test escaping (names, messages, logs): sim/tame.py

    @property
    def arrivals_on(self) -> bool:
        return (not self.frozen) if self.arrivals is None else self.arrivals
