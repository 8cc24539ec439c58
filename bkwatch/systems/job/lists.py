"""JOB ``get_job_instance_list``: a creation-time window of at most 30 days (longer spans are asked
in 30-day slices) and ``length`` ≤ 1000, paged with ``start`` until ``total``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bkwatch.model import State, System
from bkwatch.systems.common import bad, ms_to_s, to_int
from bkwatch.systems.job.poll import RUN_STATUS
from bkwatch.systems.lists import MAX_PAGES, Found, ListQuery, ScopeRef, by_id, items, text

if TYPE_CHECKING:
    from bkwatch.client import BkClient

JOB_MAX_SPAN = 30 * 86400.0
JOB_PAGE = 1000


async def list_tasks(client: BkClient, scope: ScopeRef, query: ListQuery) -> list[Found]:
    """Every job created in [start, end], all pages; without cron, the web and API launch modes
    are asked separately (the list filters by one mode at a time)."""
    start, end, operator, name = query.start, query.end, query.user, query.name
    launch_modes: tuple[int | None, ...] = (None,) if query.cron else (1, 2)
    via = client.transport_for(System.JOB)
    api = "jobv3/get_job_instance_list/" if via == "esb" else "api/v3/get_job_instance_list"
    method = "POST" if via == "esb" else "GET"
    where = "JOB get_job_instance_list"
    out: dict[int, Found] = {}
    for mode in launch_modes:
        lo = start
        while lo <= end:
            hi = min(end, lo + JOB_MAX_SPAN)
            params: dict[str, Any] = {
                "bk_scope_type": "biz_set" if scope.scope_type == "biz_set" else "biz",
                "bk_scope_id": scope.id,
                "create_time_start": int(lo * 1000),
                "create_time_end": int(hi * 1000),
                "length": JOB_PAGE,
            }
            for key, value in (("operator", operator), ("name", name), ("launch_mode", mode)):
                if value is not None:
                    params[key] = value
            offset = 0
            for _ in range(MAX_PAGES):
                params["start"] = offset
                data = await client.call(System.JOB, api, via=via, method=method, params=params)
                rows = items(data, "data", where)
                for row in rows:
                    found = _job_row(row, where)
                    out.setdefault(found.task_id, found)
                offset += len(rows)
                total = to_int(data.get("total")) if isinstance(data, dict) else None
                if not rows or (total is not None and offset >= total) or len(rows) < JOB_PAGE:
                    break
            lo = hi + 0.001
    return sorted(out.values(), key=by_id)  # ids grow with creation: oldest first


def _job_row(row: Any, where: str) -> Found:
    # Every row of every round passes here (5,000 in a busy business): ints and epoch
    # milliseconds as JSON gives them are taken as they are, anything else through the helpers.
    if not isinstance(row, dict):
        raise bad(where, "a list item is not an object")
    get = row.get
    # The code serialises the id as job_instance_id; the gateway doc says id: accept both.
    task_id = get("job_instance_id")
    if task_id is None:
        task_id = get("id")
    if type(task_id) is not int:
        task_id = to_int(task_id)
    if task_id is None or task_id <= 0:
        raise bad(where, "a list item has no job_instance_id")
    status = get("status")
    hit = RUN_STATUS.get(status if type(status) is int else to_int(status))  # type: ignore[arg-type]
    mode = get("launch_mode")
    created, ended = get("create_time"), get("end_time")
    return Found(
        task_id,
        text(get("name")),
        created / 1000.0 if type(created) is int else ms_to_s(created),
        hit[0] if hit else State.UNKNOWN,
        ended / 1000.0 if type(ended) is int else ms_to_s(ended),
        text(get("operator")),
        mode if type(mode) is int else to_int(mode),
    )
