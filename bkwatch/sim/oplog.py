"""The record of every task operation the simulator received (read at /_sim/operations)."""

from __future__ import annotations

import threading
from typing import Any


class OpLog:
    """Every operation request that reached a handler (after auth), in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self.fail_next: set[str] = set()  # targets whose next retry fails again

    def add(self, record: dict[str, Any]) -> None:
        with self._lock:
            record["seq"] = len(self._records) + 1
            self._records.append(record)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._records]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self.fail_next.clear()
