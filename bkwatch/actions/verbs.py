"""Which declared action a command-line verb means for a given task (and step or node): each
system reads its own verbs (`SystemTraits.choose`).

`choose` raises `ChoiceError`: `not_allowed=True` when the task's state is the reason (exit 1),
else a usage problem (exit 2).
"""

from __future__ import annotations

from bkwatch.action_spec import ActionSpec, ChoiceError, VerbArgs
from bkwatch.model import Task
from bkwatch.systems.registry import traits

__all__ = ["ChoiceError", "choose"]


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
    chooser = traits(task.system).choose
    if chooser is None:
        raise ChoiceError(f"{task.system} has no operations bkwatch can send")
    return chooser(verb, task, VerbArgs(step_id, node_id, all_hosts, reject))
