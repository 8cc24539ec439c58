"""httpx, imported without the optional parts bkwatch never uses, and a transport whose
connection pool does not probe every idle socket on every request: the client uses both.

httpx imports its own command line when click is installed — and uvicorn, which the simulator
needs, installs it: ~30 ms of start-up for a module bkwatch never uses. httpcore imports trio
wherever it is installed, to pick its locks when it runs under trio; bkwatch runs on asyncio only,
and trio's import is ~60 ms before the first poll can leave.

httpcore's pool (1.0) rechecks every connection it holds each time a request is queued or a
response closed: each idle one's socket is probed for a server-side close (through anyio's
socket attributes: a `getpeername` and a `poll` each), and the idle ones are counted once per
connection. With the 16 to 20 connections polling keeps open, that was a third of the engine's
CPU per poll (py-spy, 2,000 watches). `LeanPool` probes only the idle connection it is about
to reuse, which is the one whose close matters, and counts the idle ones once. That probe
itself asked anyio for the socket through its attribute table, which anyio builds anew on every
lookup (a `getpeername` and a dozen closures): `_LeanStream` looks the socket up once per
connection. And the pool's closing of connections (twice per request, nearly always none) no
longer opens a cancel scope for nothing.
"""

from __future__ import annotations

import contextlib
import ssl
import sys
from collections.abc import Iterator
from typing import Any

UNUSED_MODULES = ("httpx._main", "trio")


@contextlib.contextmanager
def hidden(names: tuple[str, ...]) -> Iterator[None]:
    """Make `import name` fail for the duration (a None entry in sys.modules), then restore."""
    added = [n for n in names if n not in sys.modules]
    for n in added:
        sys.modules[n] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for n in added:
            if n in sys.modules and sys.modules[n] is None:
                del sys.modules[n]


with hidden(UNUSED_MODULES):
    import httpcore  # (httpx imports it on first use; keep that inside the guard)
    import httpx
    from httpcore._backends.anyio import AnyIOBackend, AnyIOStream
    from httpcore._utils import is_socket_readable

__all__ = ["LeanPool", "httpx", "lean_transport"]


class LeanPool(httpcore.AsyncConnectionPool):
    """httpcore's pool with a cheaper assignment of queued requests to connections (same rules:
    reuse an available connection of the origin, else open one under the limit, else close an
    idle one for it; idle ones past the keep-alive limit are closed)."""

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        kept: list[Any] = []
        idle = 0
        for conn in self._connections:
            if conn.is_closed():
                continue
            if conn.is_idle():
                idle += 1
                if idle > self._max_keepalive_connections:
                    closing.append(conn)
                    continue
            kept.append(conn)
        self._connections[:] = kept
        for request in self._requests:
            if not request.is_queued():
                continue
            origin = request.request.url.origin
            conn = self._reusable(origin, closing)
            if conn is None:
                if len(self._connections) >= self._max_connections:
                    spare = next((c for c in self._connections if c.is_idle()), None)
                    if spare is None:
                        continue  # every connection busy: the request waits for one to close
                    self._connections.remove(spare)
                    closing.append(spare)
                conn = self.create_connection(origin)
                self._connections.append(conn)
            request.assign_to_connection(conn)
        return closing

    async def _close_connections(self, closing: list[Any]) -> None:
        if closing:
            await super()._close_connections(closing)

    def _reusable(self, origin: httpcore.URL | Any, closing: list[Any]) -> Any:
        """An available connection to `origin`; idle ones that expired (keep-alive over, or the
        server closed them: the probe httpcore ran on every connection) are closed on the way."""
        for conn in list(self._connections):
            if not (conn.can_handle_request(origin) and conn.is_available()):
                continue
            if conn.is_idle() and conn.has_expired():
                self._connections.remove(conn)
                closing.append(conn)
                continue
            return conn
        return None


class _LeanStream(AnyIOStream):
    """httpcore's anyio stream with its socket looked up once, for the idle-connection probe."""

    _socket: Any = None

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            if self._socket is None:
                self._socket = super().get_extra_info("socket")
            return is_socket_readable(self._socket)
        return super().get_extra_info(info)

    async def start_tls(self, *args: Any, **kwargs: Any) -> Any:
        stream = await super().start_tls(*args, **kwargs)
        if type(stream) is AnyIOStream:
            stream.__class__ = _LeanStream
        return stream


class _LeanBackend(AnyIOBackend):
    """The asyncio network backend, its streams `_LeanStream`s (bkwatch runs on asyncio only)."""

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> Any:
        stream = await super().connect_tcp(*args, **kwargs)
        if type(stream) is AnyIOStream:
            stream.__class__ = _LeanStream
        return stream


def lean_transport(*, verify: ssl.SSLContext | bool, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's transport with `LeanPool` for its pool (the stock one if httpcore's pool is not
    the class this was written for)."""
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
    pool = getattr(transport, "_pool", None)
    if type(pool) is httpcore.AsyncConnectionPool and all(
        hasattr(pool, a)
        for a in ("_connections", "_requests", "_max_connections", "_max_keepalive_connections")
    ):
        pool.__class__ = LeanPool
        if hasattr(pool, "_network_backend"):
            pool._network_backend = _LeanBackend()
    return transport
