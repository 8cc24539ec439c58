"""What the screen may see of followed scopes and ask of them, as Protocols.

Discovery talks to the list APIs, so it lives on the client side of the import rules; the wiring
(`cli/scope_wiring.py`) hands the app an object of the `Scopes` shape, and the screen only reads
`ScopeView`-like data and asks for add, remove and dismiss through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bkwatch.model import BkError

SCOPE_HEADER = "\x00s:"  # job list keys of scope headers: never a task key


def header_key(scope: str) -> str:
    return SCOPE_HEADER + scope


def scope_of_header(key: str | None) -> str | None:
    """The scope a job list key heads, or None for a task's key."""
    if key is not None and key.startswith(SCOPE_HEADER):
        return key[len(SCOPE_HEADER) :]
    return None


class ScopeView(Protocol):
    """A followed scope as a header row draws it (discovery's `ScopeWatch` has this shape)."""

    label: str | None
    options: Any
    held: Mapping[str, Any]
    waiting: Mapping[str, Any]
    cap_reached: bool
    last_ok: float | None
    rounds: int

    @property
    def key(self) -> str: ...

    @property
    def problem(self) -> BkError | None: ...


class SinceView(Protocol):
    scope: str
    started: list[str]
    finished: list[str]
    failed: list[str]

    def lines(self, title: Callable[[str], str] = str) -> list[str]: ...


@dataclass(frozen=True)
class ScopeRequest:
    """A scope typed in the add dialog, checked: its canonical text and options (opaque here)."""

    scope: str
    options: Any
    summary: str = ""  # the options as flags, "" for the defaults


class Scopes(Protocol):
    """Followed scopes as the monitor uses them."""

    @property
    def scopes(self) -> Mapping[str, ScopeView]: ...

    def set_on_change(self, callback: Callable[[], None]) -> None: ...

    def load(self) -> list[str]:
        """Follow the saved scopes and take back the last run; a message per scope refused."""
        ...

    async def run(self) -> None:
        """Discovery rounds and batch reads, forever."""
        ...

    def parse(self, text: str) -> ScopeRequest | None:
        """A scope with its options (`sops:2 --mine --since 4h`); None when `text` is not a
        scope; ValueError with the reason when it is one that cannot be followed."""
        ...

    def add(self, request: ScopeRequest, label: str | None) -> str:
        """Follow and save; returns the scope's key. Raises ValueError with the reason."""
        ...

    def remove(self, key: str) -> int:
        """Stop following (and unsave); returns how many tasks left with it."""
        ...

    def dismiss(self, task_key: str) -> bool:
        """Drop a task a scope found, for good; False for a task added by hand."""
        ...

    def save(self, *, dismissed: bool = False) -> None:
        """What the next run needs (raises OSError or StoreError)."""
        ...

    def settled(self) -> bool: ...

    def since_last_time(self) -> list[SinceView]: ...

    def describe(self, key: str) -> str:
        """The scope's options as flags ("" for the defaults)."""
        ...
