"""`Simulator`: the world, the faults, the traffic log and the ASGI app that serves them."""

from __future__ import annotations

from contextlib import AbstractContextManager

from starlette.applications import Starlette
from starlette.routing import Route

from .admin import routes as admin_routes
from .app import BlueKing
from .config import SimConfig
from .faults import Faults
from .server import Served
from .server import serve as _serve
from .traffic import Traffic
from .world import World


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
