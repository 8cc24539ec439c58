"""A task's identity (`Target`) and the pieces every system's URL and canonical-form parser uses.

Which forms exist is each system's own knowledge (`systems/<name>/traits.py`); `targets.py`
asks the registry. This module knows no particular system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from bkwatch.model import System

__all__ = ["MissingScope", "Target", "TargetError", "Url", "find_route", "focus_value", "pos_int", "seg"]

_INT = re.compile(r"[0-9]+")
_MAX_FOCUS = 200
MAX_ECHO = 200  # characters of a rejected input quoted back in an error


def echo(text: str, limit: int = MAX_ECHO) -> str:
    """`text` quoted for an error message, cut at `limit` characters (a pasted page of garbage
    must not become a page-long error)."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


class TargetError(ValueError):
    """A target string or URL that cannot be watched; the message says what was expected."""


class MissingScope(TargetError):
    """A real page URL that carries no business: the caller may supply a default and try again."""


@dataclass(frozen=True, slots=True)
class Target:
    system: System
    scope: str  # biz id, biz-set id, project id, space id; "" for a NodeMan job without one
    id: str  # job_instance_id / task_id / job_id
    scope_type: str = "biz"  # JOB "biz"|"biz_set"; SOPS "biz"|"project"; BKFlow "space"
    # Where the pasted page pointed inside the task (a JOB step instance id, a NodeMan
    # instance id): not part of the target's identity, only where the monitor opens it.
    focus: str | None = field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        if self.scope_type in ("biz_set", "project"):
            return f"{self.system}:{self.scope_type}:{self.scope}:{self.id}"
        if not self.scope:
            return f"{self.system}:{self.id}"
        return f"{self.system}:{self.scope}:{self.id}"


def is_int_text(value: str) -> bool:
    return _INT.fullmatch(value) is not None


def pos_int(value: str, what: str, text: str) -> str:
    value = value.strip()
    if not _INT.fullmatch(value) or int(value) <= 0:
        raise TargetError(f"{what} must be a positive integer, got {echo(value, 40)} in {echo(text)}")
    return str(int(value))  # "007" and "7" are the same task


@dataclass(frozen=True, slots=True)
class Url:
    """A URL split once for every matcher: path and hash-route segments kept apart."""

    text: str  # as quoted back in errors: cut at MAX_ECHO characters
    path: list[str]
    lowered: list[str]  # path segments, lower-case
    frag: list[str]
    frag_lowered: list[str]
    query: dict[str, str]  # the page's query; keys keep their case (instance_id vs instanceId)
    default_biz: str | int | None
    default_biz_set: str | int | None


def query_values(qs: str) -> dict[str, str]:
    """The query's keys with their value; a key given twice with different values is ambiguous."""
    out: dict[str, str] = {}
    for key, values in parse_qs(qs, keep_blank_values=True).items():
        if not values:
            continue
        distinct = {v.strip() for v in values}
        if len(distinct) > 1:
            raise TargetError(
                f"the URL gives {key!r} more than once with different values "
                f"({', '.join(sorted(repr(v[:40]) for v in distinct)[:3])}); which task is meant is ambiguous"
            )
        out[key] = values[-1].strip()
    return out


def find_route(lowered: list[str], *seq: str) -> int:
    """Position of the last occurrence of the consecutive segments ``seq``, or -1 (the page's own
    route is at the end of the path; a site prefix before it may contain anything)."""
    n = len(seq)
    for i in range(len(lowered) - n, -1, -1):
        if tuple(lowered[i : i + n]) == seq:
            return i
    return -1


def seg(segs: list[str], i: int) -> str | None:
    return segs[i] if 0 <= i < len(segs) else None


def focus_value(value: str | None) -> str | None:
    if not value:
        return None
    value = unquote(value).strip()
    if not value or len(value) > _MAX_FOCUS or not value.isprintable():
        return None
    return value
