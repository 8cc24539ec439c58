"""BKFlow (流程引擎服务) get_task_states -> Task. Gateway only; same engine tree as SOPS."""

from __future__ import annotations

from typing import Any

from bkwatch.client import BkClient
from bkwatch.model import System, Task
from bkwatch.systems.sops import parse_tree
from bkwatch.targets import Target

API = "get_task_states"


def parse(payload: Any, target: Target) -> Task:
    """`data` of get_task_states -> Task (pure). Nodes carry no names: their ids stand in."""
    return parse_tree(payload, target, System.BKFLOW, f"BKFlow {API}")


async def fetch(client: BkClient, target: Target) -> Task:
    via = client.transport_for(System.BKFLOW)  # BkError(CONFIG) without a gateway
    path = f"space/{target.scope}/task/{target.id}/{API}/"
    data = await client.call(System.BKFLOW, path, via=via, method="GET")
    return parse(data, target)
