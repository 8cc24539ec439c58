"""Injected failures, per route or global, by probability or for the next N requests.

Most faults answer instead of the handler (`http_5xx`, `html`, `rate_limit`, `delay` first) or
spoil its answer on the way out (`truncated`, `malformed_json`, `oversize`, `reset`, `drift`: the
handler has run). A fault set with ``after=True`` on a task operation lets the operation be carried
out and recorded first, then replaces its answer (`held` / `take_held`, read by ``sim/ops.py``):
the answer a client cannot trust although the server did the work. ``http_503`` exists only so.
"""

from __future__ import annotations

import random
import threading
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

from .envelope import Reply, gw_error
from .ops_routes import ESB_ROUTES, GATEWAY_ROUTES

KINDS = (
    "http_500",
    "http_502",
    "http_504",
    "delay",
    "reset",
    "truncated",
    "malformed_json",
    "html",
    "rate_limit",
    "revoke_credentials",
    "drift",
    "oversize",
)
# Kinds that exist only after a task operation was carried out (set as if with after=True): not in
# KINDS, the kinds that apply to any request.
AFTER_ONLY = ("http_503",)
ALIASES = {
    "500": "http_500",
    "502": "http_502",
    "503": "http_503",
    "504": "http_504",
    "timeout": "delay",
    "slow": "delay",
    "truncate": "truncated",
    "malformed": "malformed_json",
    "garbage": "malformed_json",
    "429": "rate_limit",
    "ratelimit": "rate_limit",
    "revoke": "revoke_credentials",
    "schema_drift": "drift",
    "connection_reset": "reset",
    "huge": "oversize",
}


def normalize(kind: str) -> str:
    k = kind.strip().lower().replace("-", "_")
    k = ALIASES.get(k, k)
    if k not in KINDS and k not in AFTER_ONLY:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS + AFTER_ONLY)}")
    return k


@dataclass
class Fault:
    kind: str
    route: str | None = None  # None: every route; else a system, API name, transport, gateway or path prefix
    probability: float = 1.0
    count: int | None = None  # remaining requests it applies to; None = until cleared
    delay: float | None = None  # seconds, for "delay"
    size: int | None = None  # bytes, for "oversize"
    after: bool = False  # on a task operation: carried out first, then this answer instead

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed ^ 0x5EED)

    def set(
        self,
        kind: str,
        *,
        route: str | None = None,
        probability: float = 1.0,
        count: int | None = None,
        delay: float | None = None,
        size: int | None = None,
        after: bool = False,
    ) -> Fault:
        kind = normalize(kind)
        if after and kind not in REPLACING:
            raise ValueError(
                f"after=True replaces an operation's answer: one of {', '.join(sorted(REPLACING))} "
                f"(the others already act after the handler, or before it: {kind!r})"
            )
        fault = Fault(
            kind,
            route or None,
            float(probability),
            None if count is None else int(count),
            None if delay is None else float(delay),
            None if size is None else int(size),
            after or kind in AFTER_ONLY,
        )
        with self._lock:
            self._faults = [f for f in self._faults if (f.kind, f.route) != (fault.kind, fault.route)]
            self._faults.append(fault)
        return fault

    def clear(self, kind: str | None = None) -> None:
        with self._lock:
            self._faults = [] if kind is None else [f for f in self._faults if f.kind != normalize(kind)]

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def active(self, keys: set[str], path: str) -> dict[str, Fault]:
        """Faults that fire for this request (consumes counts). Those set with ``after`` fire only
        on a task operation, and are held for its handler (`take_held`) instead of returned."""
        fired: dict[str, Fault] = {}
        held: dict[str, Fault] = {}
        operation = not keys.isdisjoint(OPERATION_APIS)
        with self._lock:
            for f in self._faults:
                if (
                    f.route is not None
                    and f.route not in keys
                    and not (f.route.startswith("/") and path.startswith(f.route))
                ):
                    continue
                if f.after and not operation:
                    continue
                if f.count is not None and f.count <= 0:
                    continue
                if f.probability < 1.0 and self._rng.random() >= f.probability:
                    continue
                if f.count is not None:
                    f.count -= 1
                (held if f.after else fired).setdefault(f.kind, f)
            self._faults = [f for f in self._faults if f.count is None or f.count > 0]
        # Per request: the ASGI app runs each request in its own task (uvicorn) or in the caller's
        # (ASGITransport), and the handler runs in that same context right after this.
        _HELD.set(held)
        return fired


# -- answers replaced after the operation ran -------------------------------------------------------

# The kinds that replace an answer whole, so can come after an operation was carried out.
REPLACING = frozenset({"http_500", "http_502", "http_503", "http_504", "html"})
OPERATION_APIS = frozenset(api for _, api in ESB_ROUTES.values()) | {r[4] for r in GATEWAY_ROUTES}
_HELD: ContextVar[dict[str, Fault] | None] = ContextVar("bkwatch_sim_held_faults", default=None)
NGINX_503 = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>蓝鲸智云 - 登录</title></head>"
    "<body><h1>登录已过期</h1><p>请重新登录 <a href='/login/'>login</a></p></body></html>"
).encode()


def take_held() -> Fault | None:
    """The fault held for this request's operation (one; the first set wins), and no more."""
    held = _HELD.get()
    if not held:
        return None
    _HELD.set(None)
    return next(iter(held.values()))


def replaced(kind: str) -> Reply:
    """The answer of a replacing fault, as the gateway (or its nginx) would send it."""
    if kind == "http_500":
        return gw_error(1650001, "Internal Server Error")
    if kind == "http_502":
        return gw_error(1650200, 'Bad Gateway [upstream_error="upstream prematurely closed connection"]')
    if kind == "http_504":
        return gw_error(1650401, "Request backend service timeout")
    if kind == "http_503":
        return Reply(503, NGINX_503, content_type="text/html")
    return Reply(200, LOGIN_PAGE, content_type="text/html; charset=utf-8")


def drift(obj: Any, depth: int = 0) -> Any:
    """Schema drift: unknown state values, a missing field, an extra field."""
    if isinstance(obj, dict):
        for key in ("status", "state"):
            if key in obj and not isinstance(obj[key], dict | list):
                obj[key] = 99 if isinstance(obj[key], int) else "ZOMBIE"
        for key in ("start_time", "finish_time", "end_time", "elapsed_time", "execute_count"):
            if key in obj:
                del obj[key]
                break
        obj["sim_new_field"] = {"added_in": "9.9"}
        for k, v in list(obj.items()):
            if depth >= 12:
                break
            if k == "children" and isinstance(v, dict):  # a map of node id -> node: drift the nodes
                for child in v.values():
                    drift(child, depth + 1)
            elif k != "sim_new_field":
                drift(v, depth + 1)
    elif isinstance(obj, list):
        for v in obj[:50]:
            drift(v, depth + 1)
    return obj
