"""Every task operation bkwatch can perform, declared once: per system, what it applies to, the API
and operation it sends, and the precondition judged on the unified model (fact sheet §10.5).

A precondition returns None when the action is allowed, else the reason in words
("step is running; retry needs it failed"). The monitor greys an action with that reason; the CLI
refuses with it (exit 1). NodeMan and GSEKit have no operation reachable over the ESB or a gateway
(§10.5): `unreachable()` says so, with the web page to do it there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bkwatch.model import Node, Step, System, Task


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


JOB_WORDS = {
    "1": "waiting to start",
    "2": "running",
    "3": "succeeded",
    "4": "failed",
    "5": "skipped",
    "6": "failed with the error ignored",
    "7": "waiting for confirmation",
    "8": "terminated",
    "9": "in an abnormal state",
    "10": "stopping",
    "11": "stopped",
    "13": "refused at confirmation",
    "14": "abandoned",
    "15": "waiting for the next rolling batch",
}
PIPELINE_WORDS = {
    "CREATED": "not started",
    "READY": "queued",
    "RUNNING": "running",
    "SUSPENDED": "paused",
    "NODE_SUSPENDED": "waiting on a paused node",
    "BLOCKED": "blocked",
    "FINISHED": "finished",
    "FAILED": "failed",
    "REVOKED": "revoked",
    "EXPIRED": "expired",
}


def _words(system: System, raw: str) -> str:
    table = JOB_WORDS if system is System.JOB else PIPELINE_WORDS
    return table.get(str(raw), f"in state {raw}")


# -- JOB ------------------------------------------------------------------------------------------


def _job_step(allowed: frozenset[str], verb: str, needs: str, manual: bool | None) -> Check:
    def check(task: Task, subject: Subject) -> str | None:
        if not isinstance(subject, Step):
            return f"{verb} applies to a step; choose one"
        if manual is True and subject.kind != "manual":
            return f"step is a {subject.kind} step; {verb} needs a manual-confirmation step"
        if manual is False and subject.kind == "manual":
            return f"step is a manual-confirmation step; {verb} is for script and file steps"
        if subject.raw_state not in allowed:
            return f"step is {_words(System.JOB, subject.raw_state)}; {verb} needs it {needs}"
        return None

    return check


def _job_task(allowed: frozenset[str], verb: str, needs: str) -> Check:
    def check(task: Task, subject: Subject) -> str | None:
        if str(task.raw_state) not in allowed:
            return f"job is {_words(System.JOB, str(task.raw_state))}; {verb} needs it {needs}"
        return None

    return check


_RETRYABLE = frozenset({"4", "9", "11"})
_F = frozenset


def _job_actions() -> list[ActionSpec]:
    step, hosts, task = Level.STEP, Level.HOSTS, Level.TASK
    j, op_step, op_job = System.JOB, "operate_step_instance", "operate_job_instance"
    retry_needs = "failed, abnormal or stopped"
    return [
        ActionSpec(
            "job.retry_failed", j, "Retry the failed hosts", (hosts, step), op_step, 2, "retry",
            "runs the step again on its failed hosts (execute_count + 1)",
            _job_step(_RETRYABLE, "retry", retry_needs, False),
        ),
        ActionSpec(
            "job.retry_all", j, "Retry all hosts", (hosts, step), op_step, 8, "retry",
            "runs the step again on every host (execute_count + 1)",
            _job_step(_RETRYABLE, "retry", retry_needs, False),
        ),
        ActionSpec(
            "job.ignore_error", j, "Ignore the error and go on", (step,), op_step, 3, "skip",
            "marks the failed step as error-ignored and starts the next step",
            _job_step(_F({"4", "9"}), "ignore error", "failed or abnormal", False),
        ),
        ActionSpec(
            "job.confirm", j, "Confirm and continue", (step,), op_step, 6, "confirm",
            "confirms the manual step; the job continues",
            _job_step(_F({"7"}), "confirm", "waiting for confirmation", True),
        ),
        ActionSpec(
            "job.reject", j, "Refuse the confirmation", (step,), op_step, 9, "confirm",
            "refuses the manual step; the job ends as refused at confirmation",
            _job_step(_F({"7"}), "refuse", "waiting for confirmation", True),
        ),
        ActionSpec(
            "job.reconfirm", j, "Ask for confirmation again", (step,), op_step, 10, "confirm",
            "asks the confirmers again; the step waits for confirmation",
            _job_step(_F({"13"}), "ask again", "refused at confirmation", True),
        ),
        ActionSpec(
            "job.continue_rolling", j, "Continue with the next batch", (step,), op_step, 13, "confirm",
            "starts the next rolling batch",
            _job_step(_F({"15", "7"}), "continue", "waiting for the next rolling batch", False),
        ),
        ActionSpec(
            "job.next_step", j, "Go on to the next step", (step,), op_step, 11, "skip",
            "leaves the stopped step and starts the next one",
            _job_step(_F({"11"}), "next step", "stopped", None),
        ),
        ActionSpec(
            "job.force_skip", j, "Force-skip the stopping step", (step,), op_step, 12, "skip",
            "skips the step that is being stopped and starts the next one",
            _job_step(_F({"10"}), "force skip", "stopping", None),
        ),
        ActionSpec(
            "job.terminate", j, "Terminate the job", (task,), op_job, 1, "stop",
            "terminates the job: running hosts are stopped",
            _job_task(_F({"2", "7", "15"}), "terminate", "running or waiting"), type_id=True,
        ),
        ActionSpec(
            "job.start", j, "Start the job", (task,), op_job, 2, "start",
            "starts the job",
            _job_task(_F({"1"}), "start", "waiting to start"),
        ),
    ]  # fmt: skip


# -- SOPS / BKFlow ----------------------------------------------------------------------------------

_OVER = ("REVOKED", "EXPIRED")


def _node(state: str, verb: str, subprocess: bool) -> Check:
    def check(task: Task, subject: Subject) -> str | None:
        if str(task.raw_state) in _OVER:
            return f"task is {_words(task.system, str(task.raw_state))}; nothing can change it now"
        if not isinstance(subject, Node) or (task.root is not None and subject is task.root):
            return f"{verb} applies to a node; choose one"
        if subprocess and not subject.children:
            return f"node is an activity; {verb} needs a subprocess node"
        if not subprocess and subject.children:
            return f"node is a subprocess; {verb} needs an activity node"
        if subject.raw_state != state:
            return (
                f"node is {_words(task.system, subject.raw_state)}; "
                f"{verb} needs it {_words(task.system, state)}"
            )
        return None

    return check


def _pipeline_task(allowed: frozenset[str], verb: str, needs: str) -> Check:
    def check(task: Task, subject: Subject) -> str | None:
        raw = str(task.raw_state)
        if raw not in allowed:
            return f"task is {_words(task.system, raw)}; {verb} needs it {needs}"
        return None

    return check


_REVOCABLE = _F({"READY", "RUNNING", "SUSPENDED", "NODE_SUSPENDED", "BLOCKED", "FAILED"})


def _pipeline_actions(system: System) -> list[ActionSpec]:
    s, node, task = system.value, Level.NODE, Level.TASK
    out = [
        ActionSpec(
            f"{s}.retry_node", system, "Retry the node (same inputs)", (node,), "operate_node", "retry",
            "retry", "runs the failed node again with the same inputs; it can fail again",
            _node("FAILED", "retry", False),
        ),
        ActionSpec(
            f"{s}.skip_node", system, "Skip the node", (node,), "operate_node", "skip", "skip",
            "marks the failed node skipped; the pipeline continues after it",
            _node("FAILED", "skip", False),
        ),
        ActionSpec(
            f"{s}.force_fail", system, "Force the node to fail", (node,), "operate_node", "forced_fail",
            "fail", "makes the running node fail now",
            _node("RUNNING", "force fail", False),
        ),
    ]  # fmt: skip
    if system is System.SOPS:  # BKFlow offers no node pause / resume (§10.5)
        out += [
            ActionSpec(
                "sops.resume_node", system, "Resume the paused node", (node,), "operate_node", "resume",
                "resume", "resumes the paused node", _node("SUSPENDED", "resume", False),
            ),
            ActionSpec(
                "sops.pause_subprocess", system, "Pause the subprocess", (node,), "operate_node",
                "pause_subproc", "pause", "pauses the running subprocess",
                _node("RUNNING", "pause", True),
            ),
            ActionSpec(
                "sops.resume_subprocess", system, "Resume the subprocess", (node,), "operate_node",
                "resume_subproc", "resume", "resumes the paused subprocess",
                _node("SUSPENDED", "resume", True),
            ),
        ]  # fmt: skip
    out += [
        ActionSpec(
            f"{s}.pause", system, "Pause the task", (task,), "operate_task", "pause", "pause",
            "pauses the task: running nodes finish, no new node starts",
            _pipeline_task(_F({"RUNNING", "NODE_SUSPENDED"}), "pause", "running"),
        ),
        ActionSpec(
            f"{s}.resume", system, "Resume the task", (task,), "operate_task", "resume", "resume",
            "resumes the paused task", _pipeline_task(_F({"SUSPENDED"}), "resume", "paused"),
        ),
        ActionSpec(
            f"{s}.revoke", system, "Revoke the task", (task,), "operate_task", "revoke", "stop",
            "revokes the task for good: nothing runs after it",
            _pipeline_task(_REVOCABLE, "revoke", "started and not finished"), type_id=True,
        ),
        ActionSpec(
            f"{s}.start", system, "Start the task", (task,), "operate_task", "start", "start",
            "starts the task (queued; it runs shortly after)",
            _pipeline_task(_F({"CREATED"}), "start", "not started"),
        ),
    ]  # fmt: skip
    return out


ACTIONS: tuple[ActionSpec, ...] = (
    *_job_actions(),
    *_pipeline_actions(System.SOPS),
    *_pipeline_actions(System.BKFLOW),
)
BY_ID: dict[str, ActionSpec] = {a.id: a for a in ACTIONS}


def for_system(system: System) -> list[ActionSpec]:
    return [a for a in ACTIONS if a.system is system]


# -- NodeMan / GSEKit: nothing reachable -----------------------------------------------------------


def web_page(system: System, scope: str, task_id: str, paas: str | None) -> str:
    """The page to act from (PaaS2 addresses under the ESB host; a site may serve them elsewhere)."""
    base = (paas or "https://PAAS_HOST").rstrip("/")
    if system is System.NODEMAN:
        return f"{base}/o/bk_nodeman/#/task-list/detail/{task_id}"
    return f"{base}/o/bk_gsekit/task-history/detail/{task_id}?biz={scope}"


def unreachable(system: System, scope: str, task_id: str, paas: str | None = None) -> str | None:
    """Why a system has no operations here, with the page to do it; None for systems that have some."""
    if system not in (System.NODEMAN, System.GSEKIT):
        return None
    name = "NodeMan" if system is System.NODEMAN else "GSEKit"
    return (
        f"{name} retry and revoke are not reachable through the ESB or an API gateway; "
        f"do it on the web page: {web_page(system, scope, task_id, paas)}"
    )


# -- offers for a thing on screen ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    spec: ActionSpec
    subject: Subject  # the step or node it would act on; None for the task
    reason: str | None  # None: allowed now

    @property
    def allowed(self) -> bool:
        return self.reason is None


def find_step(task: Task, step_id: str) -> Step | None:
    return next((s for s in task.steps if s.id == str(step_id)), None)


def find_node(task: Task, node_id: str) -> Node | None:
    if task.root is None:
        return None
    return next((n for n, _ in task.root.walk() if n.id == str(node_id) and n is not task.root), None)


def offers(
    task: Task, *, step_id: str | None = None, node_id: str | None = None, hosts: bool = False
) -> list[Offer]:
    """Every action for what is under the cursor, most relevant first (host group, step or node,
    then the task), each allowed or with the reason it is not. Empty for NodeMan / GSEKit."""
    specs = for_system(task.system)
    out: list[Offer] = []
    step = find_step(task, step_id) if step_id is not None else None
    node = find_node(task, node_id) if node_id is not None else None
    if step is not None:
        first = Level.HOSTS if hosts else Level.STEP
        ordered = [a for a in specs if a.levels[0] is first] + [
            a for a in specs if Level.STEP in a.levels and a.levels[0] is not first
        ]
        if hosts:
            ordered = [a for a in ordered if Level.HOSTS in a.levels] + [
                a for a in ordered if Level.HOSTS not in a.levels
            ]
        out += [Offer(a, step, a.check(task, step)) for a in ordered]
    if node is not None:
        out += [Offer(a, node, a.check(task, node)) for a in specs if Level.NODE in a.levels]
    out += [Offer(a, None, a.check(task, None)) for a in specs if Level.TASK in a.levels]
    return out


def judge(spec: ActionSpec, task: Task, step_id: str | None = None, node_id: str | None = None) -> Offer:
    """`spec` on the step / node of that id in `task` (a fresh snapshot): allowed or why not."""
    subject: Subject = None
    if Level.STEP in spec.levels:
        subject = find_step(task, step_id) if step_id is not None else None
        if subject is None:
            return Offer(spec, None, f"no step {step_id} in this job" if step_id else "choose a step")
    elif Level.NODE in spec.levels:
        subject = find_node(task, node_id) if node_id is not None else None
        if subject is None:
            return Offer(spec, None, f"no node {node_id} in this task" if node_id else "choose a node")
    return Offer(spec, subject, spec.check(task, subject))
