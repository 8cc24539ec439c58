"""Followed scopes in the monitor: discovery's worker, the job list's headers kept current, `d`
to dismiss a found task or stop following a scope, folding, following from the add dialog, the
scopes' "since last time", and saving what the next run needs.

A mixin of `BkWatchApp` (app.py holds only the hooks), reaching discovery through the `Scopes`
shape the wiring hands over (`scope_port.py`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.css.query import NoMatches
from textual.message import Message

from bkwatch.store import StoreError
from bkwatch.text import one_line
from bkwatch.tui.dialogs import ConfirmDialog
from bkwatch.tui.fmt import age
from bkwatch.tui.scope_header import render_header
from bkwatch.tui.scope_port import header_key, scope_of_header
from bkwatch.tui.throttle import Throttle

if TYPE_CHECKING:
    from bkwatch.poller import PollUpdate
    from bkwatch.tui.app import BkWatchApp
    from bkwatch.tui.scope_port import ScopeRequest, Scopes

SAVE_SCOPES_EVERY = 30.0  # seconds between saves of what the scopes hold (and on exit)


class ScopesChanged(Message):
    """A discovery round, error or dismiss changed a scope."""


class ScopeMixin:
    """The app's scope side; `self` is the `BkWatchApp`."""

    scopes: Scopes | None

    def _init_scopes(self: BkWatchApp, scopes: Scopes | None) -> None:
        self.scopes = scopes
        self._scopes_posted = False
        self._scope_since_pending = False
        self._scopes_dirty = False
        self._scope_save = Throttle(SAVE_SCOPES_EVERY, self._flush_scopes, self.set_timer)

    def _mount_scopes(self: BkWatchApp) -> None:
        """Follow the saved scopes once the screen has painted: discovery brings the HTTP side
        with it, which must not delay the first frame (the poller's first fetch does the same)."""
        if self.scopes is not None:
            self.call_after_refresh(self._load_scopes)

    def _load_scopes(self: BkWatchApp) -> None:
        scopes = self.scopes
        if scopes is None or not self.is_running:
            return
        scopes.set_on_change(self._scopes_changed_soon)
        try:
            problems = scopes.load()
        except (OSError, StoreError) as exc:
            problems = [f"could not read the followed scopes: {exc}"]
        for problem in problems:
            self._warn(f"not following {problem}")
        self._report_store_warnings()
        self.joblist.scopes = scopes.scopes
        self._scope_since_pending = self.since_last_time and bool(scopes.scopes)
        self._scopes_changed_soon()  # the headers of the saved scopes, and the tasks they held
        if self.start_polling:
            self.run_discovery()

    @work(exit_on_error=False, group="discovery")
    async def run_discovery(self: BkWatchApp) -> None:
        assert self.scopes is not None
        await self.scopes.run()

    # ---- keeping the screen current ----------------------------------------------------
    def _scopes_changed_soon(self: BkWatchApp) -> None:
        """Discovery calls this after each round, error or dismiss: one message until handled,
        so a burst of rounds costs one frame."""
        if not self._scopes_posted:
            self._scopes_posted = True
            self.post_message(ScopesChanged())

    def on_scopes_changed(self: BkWatchApp, _message: ScopesChanged) -> None:
        self._scopes_posted = False
        if not self.is_running:
            return
        with self.batch_update():
            self.joblist.sync(self.poller.watches, self.clock())
            scope = self.joblist.header_scope()
            if scope is not None:
                self._show_scope(scope)
            self._update_status()
        self._scopes_dirty = True
        self._scope_save.soon()
        self._check_scope_since()

    def _flush_scopes(self: BkWatchApp) -> bool:
        if not self._scopes_dirty or self.scopes is None:
            return False
        self._scopes_dirty = False
        self._save_scopes()
        return True

    def _save_scopes(self: BkWatchApp, *, dismissed: bool = False) -> None:
        if self.scopes is None:
            return
        try:
            self.scopes.save(dismissed=dismissed)
        except (OSError, StoreError) as exc:
            with contextlib.suppress(NoMatches):  # on exit the log may be gone already
                self.log_view.note_lines([f"could not save the scopes: {exc}"])
        self._report_store_warnings()

    def _unmount_scopes(self: BkWatchApp) -> None:
        self._scope_save.stop()
        if self.scopes is not None and self.scopes.scopes:
            self._save_scopes()

    def _after_poll(self: BkWatchApp, update: PollUpdate) -> None:
        """A poll of a task a scope found: the scope's summary (when on screen) and the since
        last time report may be due."""
        if self.scopes is None or update.watch.via is None:
            return
        scope = self.joblist.header_scope()
        if scope == update.watch.via:
            self._show_scope(scope)
        self._check_scope_since()

    # ---- since last time ---------------------------------------------------------------
    def _check_scope_since(self: BkWatchApp) -> None:
        """Once every scope has listed and its tasks were polled, say what happened while
        bkwatch was closed (started, finished, failed), per scope."""
        scopes = self.scopes
        if not self._scope_since_pending or scopes is None or not scopes.settled():
            return
        self._scope_since_pending = False
        lines = [line for since in scopes.since_last_time() for line in since.lines(self._title)]
        if not lines:
            return
        head = "Since last time in the followed scopes:"
        self.log_view.note_lines([head, *lines])
        body = "\n".join(lines[:8]) + (f"\n… and {len(lines) - 8} more" if len(lines) > 8 else "")
        self.notify(body, title=head, timeout=15, markup=False)

    # ---- the cursor on a header --------------------------------------------------------
    def _show_scope(self: BkWatchApp, scope: str) -> None:
        """The scope under the cursor: no task in focus, its summary in the detail pane."""
        if self.scopes is None or not self.is_running:
            return
        self.selected = None
        self.poller.set_focus(None)
        self.detail.show(None, self.clock())
        sw = self.scopes.scopes.get(scope)
        if sw is None:
            return
        members = [w for w in self.poller.watches.values() if w.via == scope]
        line = Text(end="")
        summary = self.joblist.index_of(header_key(scope))
        if summary >= 0:
            line = render_header(self.joblist.lines[summary], 400, self.ascii_only)
        problem = sw.problem
        if problem is not None:
            mark = "!" if self.ascii_only else "⚠"
            line.append(f"\n{mark} {problem.kind}: {one_line(problem.message)}", style="bold red")
        self.detail.title_bar.show(line)
        options = self.scopes.describe(scope)
        listed = "not listed yet" if sw.last_ok is None else f"listed {age(self.clock() - sw.last_ok)} ago"
        about = Text(f"Following {scope} {options or 'with the default options'} · {listed}", end="")
        about.append(f" · {len(members)} tasks held · d: stop following · space / enter: fold")
        self.detail.info.show(about)

    # ---- keys --------------------------------------------------------------------------
    def action_fold(self: BkWatchApp) -> None:
        """Fold or unfold the scope under the cursor (its header, or a task it found)."""
        scope = self.joblist.header_scope()
        if scope is None and self.selected is not None:
            watch = self.poller.watches.get(self.selected)
            scope = watch.via if watch is not None else None
            if scope is not None and self.scopes is not None and scope in self.scopes.scopes:
                self.joblist.move_to(header_key(scope), notify=False)
                self._show_scope(scope)
            else:
                scope = None
        if scope is None:
            self.notify("Not a followed scope: fold works on scope headers and their tasks.", timeout=3)
            return
        self.joblist.toggle_fold(scope)

    def _scope_remove(self: BkWatchApp) -> bool:
        """`d` on a scope header (stop following) or on a task a scope found (dismiss it).
        False when it is neither: the caller removes a hand-added task."""
        scopes = self.scopes
        if scopes is None:
            return False
        scope = self.joblist.header_scope()
        if scope is not None:
            self._confirm_unfollow(scope)
            return True
        key = self.selected
        watch = self.poller.watches.get(key) if key else None
        if key is None or watch is None or watch.via is None or watch.via not in scopes.scopes:
            return False
        via = watch.via

        def done(yes: bool | None) -> None:
            if not yes or self.scopes is None:
                return
            if not self.scopes.dismiss(key):
                self.notify(f"{key} is no longer held by {via}.", markup=False, timeout=3)
                return
            self._save_scopes(dismissed=True)
            self.joblist.sync(self.poller.watches, self.clock())
            self._select(self.joblist.cursor_key)
            self._update_status()
            self.notify(f"Dismissed {key}: {via} will not show it again.", markup=False, timeout=3)

        question = f"Dismiss {self._title(key)} ({key})? {via} found it and will not show it again."
        self.push_screen(_confirm(question), done)
        return True

    def _confirm_unfollow(self: BkWatchApp, scope: str) -> None:
        assert self.scopes is not None
        held = sum(1 for w in self.poller.watches.values() if w.via == scope)

        def done(yes: bool | None) -> None:
            if not yes or self.scopes is None:
                return
            try:
                gone = self.scopes.remove(scope)
            except (OSError, StoreError) as exc:
                gone = 0
                self.notify(f"Stopped here, but the saved list is unchanged: {exc}", markup=False)
            self._report_store_warnings()
            self.joblist.folded.discard(scope)
            self.joblist.sync(self.poller.watches, self.clock())
            self._select(self.joblist.cursor_key)
            self._update_status()
            self.notify(f"Stopped following {scope} ({gone} tasks removed).", markup=False, timeout=3)

        noun = "task" if held == 1 else "tasks"
        self.push_screen(_confirm(f"Stop following {scope}? Its {held} {noun} leave the list with it."), done)

    def _follow(self: BkWatchApp, request: ScopeRequest, label: str | None) -> None:
        """Follow a scope from the add dialog; its first round starts at once."""
        assert self.scopes is not None
        try:
            key = self.scopes.add(request, label)
        except ValueError as exc:
            self.notify(f"Cannot follow {request.scope}: {exc}", severity="error", markup=False)
            return
        except (OSError, StoreError) as exc:
            key = request.scope
            self.notify(f"Following, but could not save the list: {exc}", severity="warning", markup=False)
        self._report_store_warnings()
        self.joblist.scopes = self.scopes.scopes  # the live mapping, whenever discovery was made
        self.joblist.sync(self.poller.watches, self.clock())
        self.joblist.move_to(header_key(key), notify=False)
        self._show_scope(key)
        self._update_status()
        extra = f" ({request.summary})" if request.summary else ""
        self.notify(f"Following {key}{extra}: its tasks appear as they are found.", markup=False, timeout=4)


def is_scope_header(key: str | None) -> bool:
    return scope_of_header(key) is not None


def _confirm(question: str) -> ConfirmDialog:
    return ConfirmDialog(question)
