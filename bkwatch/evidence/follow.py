"""One host's or node's log kept open for follow mode: only what was added is handed on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bkwatch.evidence.base import Chunk, Evidence, find_node, job_unit
from bkwatch.evidence.fetch import fetch_evidence
from bkwatch.evidence.pipeline import SOPS_LOG_PAGE, sops_log_page, sops_node_detail
from bkwatch.model import System, Task

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.targets import Target


class LogSource:
    """One host's or node's log kept open: `open()` first, then `more()` for what was added.

    `update(task)` hands it the task's latest poll, so it knows when its host or node is done.
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
        self._page = 1  # SOPS: last page read and how much of it
        self._page_seen = 0
        self._version = ""
        self.evidence: Evidence | None = None

    def update(self, task: Task) -> None:
        self.task = task

    @property
    def target(self) -> Target:
        from bkwatch.targets import parse_target

        return parse_target(self.task.target)

    def is_done(self) -> bool:
        t = self.task
        if t.system is System.JOB:
            return job_unit(t, self.step_id, self.host_key)[1].state.is_done
        if t.system is System.NODEMAN:
            return t.hosts[self.host_key].state.is_done if self.host_key in t.hosts else True
        if t.system is System.GSEKIT:
            return True
        node = find_node(t, self.node_id or "")
        return node is None or node.state.is_done

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
        if self.task.system is System.SOPS:
            self._version = ev.fields.get("version", "")
            lines = ev.raw_text.split("\n") if ev.raw_text else []
            self._page = max(1, (len(lines) + SOPS_LOG_PAGE - 1) // SOPS_LOG_PAGE)
            self._page_seen = len("\n".join(lines[(self._page - 1) * SOPS_LOG_PAGE :]))

    async def more(self) -> Chunk:
        done = self.is_done()
        if self.task.system is System.SOPS:
            return await self._sops_more(done)
        ev = await fetch_evidence(
            self.client, self.task, step=self.step_id, host=self.host_key, node=self.node_id
        )
        text = ev.raw_text
        if len(text) < self._seen:
            self._seen = len(text)
            return Chunk(text, reset=True, done=done)
        new, self._seen = text[self._seen :], len(text)
        return Chunk(new, done=done)

    async def _sops_more(self, done: bool) -> Chunk:
        """Only the last page read and the pages after it are asked for."""
        target, node = self.target, self.node_id or ""
        if not self._version:
            self._version = str((await sops_node_detail(self.client, target, node)).get("version") or "")
        parts = []
        text = await sops_log_page(self.client, target, node, self._version, self._page)
        if len(text) > self._page_seen:
            parts.append(("\n" if self._seen and not self._page_seen else "") + text[self._page_seen :])
            self._page_seen = len(text)
        while text.count("\n") + 1 >= SOPS_LOG_PAGE:
            text = await sops_log_page(self.client, target, node, self._version, self._page + 1)
            if not text:
                break
            self._page += 1
            parts.append("\n" + text)
            self._page_seen = len(text)
        new = "".join(parts)
        self._seen += len(new)
        return Chunk(new, done=done)
