"""One adapter per BlueKing system; `fetch_task` picks the right one for a target."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from bkwatch.model import System, Task

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.targets import Target

__all__ = ["adapter", "fetch_task"]

# Imported on first use: client.py imports systems.common, and the adapters import client.py.
_MODULES = {
    System.JOB: "bkwatch.systems.job",
    System.SOPS: "bkwatch.systems.sops",
    System.BKFLOW: "bkwatch.systems.bkflow",
    System.NODEMAN: "bkwatch.systems.nodeman",
    System.GSEKIT: "bkwatch.systems.gsekit",
}


def adapter(system: System) -> ModuleType:
    return importlib.import_module(_MODULES[System(system)])


async def fetch_task(client: BkClient, target: Target) -> Task:
    """Every request one poll of `target` needs, as a unified Task. Raises model.BkError."""
    return await adapter(target.system).fetch(client, target)
