"""BKFlow (流程引擎服务) get_task_states -> Task. Gateway only; same engine tree as SOPS.

Its status tree has no names at all: node names come from `get_task_detail` (systems/pipeline/flow.py),
the task's name from it too, or, when the detail cannot be read, from `get_task_list?id=`.
"""

from __future__ import annotations

from typing import Any

from bkwatch.client import UNCHANGED, BkClient
from bkwatch.model import BkError, System, Task
from bkwatch.systems.common import Answers, readable
from bkwatch.systems.pipeline.flow import FlowDetails
from bkwatch.systems.pipeline.tree import parse_tree
from bkwatch.target import Target

API = "get_task_states"


def parse(payload: Any, target: Target) -> Task:
    """`data` of get_task_states -> Task (pure). Nodes carry no names: their ids stand in."""
    return parse_tree(payload, target, System.BKFLOW, f"BKFlow {API}")


async def fetch(client: BkClient, target: Target) -> Task:
    via = client.transport_for(System.BKFLOW)  # BkError(CONFIG) without a gateway
    path = f"space/{target.scope}/task/{target.id}/{API}/"
    details, answers, key = FlowDetails.of(client), Answers.of(client), str(target)
    context = details.settled(key)
    seen, held = answers.held(key, context) if context is not None else (None, None)
    data, fingerprint = await client.call_unless(seen, System.BKFLOW, path, via=via, method="GET")
    if data is UNCHANGED and held is not None:
        return held
    task = parse(data, target)
    space = f"space/{target.scope}"

    async def read_detail() -> Any:
        api = f"{space}/task/{target.id}/get_task_detail/"
        try:
            return await client.call(System.BKFLOW, api, via=via, method="GET")
        except BkError:
            # The list answers with app credentials alone: at least the task gets its name.
            listed = await client.call(
                System.BKFLOW, f"{space}/get_task_list/", via=via, method="GET", params={"id": target.id}
            )
            rows = listed.get("results") if isinstance(listed, dict) else None
            name = (
                rows[0].get("name") if isinstance(rows, list) and rows and isinstance(rows[0], dict) else None
            )
            if isinstance(name, str) and name:
                details.remember_name(str(target), readable(name, 200))
            raise

    task = details.apply(task, data, read_detail, f"BKFlow {API}")
    answers.keep(key, fingerprint, task, details.settled(key))
    return task
