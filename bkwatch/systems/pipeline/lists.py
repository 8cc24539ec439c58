"""SOPS and BKFlow ``get_task_list``: ``limit`` 200 (SOPS caps it silently), newest first, paged
with ``offset`` until a page is short or reaches a task already known."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bkwatch.model import System
from bkwatch.systems.common import bad, parse_time, to_int
from bkwatch.systems.lists import MAX_PAGES, Found, ListQuery, by_id, items, text

if TYPE_CHECKING:
    from bkwatch.client import BkClient

PIPELINE_PAGE = 200


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _row(row: Any, where: str) -> Found:
    if not isinstance(row, dict):
        raise bad(where, "a list item is not an object")
    task_id = to_int(row.get("id"))
    if task_id is None or task_id <= 0:
        raise bad(where, "a list item has no id")
    created = parse_time(row.get("create_time")) or parse_time(row.get("start_time"))
    who = row.get("executor") or row.get("creator")
    end = parse_time(row.get("finish_time"))
    return Found(
        task_id, text(row.get("name")), created, None, end, text(who), None, text(row.get("creator"))
    )


async def newest_first(
    client: BkClient,
    system: System,
    call: tuple[str, str, dict[str, Any]],
    *,
    rows_key: str | None,
    where: str,
    query: ListQuery,
    keep: Callable[[Found], bool] = lambda found: True,
) -> list[Found]:
    """Pages of `call` (api, via, params) from offset 0 until a page is short or reaches an id at
    or below `query.known_below` (ids grow with creation, so older ones were listed already)."""
    api, via, params = call
    params = {**params, "limit": PIPELINE_PAGE}
    out: dict[int, Found] = {}
    offset = 0
    for _ in range(MAX_PAGES):
        params["offset"] = offset
        data = await client.call(system, api, via=via, method="GET", params=params)
        rows = items(data, rows_key, where)
        reached_known = False
        for row in rows:
            found = _row(row, where)
            if query.known_below is not None and found.task_id <= query.known_below:
                reached_known = True
                continue
            if keep(found):
                out.setdefault(found.task_id, found)
        offset += len(rows)
        # The page size actually served decides: SOPS caps `limit` silently.
        if reached_known or not rows or len(rows) < PIPELINE_PAGE:
            break
    return sorted(out.values(), key=by_id)


def state_of(value: Any) -> str | None:
    """The root state string of one batch-status entry, None where the server could not say."""
    raw = value.get("state") if isinstance(value, dict) else None
    return raw if isinstance(raw, str) else None
