"""The watch list's side of the monitor: `a` add (a task, or a scope to follow), `d` stop watching,
watching a task the server named (a SOPS node's JOB task); and the keys that find what fails in it:
`/` filter of the pane that has focus (escape closes it), `f` failures only, `n`/`N` next failure,
`c`/`C` copy failing hosts.

`WatchList` is a controller the app holds as `app.watchlist`: it owns the filter and the
failures-only switch, and reaches the app only through its public parts (poller, store, panes,
`select`, `update_status`). The app's `action_*` methods and the filter box's events delegate here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Input

from bkwatch.model import failing_count
from bkwatch.store import StoreError, WatchEntry
from bkwatch.systems.registry import traits
from bkwatch.targets import Target, TargetError, parse_target
from bkwatch.text import one_line
from bkwatch.tui.dialogs.dialogs import AddDialog, RemoveDialog
from bkwatch.tui.drilldown.detail import READING
from bkwatch.tui.watchlist.scope_port import ScopeRequest

if TYPE_CHECKING:
    from bkwatch.tui.app_port import MonitorApp


class WatchList:
    """Adding and removing watched tasks, and finding what fails among them."""

    def __init__(self, app: MonitorApp) -> None:
        self.app = app
        self.filter_text = ""  # what the filter box holds, trimmed
        self.filter_on_jobs = False  # `/` was pressed on the job list: it filters tasks
        self.failures_only = False

    @property
    def filter_box(self) -> Input:
        return self.app.query_one("#filter", Input)

    # ---- finding what fails: filter, failures only, next failure, copy -------------------
    def back(self) -> None:
        """Escape: clear the filter (open or kept); back to the job list."""
        if self._filtering():
            filt = self.filter_box
            filt.value = ""
            self.apply_filter("")
            filt.remove_class("visible")
        self.app.joblist.focus()

    def can_go_back(self) -> bool:
        """Escape has somewhere to go: a filter is open or kept, or the focus is off the job list."""
        return self._filtering() or not self.app.joblist.has_focus

    def _filtering(self) -> bool:
        """A filter is open (being typed) or kept."""
        return self.filter_box.has_class("visible") or bool(self.filter_text)

    def next_failure(self, direction: int) -> None:
        app = self.app
        shown = app.detail.shown
        if shown is not None and shown.summary is not None:
            app.notify(READING, markup=False, timeout=3)
            return
        key = app.detail.next_failure(direction)
        if key is None:
            app.notify("Nothing failing here: no failing hosts, nodes or job tasks.", markup=False, timeout=3)
            return
        view = app.detail.main_view()
        if view is not None:
            view.focus()

    def toggle_failures_only(self) -> None:
        self.failures_only = not self.failures_only
        self.app.detail.set_filter(self.detail_filter, self.failures_only)
        self.app.update_status()
        task = self.app.detail.shown
        if self.failures_only and task is not None and not failing_count(task):
            member = traits(task.system).member
            self.app.notify(f"No failing {member}s here — f to show all.", markup=False, timeout=4)

    @property
    def detail_filter(self) -> str:
        return "" if self.filter_on_jobs else self.filter_text

    def open_filter(self) -> None:
        """`/`: filter the pane that has focus — the job list, or the task's hosts / nodes."""
        app = self.app
        on_jobs = app.joblist.has_focus
        if on_jobs != self.filter_on_jobs and self.filter_text:
            self.filter_box.value = ""  # the other pane's filter goes: one filter at a time
            self.apply_filter("")
        self.filter_on_jobs = on_jobs
        filt = self.filter_box
        filt.placeholder = (
            "filter tasks: target, name or label (enter to keep, escape to clear)"
            if on_jobs
            else "filter: IP, host, node name or message (enter to keep, escape to clear)"
        )
        filt.add_class("visible")
        filt.focus()

    def apply_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        app = self.app
        if self.filter_on_jobs:
            app.joblist.filter_text = self.filter_text.lower()
            app.joblist.sync(app.poller.watches, app.clock())
        else:
            app.detail.set_filter(self.filter_text, self.failures_only)
        app.update_status()

    def filter_submitted(self) -> None:
        """Enter in the filter box: keep the filter and close the box (its three rows are the
        pane's at 80x24; the pane's title and the status line say the filter, `/` edits it)."""
        self.filter_box.remove_class("visible")
        view = None if self.filter_on_jobs else self.app.detail.main_view()
        (view or self.app.joblist).focus()

    def copy_failing(self, with_cloud: bool) -> None:
        app = self.app
        ids, scope = app.detail.copy_ids(with_cloud)
        if not ids:
            app.notify("No failing hosts to copy here.", markup=False, timeout=3)
            return
        app.copy_to_clipboard("\n".join(ids) + "\n")
        what = "CLOUD:IP" if with_cloud else "IP"
        app.notify(f"Copied {len(ids)} failing host {what}s of this {scope}.", markup=False, timeout=4)

    # ---- the saved list -------------------------------------------------------------------
    def load(self) -> list[WatchEntry]:
        """At start-up: the saved list (and the last-seen states); empty when unreadable."""
        app = self.app
        try:
            entries = app.store.load(app.list_name)
            app.history.load()
        except (OSError, StoreError) as exc:
            app.notify(f"Could not read the watch list: {one_line(exc)}", severity="error", markup=False)
            return []
        return entries

    def restore(self, entries: list[WatchEntry]) -> None:
        """At start-up: the saved tasks watched, with where their pasted URLs pointed."""
        app = self.app
        for entry in entries:
            if entry.target in app.poller.watches:
                continue
            if entry.focus:
                app.focus_hints[entry.target] = entry.focus
            try:
                app.poller.add(parse_target(entry.target), entry.label)
            except TargetError as exc:
                app.log_view.note_lines([f"skipped {entry.target}: {exc}"])

    # ---- adding and removing -------------------------------------------------------------
    def add(self) -> None:
        """`a`: the add dialog; a task is watched, a scope followed."""
        app = self.app
        scopes = app.scopes_ui

        def done(result: tuple[Target | ScopeRequest, str | None] | None) -> None:
            if result is None:
                return
            target, label = result
            if isinstance(target, ScopeRequest):
                scopes.follow(target, label)
                return
            self.watch_target(target, label)

        followed = scopes.followed

        def known(key: str) -> bool:
            """Followed, or watched by any form of the task (a project URL for `sops:2:ID`)."""
            if key in followed or key in app.poller.watches:
                return True
            try:
                return app.poller.find(parse_target(key)) is not None
            except TargetError:
                return False

        app.push_screen(AddDialog(known, scopes.parse, app.default_biz), done)

    def watch_target(self, target: Target, label: str | None = None) -> None:
        """Add `target` to the watch list, saved, selected and polled now."""
        app = self.app
        # The same task reached another way (a URL for a followed scope's task) is one watch.
        key = app.poller.add(target, label).key
        if target.focus:
            app.focus_hints[key] = target.focus
        try:
            app.store.add([WatchEntry(str(target), label, app.clock(), target.focus)], app.list_name)
        except (OSError, StoreError) as exc:
            app.notify(f"Watching, but could not save the list: {exc}", severity="warning", markup=False)
        app.report_store_warnings()
        app.joblist.sync(app.poller.watches, app.clock())
        app.select(key)
        app.poller.refresh(key)
        app.update_status()
        app.notify(f"Watching {key}", markup=False, timeout=3)

    def watch_key(self, key: str) -> None:
        """Watch a target named by the server (a SOPS node's JOB task), validated first."""
        app = self.app
        if key in app.poller.watches:
            app.notify(f"Already watching {one_line(key)}", markup=False, timeout=3)
            return
        try:
            target = parse_target(key)
        except TargetError as exc:
            app.notify(f"Cannot watch {one_line(key)}: {one_line(exc)}", severity="warning", markup=False)
            return
        self.watch_target(target)

    def remove(self) -> None:
        """`d`: a scope's header or a task a scope found go to the scopes; a hand-added task
        leaves the list once confirmed."""
        app = self.app
        if app.scopes_ui.remove_selected():
            return
        key = app.selected
        if key is None:
            return

        def done(yes: bool | None) -> None:
            if not yes:
                return
            app.poller.remove(key)
            try:
                app.store.remove([key], app.list_name)
            except (OSError, StoreError) as exc:
                app.notify(f"Removed here, but the saved list is unchanged: {exc}", markup=False)
            app.report_store_warnings()
            app.history.forget(key)
            app.joblist.sync(app.poller.watches, app.clock())
            app.select(app.joblist.cursor_key)
            app.update_status()
            app.notify(f"Stopped watching {key}", markup=False, timeout=3)

        app.push_screen(RemoveDialog(app.title_of(key), key), done)
