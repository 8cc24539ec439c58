"""Followed scopes in the monitor: discovery's worker, the job list's headers kept current, `d`
to dismiss a found task or stop following a scope, folding, following from the add dialog, the
scopes' "since last time", and saving what the next run needs.

`ScopesUi` is a controller the app holds as `app.scopes_ui`: it owns the `Scopes` the wiring hands
over (`scope_port.py`, None when scopes are not offered) and the bookkeeping of its screen updates
and saves, and reaches the app only through its public parts (panes, `select`, `update_status`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from rich.text import Text
from textual.css.query import NoMatches
from textual.message import Message

from bkwatch.store import StoreError
from bkwatch.text import counted, one_line
from bkwatch.tui.dialogs.dialogs import ConfirmDialog
from bkwatch.tui.watchlist.scope_header import render_header
from bkwatch.tui.watchlist.scope_port import header_key
from bkwatch.tui.widgets.fmt import age
from bkwatch.tui.widgets.throttle import Throttle

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from textual.worker import Worker

    from bkwatch.poller import PollUpdate
    from bkwatch.tui.app_port import MonitorApp
    from bkwatch.tui.watchlist.scope_port import ScopeRequest, Scopes, ScopeView

SAVE_SCOPES_EVERY = 30.0  # seconds between saves of what the scopes hold (and on exit)


class ScopesChanged(Message):
    """A discovery round, error or dismiss changed a scope."""


class ScopesUi:
    """Followed scopes on the screen: their headers, summaries, keys and saves."""

    def __init__(self, app: MonitorApp, scopes: Scopes | None) -> None:
        self.app = app
        self.scopes = scopes
        self._posted = False  # a ScopesChanged is on its way
        self._since_pending = False  # the scopes' "since last time" is still to be said
        self._dirty = False  # what the scopes hold changed since the last save
        self._save = Throttle(SAVE_SCOPES_EVERY, self._flush, app.set_timer)

    @property
    def followed(self) -> Mapping[str, ScopeView]:
        """The followed scopes by key (the live mapping; empty when scopes are not offered)."""
        return self.scopes.scopes if self.scopes is not None else {}

    @property
    def parse(self) -> Callable[[str], ScopeRequest | None] | None:
        """What tells a scope from a task in the add dialog; None when scopes are not offered."""
        return self.scopes.parse if self.scopes is not None else None

    def mount(self) -> None:
        """Follow the saved scopes once the screen has painted: discovery brings the HTTP side
        with it, which must not delay the first frame (the poller's first fetch does the same)."""
        if self.scopes is not None:
            self.app.call_after_refresh(self._load)

    def _load(self) -> None:
        app, scopes = self.app, self.scopes
        if scopes is None or not app.is_running:
            return
        scopes.set_on_change(self._changed_soon)
        try:
            problems = scopes.load()
        except (OSError, StoreError) as exc:
            problems = [f"could not read the followed scopes: {exc}"]
        for problem in problems:
            app.warn(f"not following {problem}")
        app.report_store_warnings()
        app.joblist.scopes = scopes.scopes
        self._since_pending = app.since_last_time and bool(scopes.scopes)
        self._changed_soon()  # the headers of the saved scopes, and the tasks they held
        if app.start_polling:
            self.run_discovery()

    def run_discovery(self) -> Worker[None]:
        """Discovery's rounds, forever, in a worker of the app."""
        assert self.scopes is not None
        return self.app.run_worker(
            self.scopes.run, name="run_discovery", group="discovery", exit_on_error=False
        )

    # ---- keeping the screen current ----------------------------------------------------
    def _changed_soon(self) -> None:
        """Discovery calls this after each round, error or dismiss: one message until handled,
        so a burst of rounds costs one frame."""
        if not self._posted:
            self._posted = True
            self.app.post_message(ScopesChanged())

    def changed(self) -> None:
        """A `ScopesChanged` reached the app: the headers, the summary on screen, a save soon."""
        self._posted = False
        app = self.app
        if not app.is_running:
            return
        with app.batch_update():
            app.joblist.sync(app.poller.watches, app.clock())
            scope = app.joblist.header_scope()
            if scope is not None:
                self.show(scope)
            app.update_status()
        self._dirty = True
        self._save.soon()
        self._check_since()

    def _flush(self) -> bool:
        if not self._dirty or self.scopes is None:
            return False
        self._dirty = False
        self._store()
        return True

    def _store(self, *, dismissed: bool = False) -> None:
        if self.scopes is None:
            return
        try:
            self.scopes.save(dismissed=dismissed)
        except (OSError, StoreError) as exc:
            with contextlib.suppress(NoMatches):  # on exit the log may be gone already
                self.app.log_view.note_lines([f"could not save the scopes: {exc}"])
        self.app.report_store_warnings()

    def unmount(self) -> None:
        """On exit: what the scopes hold is saved now."""
        self._save.stop()
        if self.scopes is not None and self.scopes.scopes:
            self._store()

    def polled(self, update: PollUpdate) -> None:
        """A poll of a task a scope found: the scope's summary (when on screen) and the since
        last time report may be due."""
        if self.scopes is None or update.watch.via is None:
            return
        scope = self.app.joblist.header_scope()
        if scope == update.watch.via:
            self.show(scope)
        self._check_since()

    # ---- since last time ---------------------------------------------------------------
    def _check_since(self) -> None:
        """Once every scope has listed and its tasks were polled, say what happened while
        bkwatch was closed (started, finished, failed), per scope."""
        scopes = self.scopes
        if not self._since_pending or scopes is None or not scopes.settled():
            return
        self._since_pending = False
        app = self.app
        lines = [line for since in scopes.since_last_time() for line in since.lines(app.title_of)]
        if not lines:
            return
        head = "Since last time in the followed scopes:"
        app.log_view.note_lines([head, *lines])
        body = "\n".join(lines[:8]) + (f"\n… and {len(lines) - 8} more" if len(lines) > 8 else "")
        app.notify(body, title=head, timeout=15, markup=False)

    # ---- the cursor on a header --------------------------------------------------------
    def show(self, scope: str) -> None:
        """The scope under the cursor: no task in focus, its summary in the detail pane."""
        app = self.app
        if self.scopes is None or not app.is_running:
            return
        app.select(None)
        sw = self.scopes.scopes.get(scope)
        if sw is None:
            return
        members = [w for w in app.poller.watches.values() if w.via == scope]
        line = Text(end="")
        summary = app.joblist.index_of(header_key(scope))
        if summary >= 0:
            line = render_header(app.joblist.lines[summary], 400, app.ascii_only)
        problem = sw.problem
        if problem is not None:
            mark = "!" if app.ascii_only else "⚠"
            line.append(f"\n{mark} {problem.kind}: {one_line(problem.message)}", style="bold red")
        app.detail.title_bar.show(line)
        options = self.scopes.describe(scope)
        listed = "not listed yet" if sw.last_ok is None else f"listed {age(app.clock() - sw.last_ok)} ago"
        about = Text(f"Following {scope} {options or 'with the default options'} · {listed}", end="")
        about.append(f" · {counted(len(members), 'task')} held · d: stop following · space / enter: fold")
        app.detail.info.show(about)

    # ---- keys --------------------------------------------------------------------------
    def fold(self) -> None:
        """Fold or unfold the scope under the cursor (its header, or a task it found)."""
        app = self.app
        scope = app.joblist.header_scope()
        if scope is None and app.selected is not None:
            watch = app.poller.watches.get(app.selected)
            scope = watch.via if watch is not None else None
            if scope is not None and scope in self.followed:
                app.joblist.move_to(header_key(scope), notify=False)
                self.show(scope)
            else:
                scope = None
        if scope is None:
            app.notify("Not a followed scope: fold works on scope headers and their tasks.", timeout=3)
            return
        app.joblist.toggle_fold(scope)

    def remove_selected(self) -> bool:
        """`d` on a scope header (stop following) or on a task a scope found (dismiss it).
        False when it is neither: the watch list removes a hand-added task."""
        app, scopes = self.app, self.scopes
        if scopes is None:
            return False
        scope = app.joblist.header_scope()
        if scope is not None:
            self._confirm_unfollow(scope)
            return True
        key = app.selected
        watch = app.poller.watches.get(key) if key else None
        if key is None or watch is None or watch.via is None or watch.via not in scopes.scopes:
            return False
        via = watch.via

        def done(yes: bool | None) -> None:
            if not yes or self.scopes is None:
                return
            if not self.scopes.dismiss(key):
                app.notify(f"{key} is no longer held by {via}.", markup=False, timeout=3)
                return
            self._store(dismissed=True)
            app.joblist.sync(app.poller.watches, app.clock())
            app.select(app.joblist.cursor_key)
            app.update_status()
            app.notify(f"Dismissed {key}: {via} will not show it again.", markup=False, timeout=3)

        question = f"Dismiss {app.title_of(key)} ({key})? {via} found it and will not show it again."
        app.push_screen(ConfirmDialog(question), done)
        return True

    def _confirm_unfollow(self, scope: str) -> None:
        app = self.app
        assert self.scopes is not None
        held = sum(1 for w in app.poller.watches.values() if w.via == scope)

        def done(yes: bool | None) -> None:
            if not yes or self.scopes is None:
                return
            try:
                gone = self.scopes.remove(scope)
            except (OSError, StoreError) as exc:
                gone = 0
                app.notify(f"Stopped here, but the saved list is unchanged: {exc}", markup=False)
            app.report_store_warnings()
            app.joblist.folded.discard(scope)
            app.joblist.sync(app.poller.watches, app.clock())
            app.select(app.joblist.cursor_key)
            app.update_status()
            removed = counted(gone, "task")
            app.notify(f"Stopped following {scope} ({removed} removed).", markup=False, timeout=3)

        tasks = f"{counted(held, 'task')} {'leaves' if held == 1 else 'leave'}"
        app.push_screen(ConfirmDialog(f"Stop following {scope}? Its {tasks} the list with it."), done)

    def follow(self, request: ScopeRequest, label: str | None) -> None:
        """Follow a scope from the add dialog; its first round starts at once."""
        app = self.app
        assert self.scopes is not None
        try:
            key = self.scopes.add(request, label)
        except ValueError as exc:
            app.notify(f"Cannot follow {request.scope}: {exc}", severity="error", markup=False)
            return
        except (OSError, StoreError) as exc:
            key = request.scope
            app.notify(f"Following, but could not save the list: {exc}", severity="warning", markup=False)
        app.report_store_warnings()
        app.joblist.scopes = self.scopes.scopes  # the live mapping, whenever discovery was made
        app.joblist.sync(app.poller.watches, app.clock())
        app.joblist.move_to(header_key(key), notify=False)
        self.show(key)
        app.update_status()
        extra = f" ({request.summary})" if request.summary else ""
        app.notify(f"Following {key}{extra}: its tasks appear as they are found.", markup=False, timeout=4)
