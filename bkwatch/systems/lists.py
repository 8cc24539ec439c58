"""What every system's list API gives (`Found`), what discovery asks of it (`ListQuery`), and the
row helpers the systems' `lists.py` share. Each system's calls, within its upstream limits, are in
`systems/<name>/lists.py`.

Only names, ids, times and states are read; each item's text goes through the one sanitiser.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Any, Protocol

from bkwatch.model import State, System
from bkwatch.systems.common import bad, readable

MAX_PAGES = 500  # 100,000 tasks in one round: past that a server is answering nonsense


@dataclass(slots=True)
class Found:
    """One task as a list API shows it."""

    task_id: int
    name: str | None = None
    created: float | None = None
    state: State | None = None  # None where the list does not say (SOPS/BKFlow lists)
    end: float | None = None
    operator: str | None = None
    launch_mode: int | None = None
    creator: str | None = None  # SOPS/BKFlow: who created it (operator: who started it, else this)


def items(data: Any, key: str | None, where: str) -> list[Any]:
    rows = data.get(key) if key is not None and isinstance(data, dict) else data
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise bad(where, "the task list should be a list")
    return rows


def text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _clean_name(value)
    return readable(value, 200) or None


@lru_cache(maxsize=4096)
def _clean_name(value: str) -> str | None:
    """Names and operators repeat from row to row (a cron job, a colleague): sanitised once."""
    return readable(value, 200) or None


by_id = attrgetter("task_id")


@dataclass(frozen=True, slots=True)
class ListQuery:
    """One list round of a followed scope."""

    start: float  # created at or after (epoch seconds)
    end: float  # created at or before
    user: str | None = None  # only tasks this user started or created
    name: str | None = None  # name filter
    cron: bool = False  # JOB: include jobs a cron started
    known_below: int | None = None  # newest-first lists stop at an id at or below this


class ScopeRef(Protocol):
    """What a list call needs of a followed scope (`scopes.Scope`)."""

    system: System
    id: str
    scope_type: str  # "biz", "biz_set", "project", "space"
