"""What SOPS and BKFlow share: bamboo-engine trees, their node states and operations."""

from __future__ import annotations

from bkwatch.evidence.base import find_node
from bkwatch.model import Task


def unit_done(task: Task, step: str | None, host: str | None, node: str | None) -> bool:
    found = find_node(task, node or "")
    return found is None or found.state.is_done
