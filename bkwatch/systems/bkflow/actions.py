"""The one request a BKFlow operation sends (fact sheet §10.5); the operations themselves are
the pipeline's (`systems/pipeline/actions.py`)."""

from __future__ import annotations

from bkwatch.action_spec import ActionSpec, Wire
from bkwatch.model import BkError, ErrorKind
from bkwatch.target import Target


def wire(spec: ActionSpec, target: Target, subject_id: str | None, via: str, operator: str | None) -> Wire:
    if not operator:
        raise BkError(
            ErrorKind.CONFIG,
            "BKFlow operations name the operator: set username (BK_USERNAME) in the profile",
        )
    base = f"space/{target.scope}/task/{target.id}/"
    if spec.api == "operate_node":
        base += f"node/{subject_id}/"
    return Wire(via, "POST", f"{base}{spec.api}/{spec.operation}/", {"operator": operator})
