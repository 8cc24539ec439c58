"""The bkwatch live monitor.

Secrets and trust: the app is given the profile's secrets only to keep them off the terminal
(`redact` on its crash report), and `insecure` to mark every screen while TLS is not verified.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, ClassVar

import rich
from rich.console import RenderableType
from rich.text import Text
from rich.traceback import Traceback
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input

from bkwatch.model import State, Transition
from bkwatch.redact import redact
from bkwatch.store import StoreError, WatchEntry
from bkwatch.targets import Target, TargetError, parse_target
from bkwatch.tui.detail import DetailPane
from bkwatch.tui.dialogs import AddDialog, ConfirmDialog, HelpScreen, PlainInput
from bkwatch.tui.fmt import badge_str, clean, use_ascii_default
from bkwatch.tui.footer import Footer
from bkwatch.tui.grouped import GroupedView
from bkwatch.tui.joblist import JobList
from bkwatch.tui.lines import LineView, TextBar
from bkwatch.tui.palette import CommandPalette
from bkwatch.tui.signals import TerminalSignals, summary
from bkwatch.tui.translog import TransitionLog
from bkwatch.tui.trust import INSECURE_BADGE, InsecureBanner, redact_trace

if TYPE_CHECKING:
    from bkwatch.poller import Poller, PollUpdate
    from bkwatch.store import WatchStore

HIGHLIGHT_SECONDS = 5.0
TOAST_EVERY = 10.0  # seconds between task-alert toasts; alerts in between share one toast
SAVE_SEEN_EVERY = 30.0  # seconds between writes of the last-seen states (and on exit)
ALERT = {
    State.FAILED: "error",
    State.WAITING: "warning",
    State.STOPPED: "warning",
    State.SUCCEEDED: "information",
}


class PollArrived(Message):
    def __init__(self, update: PollUpdate) -> None:
        super().__init__()
        self.update = update


class BkWatchApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "bkwatch"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("tab", "focus_next", "Switch pane", show=False),
        Binding("escape", "back", "Back to the job list / close the filter", show=False),
        Binding("n", "next_failure(1)", "Next fail"),
        Binding("N", "next_failure(-1)", "Previous failing host / node", show=False, key_display="N"),
        Binding("f", "failures_only", "Failures"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("c", "copy(False)", "Copy IPs"),
        Binding("C", "copy(True)", "Copy CLOUD:IP", show=False, key_display="C"),
        Binding("a", "add", "Add"),
        Binding("d", "remove", "Remove"),
        Binding("p", "pause", "Pause"),
        Binding("r", "refresh", "Refresh"),
    ]
    EXTRA_KEYS: ClassVar[list[tuple[str, str]]] = [
        ("up/down, k/j", "move the cursor"),
        ("pgup/pgdn, home/end", "move by page / to the ends"),
        ("enter", "open the task / step, open or close a host group"),
        ("shift+tab", "previous pane"),
        ("ctrl+p", "command palette (every action below)"),
    ]

    def __init__(
        self,
        poller: Poller,
        store: WatchStore,
        list_name: str,
        *,
        ascii: bool = False,
        bell: bool = False,
        desktop_notify: bool = False,
        clock: Callable[[], float] = time.time,
        since_last_time: bool = True,
        start_polling: bool = True,
        select: str | None = None,
        insecure: bool = False,
        secrets: Sequence[str] = (),
        notices: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.insecure = insecure
        self.secrets = [s for s in secrets if s]
        self.notices = list(notices)  # start-up warnings (e.g. a config file others can read)
        self.poller = poller
        self.store = store
        self.list_name = list_name
        self.ascii_only = ascii or use_ascii_default()
        self.clock = clock
        self.since_last_time = since_last_time
        self.start_polling = start_polling
        self.signals = TerminalSignals(self, bell=bell, desktop=desktop_notify)
        self.selected: str | None = select
        self.filter_text = ""
        self.failures_only = False
        self.highlights: dict[tuple[str, str], float] = {}  # (target, key) -> when it changed
        self.last_seen: dict[str, dict] = {}
        self._since_pending: set[str] = set()
        self._since_lines: list[str] = []
        self._toasts: list[tuple[str, str, str]] = []  # (message, severity, state) to toast
        self._toast_at = float("-inf")  # monotonic
        self._toast_timer: Timer | None = None
        self._seen_dirty = False
        self._seen_saved_at: float | None = None  # monotonic
        self._seen_timer: Timer | None = None

    # ---- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield TextBar(id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield JobList(ascii_only=self.ascii_only, id="joblist")
                yield TransitionLog(ascii_only=self.ascii_only, id="log")
            yield DetailPane(ascii_only=self.ascii_only, id="detail")
        yield PlainInput(
            placeholder="filter: IP, host, node name or message (enter to keep, escape to clear)", id="filter"
        )
        yield Footer()

    @property
    def joblist(self) -> JobList:
        return self.query_one("#joblist", JobList)

    @property
    def detail(self) -> DetailPane:
        return self.query_one("#detail", DetailPane)

    @property
    def log_view(self) -> TransitionLog:
        return self.query_one("#log", TransitionLog)

    def on_mount(self) -> None:
        self.poller.on_update = lambda u: self.post_message(PollArrived(u))
        try:
            entries = self.store.load(self.list_name)
            self.last_seen = self.store.load_last_seen(self.list_name)
        except (OSError, StoreError) as exc:
            entries = []
            self.notify(f"Could not read the watch list: {clean(exc)}", severity="error", markup=False)
        for notice in self.notices:
            self._warn(notice)
        self._report_store_warnings()
        if self.insecure:
            self.screen_change_signal.subscribe(self, self._mark_insecure)
        for entry in entries:
            if entry.target in self.poller.watches:
                continue
            try:
                self.poller.add(parse_target(entry.target), entry.label)
            except TargetError as exc:
                self.log_view.note_lines([f"skipped {entry.target}: {exc}"])
        if self.since_last_time:
            self._since_pending = set(self.poller.watches) & set(self.last_seen)
        self.detail.progress_of = self.joblist.progress
        self.joblist.sync(self.poller.watches, self.clock())
        key = self.selected if self.selected in self.poller.watches else self.joblist.cursor_key
        if key is not None:
            self._select(key)
        self.joblist.focus()
        self._update_status()
        self.set_interval(5.0, self._tick)  # ages change by the minute; 5 s is plenty
        if self.start_polling:
            self.run_poller()

    @work(exit_on_error=False, group="poller")
    async def run_poller(self) -> None:
        await self.poller.run()

    # ---- applying polls ---------------------------------------------------------------
    def on_poll_arrived(self, message: PollArrived) -> None:
        if not self.is_running:  # shutting down: the panes may already be gone
            return
        with self.batch_update():  # one frame per poll
            self.apply(message.update)

    def apply(self, update: PollUpdate) -> None:
        now = self.clock()
        watch = update.watch
        if update.key not in self.poller.watches:
            return
        title = self.joblist.title_of(update.key)
        changes = [t for t in update.transitions if t.old is not None]
        self.log_view.add(changes, title)
        # Expire old highlights on this tick, inside the same batch: no extra frames.
        self.highlights = {k: at for k, at in self.highlights.items() if now - at < HIGHLIGHT_SECONDS}
        for t in changes:
            # Only what needs a look is marked: every mark costs a repaint now and one when it
            # expires, and the log already lists every change.
            if t.new.is_bad or t.new is State.WAITING:
                self.highlights[(t.target, t.key)] = now
        self.joblist.advance(update.key, watch.task, update.transitions)
        self.joblist.sync(self.poller.watches, now)
        self.joblist.set_highlights({tk for (tk, k) in self.highlights if tk == k})
        if update.key == self.selected:
            self.detail.show(watch, now, update.transitions)
        if self.selected is not None:
            self.detail.set_highlights({k for (tk, k) in self.highlights if tk == self.selected})
        for t in changes:
            if t.level == "task":
                self._alert(t, title, now)
        if watch.task is not None:
            self._remember(update.key, watch.task.state, watch.task.name, now, save=bool(changes))
        self._update_status()

    def _alert(self, t: Transition, title: str, now: float) -> None:
        severity = ALERT.get(t.new)
        if severity is None:
            return
        self._toasts.append((f"{title}: {badge_str(t.new, self.ascii_only)}", severity, str(t.new)))
        self._toast_soon()
        if t.new in (State.FAILED, State.WAITING):
            self.signals.ring(now)
        self.signals.desktop(f"bkwatch: {t.new}", title)

    def _toast_soon(self) -> None:
        """Show pending task alerts: at once, unless a toast went up in the last TOAST_EVERY
        seconds; then together in one toast when that time is up. Each toast costs a layout
        pass (a repaint of much of the screen) when it comes and when it goes."""
        if self._toast_timer is not None:
            return
        since = time.monotonic() - self._toast_at
        if since >= TOAST_EVERY:
            self._flush_toasts()
        else:
            self._toast_timer = self.set_timer(TOAST_EVERY - since, self._flush_toasts)

    def _flush_toasts(self) -> None:
        self._toast_timer = None
        pending, self._toasts = self._toasts, []
        if not pending:
            return
        self._toast_at = time.monotonic()
        rank = {"error": 0, "warning": 1, "information": 2}
        severity = min((sev for _, sev, _ in pending), key=rank.__getitem__)
        lines = [msg for msg, _, _ in pending]
        body = "\n".join(lines[:6]) + (f"\n… and {len(lines) - 6} more" if len(lines) > 6 else "")
        title = f"task {pending[0][2]}" if len(pending) == 1 else f"{len(pending)} tasks changed"
        self.notify(body, title=title, severity=severity, markup=False)  # type: ignore[arg-type]

    def _remember(self, key: str, state: State, name: str | None, now: float, *, save: bool) -> None:
        before = self.last_seen.get(key)
        if key in self._since_pending:
            self._since_pending.discard(key)
            if before and before.get("state") != str(state):
                was = before.get("state") or "unknown"
                label = clean(self.joblist.title_of(key))
                self._since_lines.append(f"{label}: {was} -> {state}")
            if not self._since_pending and self._since_lines:
                self._show_since()
        changed = before is None or before.get("state") != str(state)
        self.last_seen[key] = {"state": str(state), "name": name, "at": now}
        if save or changed:
            self._seen_dirty = True
            self._save_seen_soon()

    def _save_seen_soon(self) -> None:
        """Write at most every SAVE_EVERY seconds (an fsync per poll is costly); the last
        changes are written by a timer, and on exit at the latest."""
        if self._seen_timer is not None:
            return
        since = None if self._seen_saved_at is None else time.monotonic() - self._seen_saved_at
        if since is None or since >= SAVE_SEEN_EVERY:
            self._save_seen()
        else:
            self._seen_timer = self.set_timer(SAVE_SEEN_EVERY - since, self._flush_seen)

    def _flush_seen(self) -> None:
        self._seen_timer = None
        if self._seen_dirty:
            self._save_seen()

    def on_unmount(self) -> None:
        if self._seen_timer is not None:
            self._seen_timer.stop()
        self._flush_seen()

    def _show_since(self) -> None:
        lines = self._since_lines
        head = f"Since last time ({len(lines)} changed):"
        self.log_view.note_lines([f"{head} {line}" for line in lines])
        body = "\n".join(lines[:6]) + (f"\n… and {len(lines) - 6} more" if len(lines) > 6 else "")
        self.notify(body, title=head, timeout=15, markup=False)

    def _warn(self, text: str) -> None:
        """A warning that must be read: a long toast, and a line in the log that stays."""
        self.notify(clean(text), severity="warning", timeout=30, markup=False)
        with contextlib.suppress(NoMatches):  # on exit the log may be gone already
            self.log_view.note_lines([f"warning: {clean(text)}"])

    def _report_store_warnings(self) -> None:
        """What the store noticed (a corrupt file moved aside, history it could not drop)."""
        for warning in self.store.warnings:
            self._warn(warning)
        self.store.warnings.clear()

    def _save_seen(self) -> None:
        self._seen_dirty = False
        self._seen_saved_at = time.monotonic()
        try:
            self.store.save_last_seen(self.list_name, self.last_seen)
        except (OSError, StoreError) as exc:
            with contextlib.suppress(NoMatches):  # on exit the log may be gone already
                self.log_view.note_lines([f"could not save history: {exc}"])
        self._report_store_warnings()

    def _tick(self) -> None:
        # Only rows whose text changed (a task's data turning stale) are repainted.
        now = self.clock()
        self.joblist.sync(self.poller.watches, now)

    def _update_status(self) -> None:
        counts: dict[State | None, int] = {}
        for w in self.poller.watches.values():
            s = w.task.state if w.task is not None else None
            counts[s] = counts.get(s, 0) + 1
        text = summary(counts)
        self.signals.set_title(f"bkwatch — {text}" + (" — TLS NOT VERIFIED" if self.insecure else ""))
        line = Text(end="")
        if self.insecure:  # first: a narrow terminal cuts the end of the line, never this
            line.append(INSECURE_BADGE, style="bold reverse red")
        line.append(f" bkwatch · {clean(self.list_name)} · {len(self.poller.watches)} tasks: {text}")
        if self.poller.paused:
            line.append("   ")
            line.append(" PAUSED (p resumes) ", style="bold reverse")
        if self.filter_text:
            line.append(f"   filter: {clean(self.filter_text)}", style="bold")
        if self.failures_only:
            line.append("   failures only", style="bold")
        self.query_one("#status", TextBar).show(line)

    def _mark_insecure(self, screen: Screen) -> None:
        if screen is self.screen_stack[0] or screen.query(InsecureBanner):
            return
        screen.mount(InsecureBanner())

    # ---- crash report -----------------------------------------------------------------
    def _fatal_error(self) -> None:
        # Textual's own report renders every frame's local variables, where a failed poll's
        # profile, gateway header or ESB query would put the secret on the terminal.
        self.bell()
        self.panic(Traceback(width=None, suppress=[rich], show_locals=False))

    def panic(self, *renderables: RenderableType) -> None:
        """Exit with these shown, with secrets and frame variables taken out of tracebacks."""
        safe: list[RenderableType] = []
        for item in renderables:
            if isinstance(item, Traceback):
                redact_trace(item.trace, self.secrets)
            elif isinstance(item, str):
                item = redact(item, self.secrets)
            safe.append(item)
        super().panic(*safe)

    # ---- selection --------------------------------------------------------------------
    def _select(self, key: str | None) -> None:
        if not self.is_running:  # a highlight handled while shutting down: the panes are gone
            return
        self.selected = key
        self.poller.set_focus(key)
        watch = self.poller.watches.get(key) if key else None
        self.detail.show(watch, self.clock())
        if key is not None:
            self.joblist.move_to(key, notify=False)

    @on(LineView.Highlighted, "#joblist")
    def _job_highlighted(self, event: LineView.Highlighted) -> None:
        if event.line is not None and event.line.key != self.selected:
            self._select(event.line.key)

    @on(LineView.Selected, "#joblist")
    def _job_selected(self, event: LineView.Selected) -> None:
        self._select(event.line.key)
        view = self.detail.main_view()
        if view is not None:
            view.focus()

    @on(LineView.Selected, "#steps")
    def _step_selected(self) -> None:
        self.detail.job.hosts_view.focus()

    @on(LineView.Selected)
    def _group_selected(self, event: LineView.Selected) -> None:
        if isinstance(event.view, GroupedView) and event.line.header and event.line.data is not None:
            event.view.toggle_group(event.line.data)

    # ---- actions ----------------------------------------------------------------------
    def action_back(self) -> None:
        filt = self.query_one("#filter", Input)
        if filt.has_class("visible"):
            filt.value = ""
            self._apply_filter("")
            filt.remove_class("visible")
            self.joblist.focus()
            return
        self.joblist.focus()

    def action_next_failure(self, direction: int) -> None:
        key = self.detail.next_failure(direction)
        if key is None:
            self.notify(
                "Nothing failing here: no failing hosts, nodes or job tasks.", markup=False, timeout=3
            )
            return
        view = self.detail.main_view()
        if view is not None:
            view.focus()

    def action_failures_only(self) -> None:
        self.failures_only = not self.failures_only
        self.detail.set_filter(self.filter_text, self.failures_only)
        self._update_status()

    def action_filter(self) -> None:
        filt = self.query_one("#filter", Input)
        filt.add_class("visible")
        filt.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._apply_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        filt = self.query_one("#filter", Input)
        if not filt.value:
            filt.remove_class("visible")
        view = self.detail.main_view()
        (view or self.joblist).focus()

    def _apply_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.detail.set_filter(self.filter_text, self.failures_only)
        self._update_status()

    def action_copy(self, with_cloud: bool) -> None:
        ids, scope = self.detail.copy_ids(with_cloud)
        if not ids:
            self.notify("No failing hosts to copy here.", markup=False, timeout=3)
            return
        self.copy_to_clipboard("\n".join(ids) + "\n")
        what = "CLOUD:IP" if with_cloud else "IP"
        self.notify(f"Copied {len(ids)} failing host {what}s of this {scope}.", markup=False, timeout=4)

    def action_add(self) -> None:
        def done(result: tuple[Target, str | None] | None) -> None:
            if result is None:
                return
            target, label = result
            key = str(target)
            self.poller.add(target, label)
            try:
                self.store.add([WatchEntry(key, label, self.clock())], self.list_name)
            except (OSError, StoreError) as exc:
                self.notify(f"Watching, but could not save the list: {exc}", severity="warning", markup=False)
            self._report_store_warnings()
            self.joblist.sync(self.poller.watches, self.clock())
            self._select(key)
            self.poller.refresh(key)
            self._update_status()
            self.notify(f"Watching {key}", markup=False, timeout=3)

        self.push_screen(AddDialog(lambda k: k in self.poller.watches), done)

    def action_remove(self) -> None:
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
            self.last_seen.pop(key, None)
            self.joblist.sync(self.poller.watches, self.clock())
            self._select(self.joblist.cursor_key)
            self._update_status()
            self.notify(f"Stopped watching {key}", markup=False, timeout=3)

        self.push_screen(ConfirmDialog(f"Stop watching {self.joblist.title_of(key)} ({key})?"), done)

    def action_pause(self) -> None:
        if self.poller.paused:
            self.poller.resume()
        else:
            self.poller.pause()
        self._update_status()

    def action_refresh(self) -> None:
        self.poller.refresh()
        self.notify("Refreshing all tasks…" if not self.ascii_only else "Refreshing all tasks", timeout=2)

    def action_help(self) -> None:
        keys = list(self.EXTRA_KEYS)
        for b in self.BINDINGS:
            assert isinstance(b, Binding)
            keys.append((b.key_display or b.key, b.description))
        self.push_screen(HelpScreen(keys))

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(id="--command-palette"))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Add watch", "Watch a task by target or URL (a)", self.action_add)
        yield SystemCommand("Remove watch", "Stop watching the selected task (d)", self.action_remove)
        yield SystemCommand("Pause / resume polling", "Toggle polling (p)", self.action_pause)
        yield SystemCommand("Refresh now", "Poll every task now (r)", self.action_refresh)
        yield SystemCommand(
            "Next failure", "Jump to the next failing host or node (n)", lambda: self.action_next_failure(1)
        )
        yield SystemCommand(
            "Previous failure",
            "Jump to the previous failing host or node (N)",
            lambda: self.action_next_failure(-1),
        )
        yield SystemCommand("Failures only", "Show only failing hosts / nodes (f)", self.action_failures_only)
        yield SystemCommand("Filter", "Filter by IP, name or message (/)", self.action_filter)
        yield SystemCommand(
            "Copy failing IPs", "IP per line to the clipboard (c)", lambda: self.action_copy(False)
        )
        yield SystemCommand(
            "Copy failing CLOUD:IP", "CLOUD:IP per line to the clipboard (C)", lambda: self.action_copy(True)
        )
        yield SystemCommand("Help", "List every key (?)", self.action_help)
