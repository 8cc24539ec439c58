"""What an action is, as every system declares its own (`systems/<name>/actions.py`): the
spec, what it applies to, the reason it is refused, and the one request that sends it.

Pure: the model and nothing else, so the screen, the catalogue and every system can share it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bkwatch.model import Node, Step, System, Task
from bkwatch.text import one_line


class Level(StrEnum):
    """What an action is about: the task, a JOB step, a JOB step's host group, a pipeline node."""

    TASK = "task"
    STEP = "step"
    HOSTS = "hosts"
    NODE = "node"


Subject = Step | Node | None
Check = Callable[[Task, Subject], str | None]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    id: str  # "job.retry_failed"
    system: System
    label: str  # menu text
    levels: tuple[Level, ...]  # what it applies to, most specific first
    api: str  # operate_step_instance / operate_job_instance / operate_node / operate_task
    operation: int | str  # JOB operation_code, SOPS action, BKFlow operation
    verb: str  # the CLI command that reaches it
    effect: str  # what happens, for the confirmation
    check: Check
    type_id: bool = False  # so final (terminate / revoke) that the task id must be typed


@dataclass(frozen=True, slots=True)
class Wire:
    via: str  # "esb" | "apigw"
    method: str
    path: str  # below the transport's base
    params: dict[str, Any]  # query / JSON body; never credentials (the client adds them)


class ChoiceError(Exception):
    """A command-line verb that names no allowed action: `not_allowed=True` when the task's state
    is the reason (exit 1), else a usage problem (exit 2)."""

    def __init__(
        self,
        message: str,
        *,
        not_allowed: bool = False,
        spec: ActionSpec | None = None,
        subject_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.not_allowed = not_allowed
        self.spec = spec  # the action refused for the state, for the audit
        self.subject_id = subject_id


@dataclass(frozen=True, slots=True)
class VerbArgs:
    """What the command line said besides the verb."""

    step_id: str | None = None
    node_id: str | None = None
    all_hosts: bool = False
    reject: bool = False


# A system's reading of a verb: the action and the step / node id it acts on, or ChoiceError.
Chooser = Callable[[str, Task, VerbArgs], tuple[ActionSpec, "str | None"]]


def find_step(task: Task, step_id: str) -> Step | None:
    return next((s for s in task.steps if s.id == str(step_id)), None)


def find_node(task: Task, node_id: str) -> Node | None:
    if task.root is None:
        return None
    return next((n for n, _ in task.root.walk() if n.id == str(node_id) and n is not task.root), None)


def state_words(table: dict[str, str], raw: str) -> str:
    return table.get(str(raw), f"in state {raw}")


def first_allowed(
    task: Task, specs: list[ActionSpec], subject: Step | Node | None, subject_id: str, what: str
) -> tuple[ActionSpec, str]:
    """The first of `specs` allowed on `subject`, or ChoiceError with the first one's reason."""
    if subject is None:
        raise ChoiceError(f"no {what} {one_line(subject_id, 40)} in {task.target}")
    for spec in specs:
        if spec.check(task, subject) is None:
            return spec, subject_id
    reason = specs[0].check(task, subject) or "not allowed now"
    raise ChoiceError(reason, not_allowed=True, spec=specs[0], subject_id=subject_id)
