"""The monitor's keys on the record (`app.record_ui`): `R` replays the selected task, `H` opens the
past of the host under the cursor, and a failing host's line tells when it failed before. The
record is read off the screen's thread; a host's note comes from the `Record`'s cache and its
line is drawn again when the note arrives."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from bkwatch.model import Host
from bkwatch.tui.drilldown.grouped import GroupedView
from bkwatch.tui.drilldown.kinds import HostKind

if TYPE_CHECKING:
    from bkwatch.tui.app_port import MonitorApp
    from bkwatch.tui.replay.port import HostNote, Record


class RecordUi:
    def __init__(self, app: MonitorApp, record: Record | None) -> None:
        self.app = app
        self.record = record

    def mount(self) -> None:
        if self.record is None:
            return
        self.record.on_note = self._note_ready
        for view in self.app.detail.grouped_views():
            if isinstance(view.kind, HostKind):
                view.kind.past = self.note

    def close(self) -> None:
        if self.record is not None:
            self.record.on_note = None
            self.record.close()

    def note(self, host: Host) -> HostNote | None:
        """The record's word on a failing host of the selected task (None until it is known)."""
        if self.record is None or self.app.selected is None:
            return None
        return self.record.host_note(host.key, self.app.selected, host.error_text or host.status_text)

    def _note_ready(self, host: str) -> None:  # any thread
        app = self.app
        if not app.is_running:
            return
        try:
            app.call_from_thread(self.redraw, host)
        except RuntimeError:  # already on the screen's thread
            self.redraw(host)

    def redraw(self, host: str) -> None:
        if not self.app.is_running:
            return
        detail = self.app.detail
        for view in detail.grouped_views():
            view.redraw_rows({host})
        view = detail.main_view()
        if isinstance(view, GroupedView) and view.cursor_key == host and isinstance(view.kind, HostKind):
            item = view.items.get(host)
            if isinstance(item, Host):
                detail.info.show(view.kind.detail(item))

    def _off(self) -> bool:
        if self.record is None:
            self.app.notify("The record is off (--no-record).", severity="warning", timeout=5)
            return True
        return False

    # ---- R ------------------------------------------------------------------------------
    def open_replay(self) -> None:
        key = self.app.selected
        watch = self.app.poller.watches.get(key) if key else None
        if self._off() or key is None or watch is None:
            return
        self.app.run_worker(partial(self._replay, key, watch.label), group="replay", exit_on_error=False)

    async def _replay(self, key: str, label: str | None) -> None:
        assert self.record is not None
        frames = await asyncio.to_thread(self.record.frames, key)
        if not frames:
            self.app.notify("Nothing recorded of this task yet.", timeout=5)
            return
        if self.app.is_running:
            from bkwatch.tui.replay.screen import ReplayScreen  # lazy: not needed to start

            self.app.push_screen(ReplayScreen(key, frames, label=label, ascii_only=self.app.ascii_only))

    # ---- H ------------------------------------------------------------------------------
    def open_host(self) -> None:
        host = self._host_under_cursor()
        if self._off():
            return
        if host is None:
            self.app.notify("Put the cursor on a host first.", timeout=3)
            return
        self.app.run_worker(partial(self._host, host), group="host-past", exit_on_error=False)

    async def _host(self, host: str) -> None:
        assert self.record is not None
        past = await asyncio.to_thread(self.record.host_history, host)
        if self.app.is_running:
            from bkwatch.tui.replay.hosts import HostHistoryScreen  # lazy: as the replay

            self.app.push_screen(HostHistoryScreen(host, past))

    def _host_under_cursor(self) -> str | None:
        view = self.app.detail.main_view()
        for grouped in self.app.detail.grouped_views():
            if grouped is view:
                key = grouped.cursor_key
                item = grouped.items.get(key) if key else None
                return item.key if isinstance(item, Host) else None
        return None
