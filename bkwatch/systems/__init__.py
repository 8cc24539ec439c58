"""One adapter per BlueKing system; `fetch_task` picks the right one for a target.

`fetch_task` is the one entry point of a poll: whatever an adapter raises leaves it as a
classified `BkError` whose text has the profile's secrets masked.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import TYPE_CHECKING

from bkwatch.errors import unexpected_error
from bkwatch.model import BkError, System, Task
from bkwatch.systems import bkflow, gsekit, job, nodeman, sops

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.targets import Target

__all__ = ["adapter", "fetch_task"]

_ADAPTERS: dict[System, ModuleType] = {
    System.JOB: job,
    System.SOPS: sops,
    System.BKFLOW: bkflow,
    System.NODEMAN: nodeman,
    System.GSEKIT: gsekit,
}
log = logging.getLogger(__name__)


def adapter(system: System) -> ModuleType:
    return _ADAPTERS[System(system)]


async def fetch_task(client: BkClient, target: Target) -> Task:
    """Every request one poll of `target` needs, as a unified Task. Raises model.BkError only."""
    try:
        return await adapter(target.system).fetch(client, target)
    except BkError as exc:
        safe = client.scrub(exc.message)  # an adapter may quote the server, which may echo a secret
        if safe != exc.message:
            exc.message, exc.args = safe, (safe,)
        raise
    except Exception as exc:  # an adapter bug: logged here, where the client can mask its text
        log.exception("poll of %s failed unexpectedly", target)
        raise unexpected_error(exc, client.scrub) from None
