"""Task operations: declared once (`catalog`), chosen for a CLI verb (`choose`), sent safely
(`perform`), recorded (`audit`). The monitor and the CLI use only what is exported here."""

from __future__ import annotations

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
from bkwatch.actions.perform import Actor, Outcome, Plan, Result, enable_hint

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
