"""SOPS ``get_task_list`` (newest first, pages of 200) and ``get_tasks_status`` (50 ids a call)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bkwatch.model import System
from bkwatch.systems.common import to_int
from bkwatch.systems.lists import Found, ListQuery, ScopeRef, items
from bkwatch.systems.pipeline.lists import iso, newest_first, state_of

if TYPE_CHECKING:
    from bkwatch.client import BkClient

SOPS_BATCH = 50


async def list_tasks(client: BkClient, scope: ScopeRef, query: ListQuery) -> list[Found]:
    via = client.transport_for(System.SOPS)
    params: dict[str, Any] = {"create_time_start": iso(query.start)}
    if scope.scope_type == "project":
        params["scope"] = "project"
    if query.name:
        params["keyword"] = query.name
    if via == "esb":
        api, params["bk_biz_id"] = "sops/get_task_list/", scope.id
    else:
        api = f"get_task_list/{scope.id}/"
    user = query.user

    def mine(found: Found) -> bool:
        # "Mine" is filtered on the rows, not with `executor`: a task I created gets its executor
        # only when started, possibly after the rounds that listed its creation.
        return not user or user in (found.operator, found.creator)

    return await newest_first(
        client,
        System.SOPS,
        (api, via, params),
        rows_key=None,
        where="SOPS get_task_list",
        query=query,
        keep=mine,
    )


async def batch_states(client: BkClient, scope: ScopeRef, ids: list[int]) -> dict[int, str | None]:
    """Raw root state per task id (None when the server could not say)."""
    via = client.transport_for(System.SOPS)
    out: dict[int, str | None] = {}
    for i in range(0, len(ids), SOPS_BATCH):
        params: dict[str, Any] = {"task_id_list": ids[i : i + SOPS_BATCH]}
        if scope.scope_type == "project":
            params["scope"] = "project"
        if via == "esb":
            api, params["bk_biz_id"] = "sops/get_tasks_status/", scope.id
        else:
            api = f"get_tasks_status/{scope.id}/"
        data = await client.call(System.SOPS, api, via=via, method="POST", params=params)
        for row in items(data, None, "SOPS get_tasks_status"):
            if isinstance(row, dict) and (task_id := to_int(row.get("id"))) is not None:
                out[task_id] = state_of(row.get("status"))
    return out
