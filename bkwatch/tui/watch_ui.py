"""The watch list's keys in the monitor: `a` add (a task, or a scope to follow), `d` stop watching,
watching a task the server named (a SOPS node's JOB task); and the keys that find what fails in it:
`/` filter (escape closes it), `f` failures only, `n`/`N` next failure, `c`/`C` copy failing hosts.

A mixin of `BkWatchApp`: these act on the app's poller, store, panes and status line throughout.
The filter box's `@on` handlers stay on the app: Textual registers them only on classes its own
metaclass builds (the App's), not on a plain mixin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Input

from bkwatch.store import StoreError, WatchEntry
from bkwatch.targets import Target, TargetError, parse_target
from bkwatch.text import one_line
from bkwatch.tui.dialogs import AddDialog, ConfirmDialog
from bkwatch.tui.scope_port import ScopeRequest

if TYPE_CHECKING:
    from bkwatch.tui.app import BkWatchApp


class WatchListMixin:
    """The app's watch-list side; `self` is the `BkWatchApp`."""

    # ---- finding what fails: filter, failures only, next failure, copy -------------------
    def action_back(self: BkWatchApp) -> None:
        filt = self.query_one("#filter", Input)
        if filt.has_class("visible"):
            filt.value = ""
            self._apply_filter("")
            filt.remove_class("visible")
            self.joblist.focus()
            return
        self.joblist.focus()

    def action_next_failure(self: BkWatchApp, direction: int) -> None:
        key = self.detail.next_failure(direction)
        if key is None:
            self.notify(
                "Nothing failing here: no failing hosts, nodes or job tasks.", markup=False, timeout=3
            )
            return
        view = self.detail.main_view()
        if view is not None:
            view.focus()

    def action_failures_only(self: BkWatchApp) -> None:
        self.failures_only = not self.failures_only
        self.detail.set_filter(self.filter_text, self.failures_only)
        self._update_status()

    def action_filter(self: BkWatchApp) -> None:
        filt = self.query_one("#filter", Input)
        filt.add_class("visible")
        filt.focus()

    def _apply_filter(self: BkWatchApp, text: str) -> None:
        self.filter_text = text.strip()
        self.detail.set_filter(self.filter_text, self.failures_only)
        self._update_status()

    def action_copy(self: BkWatchApp, with_cloud: bool) -> None:
        ids, scope = self.detail.copy_ids(with_cloud)
        if not ids:
            self.notify("No failing hosts to copy here.", markup=False, timeout=3)
            return
        self.copy_to_clipboard("\n".join(ids) + "\n")
        what = "CLOUD:IP" if with_cloud else "IP"
        self.notify(f"Copied {len(ids)} failing host {what}s of this {scope}.", markup=False, timeout=4)

    # ---- adding and removing -------------------------------------------------------------
    def action_add(self: BkWatchApp) -> None:
        def done(result: tuple[Target | ScopeRequest, str | None] | None) -> None:
            if result is None:
                return
            target, label = result
            if isinstance(target, ScopeRequest):
                self._follow(target, label)
                return
            self.watch_target(target, label)

        scopes = self.scopes
        followed = scopes.scopes if scopes is not None else {}
        parse = scopes.parse if scopes is not None else None
        self.push_screen(
            AddDialog(lambda k: k in self.poller.watches or k in followed, parse, self.default_biz), done
        )

    def watch_target(self: BkWatchApp, target: Target, label: str | None = None) -> None:
        """Add `target` to the watch list, saved, selected and polled now."""
        key = str(target)
        if target.focus:
            self.focus_hints[key] = target.focus
        self.poller.add(target, label)
        try:
            self.store.add([WatchEntry(key, label, self.clock(), target.focus)], self.list_name)
        except (OSError, StoreError) as exc:
            self.notify(f"Watching, but could not save the list: {exc}", severity="warning", markup=False)
        self._report_store_warnings()
        self.joblist.sync(self.poller.watches, self.clock())
        self._select(key)
        self.poller.refresh(key)
        self._update_status()
        self.notify(f"Watching {key}", markup=False, timeout=3)

    def watch_key(self: BkWatchApp, key: str) -> None:
        """Watch a target named by the server (a SOPS node's JOB task), validated first."""
        if key in self.poller.watches:
            self.notify(f"Already watching {one_line(key)}", markup=False, timeout=3)
            return
        try:
            target = parse_target(key)
        except TargetError as exc:
            self.notify(f"Cannot watch {one_line(key)}: {one_line(exc)}", severity="warning", markup=False)
            return
        self.watch_target(target)

    def action_remove(self: BkWatchApp) -> None:
        if self._scope_remove():  # a scope's header or a task a scope found: scope_ui.py
            return
        key = self.selected
        if key is None:
            return

        def done(yes: bool | None) -> None:
            if not yes:
                return
            self.poller.remove(key)
            try:
                self.store.remove([key], self.list_name)
            except (OSError, StoreError) as exc:
                self.notify(f"Removed here, but the saved list is unchanged: {exc}", markup=False)
            self._report_store_warnings()
            self.history.last_seen.pop(key, None)
            self.joblist.sync(self.poller.watches, self.clock())
            self._select(self.joblist.cursor_key)
            self._update_status()
            self.notify(f"Stopped watching {key}", markup=False, timeout=3)

        self.push_screen(ConfirmDialog(f"Stop watching {self._title(key)} ({key})?"), done)
