"""`l` and `w`: what the cursor of the drill-down points at, opened as evidence or signatures.

`EvidenceViews`, a controller the app holds as `app.evidence_ui`, owns the injected
`EvidenceSource`: it reads the drill-down's cursor (host, node, job task, step) and pushes
`LogScreen` / `SignaturesScreen` with it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bkwatch.model import Task
from bkwatch.systems.registry import traits
from bkwatch.systems.traits import View
from bkwatch.tui.drilldown.detail import READING
from bkwatch.tui.drilldown.grouped import GroupedView

if TYPE_CHECKING:
    from bkwatch.tui.app_port import MonitorApp
    from bkwatch.tui.why.evidence_port import EvidenceSource


@dataclass(frozen=True)
class Pick:
    task: Task
    key: str  # the watch's key
    step: str | None = None
    host: str | None = None
    node: str | None = None

    @property
    def what(self) -> str:
        if self.node is not None:
            return f"{traits(self.task.system).member} {self.node}"
        return f"host {self.host}" + (f" (step {self.step})" if self.step else "")


def _cursor_item(view: GroupedView) -> str | None:
    """The row under the cursor; on a group's header, the group's first member."""
    line = view.cursor_line
    if line is None:
        return None
    if line.header:
        members = view.members(line.data)
        return members[0] if members else None
    return line.key


class EvidenceViews:
    """`l` and `w` from the main screen, and the open logs told of each poll; the app holds it
    as `app.evidence_ui`. `source` is None when evidence is not offered (the keys then say so)."""

    def __init__(self, app: MonitorApp, source: EvidenceSource | None) -> None:
        self.app = app
        self.source = source

    def pick(self) -> Pick | str:
        """The host / node / job task under the drill-down's cursor, or why there is none."""
        detail = self.app.detail
        task = detail.shown
        if task is None or detail.key is None:
            return "Select a task first."
        if task.summary is not None:
            return READING
        view = traits(task.system).view
        if view is View.STEPS:
            key = _cursor_item(detail.job.hosts_view)
            if key is None or detail.job.step_id is None:
                return "No host here: choose a step with hosts."
            return Pick(task, detail.key, step=detail.job.step_id, host=key)
        if view is View.HOSTS:
            key = _cursor_item(detail.nodeman)
            return Pick(task, detail.key, host=key) if key else "No host here."
        if view is View.JOB_TASKS:
            key = _cursor_item(detail.gsekit)
            return Pick(task, detail.key, node=key) if key else "No task rows here (see the counts)."
        node = detail.pipeline.cursor_id
        if node is None or task.root is None or node == task.root.id:
            return "Put the cursor on a node."
        return Pick(task, detail.key, node=node)

    def open_log(self) -> None:
        """`l`: the log and details of what is under the cursor."""
        app = self.app
        if self.source is None:
            app.notify("Logs are not available here.", markup=False, timeout=3)
            return
        chosen = self.pick()
        if isinstance(chosen, str):
            app.notify(chosen, markup=False, timeout=3)
            return

        def current() -> Task | None:
            watch = app.poller.watches.get(chosen.key)
            return watch.task if watch is not None else None

        from bkwatch.tui.why.logview import LogScreen  # lazy: the log view is not needed to start

        app.push_screen(
            LogScreen(
                self.source,
                chosen.task,
                title=f"{app.title_of(chosen.key)} · {chosen.what}",
                step=chosen.step,
                host=chosen.host,
                node=chosen.node,
                current_task=current,
                on_watch=app.watchlist.watch_key,
                watch_key=chosen.key,
            )
        )

    def open_signatures(self) -> None:
        """`w`: the failing hosts / nodes of the task shown, grouped by what their logs say."""
        app = self.app
        if self.source is None:
            app.notify("Failure signatures are not available here.", markup=False, timeout=3)
            return
        detail = app.detail
        task = detail.shown
        if task is None or detail.key is None:
            app.notify("Select a task first.", markup=False, timeout=3)
            return
        if task.summary is not None:
            app.notify(READING, markup=False, timeout=3)
            return
        # On a JOB task's drill-down: its current step; from the job list: every step.
        steps = traits(task.system).view is View.STEPS
        step = detail.job.step_id if steps and not app.joblist.has_focus else None
        where = f" · step {step}" if step else ""
        from bkwatch.tui.why.sigview import SignaturesScreen  # lazy: as the log view

        app.push_screen(
            SignaturesScreen(
                self.source,
                task,
                title=f"Failure signatures · {app.title_of(detail.key)}{where}",
                step=step,
                copy=app.copy_to_clipboard,
            )
        )

    def polled(self, key: str, task: Task | None) -> None:
        """A poll of `key` arrived: an open log of that task may follow it."""
        logview = sys.modules.get("bkwatch.tui.why.logview")
        if logview is None:  # no log view was ever opened
            return
        for screen in self.app.screen_stack:
            if isinstance(screen, logview.LogScreen) and screen.watch_key == key:
                screen.task_polled(task)
