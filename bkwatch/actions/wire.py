"""The one request an action sends: API path, method and parameters per system and transport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bkwatch.actions.catalog import ActionSpec
from bkwatch.model import BkError, ErrorKind, System
from bkwatch.systems.common import to_int
from bkwatch.targets import Target


@dataclass(frozen=True, slots=True)
class Wire:
    via: str  # "esb" | "apigw"
    method: str
    path: str  # below the transport's base
    params: dict[str, Any]  # query / JSON body; never credentials (the client adds them)


def build(spec: ActionSpec, target: Target, subject_id: str | None, via: str, operator: str | None) -> Wire:
    if spec.system is System.JOB:
        params: dict[str, Any] = {
            "bk_scope_type": "biz_set" if target.scope_type == "biz_set" else "biz",
            "bk_scope_id": str(target.scope),
            "job_instance_id": to_int(target.id, None) or target.id,
        }
        if spec.api == "operate_step_instance":
            params["step_instance_id"] = to_int(subject_id, None) or subject_id
        params["operation_code"] = spec.operation
        path = f"jobv3/{spec.api}/" if via == "esb" else f"api/v3/{spec.api}"
        return Wire(via, "POST", path, params)
    if spec.system is System.SOPS:
        params = {"action": spec.operation}
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
    if spec.system is System.BKFLOW:
        if not operator:
            raise BkError(
                ErrorKind.CONFIG,
                "BKFlow operations name the operator: set username (BK_USERNAME) in the profile",
            )
        base = f"space/{target.scope}/task/{target.id}/"
        if spec.api == "operate_node":
            base += f"node/{subject_id}/"
        return Wire(via, "POST", f"{base}{spec.api}/{spec.operation}/", {"operator": operator})
    raise BkError(ErrorKind.CONFIG, f"{target.system} has no operations bkwatch can send")
