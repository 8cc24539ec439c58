"""The list and batch-status calls scopes are followed with, within every upstream limit.

JOB ``get_job_instance_list``: a creation-time window of at most 30 days (longer spans are asked
in 30-day slices) and ``length`` ≤ 1000, paged with ``start`` until ``total``. SOPS and BKFlow
``get_task_list``: ``limit`` 200 (SOPS caps it silently), newest first, paged with ``offset``
until a page is short or reaches a task already known. SOPS ``get_tasks_status``: 50 ids a call.
BKFlow ``get_tasks_states``: no upstream limit; asked 200 ids a call all the same.

Only names, ids, times and states are read; each item's text goes through the one sanitiser.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from bkwatch.model import State, System
from bkwatch.systems.common import bad, ms_to_s, parse_time, readable, to_int
from bkwatch.systems.job import RUN_STATUS

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.scopes import Scope

JOB_MAX_SPAN = 30 * 86400.0
JOB_PAGE = 1000
PIPELINE_PAGE = 200
SOPS_BATCH = 50
BKFLOW_BATCH = 200
MAX_PAGES = 500  # 100,000 tasks in one round: past that a server is answering nonsense


@dataclass(slots=True)
class Found:
    """One task as a list API shows it."""

    task_id: int
    name: str | None = None
    created: float | None = None
    state: State | None = None  # None where the list does not say (SOPS/BKFlow lists)
    end: float | None = None
    operator: str | None = None
    launch_mode: int | None = None
    creator: str | None = None  # SOPS/BKFlow: who created it (operator: who started it, else this)


def _items(data: Any, key: str | None, where: str) -> list[Any]:
    rows = data.get(key) if key is not None and isinstance(data, dict) else data
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise bad(where, "the task list should be a list")
    return rows


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _clean_name(value)
    return readable(value, 200) or None


@lru_cache(maxsize=4096)
def _clean_name(value: str) -> str | None:
    """Names and operators repeat from row to row (a cron job, a colleague): sanitised once."""
    return readable(value, 200) or None


_by_id = attrgetter("task_id")


# -- JOB ------------------------------------------------------------------------------------------


async def list_job(
    client: BkClient,
    scope: Scope,
    *,
    start: float,
    end: float,
    operator: str | None = None,
    name: str | None = None,
    launch_modes: Iterable[int | None] = (None,),
) -> list[Found]:
    """Every job created in [start, end], all pages, each launch mode asked separately."""
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
                rows = _items(data, "data", where)
                for row in rows:
                    found = _job_row(row, where)
                    out.setdefault(found.task_id, found)
                offset += len(rows)
                total = to_int(data.get("total")) if isinstance(data, dict) else None
                if not rows or (total is not None and offset >= total) or len(rows) < JOB_PAGE:
                    break
            lo = hi + 0.001
    return sorted(out.values(), key=_by_id)  # ids grow with creation: oldest first


def _job_row(row: Any, where: str) -> Found:
    if not isinstance(row, dict):
        raise bad(where, "a list item is not an object")
    # The code serialises the id as job_instance_id; the gateway doc says id: accept both.
    task_id = to_int(row.get("job_instance_id", row.get("id")))
    if task_id is None or task_id <= 0:
        raise bad(where, "a list item has no job_instance_id")
    status = to_int(row.get("status"))
    hit = RUN_STATUS.get(status) if status is not None else None
    mode = to_int(row.get("launch_mode"))
    return Found(
        task_id,
        _text(row.get("name")),
        ms_to_s(row.get("create_time")),
        hit[0] if hit else State.UNKNOWN,
        ms_to_s(row.get("end_time")),
        _text(row.get("operator")),
        mode,
    )


# -- SOPS and BKFlow lists ------------------------------------------------------------------------


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


async def list_pipeline(
    client: BkClient,
    scope: Scope,
    *,
    since: float,
    known_below: int | None = None,
    user: str | None = None,
    name: str | None = None,
) -> list[Found]:
    """Tasks created since `since`, newest first, paged until a page is short or reaches an id at
    or below `known_below` (ids grow with creation, so older ones were listed already)."""
    system = scope.system
    via = client.transport_for(system)
    params: dict[str, Any] = {"limit": PIPELINE_PAGE}
    if system is System.SOPS:
        where = "SOPS get_task_list"
        params["create_time_start"] = _iso(since)
        if scope.scope_type == "project":
            params["scope"] = "project"
        # "Mine" is filtered on the rows, not with `executor`: a task I created gets its executor
        # only when started, possibly after the rounds that listed its creation.
        if name:
            params["keyword"] = name
        if via == "esb":
            api, params["bk_biz_id"] = "sops/get_task_list/", scope.id
        else:
            api = f"get_task_list/{scope.id}/"
    else:
        where = "BKFlow get_task_list"
        params["create_at_start"] = _iso(since)
        if user:
            params["creator"] = user
        if name:
            params["name"] = name
        api = f"space/{scope.id}/get_task_list/"
    out: dict[int, Found] = {}
    offset = 0
    for _ in range(MAX_PAGES):
        params["offset"] = offset
        data = await client.call(system, api, via=via, method="GET", params=params)
        rows = _items(data, "results" if system is System.BKFLOW else None, where)
        reached_known = False
        for row in rows:
            found = _pipeline_row(row, where)
            if known_below is not None and found.task_id <= known_below:
                reached_known = True
                continue
            if system is System.SOPS and user and user not in (found.operator, found.creator):
                continue
            out.setdefault(found.task_id, found)
        offset += len(rows)
        # The page size actually served decides: SOPS caps `limit` silently.
        if reached_known or not rows or len(rows) < PIPELINE_PAGE:
            break
    return sorted(out.values(), key=_by_id)


def _pipeline_row(row: Any, where: str) -> Found:
    if not isinstance(row, dict):
        raise bad(where, "a list item is not an object")
    task_id = to_int(row.get("id"))
    if task_id is None or task_id <= 0:
        raise bad(where, "a list item has no id")
    created = parse_time(row.get("create_time")) or parse_time(row.get("start_time"))
    who = row.get("executor") or row.get("creator")
    end = parse_time(row.get("finish_time"))
    return Found(
        task_id, _text(row.get("name")), created, None, end, _text(who), None, _text(row.get("creator"))
    )


# -- batch status ---------------------------------------------------------------------------------


async def batch_states(client: BkClient, scope: Scope, ids: list[int]) -> dict[int, str | None]:
    """Raw root state per task id (None when the server could not say), in calls of 50 (SOPS)
    or 200 (BKFlow) ids."""
    system = scope.system
    via = client.transport_for(system)
    size = SOPS_BATCH if system is System.SOPS else BKFLOW_BATCH
    out: dict[int, str | None] = {}
    for i in range(0, len(ids), size):
        chunk = ids[i : i + size]
        if system is System.SOPS:
            params: dict[str, Any] = {"task_id_list": chunk}
            if scope.scope_type == "project":
                params["scope"] = "project"
            if via == "esb":
                api, params["bk_biz_id"] = "sops/get_tasks_status/", scope.id
            else:
                api = f"get_tasks_status/{scope.id}/"
            data = await client.call(system, api, via=via, method="POST", params=params)
            for row in _items(data, None, "SOPS get_tasks_status"):
                if not isinstance(row, dict):
                    continue
                task_id, status = to_int(row.get("id")), row.get("status")
                if task_id is not None:
                    raw = status.get("state") if isinstance(status, dict) else None
                    out[task_id] = raw if isinstance(raw, str) else None
        else:
            api = f"space/{scope.id}/get_tasks_states/"
            data = await client.call(system, api, via=via, method="POST", params={"task_ids": chunk})
            if not isinstance(data, dict):
                raise bad("BKFlow get_tasks_states", "data should be an object")
            for key, value in data.items():
                task_id = to_int(key)
                if task_id is not None:
                    raw = value.get("state") if isinstance(value, dict) else None
                    out[task_id] = raw if isinstance(raw, str) else None
    return out
