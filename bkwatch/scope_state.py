"""What a followed scope is at a given moment (`ScopeWatch`, what a monitor draws as a group
header: counts, error, cap) and what it saw while bkwatch was closed (`ScopeSince`).
Discovery (discovery.py) is what changes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bkwatch.model import BkError, State
from bkwatch.scopes import Scope, ScopeOptions
from bkwatch.systems.lists import Found

if TYPE_CHECKING:
    from bkwatch.poller import Poller, Watch

__all__ = ["ScopeSince", "ScopeWatch"]


@dataclass(eq=False)
class ScopeWatch:
    """One followed scope: what it holds, how its last round went, whether its cap was reached."""

    scope: Scope
    options: ScopeOptions
    label: str | None = None
    added_at: float = 0.0
    held: dict[str, Found] = field(default_factory=dict)  # task key -> as listed, in order found
    dismissed: set[str] = field(default_factory=set)
    error: BkError | None = None  # of the latest list round; None when it worked
    batch_error: BkError | None = None  # of the latest batch-status call
    errors: int = 0  # consecutive failed rounds
    last_ok: float | None = None
    rounds: int = 0
    requests: int = 0  # list and batch calls made for this scope
    cap_reached: bool = False
    waiting: dict[str, Found] = field(default_factory=dict)  # found, but over the cap
    cursor: float = 0.0  # creation time the next round lists from (less OVERLAP)
    high_id: int = 0  # newest SOPS/BKFlow id listed: older ones were seen
    known: dict[str, float] = field(default_factory=dict)  # every key ever found -> when
    done_at: dict[str, float] = field(default_factory=dict)  # key -> first seen finished
    batch_seen: dict[str, str | None] = field(default_factory=dict)
    gone_states: dict[str, State] = field(default_factory=dict)  # the last state of tasks that left
    previous: dict[str, dict[str, Any]] | None = None  # held tasks of the last run (restore)
    closed_since: float | None = None  # the last run's last good round
    while_closed: dict[str, Found] = field(default_factory=dict)
    nothing_finished: bool = False  # the last look for a finished task to evict found none
    next_round: float = 0.0  # monotonic
    next_batch: float = 0.0

    @property
    def key(self) -> str:
        return str(self.scope)

    @property
    def problem(self) -> BkError | None:
        """What the scope's header should show: the list error first, else a batch error."""
        return self.error or self.batch_error

    def counts(self, poller: Poller) -> dict[State, int]:
        """Held tasks per state (not polled yet: pending)."""
        out: dict[State, int] = {}
        for key in self.held:
            watch = poller.watches.get(key)
            state = watch.task.state if watch is not None and watch.task is not None else State.PENDING
            out[state] = out.get(state, 0) + 1
        return out

    def watches(self, poller: Poller) -> list[Watch]:
        return [poller.watches[k] for k in self.held if k in poller.watches]


@dataclass(slots=True)
class ScopeSince:
    """What a scope saw happen while bkwatch was closed."""

    scope: str
    started: list[str]
    finished: list[str]
    failed: list[str]

    def lines(self, title: Callable[[str], str] = str) -> list[str]:
        if not (self.started or self.finished or self.failed):
            return []
        head = (
            f"{self.scope}: {len(self.started)} started, {len(self.finished)} finished, "
            f"{len(self.failed)} failed"
        )
        return [head, *(f"  failed: {title(k)}" for k in self.failed)]
