"""The one request an action sends: each system builds its own (`SystemAdapter.action_wire`)."""

from __future__ import annotations

from bkwatch.action_spec import ActionSpec, Wire
from bkwatch.model import BkError, ErrorKind
from bkwatch.systems.adapters import adapter
from bkwatch.target import Target

__all__ = ["Wire", "build"]


def build(spec: ActionSpec, target: Target, subject_id: str | None, via: str, operator: str | None) -> Wire:
    make = adapter(spec.system).action_wire
    if make is None:
        raise BkError(ErrorKind.CONFIG, f"{target.system} has no operations bkwatch can send")
    return make(spec, target, subject_id, via, operator)
