"""Which declared action a command-line verb means for a given task (and step or node).

`choose` raises `ChoiceError`: `not_allowed=True` when the task's state is the reason (exit 1),
else a usage problem (exit 2).
"""

from __future__ import annotations

from bkwatch.actions.catalog import BY_ID, ActionSpec, find_node, find_step
from bkwatch.model import System, Task
from bkwatch.text import one_line


class ChoiceError(Exception):
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


def _first_allowed(task: Task, ids: list[str], subject_id: str, what: str) -> tuple[ActionSpec, str]:
    subject = find_step(task, subject_id) if task.system is System.JOB else find_node(task, subject_id)
    if subject is None:
        raise ChoiceError(f"no {what} {one_line(subject_id, 40)} in {task.target}")
    for action_id in ids:
        if BY_ID[action_id].check(task, subject) is None:
            return BY_ID[action_id], subject_id
    reason = BY_ID[ids[0]].check(task, subject) or "not allowed now"
    raise ChoiceError(reason, not_allowed=True, spec=BY_ID[ids[0]], subject_id=subject_id)


def choose(
    verb: str,
    task: Task,
    *,
    step_id: str | None = None,
    node_id: str | None = None,
    all_hosts: bool = False,
    reject: bool = False,
) -> tuple[ActionSpec, str | None]:
    """The action and the step / node id it acts on."""
    system = task.system
    if system is System.JOB:
        return _job(verb, task, step_id, node_id, all_hosts, reject)
    if system in (System.SOPS, System.BKFLOW):
        return _pipeline(verb, task, step_id, node_id, all_hosts, reject)
    raise ChoiceError(f"{system} has no operations bkwatch can send")


def _job(
    verb: str, task: Task, step_id: str | None, node_id: str | None, all_hosts: bool, reject: bool
) -> tuple[ActionSpec, str | None]:
    if node_id is not None:
        raise ChoiceError("JOB jobs have steps, not nodes: use --step STEP_ID")
    if verb == "stop":
        return BY_ID["job.terminate"], None
    if verb in ("pause", "resume"):
        raise ChoiceError("JOB jobs cannot be paused or resumed; 'bkwatch stop' terminates one")
    if verb == "retry":
        spec = BY_ID["job.retry_all" if all_hosts else "job.retry_failed"]
        if step_id is not None:
            return _first_allowed(task, [spec.id], step_id, "step")
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
        return _first_allowed(task, ["job.ignore_error", "job.next_step", "job.force_skip"], step_id, "step")
    if verb == "confirm":
        step = find_step(task, step_id)
        if step is None:
            raise ChoiceError(f"no step {one_line(step_id, 40)} in {task.target}")
        if reject:
            if step.kind != "manual":
                raise ChoiceError(
                    "only a manual-confirmation step can be refused; 'bkwatch stop' ends the job"
                )
            return _first_allowed(task, ["job.reject"], step_id, "step")
        if step.kind == "manual":
            return _first_allowed(task, ["job.confirm", "job.reconfirm"], step_id, "step")
        return _first_allowed(task, ["job.continue_rolling"], step_id, "step")
    raise ChoiceError(f"unknown action {verb!r}")


def _pipeline(
    verb: str, task: Task, step_id: str | None, node_id: str | None, all_hosts: bool, reject: bool
) -> tuple[ActionSpec, str | None]:
    s = task.system.value
    if step_id is not None or all_hosts:
        raise ChoiceError(f"{s} tasks have nodes, not steps or hosts: use --node NODE_ID")
    if verb == "confirm":
        raise ChoiceError(
            "confirm is for JOB manual and rolling steps; 'bkwatch resume' resumes a paused node"
        )
    if verb == "stop":
        return BY_ID[f"{s}.revoke"], None
    if verb in ("pause", "resume") and node_id is None:
        return BY_ID[f"{s}.{verb}"], None
    if verb in ("pause", "resume"):
        if task.system is System.BKFLOW:
            raise ChoiceError("BKFlow offers no node pause or resume; pause or resume the whole task")
        node = find_node(task, node_id or "")
        if node is None:
            raise ChoiceError(f"no node {one_line(node_id, 40)} in {task.target}")
        if verb == "pause":
            if not node.children:
                raise ChoiceError("only a subprocess node can be paused here; pause the whole task instead")
            return _first_allowed(task, ["sops.pause_subprocess"], node.id, "node")
        ids = ["sops.resume_subprocess"] if node.children else ["sops.resume_node"]
        return _first_allowed(task, ids, node.id, "node")
    if verb not in ("retry", "skip"):
        raise ChoiceError(f"unknown action {verb!r}")
    spec_id = f"{s}.retry_node" if verb == "retry" else f"{s}.skip_node"
    if node_id is not None:
        return _first_allowed(task, [spec_id], node_id, "node")
    if verb == "skip":
        raise ChoiceError("skip needs --node NODE_ID")
    failed = [n for n in task.leaf_nodes() if n.raw_state == "FAILED"]
    if not failed:
        raise ChoiceError("no failed node; retry needs a failed node", not_allowed=True, spec=BY_ID[spec_id])
    if len(failed) > 1:
        ids = ", ".join(one_line(n.id, 40) for n in failed[:5])
        raise ChoiceError(f"{len(failed)} failed nodes ({ids}); choose one with --node NODE_ID")
    return BY_ID[spec_id], failed[0].id
