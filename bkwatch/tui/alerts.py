"""What the monitor tells of task changes: the alerts (a toast, the bell, a desktop notification)
and the last-seen history with its "since last time" summary.

Two small controllers the app holds (`app.alerts`, `app.history`), each owning its state and
reaching the app only through its public parts, both throttled on the app's timers
(`throttle.py`): a toast costs a layout pass, a save an fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual.css.query import NoMatches

from bkwatch.model import State, Task, Transition, failing_count
from bkwatch.store import StoreError
from bkwatch.tui.widgets.fmt import badge_str, clock_hms
from bkwatch.tui.widgets.throttle import Throttle

if TYPE_CHECKING:
    from bkwatch.tui.app_port import MonitorApp
    from bkwatch.tui.replay.port import Record

TOAST_EVERY = 10.0  # seconds between task-alert toasts; alerts in between share one toast
SAVE_SEEN_EVERY = 30.0  # seconds between writes of the last-seen states (and on exit)
ALERT = {
    State.FAILED: "error",
    State.WAITING: "warning",
    State.STOPPED: "warning",
    State.SUCCEEDED: "information",
}


class TaskAlerts:
    """A task that failed, waits, stopped or succeeded: a toast, the bell, a desktop notification."""

    def __init__(self, app: MonitorApp) -> None:
        self.app = app
        self.toasts: list[tuple[str, str, str]] = []  # (message, severity, state) to toast
        self.throttle = Throttle(TOAST_EVERY, self.flush, app.set_timer)

    def alert(self, t: Transition, title: str, now: float) -> None:
        severity = ALERT.get(t.new)
        if severity is None:
            return
        self.toasts.append((f"{title}: {badge_str(t.new, self.app.ascii_only)}", severity, str(t.new)))
        self.toast_soon()
        if t.new in (State.FAILED, State.WAITING):
            self.app.signals.ring(now)
        self.app.signals.desktop(f"bkwatch: {t.new}", title)

    def toast_soon(self) -> None:
        """Show pending task alerts: at once, unless a toast went up in the last TOAST_EVERY
        seconds; then together in one toast when that time is up. Each toast costs a layout
        pass (a repaint of much of the screen) when it comes and when it goes."""
        self.throttle.soon()

    def flush(self) -> bool:
        pending, self.toasts = self.toasts, []
        if not pending:
            return False
        rank = {"error": 0, "warning": 1, "information": 2}
        severity = min((sev for _, sev, _ in pending), key=rank.__getitem__)
        lines = [msg for msg, _, _ in pending]
        body = "\n".join(lines[:6]) + (f"\n… and {len(lines) - 6} more" if len(lines) > 6 else "")
        title = f"task {pending[0][2]}" if len(pending) == 1 else f"{len(pending)} tasks changed"
        self.app.notify(body, title=title, severity=severity, markup=False)  # type: ignore[arg-type]
        return True


class LastSeen:
    """Each hand-added task's last state, kept per watch list for the next run, and at start-up
    what changed while bkwatch was closed, said once every task it knew has answered.

    With a record, the record's last state of each task is asked for too (off the screen's
    thread): it was written within half a second of the last poll before bkwatch closed, the
    list's history at most every 30 s, so the record's is used when it is the later one, and it
    knows tasks the list's history lost. A line then says when the task was last seen and what
    fails now: "deploy-web: running -> failed (running at 18:02 when you left; 3 hosts failing)"."""

    def __init__(self, app: MonitorApp) -> None:
        self.app = app
        self.last_seen: dict[str, dict] = {}
        self._before: dict[str, dict] = {}  # what each expected task was when bkwatch closed
        self._answered: set[str] = set()
        self._record_waiting = False
        self._since_pending: set[str] = set()
        self._since_lines: list[str] = []
        self._seen_dirty = False
        self.throttle = Throttle(SAVE_SEEN_EVERY, self._flush_seen, app.set_timer)

    def load(self) -> None:
        self.last_seen = self.app.store.load_last_seen(self.app.list_name)

    def expect(self, keys: Iterable[str]) -> None:
        """The tasks whose first answer is compared with the last run's."""
        keys = set(keys)
        self._since_pending = keys & set(self.last_seen)
        self._before = {k: self.last_seen[k] for k in self._since_pending}
        record = self.app.record_ui.record
        if record is not None and keys:
            self._record_waiting = True
            started = time.time()  # the record's clock: what it wrote from now on is this run's
            self.app.run_worker(
                partial(self._from_record, record, keys, started), group="since-record", exit_on_error=False
            )

    async def _from_record(self, record: Record, keys: set[str], started: float) -> None:
        try:
            found = await asyncio.to_thread(record.last_states, keys)
        finally:
            self._record_waiting = False
        for key, (state, at) in found.items():
            if key in self._answered or at >= started:
                continue  # answered before the record did (compared with the list's history), or this run's
            mine = self._before.get(key)
            if mine is None or at > float(mine.get("at") or 0.0):
                self._before[key] = {"state": state, "at": at, "recorded": True}
                self._since_pending.add(key)
        self._show_when_done()

    def remember(
        self, key: str, state: State, name: str | None, now: float, *, save: bool, task: Task | None = None
    ) -> None:
        before = self.last_seen.get(key)
        self._answered.add(key)
        if key in self._since_pending:
            self._since_pending.discard(key)
            then = self._before.get(key)
            if then and then.get("state") != str(state):
                self._since_lines.append(self._since_line(key, then, state, task))
            self._show_when_done()
        changed = before is None or before.get("state") != str(state)
        self.last_seen[key] = {"state": str(state), "name": name, "at": now}
        if save or changed:
            self._seen_dirty = True
            self.save_soon()

    def forget(self, key: str) -> None:
        """A task no longer watched: its last state is not kept (nor saved again)."""
        self.last_seen.pop(key, None)

    def save_soon(self) -> None:
        """Write at most every SAVE_SEEN_EVERY seconds (an fsync per poll is costly); the last
        changes are written by a timer, and on exit at the latest."""
        self.throttle.soon()

    def _flush_seen(self) -> bool:
        if not self._seen_dirty:
            return False
        self._save_seen()
        return True

    def close(self) -> None:
        """On exit: what is not written yet is written now."""
        self.throttle.stop()
        self.throttle.run()

    def _since_line(self, key: str, then: dict, state: State, task: Task | None) -> str:
        was = then.get("state") or "unknown"
        line = f"{self.app.title_of(key)}: {was} -> {state}"
        if not then.get("recorded"):
            return line
        at = clock_hms(float(then["at"]))[:5]
        failing = failing_count(task) if task is not None else 0
        now = f"; {failing} failing" if failing else ""
        return f"{line} ({was} at {at} when you left{now})"

    def _show_when_done(self) -> None:
        if not self._since_pending and not self._record_waiting and self._since_lines:
            self._show_since()

    def _show_since(self) -> None:
        lines, self._since_lines = self._since_lines, []
        head = f"Since last time ({len(lines)} changed):"
        self.app.log_view.note_lines([f"{head} {line}" for line in lines])
        body = "\n".join(lines[:6]) + (f"\n… and {len(lines) - 6} more" if len(lines) > 6 else "")
        self.app.notify(body, title=head, timeout=15, markup=False)

    def _save_seen(self) -> None:
        self._seen_dirty = False
        try:
            self.app.store.save_last_seen(self.app.list_name, self.last_seen)
        except (OSError, StoreError) as exc:
            with contextlib.suppress(NoMatches):  # on exit the log may be gone already
                self.app.log_view.note_lines([f"could not save history: {exc}"])
        self.app.report_store_warnings()
