"""What the app's parts (`WatchList`, `ScopesUi`, `EvidenceViews`, `ActionsController`,
`TaskAlerts`, `LastSeen`) may use of the app: its panes, its poller and store, and its public
names. Typed here rather than by importing `BkWatchApp`, so no part imports the app that holds it.
The other parts are reached through the app as `Any`, for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bkwatch.poller import Poller
from bkwatch.store import WatchStore
from bkwatch.tui.drilldown.detail import DetailPane
from bkwatch.tui.watchlist.joblist import JobList
from bkwatch.tui.watchlist.translog import TransitionLog
from bkwatch.tui.widgets.signals import TerminalSignals


class MonitorApp(Protocol):
    # the panes
    @property
    def joblist(self) -> JobList: ...
    @property
    def detail(self) -> DetailPane: ...
    @property
    def log_view(self) -> TransitionLog: ...

    # what the app was started with
    poller: Poller
    store: WatchStore
    list_name: str
    ascii_only: bool
    clock: Callable[[], float]
    default_biz: str | None
    since_last_time: bool
    start_polling: bool
    signals: TerminalSignals
    selected: str | None
    focus_hints: dict[str, str]
    # the other parts
    watchlist: Any
    scopes_ui: Any
    evidence_ui: Any
    alerts: Any
    history: Any
    record_ui: Any

    # the app's own public names
    def select(self, key: str | None) -> None: ...
    def update_status(self) -> None: ...
    def warn(self, text: str) -> None: ...
    def report_store_warnings(self) -> None: ...
    def title_of(self, key: str) -> str: ...

    # Textual's App, as the parts use it
    is_running: bool
    screen_stack: Any
    screen_change_signal: Any
    notify: Any
    push_screen: Any
    run_worker: Any
    set_timer: Any
    query_one: Any
    post_message: Any
    call_after_refresh: Any
    call_from_thread: Any
    batch_update: Any
    copy_to_clipboard: Any
