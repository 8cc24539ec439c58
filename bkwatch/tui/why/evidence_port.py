"""What the screen needs to show evidence, as Protocols: the wiring (`cli/run.py`, `cli/demo.py`)
passes in an object that fetches with the HTTP client, so the screen never imports it.

`LogFeed` is what `bkwatch.evidence.follow.LogSource` offers; `SignatureReport` what
`bkwatch.evidence.signatures.Signatures` holds. `Evidence` and `Chunk` are plain data from a
client-free module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bkwatch.evidence.base import Chunk, Evidence
from bkwatch.model import Task


class LogFeed(Protocol):
    """One host's or node's log kept open: `open()` once, then `more()` after each poll."""

    def update(self, task: Task) -> None: ...
    async def open(self) -> Evidence: ...
    async def more(self) -> Chunk: ...


class ClusterLike(Protocol):
    signature: str
    sample: str
    members: list[str]  # "CLOUD:IP" host keys, GSEKit task ids or pipeline node ids
    steps: list[str]

    @property
    def count(self) -> int: ...


class SignatureReport(Protocol):
    clusters: Sequence[ClusterLike]
    read: int
    unread: int
    unread_reasons: dict[str, int]


class EvidenceSource(Protocol):
    """Opens logs and computes failure signatures for the screen (fetched only when asked)."""

    async def log(
        self, task: Task, *, step: str | None = None, host: str | None = None, node: str | None = None
    ) -> LogFeed: ...

    async def signatures(self, task: Task, step_id: str | None = None) -> SignatureReport: ...
