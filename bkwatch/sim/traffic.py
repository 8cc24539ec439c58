"""What the simulator was asked and what it injected: requests per task, faults per kind.

Tests read it to bound a client's request rate per task and to count the faults a run tried.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any


class Traffic:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # "system:task id" -> requests
        self.faults: Counter[str] = Counter()  # fault kind -> times injected

    def record(self, task: str, fired: Iterable[str]) -> None:
        with self._lock:
            self.requests[task] += 1
            self.faults.update(list(fired))  # the kinds, even when given a dict of them

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self.requests.values()),
                "by_task": dict(self.requests),
                "faults": dict(self.faults),
            }

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults.clear()


def task_ref(system: str, params: dict[str, Any]) -> str:
    """The task a request is about, as "system:id" ("system:" when it names none)."""
    for key in ("job_instance_id", "task_id", "job_id"):
        value = params.get(key)
        if value not in (None, ""):
            return f"{system}:{value}"
    return f"{system}:"
