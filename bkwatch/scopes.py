"""Scope targets: a JOB business or business set, a SOPS business or project, a BKFlow space.

Canonical forms (``str(scope)`` gives them back)::

    job:BIZ      job:biz_set:SET      sops:BIZ      sops:project:PROJECT      bkflow:SPACE

A scope is followed rather than polled: its list API is asked what started there (discovery.py)
and every task found becomes a watch of its own. NodeMan and GSEKit are refused: their job lists
are SaaS-only, with no entry on the ESB (fact sheet §10.5).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from bkwatch.model import System
from bkwatch.systems.registry import traits
from bkwatch.targets import Target, TargetError

__all__ = [
    "DEFAULT_OPTIONS",
    "Scope",
    "ScopeError",
    "ScopeOptions",
    "looks_like_scope",
    "parse_duration",
    "parse_scope",
]

SCOPE_FORMS = "job:BIZ, job:biz_set:SET, sops:BIZ, sops:project:PROJECT, bkflow:SPACE"
_NO_LIST_API = (
    "has no task list reachable over the ESB or the API gateway (its job list is a SaaS-only "
    "page), so it cannot be followed; add its tasks one by one"
)
_INT = re.compile(r"[0-9]{1,19}")
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)\s*([dhms]))", re.IGNORECASE)
_UNIT = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


class ScopeError(TargetError):
    """A scope that cannot be followed; the message says why."""


@dataclass(frozen=True, slots=True)
class Scope:
    system: System
    id: str
    scope_type: str = "biz"  # JOB biz|biz_set, SOPS biz|project, BKFlow space

    def __str__(self) -> str:
        if self.scope_type in ("biz_set", "project"):
            return f"{self.system}:{self.scope_type}:{self.id}"
        return f"{self.system}:{self.id}"

    def target(self, task_id: int | str) -> Target:
        """The watch target of a task found in this scope."""
        return Target(self.system, self.id, str(int(task_id)), self.scope_type)


@dataclass(frozen=True, slots=True)
class ScopeOptions:
    """How a scope is narrowed and how long what it finds stays (seconds)."""

    mine: bool = False  # only the user's: JOB operator, SOPS creator or executor, BKFlow creator
    name: str | None = None  # name contains
    since: float = 7200.0  # how far back to look when the scope is added
    cron: bool = False  # JOB: include cron-launched jobs
    keep_succeeded: float = 1800.0  # a succeeded task leaves this long after it finished
    keep_failed: float = 86400.0  # a failed or stopped one, unless dismissed first
    cap: int = 300  # live tasks held at most

    def to_dict(self) -> dict[str, Any]:
        """Only what differs from the defaults: saved lists stay short and readable."""
        return {k: v for k, v in asdict(self).items() if v != getattr(DEFAULT_OPTIONS, k)}

    @classmethod
    def from_dict(cls, data: Any) -> ScopeOptions:
        """Saved options; unknown or ill-typed keys are ignored (a newer or hand-edited list)."""
        if not isinstance(data, dict):
            return cls()
        kept: dict[str, Any] = {}
        for f in fields(cls):
            value = data.get(f.name)
            default = getattr(DEFAULT_OPTIONS, f.name)
            if f.name == "name":
                if isinstance(value, str) and value.strip():
                    kept[f.name] = value.strip()
            elif isinstance(default, bool):
                if isinstance(value, bool):
                    kept[f.name] = value
            elif isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                kept[f.name] = int(value) if isinstance(default, int) else float(value)
        return cls(**kept)


DEFAULT_OPTIONS = ScopeOptions()


def looks_like_scope(text: str) -> bool:
    """True for text in a scope's shape (``job:2``, ``sops:project:5``…): one id after the system,
    where a task target has two. For a system that cannot be followed (NodeMan, GSEKit) one id is
    a task (``nodeman:302``; GSEKit's with the default business), the only reading that can work."""
    parts = [p.strip() for p in text.strip().split(":")]
    if len(parts) == 2:
        system = next((s for s in System if s.value == parts[0].lower()), None)
        return system is not None and bool(traits(system).follow_kinds)
    return len(parts) == 3 and parts[1].lower() in ("biz", "biz_set", "project", "space")


def parse_scope(text: str) -> Scope:
    """``job:2`` / ``job:biz_set:9991`` / ``sops:2`` / ``sops:project:5`` / ``bkflow:1`` -> Scope."""
    raw = text.strip() if isinstance(text, str) else ""
    parts = [p.strip() for p in raw.split(":")]
    try:
        system = System(parts[0].lower())
    except ValueError:
        raise ScopeError(f"unknown system in scope {raw!r}; expected {SCOPE_FORMS}") from None
    kinds = traits(system).follow_kinds
    if not kinds:
        raise ScopeError(f"{system} {_NO_LIST_API}")
    rest = parts[1:]
    kind = kinds[0]
    if len(rest) == 2:
        kind = rest[0].lower()
        if kind not in kinds:
            raise ScopeError(f"{raw!r}: unexpected scope kind {rest[0]!r}; expected {SCOPE_FORMS}")
        rest = rest[1:]
    if len(rest) != 1:
        raise ScopeError(f"{raw!r} is not a scope; expected {SCOPE_FORMS}")
    value = rest[0]
    if not _INT.fullmatch(value) or not 0 < int(value) < 2**63:
        raise ScopeError(f"{raw!r}: the id must be a positive integer")
    return Scope(system, str(int(value)), kind)


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1d``, ``1h30m`` or plain seconds -> seconds (> 0)."""
    raw = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        seconds = float(raw)
    else:
        pos, seconds = 0, 0.0
        for m in _DURATION.finditer(raw):
            if raw[pos : m.start()].strip():
                break
            seconds += float(m[1]) * _UNIT[m[2].lower()]
            pos = m.end()
        if pos == 0 or raw[pos:].strip():
            raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 1d, 1h30m)")
    if not 0 < seconds < 10 * 365 * 86400:
        raise ValueError(f"a duration must be positive and under ten years: {text!r}")
    return seconds
