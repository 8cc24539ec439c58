"""A host's or node's evidence, fetched by its system's adapter, as plain data (fact sheet §2.6,
§3.7, §4.3, §5.5, §10.2, §10.5), and the failure signatures of a whole task.

Everything here is fetched when asked for, never by a poll. `Evidence.raw_text` is the server's
text as sent (untrusted: show it through `LogBuffer` or `text.clean_text`); `fields` are already
cleaned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bkwatch.evidence.base import Chunk, Evidence
from bkwatch.evidence.signatures import Signatures
from bkwatch.model import Task
from bkwatch.systems.adapters import adapter
from bkwatch.targets import parse_target

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.target import Target

__all__ = ["Chunk", "Evidence", "fetch_evidence", "fetch_many", "task_signatures"]


async def fetch_evidence(
    client: BkClient, task: Task, *, step: str | None = None, host: str | None = None, node: str | None = None
) -> Evidence:
    """The evidence of one host (JOB, NodeMan, GSEKit job task by id or host) or node (SOPS, BKFlow)."""
    return await adapter(task.system).evidence(client, task, parse_target(task.target), step, host, node)


async def fetch_many(
    client: BkClient, target: Target, task: Task, wanted: list[dict[str, str | None]]
) -> list[Evidence] | None:
    """Many units' evidence in as few calls as the system allows ({step, host, node} each); None
    where the system has no batch API (then ask `fetch_evidence` for each)."""
    batch = adapter(task.system).evidence_batch
    return None if batch is None else await batch(client, target, task, wanted)


async def task_signatures(
    client: BkClient, target: Target, task: Task, step_id: str | None = None
) -> Signatures:
    """The failure signatures of a task in any system."""
    return await adapter(task.system).signatures(client, target, task, step_id)
