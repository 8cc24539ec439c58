"""Task operations: declared once (`catalog`), chosen for a CLI verb (`choose`), sent safely
(`perform`), recorded (`audit`). The monitor and the CLI use only what is exported here.

Every name is imported when first used: `perform` brings the HTTP side, which the screen must not
reach, and `catalog` the systems' registry, whose systems declare their actions with
`action_spec` (importing this package first).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bkwatch.action_spec import find_node, find_step
    from bkwatch.actions.catalog import (
        ACTIONS,
        BY_ID,
        ActionSpec,
        Level,
        Offer,
        for_system,
        judge,
        offers,
        unreachable,
    )
    from bkwatch.actions.perform import Actor, Outcome, Plan, Result, enable_hint
    from bkwatch.actions.verbs import ChoiceError, choose

_WHERE = {
    **dict.fromkeys(
        ("ACTIONS", "BY_ID", "ActionSpec", "Level", "Offer", "for_system", "judge", "offers", "unreachable"),
        "bkwatch.actions.catalog",
    ),
    **dict.fromkeys(("ChoiceError", "choose"), "bkwatch.actions.verbs"),
    **dict.fromkeys(("Actor", "Outcome", "Plan", "Result", "enable_hint"), "bkwatch.actions.perform"),
    **dict.fromkeys(("find_node", "find_step"), "bkwatch.action_spec"),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)


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
]
