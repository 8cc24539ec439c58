"""SOPS (标准运维) get_task_status -> Task with a node tree (the tree: systems/pipeline/tree.py)."""

from __future__ import annotations

from typing import Any

from bkwatch.client import UNCHANGED, BkClient
from bkwatch.model import System, Task
from bkwatch.systems.common import Answers
from bkwatch.systems.pipeline.flow import FlowDetails
from bkwatch.systems.pipeline.tree import parse_tree
from bkwatch.target import Target

API = "get_task_status"


def parse(payload: Any, target: Target) -> Task:
    """`data` of SOPS get_task_status -> Task (pure)."""
    return parse_tree(payload, target, System.SOPS, f"SOPS {API}")


async def fetch(client: BkClient, target: Target) -> Task:
    via = client.transport_for(System.SOPS)
    # Any value of with_ex_data is truthy to SOPS (even "false"), so send 1 and never anything else.
    params: dict[str, Any] = {"with_ex_data": 1}
    if target.scope_type == "project":
        params["scope"] = "project"
    if via == "apigw":
        path = f"{API}/{target.id}/{target.scope}/"
    else:
        path = f"sops/{API}/"
        params["bk_biz_id"] = target.scope
        params["task_id"] = target.id
    details, answers, key = FlowDetails.of(client), Answers.of(client), str(target)
    context = details.settled(key)
    seen, held = answers.held(key, context) if context is not None else (None, None)
    data, fingerprint = await client.call_unless(
        seen, System.SOPS, path, via=via, method="GET", params=params
    )
    if data is UNCHANGED and held is not None:
        return held
    task = parse(data, target)

    def read_detail() -> Any:
        scope = {"scope": "project"} if target.scope_type == "project" else {}
        if via == "apigw":
            api = f"get_task_detail/{target.id}/{target.scope}/"
            return client.call(System.SOPS, api, via=via, method="GET", params=scope)
        args = {**scope, "bk_biz_id": target.scope, "task_id": target.id}
        return client.call(System.SOPS, "sops/get_task_detail/", via=via, method="GET", params=args)

    task = details.apply(task, data, read_detail, f"SOPS {API}")
    answers.keep(key, fingerprint, task, details.settled(key))
    return task
