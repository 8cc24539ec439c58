"""`SimParts`: what the BlueKing routes and the admin routes read of a `Simulator` (its world,
faults, traffic log and config), declared below both so that neither imports the simulator that
assembles them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .config import SimConfig
    from .faults import Faults
    from .traffic import Traffic
    from .world import World


class SimParts(Protocol):
    config: SimConfig
    world: World
    faults: Faults
    traffic: Traffic
