"""Task operations: declared once (`catalog`), chosen for a CLI verb (`choose`), sent safely
(`perform`), recorded (`audit`). The monitor and the CLI use only what is exported here.

`perform` (and with it the HTTP side) is imported only when one of its names is first used, so
the screen can read the catalog (`bkwatch.actions.catalog`) without reaching the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bkwatch.actions.catalog import (
    ACTIONS,
    BY_ID,
    ActionSpec,
    Level,
    Offer,
    find_node,
    find_step,
    for_system,
    judge,
    offers,
    unreachable,
    web_page,
)
from bkwatch.actions.choose import ChoiceError, choose

if TYPE_CHECKING:
    from bkwatch.actions.perform import Actor, Outcome, Plan, Result, enable_hint

_FROM_PERFORM = frozenset({"Actor", "Outcome", "Plan", "Result", "enable_hint"})


def __getattr__(name: str) -> Any:
    if name in _FROM_PERFORM:
        from bkwatch.actions import perform

        return getattr(perform, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACTIONS",
    "BY_ID",
    "ActionSpec",
    "Actor",
    "ChoiceError",
    "Level",
    "Offer",
    "Outcome",
    "Plan",
    "Result",
    "choose",
    "enable_hint",
    "find_node",
    "find_step",
    "for_system",
    "judge",
    "offers",
    "unreachable",
    "web_page",
]
