"""Acting from the monitor: `x` (and the command palette) offers the task operations for what is
under the cursor, each confirmed in a dialog, sent once, its result shown at once.

The screen never reaches the HTTP side: what performs an action is handed to the app as an
`Acting` (the wiring in `cli/` builds it around `bkwatch.actions.Actor`). The screen reads only the
client-free catalog (`bkwatch.actions.catalog`): what applies, and why something does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol

from rich.text import Text
from textual.app import SystemCommand
from textual.screen import Screen

from bkwatch.actions.catalog import ActionSpec, Offer, find_node, offers
from bkwatch.model import Host, Task
from bkwatch.systems.registry import traits
from bkwatch.systems.traits import View
from bkwatch.targets import Target
from bkwatch.text import counted, one_line

if TYPE_CHECKING:
    from bkwatch.tui.app_port import MonitorApp

# After an accepted action, the task's changes are highlighted for this long (they show the effect).
FOLLOW_SECONDS = 60.0


class PlanView(Protocol):
    """One action on one task, judged on a snapshot; what the confirmation shows."""

    @property
    def spec(self) -> ActionSpec: ...
    @property
    def target(self) -> Target: ...
    @property
    def subject_id(self) -> str | None: ...
    def summary(self) -> list[str]: ...
    def hosts(self) -> list[Host]: ...


class OutcomeView(Protocol):
    @property
    def result(self) -> str: ...  # "done", "refused", "unknown", "not_allowed", … (a StrEnum)
    @property
    def message(self) -> str: ...
    @property
    def code(self) -> str | None: ...


class Acting(Protocol):
    """What the app is handed to perform actions (built in `cli/acting.py`)."""

    @property
    def enabled(self) -> bool: ...  # the profile allows actions
    @property
    def note(self) -> str | None: ...  # shown with the ON marker (the demo: "demo simulator")
    def hint(self) -> str: ...  # how to turn actions on
    def unreachable(self, target: Target) -> str | None: ...  # NodeMan / GSEKit: why, and where
    def plan(
        self, spec: ActionSpec, target: Target, task: Task, subject_id: str | None, fetched_at: float
    ) -> PlanView: ...
    async def perform(self, plan: PlanView) -> OutcomeView: ...
    async def decline(self, plan: PlanView) -> OutcomeView: ...
    async def refuse(self, plan: PlanView, why: str, message: str) -> OutcomeView: ...  # recorded


@dataclass(frozen=True)
class Context:
    """What is under the cursor: a task, and the JOB step or pipeline node shown there."""

    key: str
    target: Target
    task: Task
    fetched_at: float
    step_id: str | None = None
    node_id: str | None = None
    hosts: bool = False  # the cursor is on the step's hosts: host-group actions first

    def heading(self) -> Text:
        out = Text(end="")
        out.append(one_line(self.task.name or self.key, 60), style="bold")
        out.append(f"  {self.key}", style="dim")
        if self.step_id is not None:
            step = next((s for s in self.task.steps if s.id == self.step_id), None)
            if step is not None:
                what = "hosts of step" if self.hosts else "step"
                out.append(f"\n{what}: {one_line(step.name or step.id, 60)} (id {one_line(step.id)}, ")
                out.append(f"{step.state}, {counted(len(step.hosts), 'host')})")
        if self.node_id is not None:
            node = find_node(self.task, self.node_id)
            if node is not None:
                out.append(f"\nnode: {one_line(node.name or node.id, 60)} (id {one_line(node.id)}, ")
                out.append(f"{node.state})")
        return out


BADGE = " ACTIONS ON "

_SEVERITY = {
    "done": "information",
    "cancelled": "information",
    "refused": "error",
    "unknown": "error",
    "error": "error",
}


class ActionsController:
    """The app's side of acting: the menu, the confirmation, the one action in flight, its result."""

    def __init__(self, app: MonitorApp, acting: Acting | None) -> None:
        self.app = app
        self.acting = acting
        self.busy = False  # one action in flight: a second press sends nothing
        self.following: dict[str, float] = {}  # target -> until when its changes are highlighted

    @property
    def enabled(self) -> bool:
        return self.acting is not None and self.acting.enabled

    # ---- markers ---------------------------------------------------------------------
    def mount(self) -> None:
        if self.enabled:
            self.app.screen_change_signal.subscribe(self.app, self._mark_screen)

    def badge_text(self) -> str:
        note = self.acting.note if self.acting is not None else None
        return f"{BADGE.rstrip()}: {note} " if note else BADGE

    def badge(self, line: Text) -> None:
        """The status line's marker (first, so a narrow terminal never cuts it)."""
        if self.enabled:
            line.append(self.badge_text(), style="bold reverse yellow")

    def _mark_screen(self, screen: Screen) -> None:
        if not screen.is_attached:  # taken down before it was shown (the monitor quit)
            return
        from bkwatch.tui.acts.act_dialogs import ActionsBanner  # lazy: not before the first row

        if screen is self.app.screen_stack[0] or screen.query(ActionsBanner):
            return
        screen.mount(ActionsBanner(self.badge_text()))

    # ---- what is under the cursor ----------------------------------------------------
    def context(self) -> Context | None:
        app = self.app
        key = app.selected
        watch = app.poller.watches.get(key) if key else None
        if key is None or watch is None or watch.task is None or watch.task.summary is not None:
            return None  # (a slim task is being read again: nothing to act on until it is)
        task = watch.task
        fetched_at = watch.last_ok if watch.last_ok is not None else 0.0
        base = Context(key, watch.target, task, fetched_at)
        shown_here = app.detail.key == key
        view = traits(task.system).view
        if view is View.STEPS and shown_here:
            job = app.detail.job
            step = job.current_step()
            # The host group's actions first when the cursor is on the hosts, or (from the job
            # list) when the step has hosts that did not succeed; the step's otherwise.
            on_hosts = job.hosts_view.has_focus or (
                not job.steps_view.has_focus
                and step is not None
                and any(h.state.is_bad for h in step.hosts.values())
            )
            return Context(key, watch.target, task, fetched_at, step_id=job.step_id, hosts=on_hosts)
        if view is View.TREE and shown_here:
            node_id = app.detail.pipeline.cursor_id
            if node_id is not None and find_node(task, node_id) is not None:
                return Context(key, watch.target, task, fetched_at, node_id=node_id)
        return base

    def offers_for(self, ctx: Context) -> list[Offer]:
        return offers(ctx.task, step_id=ctx.step_id, node_id=ctx.node_id, hosts=ctx.hosts)

    # ---- x and the palette -----------------------------------------------------------
    def open_menu(self, unfolded: bool = False) -> None:
        if self.busy:
            self._say("An action is in flight: wait for its result. Nothing else was sent.", "warning")
            return
        ctx = self.context()
        if ctx is None:
            self._say("Select a task with data first: actions apply to what is under the cursor.", "warning")
            return
        away = self._unreachable(ctx)
        listed = [] if away else self.offers_for(ctx)
        blocked = None
        if self.acting is None:
            blocked = "Actions are not available in this monitor; nothing can be sent."
        elif not self.acting.enabled:
            blocked = self.acting.hint().replace("; nothing was sent", "; nothing can be sent")
        from bkwatch.tui.acts.act_dialogs import ActionsMenu  # lazy: not before the first row

        menu = ActionsMenu(ctx.heading(), listed, blocked=blocked, away=away, unfolded=unfolded)
        self.app.push_screen(menu, lambda offer: self.chosen(ctx, offer))

    def commands(self) -> Iterable[SystemCommand]:
        """The command palette's entries: every action for what is under the cursor."""
        ctx = self.context()
        if ctx is None or self._unreachable(ctx):
            return
        listed = self.offers_for(ctx)
        for offer in listed:
            if offer.allowed:  # only what can be done: the others are one entry that says why
                help_text = f"{offer.spec.effect} (x lists them)"
                yield SystemCommand(f"Action: {offer.spec.label}", help_text, self._pick(ctx, offer))
        others = [o for o in listed if not o.allowed]
        if others:
            from bkwatch.tui.acts.act_dialogs import folded_line  # lazy: not before the first row

            yield SystemCommand(
                f"Actions not possible now ({len(others)})",
                one_line(folded_line(others).plain.removeprefix("▸ ")),
                partial(self.open_menu, unfolded=True),
            )

    def _pick(self, ctx: Context, offer: Offer) -> Callable[[], None]:
        return lambda: self.chosen(ctx, offer)

    def _unreachable(self, ctx: Context) -> str | None:
        if self.acting is not None:
            return self.acting.unreachable(ctx.target)
        if not traits(ctx.task.system).actions:
            return (
                f"{traits(ctx.task.system).label} operations are not reachable from bkwatch; use its web page"
            )
        return None

    # ---- confirm, perform, show ------------------------------------------------------
    def chosen(self, ctx: Context, offer: Offer | None) -> None:
        if offer is None:
            return
        if self.acting is None or not self.acting.enabled:
            self._say(self.acting.hint() if self.acting else "Actions are not available here.", "warning")
            self._refused(ctx, offer, "disabled", self.acting.hint() if self.acting else "")
            return
        if not offer.allowed:
            self._say(f"{offer.spec.label}: not now: {offer.reason}. Nothing was sent.", "warning")
            self._refused(ctx, offer, "not_allowed", f"{offer.reason}; nothing was sent")
            return
        if self.busy:
            self._say("An action is in flight: wait for its result. Nothing else was sent.", "warning")
            return
        subject = offer.subject.id if offer.subject is not None else None
        plan = self.acting.plan(offer.spec, ctx.target, ctx.task, subject, ctx.fetched_at)
        typed = ctx.target.id if offer.spec.type_id else None
        from bkwatch.tui.acts.act_dialogs import ActionConfirm  # lazy: not before the first row

        dialog = ActionConfirm(offer.spec.label, plan.summary(), type_id=typed)
        self.app.push_screen(dialog, lambda yes: self.answered(plan, bool(yes)))

    def _refused(self, ctx: Context, offer: Offer, why: str, message: str) -> None:
        """bkwatch's own refusal goes to the audit file too."""
        if self.acting is None:
            return
        subject = offer.subject.id if offer.subject is not None else None
        plan = self.acting.plan(offer.spec, ctx.target, ctx.task, subject, ctx.fetched_at)
        self.app.run_worker(
            partial(self.acting.refuse, plan, why, message), group="act-record", exit_on_error=False
        )

    def answered(self, plan: PlanView, yes: bool) -> None:
        acting = self.acting
        if acting is None:
            return
        if not yes:
            self._say(f"{plan.spec.label}: not confirmed. Nothing was sent.", "information")
            self.app.run_worker(partial(acting.decline, plan), group="act-record", exit_on_error=False)
            return
        if self.busy:  # a second Yes while the first is in flight
            return
        self.busy = True
        label = plan.spec.label.lower()
        # The task is read again first: the send may yet be refused (the result toast says so).
        self._say(f"Reading {plan.target} again, then sending: {label}…", "information", timeout=3)
        self.app.run_worker(partial(self._perform, plan), group="act", exit_on_error=False)

    async def _perform(self, plan: PlanView) -> None:
        assert self.acting is not None
        key = str(plan.target)
        try:
            outcome = await self.acting.perform(plan)
        except Exception as exc:  # never leave the user unsure: say so, and look at the task
            self.busy = False
            self.app.poller.refresh(key)
            why = f"{type(exc).__name__}: {exc}"
            self._result(plan, "error", f"{why}; it may or may not have happened: look at the task")
            return
        self.busy = False
        result = str(outcome.result)
        message = outcome.message
        if outcome.code:
            message += f" (code {outcome.code})"
        if result in ("done", "unknown", "not_allowed"):
            # Show what the task does now: its next polls, their changes highlighted.
            self.following[key] = self.app.clock() + FOLLOW_SECONDS
            self.app.poller.refresh(key)
        self._result(plan, result, message)

    def _result(self, plan: PlanView, result: str, message: str) -> None:
        head = f"{plan.spec.label} on {plan.target}: "
        severity = _SEVERITY.get(result, "warning")
        self._say(head + message, severity, timeout=30 if severity == "error" else 10)
        self.app.log_view.note_lines([f"action {result}: {one_line(head + message)}"])

    def follows(self, key: str, now: float) -> bool:
        """Whether `key` had an action accepted lately (its changes are then all highlighted)."""
        until = self.following.get(key)
        if until is None:
            return False
        if now > until:
            del self.following[key]
            return False
        return True

    def _say(self, text: str, severity: str, timeout: float = 6) -> None:
        self.app.notify(one_line(text), severity=severity, timeout=timeout, markup=False)  # type: ignore[arg-type]
