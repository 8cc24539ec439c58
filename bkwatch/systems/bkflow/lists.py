"""BKFlow ``get_task_list`` (newest first, pages of 200) and ``get_tasks_states`` (no upstream
limit; asked 200 ids a call all the same)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bkwatch.model import System
from bkwatch.systems.common import bad, to_int
from bkwatch.systems.lists import Found, ListQuery, ScopeRef
from bkwatch.systems.pipeline.lists import iso, newest_first, state_of

if TYPE_CHECKING:
    from bkwatch.client import BkClient

BKFLOW_BATCH = 200


async def list_tasks(client: BkClient, scope: ScopeRef, query: ListQuery) -> list[Found]:
    via = client.transport_for(System.BKFLOW)
    params: dict[str, Any] = {"create_at_start": iso(query.start)}
    if query.user:
        params["creator"] = query.user
    if query.name:
        params["name"] = query.name
    api = f"space/{scope.id}/get_task_list/"
    return await newest_first(
        client,
        System.BKFLOW,
        (api, via, params),
        rows_key="results",
        where="BKFlow get_task_list",
        query=query,
    )


async def batch_states(client: BkClient, scope: ScopeRef, ids: list[int]) -> dict[int, str | None]:
    """Raw root state per task id (None when the server could not say)."""
    via = client.transport_for(System.BKFLOW)
    out: dict[int, str | None] = {}
    for i in range(0, len(ids), BKFLOW_BATCH):
        api = f"space/{scope.id}/get_tasks_states/"
        chunk = ids[i : i + BKFLOW_BATCH]
        data = await client.call(System.BKFLOW, api, via=via, method="POST", params={"task_ids": chunk})
        if not isinstance(data, dict):
            raise bad("BKFlow get_tasks_states", "data should be an object")
        for key, value in data.items():
            if (task_id := to_int(key)) is not None:
                out[task_id] = state_of(value)
    return out
