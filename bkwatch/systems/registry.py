"""The one place that lists BlueKing systems: each system's traits, by `System`.

Everything outside `systems/` asks here (or `systems.adapters` for the HTTP side) and never
branches on which system it is. Adding a system: docs/architecture.md, "Adding a system".
"""

from __future__ import annotations

from bkwatch.model import System
from bkwatch.systems.bkflow.traits import TRAITS as BKFLOW
from bkwatch.systems.gsekit.traits import TRAITS as GSEKIT
from bkwatch.systems.job.traits import TRAITS as JOB
from bkwatch.systems.nodeman.traits import TRAITS as NODEMAN
from bkwatch.systems.sops.traits import TRAITS as SOPS
from bkwatch.systems.traits import SystemTraits, UrlMatcher

__all__ = ["ALL", "URL_MATCHERS", "traits"]

ALL: tuple[SystemTraits, ...] = (JOB, SOPS, BKFLOW, NODEMAN, GSEKIT)
_BY_SYSTEM: dict[System, SystemTraits] = {t.system: t for t in ALL}
# NodeMan first: its hash routes must win over whatever path a site prefix carries.
URL_MATCHERS: tuple[UrlMatcher, ...] = tuple(
    t.match_url for t in (NODEMAN, JOB, SOPS, BKFLOW, GSEKIT) if t.match_url is not None
)


def traits(system: System | str) -> SystemTraits:
    return _BY_SYSTEM[System(system)]
