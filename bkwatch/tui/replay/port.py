"""What the screen reads of the record, as a Protocol the wiring (`cli/record_view.py`)
implements: the screen never opens the record's file itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


class Record(Protocol):
    # Told, from any thread, of a host whose note is ready (`host_note` returned None before).
    on_note: Callable[[str], None] | None

    def frames(self, key: str) -> Sequence[tuple[float, Task]]:
        """The task as the monitor saw it at each recorded transition, oldest first (empty when
        the record kept none). Reads the file: call it off the screen's thread."""
        ...

    def host_history(self, host: str) -> list[PastFailure]:
        """Every recorded failure of `host` ("CLOUD:IP"), newest first. Reads the file."""
        ...

    def host_note(self, host: str, target: str, reason: str) -> str | None:
        """What the record says of `host` failing in `target` now ("3rd failure in 7 days, same
        signature"), from a cache: never reads the file here. None when it is not known yet (it
        is looked up off the screen's thread, then `on_note` is told) or there is nothing to say."""
        ...

    def close(self) -> None:
        """The monitor quits: the reading thread stops."""
        ...
