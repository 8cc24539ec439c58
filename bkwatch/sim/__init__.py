"""A stand-alone BlueKing: the five status APIs over ESB and API-gateway paths, with live tasks.

sim = Simulator(SimConfig(seed=1))
with sim.serve() as server:
    server.base_url      # ESB base; gateway template is base_url + "/api/{api_name}", stage "prod"
"""

from __future__ import annotations

from .app import SimConnectionReset
from .base import SimError, SimTaskInfo
from .config import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_TOKEN, DEMO_USERNAME, SimConfig
from .faults import KINDS as FAULT_KINDS
from .server import Served
from .simulator import Simulator

__all__ = [
    "DEMO_APP_CODE",
    "DEMO_APP_SECRET",
    "DEMO_TOKEN",
    "DEMO_USERNAME",
    "FAULT_KINDS",
    "Served",
    "SimConfig",
    "SimConnectionReset",
    "SimError",
    "SimTaskInfo",
    "Simulator",
]
