"""What `status` and `wait` share about one task's report: its JSON, the errors a later poll may
not see again, and counts by state. Both `query` and `scope_cmd` import it (neither imports the
other for it)."""

from __future__ import annotations

from typing import Any

from bkwatch.model import BkError, ErrorKind, State, Task, failures

# Errors that a later poll may not see again: `wait` keeps going. Every other kind ends it (exit 2).
TRANSIENT_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.SERVER, ErrorKind.NETWORK, ErrorKind.RATE_LIMITED})

# The state `status` gives a task it has no answer for yet: found by a followed scope but over its
# cap, or not answered in this run. Not "waiting", which is a task's own state (a person must act).
UNREAD = "unread"


def task_json(key: str, system: str | None, result: Task | BkError) -> dict[str, Any]:
    if isinstance(result, BkError):
        return {
            "target": key,
            "system": system,
            "name": None,
            "started_by": None,
            "state": str(State.UNKNOWN),
            "raw_state": None,
            "terminal": False,
            "counts": {},
            "progress": None,
            "failures": [],
            "error": result.to_dict(),
        }
    return {
        "target": result.target or key,
        "system": str(result.system),
        "name": result.name,
        "started_by": result.started_by,  # when the system's answer says (JOB's does not)
        "state": str(result.state),
        "raw_state": None if result.raw_state is None else str(result.raw_state),
        "terminal": bool(result.terminal),
        "counts": {str(s): n for s, n in result.counts().items()},
        # The monitor's numbers, from the same model function: done and total work units.
        "progress": dict(zip(("done", "total"), result.progress(), strict=True)),
        "failures": [f.to_dict() for f in failures(result)],
        "error": None,
    }


def unread_json(key: str, system: str | None, name: str | None, why: str) -> dict[str, Any]:
    """A task listed without an answer: state `unread`, and why (`unread`: "cap" or "no answer")."""
    return {
        "target": key,
        "system": system,
        "name": name,
        "started_by": None,
        "state": UNREAD,
        "raw_state": None,
        "terminal": False,
        "counts": {},
        "progress": None,
        "failures": [],
        "error": None,
        "unread": why,
    }


def progress_text(task: dict[str, Any]) -> str:
    """`done/total` as the monitor shows it (`Task.progress()`), "-" without one."""
    p = task.get("progress")
    return f"{p['done']}/{p['total']}" if p and p["total"] else "-"


def name_text(name: str | None, label: str | None) -> str:
    """The task's name first, the user's label beside it, never instead of it."""
    if name and label and label != name:
        return f"{name} ({label})"
    return name or label or "-"


def failure_note(task: dict[str, Any]) -> str:
    """The first failure by what the monitor calls it: a node's name, else its id. A task whose
    server counts failures without listing them (a current GSEKit) has them counted, as the
    drill-down says; "" when nothing fails."""
    failed = task["failures"]
    if not failed:
        bad = sum(n for state, n in task["counts"].items() if State(state).is_bad)
        return f"{bad} failed; no task rows reported" if bad else ""
    f0 = failed[0]
    what = f0.get("name") or f0["id"]
    return f"{len(failed)} failed, e.g. {what}: {f0['reason']}"


def state_counts(tasks: list[dict[str, Any]]) -> dict[str, int]:
    """Tasks per state as listed (an unreachable task is `unknown`, one not read `unread`)."""
    out: dict[str, int] = {}
    for t in tasks:
        out[t["state"]] = out.get(t["state"], 0) + 1
    return out
