"""The bkwatch live monitor.

Secrets and trust: the app is given the profile's secrets only to keep them off the terminal
(`redact` on its crash report), and `insecure` to mark every screen while TLS is not verified.

The app keeps the layout, the poller's worker, each poll applied, the selection (`select`) and
the status line. Its parts are controllers it holds, each owning its state and reaching the app
only through its public names: `alerts` and `history` (`alerts.py`), `watchlist` (`watch_ui.py`),
`scopes_ui` (`scope_ui.py`), `evidence_ui` (`evidence_open.py`) and `acts` (`acting.py`). Every
action is declared once in `actions.py`; its `action_*` method here hands it to its part.

Longer than ~400 lines on purpose: it is the one place that wires the panes, the parts and the
poller's updates together; every part it holds lives in its own module (watchlist/, why/, acts/).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from itertools import compress, repeat, takewhile
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, ClassVar, TypeVar

import rich
from rich.console import RenderableType
from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

from bkwatch.model import State, count_moves
from bkwatch.redact import redact
from bkwatch.text import counted, display_width, one_line
from bkwatch.tui.actions import bindings, footer_ranks, help_keys, palette_entries
from bkwatch.tui.acts.acting import Acting, ActionsController
from bkwatch.tui.alerts import LastSeen, TaskAlerts
from bkwatch.tui.dialogs.dialogs import HelpScreen, PlainInput
from bkwatch.tui.drilldown.detail import DetailPane
from bkwatch.tui.drilldown.grouped import GroupedView
from bkwatch.tui.drilldown.headers import ColumnHeader
from bkwatch.tui.replay.control import RecordUi
from bkwatch.tui.watchlist.joblist import JobList
from bkwatch.tui.watchlist.scope_port import scope_of_header
from bkwatch.tui.watchlist.scope_ui import ScopesChanged, ScopesUi
from bkwatch.tui.watchlist.translog import TransitionLog
from bkwatch.tui.watchlist.watch_ui import WatchList
from bkwatch.tui.why.evidence_open import EvidenceViews
from bkwatch.tui.widgets import backdrop, timer_floor, wire
from bkwatch.tui.widgets.fmt import use_ascii_default
from bkwatch.tui.widgets.footer import Footer
from bkwatch.tui.widgets.lines import LineView, TextBar
from bkwatch.tui.widgets.pace import FramePace
from bkwatch.tui.widgets.release import RELEASE_SECONDS, release
from bkwatch.tui.widgets.signals import TerminalSignals, summary, summary_short
from bkwatch.tui.widgets.trust import INSECURE_BADGE, InsecureBanner, redact_trace

if TYPE_CHECKING:
    from bkwatch.poller import Poller, PollUpdate
    from bkwatch.store import WatchStore
    from bkwatch.tui.replay.port import Record
    from bkwatch.tui.watchlist.scope_port import Scopes
    from bkwatch.tui.why.evidence_port import EvidenceSource

HIGHLIGHT_SECONDS = 5.0
# Changes marked on their row: only what needs a look (every mark costs a repaint now and one
# when it expires, and the log already lists every change).
_MARKED = frozenset(s for s in State if s.is_bad or s is State.WAITING)
W = TypeVar("W", bound=Widget)
_where, _new, _level = attrgetter("target", "key"), attrgetter("new"), attrgetter("level")
_first, _second = itemgetter(0), itemgetter(1)


class PollArrived(Message):
    def __init__(self, update: PollUpdate) -> None:
        super().__init__()
        self.update = update


class BkWatchApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "bkwatch"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = bindings()  # every action: tui/actions.py

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
        default_biz: str | None = None,
        scopes: Scopes | None = None,
        evidence: EvidenceSource | None = None,
        acting: Acting | None = None,
        record: Record | None = None,
    ) -> None:
        super().__init__()
        wire.install()  # screen updates sent as only the changed cells, colours carried along
        backdrop.install()  # a dialog's backdrop never draws itself again (seeds 1002, 1004)
        timer_floor.install()  # a timer whose delay has passed fires, not spins (seed 3002)
        self.pace = FramePace(self)  # what polls change is written at most once a second
        self.default_biz = default_biz  # the profile's business for links that carry none
        self.focus_hints: dict[str, str] = {}  # target -> step/host a pasted URL pointed at
        self.evidence_ui = EvidenceViews(self, evidence)  # l, w: logs and signatures
        self.acts = ActionsController(self, acting)  # x: task operations (tui/acts/acting.py)
        self.record_ui = RecordUi(self, record)  # R replay, H a host's past (tui/replay/control.py)
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
        self.signals = TerminalSignals(self, bell=bell, desktop=desktop_notify, pace=self.pace.then)
        self.selected: str | None = select
        self.highlights: dict[tuple[str, str], float] = {}  # (target, key) -> when it changed
        self._marked: dict[str, set[str]] = {}  # the highlights' keys by target
        self._marks_of: str | None = None  # the task whose marks the detail pane holds
        self.alerts = TaskAlerts(self)  # toasts, bell, desktop: alerts.py
        self.history = LastSeen(self)  # the last-seen states and "since last time": alerts.py
        self.watchlist = WatchList(self)  # add, remove, filter, failures: watch_ui.py
        self.scopes_ui = ScopesUi(self, scopes)  # followed scopes: scope_ui.py
        self._mode_title = ""  # the drill-down's title: the filter and failures-only mode
        self._status_said: tuple[object, ...] = ()  # what the status line was drawn from
        self._titles: dict[str, tuple[str, str]] = {}  # task -> its title as given, as one line
        self._parts: dict[str, Widget] = {}  # panes by selector (`_part`)

    # ---- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # The width's class (-narrow / -wide) before anything is styled: Textual sets it on the
        # first resize, after the first paint, and restyles every widget for it then.
        width = self.size.width
        fits = [name for least, name in sorted(self.HORIZONTAL_BREAKPOINTS) if width >= least]
        self.screen.update_classes(
            {name: name in fits[-1:] for _, name in self.HORIZONTAL_BREAKPOINTS}, update=False
        )
        yield TextBar(id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                jobs = JobList(ascii_only=self.ascii_only, id="joblist")
                header = ColumnHeader(jobs.header_text, id="joblist-header")
                jobs.columns_changed = partial(header.redraw, force=True)
                yield header
                yield jobs
                yield TransitionLog(ascii_only=self.ascii_only, id="log")
            yield DetailPane(ascii_only=self.ascii_only, id="detail")
        yield PlainInput(
            placeholder="filter: IP, host, node name or message (enter to keep, escape to clear)", id="filter"
        )
        yield Footer(ranks=footer_ranks())

    @property
    def joblist(self) -> JobList:
        return self._part("#joblist", JobList)

    @property
    def detail(self) -> DetailPane:
        return self._part("#detail", DetailPane)

    @property
    def log_view(self) -> TransitionLog:
        return self._part("#log", TransitionLog)

    def _part(self, selector: str, kind: type[W]) -> W:
        """A pane of the main screen, looked up once while it stays in the DOM: every poll asks
        for several. Once the screens are taken down (quitting) it is looked up again, so the
        callers' NoMatches says it is gone, as before."""
        part = self._parts.get(selector)
        if not isinstance(part, kind) or not part.is_attached:
            part = self.query_one(selector, kind)
            self._parts[selector] = part
        return part

    def on_mount(self) -> None:
        self.poller.on_update = lambda u: self.post_message(PollArrived(u))
        entries = self.watchlist.load()
        for notice in self.notices:
            self.warn(notice)
        self.report_store_warnings()
        if self.insecure:
            self.screen_change_signal.subscribe(self, self._mark_insecure)
        self.app_resume_signal.subscribe(self, self._resumed)
        self.acts.mount()
        self.record_ui.mount()
        self.watchlist.restore(entries)
        if self.since_last_time:
            self.history.expect(self.poller.watches)
        self.scopes_ui.mount()
        self.joblist.sync(self.poller.watches, self.clock())
        key = self.selected if self.selected in self.poller.watches else self.joblist.cursor_key
        if key is not None:
            self.select(key)
        self.joblist.focus()
        self.update_status()
        self.set_interval(5.0, self._tick)  # ages change by the minute; 5 s is plenty
        self.set_interval(RELEASE_SECONDS, release)  # stale caches, garbage and free heap given back
        if self.start_polling:
            self.run_poller()

    @work(exit_on_error=False, group="poller")
    async def run_poller(self) -> None:
        await self.poller.run()

    # ---- applying polls ---------------------------------------------------------------
    def on_poll_arrived(self, message: PollArrived) -> None:
        if not self.is_running:  # shutting down: the panes may already be gone
            return
        # The polls of one second are one frame; but a task's first answer (its row, its name) is
        # awaited: it goes out at once, with whatever was held.
        first = any(t.old is None for t in message.update.transitions)
        if not first:
            self.pace.hold()
        with self.batch_update():
            self.apply(message.update)
            self.scopes_ui.polled(message.update)
        if first:
            self.pace.release()

    def apply(self, update: PollUpdate) -> None:
        now = self.clock()
        watch = update.watch
        if update.key not in self.poller.watches:
            return
        title = self.title_of(update.key)
        changes = [t for t in update.transitions if t.old is not None]
        moves = count_moves(update.transitions)  # counted once for the log and the steps
        self.log_view.add(changes, title, moves if len(changes) == len(update.transitions) else None)
        # Expire old highlights on this tick, inside the same batch: no extra frames. The marks
        # are kept oldest first (a mark made again moves to the end): the expired ones lead.
        highlights = self.highlights
        expired = [k for k in takewhile(lambda k: now - highlights[k] >= HIGHLIGHT_SECONDS, highlights)]
        for k in expired:
            del highlights[k]
            self._marked[k[0]].discard(k[1])
        follows = bool(changes) and self.acts.follows(update.key, now)  # an accepted action's effect
        # A poll of a big step brings a hundred changes: each step over them runs in C.
        where = [*map(_where, changes)]
        marked = where if follows else [*compress(where, map(_MARKED.__contains__, map(_new, changes)))]
        deque(map(highlights.pop, marked, repeat(None)), 0)  # a mark made again moves to the end
        highlights.update(zip(marked, repeat(now)))
        targets = set(map(_first, marked))  # one: the polled task's, in practice
        for target in targets:
            mine = marked if len(targets) == 1 else [m for m in marked if m[0] == target]
            self._marked.setdefault(target, set()).update(map(_second, mine))
        self.joblist.sync(self.poller.watches, now)
        self.joblist.set_highlights({tk for tk, keys in self._marked.items() if tk in keys})
        if update.key == self.selected:
            self.detail.show(watch, now, update.transitions, moves)
            focus = self.focus_hints.pop(update.key, None) if watch.task is not None else None
            if focus is not None:
                self.detail.reveal_focus(focus)  # once, on the first answer: then the user steers
        # The detail pane is told what changed of the shown task's marks (a busy step keeps
        # hundreds of them); a task shown since the last poll gets its marks whole.
        selected = self.selected
        if selected != self._marks_of:
            self._marks_of = selected
            if selected is not None:
                self.detail.set_highlights(set(self._marked.get(selected, ())))
        elif selected is not None:
            mine = marked if targets <= {selected} else [m for m in marked if m[0] == selected]
            came = [*map(_second, mine)]
            gone = [k for t, k in expired if t == selected]
            if came or gone:
                self.detail.mark(came, gone)
        for t in compress(changes, map("task".__eq__, map(_level, changes))):
            self.alerts.alert(t, title, now)
        self.evidence_ui.polled(update.key, watch.task)  # a followed log asks for what was added
        # Tasks a scope found come and go by the hundred: their history is the scope's own.
        if watch.task is not None and watch.via is None:
            task = watch.task
            self.history.remember(update.key, task.state, task.name, now, save=bool(changes), task=task)
        self.update_status()

    def _resumed(self, _app: object) -> None:
        """Back from ctrl+z: the shell wrote over the screen, so every cell is sent again."""
        wire.forget()
        self.screen.refresh()

    def on_scopes_changed(self, _message: ScopesChanged) -> None:
        self.pace.hold()
        self.scopes_ui.changed()

    def title_of(self, key: str) -> str:
        """A watched task's title as one line (its key when not watched)."""
        watch = self.poller.watches.get(key)
        if watch is None:
            return key
        raw = watch.title
        known = self._titles.get(key)
        if known is not None and known[0] == raw:  # cleaned once per title, not once per poll
            return known[1]
        title = one_line(raw)
        titles = self._titles
        if len(titles) > 2 * len(self.poller.watches) + 64:  # tasks no longer watched: forgotten
            self._titles = titles = {k: v for k, v in titles.items() if k in self.poller.watches}
        titles[key] = (raw, title)
        return title

    async def on_event(self, event: events.Event) -> None:
        if self._exit and isinstance(event, events.Key | events.Paste | events.MouseEvent):
            return  # quitting is final: keys after q open nothing (the screens would crash)
        if isinstance(event, events.InputEvent | events.Resize):
            self.pace.release()  # the hand is answered at once, with what polls changed
        await super().on_event(event)

    def on_unmount(self) -> None:
        self.history.close()
        self.scopes_ui.unmount()
        self.record_ui.close()

    def warn(self, text: str) -> None:
        """A warning that must be read: a long toast, and a line in the log that stays."""
        self.notify(one_line(text), severity="warning", timeout=30, markup=False)
        with contextlib.suppress(NoMatches):  # on exit the log may be gone already
            self.log_view.note_lines([f"warning: {one_line(text)}"])

    def report_store_warnings(self) -> None:
        """What the store noticed (a corrupt file moved aside, history it could not drop)."""
        for warning in self.store.warnings:
            self.warn(warning)
        self.store.warnings.clear()

    def _tick(self) -> None:
        if not self.is_running:  # a tick while shutting down: the panes may already be gone
            return
        # Only rows whose text changed (a task's data turning stale) are repainted.
        self.pace.hold()
        self.joblist.sync(self.poller.watches, self.clock())

    def update_status(self) -> None:
        """The status line and the terminal's title, from the watches and the parts' state."""
        counts: dict[State | None, int] = {}
        for w in self.poller.watches.values():
            s = w.task.state if w.task is not None else None
            counts[s] = counts.get(s, 0) + 1
        watchlist, acts = self.watchlist, self.acts
        # What the line and the title say, compared first: most polls change none of it.
        said = (
            tuple(counts.items()),
            acts.enabled and acts.badge_text(),
            self.list_name,
            len(self.poller.watches),
            len(self.scopes_ui.followed),
            self.poller.paused,
            watchlist.filter_text,
            watchlist.failures_only,
            self.size.width,
        )
        if said == self._status_said:
            return
        self._status_said = said
        text = summary(counts)
        title = f"bkwatch — {text}" + (" — TLS NOT VERIFIED" if self.insecure else "")
        self.signals.set_title(title + (" — ACTIONS ON" if self.acts.enabled else ""))
        line = Text(end="")
        if self.insecure:  # first: a narrow terminal cuts the end of the line, never this
            line.append(INSECURE_BADGE, style="bold reverse red")
        self.acts.badge(line)
        tasks = counted(len(self.poller.watches), "task")
        whole = f" bkwatch · {one_line(self.list_name)} · {tasks}: {text}"
        if line.cell_len + display_width(whole) > self.size.width > 0:  # every count kept on 80 columns
            whole = f" {one_line(self.list_name)} · {tasks}: {summary_short(counts, self.ascii_only)}"
        line.append(whole)
        if n := len(self.scopes_ui.followed):
            line.append(f" · {counted(n, 'scope')} followed")
        if self.poller.paused:
            line.append("   ")
            line.append(" PAUSED (p resumes) ", style="bold reverse")
        if self.watchlist.filter_text:
            line.append(f"   filter: {one_line(self.watchlist.filter_text)}", style="bold")
        if self.watchlist.failures_only:
            line.append("   failures only", style="bold")
        self._part("#status", TextBar).show(line)
        self._title_filter()

    def _title_filter(self) -> None:
        """A filter or failures-only mode in the drill-down's title, which it narrows: the status
        line's end is cut on a narrow terminal, a pane's title is not."""
        modes = []
        if self.watchlist.failures_only:
            modes.append("failures only (f)")
        if self.watchlist.filter_text:
            modes.append(f"filter: {one_line(self.watchlist.filter_text, 40)} (esc clears)")
        title = " · ".join(modes)
        if title != self._mode_title:  # only on a change: setting it repaints the whole pane
            self._mode_title = title
            self.detail.set_class(bool(modes), "-filtered")
            self.detail.border_title = Text(title) if modes else None

    def _mark_insecure(self, screen: Screen) -> None:
        if not screen.is_attached:  # taken down before it was shown (the monitor quit)
            return
        if screen is self.screen_stack[0] or screen.query(InsecureBanner):
            return
        screen.mount(InsecureBanner())

    # ---- crash report -----------------------------------------------------------------
    def _fatal_error(self) -> None:
        # Textual's own report renders every frame's local variables, where a failed poll's
        # profile, gateway header or ESB query would put the secret on the terminal.
        from rich.traceback import Traceback  # lazy: only a crash needs it (~30 ms of imports)

        self.bell()
        self.panic(Traceback(width=None, suppress=[rich], show_locals=False))

    def panic(self, *renderables: RenderableType) -> None:
        """Exit with these shown, with secrets and frame variables taken out of tracebacks."""
        from rich.traceback import Traceback  # lazy: as above

        safe: list[RenderableType] = []
        for item in renderables:
            if isinstance(item, Traceback):
                redact_trace(item.trace, self.secrets)
            elif isinstance(item, str):
                item = redact(item, self.secrets)
            safe.append(item)
        super().panic(*safe)

    # ---- selection --------------------------------------------------------------------
    def select(self, key: str | None) -> None:
        """Put `key` in focus: polled first, shown in the detail pane, under the job list's
        cursor. A scope's header key shows the scope's summary; None shows nothing."""
        if not self.is_running:  # a highlight handled while shutting down: the panes are gone
            return
        scope = scope_of_header(key)
        if scope is not None:  # a followed scope's header row
            self.scopes_ui.show(scope)
            return
        self.selected = key
        self.poller.set_focus(key)
        watch = self.poller.watches.get(key) if key else None
        self.detail.show(watch, self.clock())
        if key is not None and watch is not None and watch.task is not None and key in self.focus_hints:
            self.detail.reveal_focus(self.focus_hints.pop(key))  # opened where the pasted page was
        if key is not None:
            self.joblist.move_to(key, notify=False)

    # ---- one pane at a time below 120 columns ------------------------------------------
    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Narrow: the focus shows its pane, full-width. Whatever focuses the drill-down (enter,
        `n`, a filter kept) opens the task; escape (back to the list) shows the list again."""
        self._show_focused_pane(event.widget)

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_focused_pane)
        self.call_after_refresh(self.update_status)  # its counts are words or glyphs by the width

    def _show_focused_pane(self, widget: Widget | None = None) -> None:
        """`widget` focused (by default: what the main screen has focused)."""
        stack = self.screen_stack
        if not stack:  # quitting: a focus or resize handled after the screens were taken down
            return
        widget = widget or stack[0].focused
        if widget is None or not stack[0].has_class("-narrow"):
            return  # wide: both panes are shown (a class change would restyle, so repaint, both)
        with contextlib.suppress(NoMatches):
            main = self.query_one("#main")
            chain = widget.ancestors_with_self
            if self.detail in chain:
                main.add_class("-open")
            elif self.query_one("#left") in chain:
                main.remove_class("-open")

    @on(LineView.Highlighted, "#joblist")
    def _job_highlighted(self, event: LineView.Highlighted) -> None:
        if event.line is not None and event.line.key != self.selected:
            self.select(event.line.key)

    @on(LineView.Selected, "#joblist")
    def _job_selected(self, event: LineView.Selected) -> None:
        self.select(event.line.key)
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

    # ---- actions (declared in actions.py), each handed to its part ------------------------
    # The filter box's events: the filter is the watch list's (watch_ui.py).
    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.watchlist.apply_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.watchlist.filter_submitted()

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        if action == "back":  # escape is offered (and in the footer) only when it goes somewhere
            return self.screen is not self.screen_stack[0] or self.watchlist.can_go_back()
        return True

    def action_back(self) -> None:
        self.watchlist.back()

    def action_next_failure(self, direction: int) -> None:
        self.watchlist.next_failure(direction)

    def action_failures_only(self) -> None:
        self.watchlist.toggle_failures_only()

    def action_filter(self) -> None:
        self.watchlist.open_filter()

    def action_copy(self, with_cloud: bool) -> None:
        self.watchlist.copy_failing(with_cloud)

    def action_add(self) -> None:
        self.watchlist.add()

    def action_remove(self) -> None:
        self.watchlist.remove()

    def action_fold(self) -> None:
        self.scopes_ui.fold()

    def action_evidence(self) -> None:
        self.evidence_ui.open_log()

    def action_signatures(self) -> None:
        self.evidence_ui.open_signatures()

    def action_pause(self) -> None:
        self.poller.resume() if self.poller.paused else self.poller.pause()
        self.update_status()

    def action_refresh(self) -> None:
        self.poller.refresh()
        self.notify("Refreshing all tasks…" if not self.ascii_only else "Refreshing all tasks", timeout=2)

    def action_act(self) -> None:
        self.acts.open_menu()

    def action_replay(self) -> None:
        self.record_ui.open_replay()

    def action_host_history(self) -> None:
        self.record_ui.open_host()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(help_keys()))

    def action_show_help_panel(self) -> None:
        # The palette's "Keys" command runs after the palette closed: when q or ctrl+q came in
        # between, the screen it would mount the panel on is already gone (MountError).
        if self._exit or not self.screen.is_attached:
            return
        super().action_show_help_panel()

    def action_command_palette(self) -> None:
        from bkwatch.tui.dialogs.palette import CommandPalette  # lazy: not before the first row

        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette())  # no id: the last one may still be closing

    def search_themes(self) -> None:  # Textual's "Theme" command: our palette (palette.py)
        from bkwatch.tui.dialogs.palette import theme_palette  # lazy: not before the first row

        self.push_screen(theme_palette())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, action in palette_entries():
            yield SystemCommand(title, help_text, partial(self.run_action, action))
        yield from self.acts.commands()
