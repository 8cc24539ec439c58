"""One host's or node's log kept open for follow mode: only what was added is handed on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bkwatch.evidence.base import Chunk, Evidence
from bkwatch.evidence.fetch import fetch_evidence
from bkwatch.model import Task
from bkwatch.systems.adapters import adapter
from bkwatch.systems.registry import traits
from bkwatch.targets import parse_target

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.target import Target


class LogSource:
    """One host's or node's log kept open: `open()` first, then `more()` for what was added.

    `update(task)` hands it the task's latest poll, so it knows when its host or node is done.
    A system whose logs come in pages (SOPS) gives a pager, and only new pages are asked for;
    the others answer whole logs, and only the new tail is handed on.
    """

    def __init__(
        self,
        client: BkClient,
        task: Task,
        *,
        step: str | None = None,
        host: str | None = None,
        node: str | None = None,
    ) -> None:
        self.client, self.task = client, task
        self.step_id, self.host_key, self.node_id = step, host, node
        self._seen = 0  # characters of a whole-log answer already handed on
        make_pager = adapter(task.system).log_pager
        self._pager = make_pager() if make_pager is not None else None
        self.evidence: Evidence | None = None

    def update(self, task: Task) -> None:
        self.task = task

    @property
    def target(self) -> Target:
        return parse_target(self.task.target)

    def is_done(self) -> bool:
        return traits(self.task.system).unit_done(self.task, self.step_id, self.host_key, self.node_id)

    async def open(self) -> Evidence:
        ev = await fetch_evidence(
            self.client, self.task, step=self.step_id, host=self.host_key, node=self.node_id
        )
        self.adopt(ev)
        return ev

    def adopt(self, ev: Evidence) -> None:
        """Follow on from evidence already fetched (e.g. by a batch): the cursor starts at its end."""
        self.evidence = ev
        self._seen = len(ev.raw_text)
        if self._pager is not None:
            self._pager.adopt(ev)

    async def more(self) -> Chunk:
        done = self.is_done()
        if self._pager is not None:
            chunk = await self._pager.more(self.client, self.target, self.node_id or "", self._seen, done)
            self._seen += len(chunk.text)
            return chunk
        ev = await fetch_evidence(
            self.client, self.task, step=self.step_id, host=self.host_key, node=self.node_id
        )
        text = ev.raw_text
        if len(text) < self._seen:
            self._seen = len(text)
            return Chunk(text, reset=True, done=done)
        new, self._seen = text[self._seen :], len(text)
        return Chunk(new, done=done)
