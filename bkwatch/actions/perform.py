"""Performing one action safely: off unless enabled, the task read again right before sending and
judged on that, exactly one request, never repeated. Once sent, the outcome is exactly one of
``done``, ``refused`` (the server answered no, readably) or ``unknown`` (no answer to trust: a
reset, a timeout, a 5xx, a cut-off, malformed, HTML or oversized body — `unsure`); an unknown one
is followed by one read of the task, said in words tied to the action (`settle.py`). Every
decision is audited (`audit.py`). Exit codes: 0 done, 1 refused (by the server or by bkwatch),
2 error before sending, 3 unknown, 130 cancelled.

The monitor and the CLI both go through `Actor.perform(plan)`; `make_plan` gives the text of the
confirmation (`Plan.summary()`), which the caller shows before performing.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bkwatch.actions import audit
from bkwatch.actions.catalog import ActionSpec, Level, Offer, judge
from bkwatch.actions.settle import observe, observed_state, request_to
from bkwatch.actions.wire import Wire, build
from bkwatch.config import ALLOW_ACTIONS_ENV, Profile
from bkwatch.model import BkError, ErrorKind, Host, Node, State, Step, System, Task
from bkwatch.systems.registry import traits
from bkwatch.text import one_line

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.targets import Target

FIRST_HOSTS = 5
# Failures after which the request may have been carried out: no answer, or one that cannot be
# read (cut off, not JSON, an HTML page, over the size limit), or a server / gateway error.
_UNSURE = frozenset({ErrorKind.TIMEOUT, ErrorKind.NETWORK, ErrorKind.BAD_RESPONSE})
# ESB "component call failed": the ESB lost its backend's answer, not a refusal by the backend.
_UNSURE_CODES = frozenset({"1306201"})

EXIT_DONE, EXIT_REFUSED, EXIT_ERROR, EXIT_UNKNOWN, EXIT_CANCELLED = 0, 1, 2, 3, 130


class Result(StrEnum):
    """How an action ended. Once sent, exactly one of DONE, REFUSED (by the server) or UNKNOWN."""

    DONE = "done"  # the server carried it out
    REFUSED = "refused"  # the server answered no (its message and code)
    NOT_ALLOWED = "not_allowed"  # bkwatch refused: the state (read right before) does not allow it
    DISABLED = "disabled"  # bkwatch refused: actions are off
    NO_TERMINAL = "no_terminal"  # bkwatch refused: no one to confirm it, and no --yes
    BUSY = "busy"  # bkwatch refused: one is already in flight for this task
    CANCELLED = "cancelled"  # the user answered No, Ctrl-C or end of input at the prompt
    UNKNOWN = "unknown"  # sent, and no answer that can be trusted: the task was read again
    ERROR = "error"  # before sending: the task could not be read, configuration

    @property
    def by_bkwatch(self) -> bool:
        """Refused by bkwatch's own checks: nothing was sent."""
        return self in _BY_BKWATCH

    @property
    def exit_code(self) -> int:
        if self is Result.DONE:
            return EXIT_DONE
        if self is Result.REFUSED or self.by_bkwatch:
            return EXIT_REFUSED
        if self is Result.UNKNOWN:
            return EXIT_UNKNOWN
        if self is Result.CANCELLED:
            return EXIT_CANCELLED
        return EXIT_ERROR

    @property
    def audited(self) -> str:
        """The word recorded in the audit file: sent, done, refused, cancelled, unknown, settled, error."""
        return "refused" if self.by_bkwatch else str(self)


_BY_BKWATCH = frozenset({Result.NOT_ALLOWED, Result.DISABLED, Result.NO_TERMINAL, Result.BUSY})


def unsure(exc: BkError) -> bool:
    """Whether a failure after the request left leaves the action's fate unknown (else the server
    answered no, readably: an error envelope, or a 4xx with its text)."""
    if exc.kind in _UNSURE:
        return True
    if exc.status is not None:  # an error envelope: a gateway's 5xx about its backend is no answer
        code = exc.code or ""
        return exc.status >= 500 or code in _UNSURE_CODES or code.startswith("1650")
    # An HTTP error status whose body is no envelope: 5xx (a proxy's 502 page) is not an answer.
    return exc.kind is ErrorKind.SERVER


def enable_hint(profile: Profile) -> str:
    return (
        f"actions are off for profile {profile.name!r}; nothing was sent. Turn them on with "
        f"allow_actions = true in [profiles.{profile.name}] of config.toml, the --allow-actions option, "
        f"or {ALLOW_ACTIONS_ENV}=1"
    )


@dataclass
class Plan:
    """One action on one task (and step or node), judged on the snapshot `task` seen at `fetched_at`."""

    spec: ActionSpec
    target: Target
    task: Task
    subject_id: str | None = None
    fetched_at: float = field(default_factory=time.time)

    @property
    def offer(self) -> Offer:
        step = self.subject_id if Level.STEP in self.spec.levels else None
        node = self.subject_id if Level.NODE in self.spec.levels else None
        return judge(self.spec, self.task, step, node)

    def hosts(self) -> list[Host]:
        """The hosts the action runs on (JOB step actions); empty otherwise."""
        subject = self.offer.subject
        if not isinstance(subject, Step):
            return []
        hosts = list(subject.hosts.values())
        if self.spec.id == "job.retry_failed":
            return [h for h in hosts if h.state is not State.SUCCEEDED]
        return hosts

    def summary(self) -> list[str]:
        """What will happen, line by line, for the confirmation (server text made one plain line)."""
        task, spec = self.task, self.spec
        lines = [
            f"System: {traits(task.system).label}",
            f"Task:   {one_line(task.name or '(no name)', 80)} ({self.target})",
        ]
        subject = self.offer.subject
        if isinstance(subject, Step):
            lines.append(
                f"Step:   {one_line(subject.name or '(no name)', 60)} (id {subject.id}, "
                f"{subject.state}, run {subject.execute_count + 1})"
            )
        elif isinstance(subject, Node):
            lines.append(
                f"Node:   {one_line(subject.name or subject.id, 60)} (id {subject.id}, {subject.state})"
            )
        hosts = self.hosts()
        if hosts:
            first = ", ".join(one_line(h.ip, 40) for h in hosts[:FIRST_HOSTS])
            more = f", … ({len(hosts) - FIRST_HOSTS} more)" if len(hosts) > FIRST_HOSTS else ""
            lines.append(f"Hosts:  {len(hosts)}: {first}{more}")
        lines.append(f"Action: {spec.label}: {spec.effect}")
        return lines


@dataclass
class Outcome:
    result: Result
    message: str
    code: str | None = None
    task: Task | None = None  # the task as read again (after an unknown answer, or a re-check)
    sent: bool = False
    settled: str | None = None  # after UNKNOWN: what the task showed when read again, in words

    @property
    def exit_code(self) -> int:
        return self.result.exit_code


Fetch = Callable[["BkClient", "Target"], Awaitable[Task]]


class Actor:
    """Performs actions for one profile through one client. A second action on a task while one is
    in flight is refused (BUSY) without sending anything.

    Every decision goes to the audit file: ``sent`` just before the request, then exactly one of
    ``done``, ``refused`` (by the server, with its code) or ``unknown`` followed by ``settled`` (what
    the task showed when read again); ``refused`` by bkwatch (``by``: bkwatch, ``why``), ``cancelled``
    by the user, or ``error`` when nothing could be sent."""

    def __init__(
        self,
        client: BkClient,
        profile: Profile,
        *,
        data_dir: Path,
        interval: float = 5.0,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.profile = profile
        self.audit_path = audit.audit_path(data_dir)
        self.interval = interval  # the poll interval; the task is read again before sending whatever its age
        self._fetch = fetch
        self.clock = clock
        self._in_flight: set[str] = set()

    async def fetch(self, target: Target) -> Task:
        if self._fetch is not None:
            return await self._fetch(self.client, target)
        from bkwatch.systems.adapters import fetch_task  # lazy: the adapters import this module

        return await fetch_task(self.client, target)

    def record(
        self,
        plan: Plan,
        outcome: Outcome | str,
        wire: Wire | None,
        *,
        message: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        """One audit line about `plan`: an outcome, or a step of one ("sent", "settled")."""
        subject = None
        if plan.subject_id is not None:
            subject = {("node" if Level.NODE in plan.spec.levels else "step"): plan.subject_id}
        target, spec = str(plan.target), plan.spec
        self.note(target, spec.system, spec.id, subject, outcome, wire, message=message, state=state)

    def note(
        self,
        target: str,
        system: System | str,
        action: str,
        subject: dict[str, str] | None,
        outcome: Outcome | str,
        wire: Wire | None = None,
        *,
        message: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        """One audit line, also for a decision taken before there is a plan (actions off)."""
        params: dict[str, Any] | None = None
        if wire is not None:
            params = {"via": wire.via, "method": wire.method, "path": wire.path, **wire.params}
        record: dict[str, Any] = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock())),
            "profile": self.profile.name,
            "user": self.profile.username,
            "local_user": _local_user(),
            "target": target,
            "system": str(system),
            "action": action,
            "subject": subject,
            "parameters": params,
            "state": state,
        }
        if isinstance(outcome, Outcome):
            result = outcome.result
            record.update(result=result.audited, code=outcome.code, message=message or outcome.message)
            if result is Result.REFUSED or result.by_bkwatch:
                record.update(by="bkwatch" if result.by_bkwatch else "server")
                record.update(why=str(result) if result.by_bkwatch else None)
        else:
            record.update(result=outcome, message=message)
        audit.append(self.audit_path, record, self.profile.secrets())

    def refuse(self, plan: Plan, result: Result, message: str) -> Outcome:
        """bkwatch refuses (actions off, state, no terminal, busy): nothing is sent; recorded."""
        outcome = Outcome(result, message, task=plan.task)
        self.record(plan, outcome, None)
        return outcome

    def decline(self, plan: Plan, why: str = "not confirmed") -> Outcome:
        """The user answered No (or interrupted the question): nothing is sent; recorded."""
        outcome = Outcome(Result.CANCELLED, f"{why}; nothing was sent")
        self.record(plan, outcome, None)
        return outcome

    async def perform(self, plan: Plan) -> Outcome:
        key = str(plan.target)
        if key in self._in_flight:
            return self.refuse(
                plan, Result.BUSY, f"an action on {key} is already in flight; nothing was sent"
            )
        self._in_flight.add(key)
        try:
            return await self._perform(plan)
        finally:
            self._in_flight.discard(key)

    async def _perform(self, plan: Plan) -> Outcome:
        if not self.profile.allow_actions:
            return self.refuse(plan, Result.DISABLED, enable_hint(self.profile))
        # Judged on the freshest data there is: the task is read again right before sending,
        # however recent the screen's (or the command's) copy.
        try:
            plan.task, plan.fetched_at = await self.fetch(plan.target), self.clock()
        except BkError as exc:
            return self._ended(
                plan, Outcome(Result.ERROR, f"could not read the task again; nothing was sent: {exc.message}")
            )
        reason = plan.offer.reason
        if reason is not None:
            return self.refuse(plan, Result.NOT_ALLOWED, f"{reason}; nothing was sent")
        try:
            via = self.client.transport_for(plan.spec.system)
            wire = build(plan.spec, plan.target, plan.subject_id, via, self.profile.username)
        except BkError as exc:
            return self._ended(plan, Outcome(Result.ERROR, f"{exc.message}; nothing was sent"))
        before = plan.task
        self.record(plan, "sent", wire, message=f"{plan.spec.label}: {plan.spec.effect}")
        try:
            await self.client.call(
                plan.spec.system,
                wire.path,
                via=wire.via,
                method=wire.method,
                params=wire.params,
                allow_no_data=True,
            )
        except BkError as exc:
            if exc.kind is ErrorKind.CONFIG:  # refused by the client before anything left
                return self._ended(plan, Outcome(Result.ERROR, f"{exc.message}; nothing was sent"), wire)
            if unsure(exc):
                return await self._unknown(plan, before, exc.message, wire)
            return self._ended(plan, _refusal(plan, exc), wire)
        except BaseException:
            # Interrupted (Ctrl-C) or cancelled while waiting for the answer: the request may be
            # out. Recorded as such, not read again: whoever interrupted wants out now.
            self.record(
                plan, Outcome(Result.UNKNOWN, "interrupted while waiting for the answer", sent=True), wire
            )
            raise
        done = Outcome(Result.DONE, f"done: {plan.spec.label.lower()} — {plan.spec.effect}", sent=True)
        return self._ended(plan, done, wire)

    def _ended(self, plan: Plan, outcome: Outcome, wire: Wire | None = None) -> Outcome:
        self.record(plan, outcome, wire)
        return outcome

    async def _unknown(self, plan: Plan, before: Task, error: str, wire: Wire) -> Outcome:
        """No answer to trust: recorded ``unknown``, the task read once, what it shows recorded
        ``settled`` and said in words tied to the action. Never sent again from here."""
        what = request_to(plan.spec)
        self.record(plan, Outcome(Result.UNKNOWN, error, sent=True), wire)
        task: Task | None = None
        state: dict[str, Any] | None = None
        try:
            task = await self.fetch(plan.target)
        except BkError as again:
            seen = (
                f"the task could not be read again ({again.message}): whether the {what} arrived is not known"
            )
        else:
            seen = observe(plan.spec, plan.subject_id, before, task)
            state = observed_state(plan.spec, plan.subject_id, task)
        self.record(plan, "settled", None, message=seen, state=state)
        message = (
            f"{error}; the {what} may or may not have happened. Read again: {seen}. "
            "Nothing is sent again by itself; look before trying again"
        )
        return Outcome(Result.UNKNOWN, message, task=task, sent=True, settled=seen)


def _refusal(plan: Plan, exc: BkError) -> Outcome:
    """The server answered no: its message and code."""
    # A code the system refuses with for the task's state (§10.5), or, where it refuses with
    # result false and no code over HTTP 200 (BKFlow's task module), exactly that.
    t = traits(plan.spec.system)
    state = (exc.code is not None and exc.code in t.refused_codes) or (
        t.refuses_without_code and exc.code is None and exc.status == 200
    )
    why = " (the task's state does not allow it)" if state else ""
    return Outcome(Result.REFUSED, f"refused by the server{why}: {exc.message}", code=exc.code, sent=True)


def _local_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
