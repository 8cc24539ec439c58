"""What the screen reads of the record, as a Protocol the wiring (`cli/record_view.py`)
implements: the screen never opens the record's file itself."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from bkwatch.model import Task


@dataclass(frozen=True, slots=True)
class PastFailure:
    """One recorded failure of a host: when, in which task, and what it said."""

    at: float
    system: str
    target: str
    task: str  # the task's name as recorded, else its target
    signature: str
    reason: str


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


@dataclass(frozen=True, slots=True)
class HostNote:
    """A failing host's past in the record: this is its `count`-th failing task in `days` days;
    `same` of the `count - 1` before failed with this failure's signature."""

    count: int
    days: int
    same: int

    def text(self) -> str:
        """The info line's words: "3rd failure in 7 days, same signature"."""
        before = self.count - 1
        head = f"{ordinal(self.count)} failure in {self.days} days"
        if self.same == before:
            return f"{head}, same signature"
        if self.same:
            return f"{head}, same signature in {self.same} of {before} before"
        return f"{head}, another signature"

    def short(self) -> str:
        """The host line's: "3rd in 7d, same sig" (the error column is narrow)."""
        before = self.count - 1
        sig = "same sig" if self.same == before else "new sig"
        if 0 < self.same < before:
            sig = f"{self.same}/{before} same sig"
        return f"{ordinal(self.count)} in {self.days}d, {sig}"


class Record(Protocol):
    # Told, from any thread, of a host whose note is ready (`host_note` returned None before).
    on_note: Callable[[str], None] | None

    def frames(self, key: str) -> Sequence[tuple[float, Task]]:
        """The task as the monitor saw it at each recorded transition, oldest first (empty when
        the record kept none). Reads the file: call it off the screen's thread."""
        ...

    def last_states(self, keys: Collection[str]) -> dict[str, tuple[str, float]]:
        """Each task's last recorded state and when it was last seen (tasks the record knows).
        Reads the file."""
        ...

    def host_history(self, host: str) -> list[PastFailure]:
        """Every recorded failure of `host` ("CLOUD:IP"), newest first. Reads the file."""
        ...

    def host_note(self, host: str, target: str, reason: str) -> HostNote | None:
        """What the record says of `host` failing in `target` now, from a cache: never reads the
        file here. None when it is not known yet (it is looked up off the screen's thread, then
        `on_note` is told) or the host failed in no other task."""
        ...

    def close(self) -> None:
        """The monitor quits: the reading thread stops."""
        ...
