"""What every simulated task shares: pinning, a local time line, a cached body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SimTaskInfo:
    target: str  # canonical target string
    system: str  # "job", "sops", ...
    name: str
    state: str  # raw state value as text
    scope: str  # "biz:2", "biz_set:9991", "project:5", "space:1"


class SimError(Exception):
    """A force/retry that does not make sense for this task."""


class SimTask:
    """A task whose state is a pure function of its local time.

    Forcing a task-level state pins the time line (nothing moves any more); retry unpins it and
    shifts the local clock so the task resumes where it stopped.
    """

    system = ""

    def __init__(self, target: str, name: str, scope: str, start: float) -> None:
        self.target = target
        self.name = name
        self.scope = scope
        self.start = start  # simulated epoch seconds when it began
        self.created = start  # when it was created (what the list APIs filter and sort by)
        self.operator = "admin"  # who started it (JOB operator, SOPS executor, BKFlow creator)
        self.launch_mode = 1  # JOB: 1 web, 2 API, 3 cron
        self.shift = 0.0
        self.pinned_at: float | None = None
        self.forced: Any = None  # task-level forced raw state
        self.version = 0  # bumped by every mutation; part of the body cache key
        self._cache: dict[Any, tuple[int, float, float, Any]] = {}

    def local(self, now: float) -> float:
        return (self.pinned_at if self.pinned_at is not None else now) - self.shift

    def pin(self, now: float, state: Any) -> None:
        if self.pinned_at is None:
            self.pinned_at = now
        self.forced = state
        self.touch()

    def unpin(self, now: float) -> None:
        if self.pinned_at is not None:
            self.shift += now - self.pinned_at
            self.pinned_at = None
        self.forced = None
        self.touch()

    def touch(self) -> None:
        self.version += 1
        self._cache.clear()

    def cached(self, key: Any, now: float, build: Any, stale_for: float = 0.0) -> Any:
        """build(lt) -> (value, next_change_local). Reused until the next state change."""
        lt = self.local(now)
        hit = self._cache.get(key)
        if hit is not None:
            version, made_at, valid_until, value = hit
            if version == self.version and (lt < valid_until or now - made_at < stale_for):
                return value
        value, next_change = build(lt)
        self._cache[key] = (self.version, now, next_change, value)
        return value

    # Subclasses implement these.
    def raw_state(self, now: float) -> str:
        raise NotImplementedError

    def info(self, now: float) -> SimTaskInfo:
        return SimTaskInfo(self.target, self.system, self.name, self.raw_state(now), self.scope)

    def force(self, now: float, state: Any, *, host: str | None, node: str | None, step: str | None) -> None:
        raise NotImplementedError

    def retry(self, now: float) -> None:
        raise NotImplementedError
