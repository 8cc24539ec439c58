"""Every task operation bkwatch can perform, as each system declares it once
(`systems/<name>/actions.py`, gathered by the registry): what it applies to, the API and operation
it sends, and the precondition judged on the unified model (fact sheet §10.5).

A precondition returns None when the action is allowed, else the reason in words
("step is running; retry needs it failed"). The monitor greys an action with that reason; the CLI
refuses with it (exit 1). A system with no operation reachable over the ESB or a gateway
(NodeMan, GSEKit: §10.5) says so, with the web page to do it there (`unreachable()`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bkwatch.action_spec import ActionSpec, Level, Subject, find_node, find_step
from bkwatch.model import System, Task
from bkwatch.systems.registry import ALL, traits

__all__ = ["ACTIONS", "BY_ID", "ActionSpec", "Level", "Offer", "for_system", "judge", "offers", "unreachable"]

ACTIONS: tuple[ActionSpec, ...] = tuple(a for t in ALL for a in t.actions)
BY_ID: dict[str, ActionSpec] = {a.id: a for a in ACTIONS}


def for_system(system: System) -> list[ActionSpec]:
    return list(traits(system).actions)


def unreachable(system: System, scope: str, task_id: str, paas: str | None = None) -> str | None:
    """Why a system has no operations here, with the page to do it; None for systems that have some."""
    elsewhere = traits(system).act_elsewhere
    return None if elsewhere is None else elsewhere(scope, task_id, paas)


# -- offers for a thing on screen ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    spec: ActionSpec
    subject: Subject  # the step or node it would act on; None for the task
    reason: str | None  # None: allowed now

    @property
    def allowed(self) -> bool:
        return self.reason is None


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
