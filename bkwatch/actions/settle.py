"""After an answer that cannot be trusted: the task as read again, in words tied to the action.

Compared with the snapshot checked right before sending: the step, node or task changed (its raw
state, a step's run, a node's retries) — the action probably went through; unchanged and the action
still allowed — it probably did not arrive; anything else — cannot tell.
"""

from __future__ import annotations

from typing import Any

from bkwatch.actions.catalog import ActionSpec, Level, judge
from bkwatch.model import Node, Step, System, Task
from bkwatch.systems.registry import traits
from bkwatch.text import one_line

Thing = Task | Step | Node | None


def request_to(spec: ActionSpec) -> str:
    """ "request to retry the failed hosts": the action as a request, for sentences."""
    label = spec.label.split(" (")[0]
    return f"request to {label[:1].lower()}{label[1:]}"


def subject(spec: ActionSpec, subject_id: str | None, task: Task) -> tuple[str, Thing]:
    """What the action is about, by name, in `task`: the step, the node, or the job / task."""
    if Level.STEP in spec.levels:
        return "the step", judge(spec, task, step_id=subject_id).subject
    if Level.NODE in spec.levels:
        return "the node", judge(spec, task, node_id=subject_id).subject
    return f"the {traits(task.system).task_word}", task


def words(system: System, raw: str) -> str:
    return traits(system).state_words.get(str(raw), f"in state {one_line(str(raw), 20)}")


def mark(thing: Thing) -> tuple[Any, ...] | None:
    """What changes when an action took effect: the raw state, a step's run, a node's retries."""
    if thing is None:
        return None
    if isinstance(thing, Step):
        return (thing.raw_state, thing.execute_count)
    if isinstance(thing, Node):
        return (thing.raw_state, thing.retry, thing.skip)
    return (str(thing.raw_state),)


def observe(spec: ActionSpec, subject_id: str | None, before: Task, after: Task) -> str:
    """`after` (read again) against `before` (checked right before sending), in words."""
    name, then = subject(spec, subject_id, before)
    _, now = subject(spec, subject_id, after)
    what = request_to(spec)
    if now is None:
        gone = f"{name} {one_line(subject_id or '', 40)} is no longer there"
        return f"{gone}: cannot tell whether the {what} arrived"
    said = words(after.system, str(now.raw_state))
    if mark(now) != mark(then):
        return f"{name} is now {said}: the {what} probably went through"
    if spec.check(after, None if isinstance(now, Task) else now) is None:
        return f"{name} is still {said}: the {what} probably did not arrive"
    return f"{name} is {said}: cannot tell whether the {what} arrived"


def observed_state(spec: ActionSpec, subject_id: str | None, task: Task) -> dict[str, Any]:
    """The state seen, for the audit line ``settled``."""
    state: dict[str, Any] = {"task": str(task.state), "raw": one_line(str(task.raw_state), 40)}
    _, now = subject(spec, subject_id, task)
    if isinstance(now, Step):
        state["step"] = {
            "id": now.id,
            "state": str(now.state),
            "raw": now.raw_state,
            "run": now.execute_count + 1,
        }
    elif isinstance(now, Node):
        state["node"] = {"id": now.id, "state": str(now.state), "raw": now.raw_state, "retry": now.retry}
    return state
