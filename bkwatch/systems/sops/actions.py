"""The one request a SOPS operation sends (fact sheet §3.7, §10.5); the operations themselves are
the pipeline's (`systems/pipeline/actions.py`)."""

from __future__ import annotations

from typing import Any

from bkwatch.action_spec import ActionSpec, Wire
from bkwatch.target import Target


def wire(spec: ActionSpec, target: Target, subject_id: str | None, via: str, operator: str | None) -> Wire:
    params: dict[str, Any] = {"action": spec.operation}
    if spec.api == "operate_node":
        params = {"node_id": subject_id, **params}
    if target.scope_type == "project":
        params["scope"] = "project"
    if via == "esb":
        return Wire(
            via, "POST", f"sops/{spec.api}/", {"bk_biz_id": target.scope, "task_id": target.id, **params}
        )
    # operate_node has the business first, every other SOPS API the task first (§3.7).
    ids = f"{target.scope}/{target.id}" if spec.api == "operate_node" else f"{target.id}/{target.scope}"
    return Wire(via, "POST", f"{spec.api}/{ids}/", params)
