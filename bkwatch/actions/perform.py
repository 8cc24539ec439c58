"""Performing one action safely: off unless enabled, judged on fresh data, exactly one request,
the answer classified, a timeout followed by a re-poll, every attempt audited, never retried.

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
from bkwatch.actions.wire import Wire, build
from bkwatch.config import ALLOW_ACTIONS_ENV, Profile
from bkwatch.model import BkError, ErrorKind, Host, Node, State, Step, Task
from bkwatch.systems.registry import traits
from bkwatch.text import one_line

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.targets import Target

FIRST_HOSTS = 5
_UNSURE = frozenset({ErrorKind.TIMEOUT, ErrorKind.NETWORK})


class Result(StrEnum):
    ACCEPTED = "accepted"  # the server accepted it
    REFUSED = "refused"  # the server refused it for the task's state
    NOT_ALLOWED = "not_allowed"  # the state (re-checked) does not allow it: nothing sent
    DISABLED = "disabled"  # actions are off: nothing sent
    DECLINED = "declined"  # the user answered No: nothing sent
    BUSY = "busy"  # one is already in flight for this task: nothing sent
    UNKNOWN = "unknown"  # no answer: the task was re-polled, see the message
    ERROR = "error"  # any other failure (auth, permission, network before sending, config)

    @property
    def exit_code(self) -> int:
        if self is Result.ACCEPTED:
            return 0
        return 1 if self in (Result.REFUSED, Result.NOT_ALLOWED) else 2


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
    task: Task | None = None  # the task as re-polled (after a timeout or a re-check)
    sent: bool = False

    @property
    def exit_code(self) -> int:
        return self.result.exit_code


Fetch = Callable[["BkClient", "Target"], Awaitable[Task]]


class Actor:
    """Performs actions for one profile through one client. A second action on a task while one is
    in flight is refused (BUSY) without sending anything."""

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
        self.interval = interval
        self._fetch = fetch
        self.clock = clock
        self._in_flight: set[str] = set()

    async def fetch(self, target: Target) -> Task:
        if self._fetch is not None:
            return await self._fetch(self.client, target)
        from bkwatch.systems.adapters import fetch_task

        return await fetch_task(self.client, target)

    def record(self, plan: Plan, outcome: Outcome, wire: Wire | None) -> None:
        params: dict[str, Any] | None = None
        if wire is not None:
            params = {"via": wire.via, "method": wire.method, "path": wire.path, **wire.params}
        subject = None
        if plan.subject_id is not None:
            subject = {("node" if Level.NODE in plan.spec.levels else "step"): plan.subject_id}
        audit.append(
            self.audit_path,
            {
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock())),
                "profile": self.profile.name,
                "user": self.profile.username,
                "local_user": _local_user(),
                "target": str(plan.target),
                "system": str(plan.spec.system),
                "action": plan.spec.id,
                "subject": subject,
                "parameters": params,
                "result": str(outcome.result),
                "code": outcome.code,
                "message": outcome.message,
            },
            self.profile.secrets(),
        )

    def decline(self, plan: Plan) -> Outcome:
        """The user answered No: nothing is sent; recorded all the same."""
        outcome = Outcome(Result.DECLINED, "not confirmed; nothing was sent")
        self.record(plan, outcome, None)
        return outcome

    async def perform(self, plan: Plan) -> Outcome:
        key = str(plan.target)
        if key in self._in_flight:
            return Outcome(Result.BUSY, f"an action on {key} is already in flight; nothing was sent")
        self._in_flight.add(key)
        try:
            outcome, wire = await self._perform(plan)
        finally:
            self._in_flight.discard(key)
        self.record(plan, outcome, wire)
        return outcome

    async def _perform(self, plan: Plan) -> tuple[Outcome, Wire | None]:
        if not self.profile.allow_actions:
            return Outcome(Result.DISABLED, enable_hint(self.profile)), None
        if self.clock() - plan.fetched_at > self.interval:
            # Judged on old data: look again before acting on it.
            try:
                plan.task, plan.fetched_at = await self.fetch(plan.target), self.clock()
            except BkError as exc:
                return Outcome(
                    Result.ERROR, f"could not re-check the task; nothing was sent: {exc.message}"
                ), None
        reason = plan.offer.reason
        if reason is not None:
            return Outcome(Result.NOT_ALLOWED, f"{reason}; nothing was sent", task=plan.task), None
        try:
            via = self.client.transport_for(plan.spec.system)
            wire = build(plan.spec, plan.target, plan.subject_id, via, self.profile.username)
        except BkError as exc:
            return Outcome(Result.ERROR, f"{exc.message}; nothing was sent"), None
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
            return await self._failed(plan, exc), wire
        return Outcome(
            Result.ACCEPTED, f"accepted: {plan.spec.label.lower()} — {plan.spec.effect}", sent=True
        ), wire

    async def _failed(self, plan: Plan, exc: BkError) -> Outcome:
        system = plan.spec.system
        if exc.kind in _UNSURE:
            # The request may or may not have been carried out: say what the task shows now.
            try:
                task = await self.fetch(plan.target)
            except BkError as again:
                return Outcome(
                    Result.UNKNOWN,
                    f"{exc.message}; the action may or may not have happened, and the task could not be "
                    f"read either ({again.message}); look at the task before trying again",
                    sent=True,
                )
            return Outcome(
                Result.UNKNOWN,
                f"{exc.message}; the action may or may not have happened. The task now shows: "
                f"{describe(task, plan)}; look before trying again",
                task=task,
                sent=True,
            )
        refused = exc.kind not in (ErrorKind.AUTH, ErrorKind.PERMISSION) and (
            # A code the system refuses with for the task's state (§10.5), or, where it refuses
            # with result false and no code over HTTP 200 (BKFlow's task module), exactly that.
            (exc.code is not None and exc.code in traits(system).refused_codes)
            or (traits(system).refuses_without_code and exc.code is None and exc.status == 200)
        )
        result = Result.REFUSED if refused else Result.ERROR
        return Outcome(
            result, f"refused: {exc.message}" if refused else exc.message, code=exc.code, sent=True
        )


def describe(task: Task, plan: Plan) -> str:
    """The task's state, and the step's or node's when the plan names one."""
    text = f"task {task.state} ({one_line(str(task.raw_state), 20)})"
    fresh = Plan(plan.spec, plan.target, task, plan.subject_id).offer.subject
    if isinstance(fresh, Step):
        text += f", step {fresh.id} {fresh.state} (run {fresh.execute_count + 1})"
    elif isinstance(fresh, Node):
        text += f", node {fresh.id} {fresh.state}"
    return text


def _local_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
