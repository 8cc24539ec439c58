"""JOB's operations (fact sheet §10.5): `operate_step_instance` and `operate_job_instance`, each
declared once with the precondition judged on the model, the verbs that reach them, and the one
request that sends each."""

from __future__ import annotations

from typing import Any

from bkwatch.action_spec import (
    ActionSpec,
    Check,
    ChoiceError,
    Level,
    Subject,
    VerbArgs,
    Wire,
    find_step,
    first_allowed,
    state_words,
)
from bkwatch.model import Step, System, Task
from bkwatch.systems.common import to_int
from bkwatch.target import Target
from bkwatch.text import one_line

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
            return f"step is {state_words(JOB_WORDS, subject.raw_state)}; {verb} needs it {needs}"
        return None

    return check


def _job_task(allowed: frozenset[str], verb: str, needs: str) -> Check:
    def check(task: Task, subject: Subject) -> str | None:
        if str(task.raw_state) not in allowed:
            return f"job is {state_words(JOB_WORDS, str(task.raw_state))}; {verb} needs it {needs}"
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


ACTIONS: tuple[ActionSpec, ...] = tuple(_job_actions())
_BY_ID = {a.id: a for a in ACTIONS}


def _allowed(task: Task, ids: list[str], step_id: str) -> tuple[ActionSpec, str]:
    return first_allowed(task, [_BY_ID[i] for i in ids], find_step(task, step_id), step_id, "step")


def choose(verb: str, task: Task, args: VerbArgs) -> tuple[ActionSpec, str | None]:
    """The JOB action a command-line verb means, and the step it acts on."""
    step_id, all_hosts, reject = args.step_id, args.all_hosts, args.reject
    if args.node_id is not None:
        raise ChoiceError("JOB jobs have steps, not nodes: use --step STEP_ID")
    if verb == "stop":
        return _BY_ID["job.terminate"], None
    if verb in ("pause", "resume"):
        raise ChoiceError("JOB jobs cannot be paused or resumed; 'bkwatch stop' terminates one")
    if verb == "retry":
        spec = _BY_ID["job.retry_all" if all_hosts else "job.retry_failed"]
        if step_id is not None:
            return _allowed(task, [spec.id], step_id)
        for step in task.steps:
            if spec.check(task, step) is None:
                return spec, step.id
        stuck = next((s for s in task.steps if s.raw_state != "3"), None)
        if stuck is None:
            raise ChoiceError("every step succeeded; there is nothing to retry", not_allowed=True, spec=spec)
        raise ChoiceError(f"no step can be retried: {spec.check(task, stuck)}", not_allowed=True, spec=spec)
    if step_id is None:
        raise ChoiceError(f"{verb} on a JOB job needs --step STEP_ID")
    if verb == "skip":
        return _allowed(task, ["job.ignore_error", "job.next_step", "job.force_skip"], step_id)
    if verb == "confirm":
        step = find_step(task, step_id)
        if step is None:
            raise ChoiceError(f"no step {one_line(step_id, 40)} in {task.target}")
        if reject:
            if step.kind != "manual":
                raise ChoiceError(
                    "only a manual-confirmation step can be refused; 'bkwatch stop' ends the job"
                )
            return _allowed(task, ["job.reject"], step_id)
        if step.kind == "manual":
            return _allowed(task, ["job.confirm", "job.reconfirm"], step_id)
        return _allowed(task, ["job.continue_rolling"], step_id)
    raise ChoiceError(f"unknown action {verb!r}")


def wire(spec: ActionSpec, target: Target, subject_id: str | None, via: str, operator: str | None) -> Wire:
    params: dict[str, Any] = {
        "bk_scope_type": "biz_set" if target.scope_type == "biz_set" else "biz",
        "bk_scope_id": str(target.scope),
        "job_instance_id": to_int(target.id, None) or target.id,
    }
    if spec.api == "operate_step_instance":
        params["step_instance_id"] = to_int(subject_id, None) or subject_id
    params["operation_code"] = spec.operation
    path = f"jobv3/{spec.api}/" if via == "esb" else f"api/v3/{spec.api}"
    return Wire(via, "POST", path, params)
