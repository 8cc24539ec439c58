"""The operations of a bamboo-engine task, shared by SOPS and BKFlow (fact sheet §10.5): each
declared once with its precondition on the model, and the verbs that reach them."""

from __future__ import annotations

from bkwatch.action_spec import (
    ActionSpec,
    Check,
    ChoiceError,
    Level,
    Subject,
    VerbArgs,
    find_node,
    first_allowed,
    state_words,
)
from bkwatch.model import Node, System, Task
from bkwatch.text import one_line

_F = frozenset

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


_OVER = ("REVOKED", "EXPIRED")


def _node(state: str, verb: str, subprocess: bool) -> Check:
    def check(task: Task, subject: Subject) -> str | None:
        if str(task.raw_state) in _OVER:
            return f"task is {state_words(PIPELINE_WORDS, str(task.raw_state))}; nothing can change it now"
        if not isinstance(subject, Node) or (task.root is not None and subject is task.root):
            return f"{verb} applies to a node; choose one"
        if subprocess and not subject.children:
            return f"node is an activity; {verb} needs a subprocess node"
        if not subprocess and subject.children:
            return f"node is a subprocess; {verb} needs an activity node"
        if subject.raw_state != state:
            return (
                f"node is {state_words(PIPELINE_WORDS, subject.raw_state)}; "
                f"{verb} needs it {state_words(PIPELINE_WORDS, state)}"
            )
        return None

    return check


def _pipeline_task(allowed: frozenset[str], verb: str, needs: str) -> Check:
    def check(task: Task, subject: Subject) -> str | None:
        raw = str(task.raw_state)
        if raw not in allowed:
            return f"task is {state_words(PIPELINE_WORDS, raw)}; {verb} needs it {needs}"
        return None

    return check


_REVOCABLE = _F({"READY", "RUNNING", "SUSPENDED", "NODE_SUSPENDED", "BLOCKED", "FAILED"})


def actions(system: System, *, node_pause: bool) -> tuple[ActionSpec, ...]:
    """The operations of a bamboo-engine task; `node_pause`: the system pauses and resumes nodes."""
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
    if node_pause:  # BKFlow offers no node pause / resume (§10.5)
        out += [
            ActionSpec(
                f"{s}.resume_node", system, "Resume the paused node", (node,), "operate_node", "resume",
                "resume", "resumes the paused node", _node("SUSPENDED", "resume", False),
            ),
            ActionSpec(
                f"{s}.pause_subprocess", system, "Pause the subprocess", (node,), "operate_node",
                "pause_subproc", "pause", "pauses the running subprocess",
                _node("RUNNING", "pause", True),
            ),
            ActionSpec(
                f"{s}.resume_subprocess", system, "Resume the subprocess", (node,), "operate_node",
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
    return tuple(out)


def _allowed(
    task: Task, by_id: dict[str, ActionSpec], ids: list[str], node_id: str
) -> tuple[ActionSpec, str]:
    return first_allowed(task, [by_id[i] for i in ids], find_node(task, node_id), node_id, "node")


def choose(
    verb: str, task: Task, args: VerbArgs, specs: tuple[ActionSpec, ...], *, node_pause: bool
) -> tuple[ActionSpec, str | None]:
    """The pipeline action a command-line verb means, and the node it acts on."""
    by_id = {a.id: a for a in specs}
    step_id, node_id, all_hosts = args.step_id, args.node_id, args.all_hosts
    s = task.system.value
    if step_id is not None or all_hosts:
        raise ChoiceError(f"{s} tasks have nodes, not steps or hosts: use --node NODE_ID")
    if verb == "confirm":
        raise ChoiceError(
            "confirm is for JOB manual and rolling steps; 'bkwatch resume' resumes a paused node"
        )
    if verb == "stop":
        return by_id[f"{s}.revoke"], None
    if verb in ("pause", "resume") and node_id is None:
        return by_id[f"{s}.{verb}"], None
    if verb in ("pause", "resume"):
        if not node_pause:
            raise ChoiceError("BKFlow offers no node pause or resume; pause or resume the whole task")
        node = find_node(task, node_id or "")
        if node is None:
            raise ChoiceError(f"no node {one_line(node_id, 40)} in {task.target}")
        if verb == "pause":
            if not node.children:
                raise ChoiceError("only a subprocess node can be paused here; pause the whole task instead")
            return _allowed(task, by_id, [f"{s}.pause_subprocess"], node.id)
        ids = [f"{s}.resume_subprocess"] if node.children else [f"{s}.resume_node"]
        return _allowed(task, by_id, ids, node.id)
    if verb not in ("retry", "skip"):
        raise ChoiceError(f"unknown action {verb!r}")
    spec_id = f"{s}.retry_node" if verb == "retry" else f"{s}.skip_node"
    if node_id is not None:
        return _allowed(task, by_id, [spec_id], node_id)
    if verb == "skip":
        raise ChoiceError("skip needs --node NODE_ID")
    failed = [n for n in task.leaf_nodes() if n.raw_state == "FAILED"]
    if not failed:
        raise ChoiceError("no failed node; retry needs a failed node", not_allowed=True, spec=by_id[spec_id])
    if len(failed) > 1:
        ids = ", ".join(one_line(n.id, 40) for n in failed[:5])
        raise ChoiceError(f"{len(failed)} failed nodes ({ids}); choose one with --node NODE_ID")
    return by_id[spec_id], failed[0].id
