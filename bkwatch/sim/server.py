"""Serve the simulator with uvicorn in a background thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn


@dataclass(frozen=True, slots=True)
class Served:
    host: str
    port: int

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def apigw_tmpl(self) -> str:
        return self.base_url + "/api/{api_name}"


class _DropInjectedResets(logging.Filter):
    """Injected connection resets are intended; keep their tracebacks out of the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "SimConnectionReset"


def _quiet_logging(log_level: str) -> None:
    err = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropInjectedResets) for f in err.filters):
        err.addFilter(_DropInjectedResets())
    if log_level == "critical":
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            lg = logging.getLogger(name)
            lg.setLevel(logging.CRITICAL)
            if not lg.handlers:
                lg.addHandler(logging.NullHandler())
            lg.propagate = False


@contextmanager
def serve(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "critical", access_log: bool = False
) -> Iterator[Served]:
    _quiet_logging(log_level)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level=log_level,
        lifespan="off",
        access_log=access_log,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bkwatch-sim", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise OSError(f"simulator could not listen on {host}:{port}")
        time.sleep(0.01)
    sock = server.servers[0].sockets[0]
    try:
        yield Served(host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=5)
