"""A stand-alone BlueKing: the five status APIs over ESB and API-gateway paths, with live tasks.

sim = Simulator(SimConfig(seed=1))
with sim.serve() as server:
    server.base_url      # ESB base; gateway template is base_url + "/api/{api_name}", stage "prod"
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from starlette.applications import Starlette
from starlette.routing import Route

from .admin import routes as admin_routes
from .app import BlueKing, SimConnectionReset
from .base import SimError, SimTaskInfo
from .config import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_TOKEN, DEMO_USERNAME, SimConfig
from .faults import KINDS as FAULT_KINDS
from .faults import Faults
from .server import Served
from .server import serve as _serve
from .traffic import Traffic
from .world import World

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


class Simulator:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.world = World(self.config)
        self.faults = Faults(self.config.seed)
        self.traffic = Traffic()
        self.bk = BlueKing(self)
        routes = [*admin_routes(self), Route("/{path:path}", self.bk)]
        self.app = Starlette(routes=routes)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "critical", access_log: bool = False
    ) -> AbstractContextManager[Served]:
        """Run uvicorn on a background thread; port 0 picks a free port. Stops on exit."""
        return _serve(self.app, host, port, log_level=log_level, access_log=access_log)
