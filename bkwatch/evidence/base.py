"""What every evidence fetcher returns: `Evidence` (one host or node) and `Chunk` (what a
followed log added), and the lookups of a host or node in a polled task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bkwatch.model import BkError, ErrorKind, Host, Node, Step, System, Task
from bkwatch.text import one_line


@dataclass(slots=True)
class Evidence:
    target: str
    system: System
    title: str  # a header naming the host or node, cleaned
    raw_text: str = ""  # the log as sent: untrusted
    step: str | None = None
    host: str | None = None  # "CLOUD:IP"
    node: str | None = None
    done: bool = True  # the host or node has finished: nothing more will be appended
    fields: dict[str, str] = field(default_factory=dict)  # details (inputs, ex_data, err_code…), cleaned
    link: str | None = None  # a JOB target this node ran (SOPS/BKFlow JOB plugins)
    error: BkError | None = None  # why the log could not be read
    failure_text: str | None = None  # the part that says what went wrong, when not the whole log


@dataclass(slots=True)
class Chunk:
    text: str  # raw text added since the last call
    reset: bool = False  # the log started again (a retry): replace, do not append
    done: bool = False


def clean_value(value: Any, limit: int = 2000) -> str:
    if isinstance(value, (dict, list)):
        import orjson  # lazy: the screen imports this module, and only a nested value needs it

        value = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return one_line(value, limit)


def job_unit(task: Task, step_id: str | None, host_key: str | None) -> tuple[Step, Host]:
    """The step (the given one, else the latest holding the host) and the host."""
    steps = [s for s in task.steps if step_id is None or s.id == step_id]
    for s in reversed(steps):
        if host_key in s.hosts:
            return s, s.hosts[host_key]
    raise BkError(ErrorKind.NOT_FOUND, f"no host {host_key} in {task.target}")


def find_node(task: Task, node_id: str) -> Node | None:
    if task.root is None:
        return None
    return next((n for n, _ in task.root.walk() if n.id == node_id), None)
