"""Injected failures, per route or global, by probability or for the next N requests."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

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
ALIASES = {
    "500": "http_500",
    "502": "http_502",
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
    if k not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    return k


@dataclass
class Fault:
    kind: str
    route: str | None = None  # None: every route; else a system, API name, transport, gateway or path prefix
    probability: float = 1.0
    count: int | None = None  # remaining requests it applies to; None = until cleared
    delay: float | None = None  # seconds, for "delay"
    size: int | None = None  # bytes, for "oversize"

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
    ) -> Fault:
        fault = Fault(
            normalize(kind),
            route or None,
            float(probability),
            None if count is None else int(count),
            None if delay is None else float(delay),
            None if size is None else int(size),
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
        """Faults that fire for this request (consumes counts)."""
        fired: dict[str, Fault] = {}
        with self._lock:
            for f in self._faults:
                if (
                    f.route is not None
                    and f.route not in keys
                    and not (f.route.startswith("/") and path.startswith(f.route))
                ):
                    continue
                if f.count is not None and f.count <= 0:
                    continue
                if f.probability < 1.0 and self._rng.random() >= f.probability:
                    continue
                if f.count is not None:
                    f.count -= 1
                fired.setdefault(f.kind, f)
            self._faults = [f for f in self._faults if f.count is None or f.count > 0]
        return fired


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
