"""One host's or node's log kept open for follow mode: only what was added is handed on.

Generic: what to fetch, when the unit is done and how a paged log is read again are the
system's, handed in by `systems.adapters.open_log`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bkwatch.evidence.base import Chunk, Evidence
from bkwatch.model import Task


class LogPager(Protocol):
    """A log that comes in pages (SOPS): follows on from evidence, then asks only for new pages."""

    def adopt(self, ev: Evidence) -> None: ...

    async def more(self, client: Any, target: Any, node: str, seen: int, done: bool) -> Chunk: ...


class LogSource:
    """One host's or node's log kept open: `open()` first, then `more()` for what was added.

    `update(task)` hands it the task's latest poll, so it knows when its host or node is done.
    A system whose logs come in pages gives a pager, and only new pages are asked for; the others
    answer whole logs, and only the new tail is handed on.
    """

    def __init__(
        self,
        client: Any,
        task: Task,
        *,
        fetch: Callable[[Task], Awaitable[Evidence]],
        unit_done: Callable[[Task], bool],
        target: Any,
        pager: LogPager | None = None,
        step: str | None = None,
        host: str | None = None,
        node: str | None = None,
    ) -> None:
        self.client, self.task, self.target = client, task, target
        self.step_id, self.host_key, self.node_id = step, host, node
        self._fetch, self._unit_done, self._pager = fetch, unit_done, pager
        self._seen = 0  # characters of a whole-log answer already handed on
        self.evidence: Evidence | None = None

    def update(self, task: Task) -> None:
        self.task = task

    def is_done(self) -> bool:
        return self._unit_done(self.task)

    async def open(self) -> Evidence:
        ev = await self._fetch(self.task)
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
        text = (await self._fetch(self.task)).raw_text
        if len(text) < self._seen:
            self._seen = len(text)
            return Chunk(text, reset=True, done=done)
        new, self._seen = text[self._seen :], len(text)
        return Chunk(new, done=done)
