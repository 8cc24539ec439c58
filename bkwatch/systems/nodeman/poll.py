"""NodeMan (节点管理): 2.x `api/job/details` (paged) and 1.x `get_task_info` -> Task with hosts.

v2 is the default. When v2 answers "API not found" and ESB is configured, the client falls back
to v1 once and remembers it (`client.nodeman_api`), so later polls go straight to v1.
"""

from __future__ import annotations

import asyncio
from operator import itemgetter
from typing import Any

from bkwatch.client import UNCHANGED, ApiNotFound, BkClient
from bkwatch.model import BkError, ErrorKind, Host, State, System, Task
from bkwatch.systems.common import (
    MAX_IP,
    Answers,
    bad,
    build_task,
    host_ip,
    need,
    need_list,
    parse_time,
    parse_time_text,
    plain_text,
    raw_text,
    readable,
    span,
    to_float,
    to_int,
)
from bkwatch.target import Target

PAGE_SIZE = 500  # asked for when a server refuses pagesize=-1; the answer says what it gave
ALL_ROWS = -1  # NodeMan's "every row in one answer" (its own "copy IPs" uses it)
MAX_PAGES = 200  # beyond that something is wrong with `total`
S = State

JOB_STATUS: dict[str, State] = {
    "PENDING": S.PENDING,
    "RUNNING": S.RUNNING,
    "SUCCESS": S.SUCCEEDED,
    "FAILED": S.FAILED,
    "PART_FAILED": S.FAILED,
    "TERMINATED": S.STOPPED,
}
JOB_TERMINAL = frozenset({"SUCCESS", "FAILED", "PART_FAILED", "TERMINATED"})
HOST_STATUS: dict[str, State] = {
    "QUEUE": S.PENDING,
    "PENDING": S.PENDING,
    "RUNNING": S.RUNNING,
    "SUCCESS": S.SUCCEEDED,
    "FAILED": S.FAILED,
    "PART_FAILED": S.FAILED,
    "TERMINATED": S.STOPPED,
    "REMOVED": S.STOPPED,
    # Rejected before execution (locked by another job, not found): nothing was done on it, so
    # not "ok" — and NodeMan counts it as ignored, so not a failure either.
    "FILTERED": S.NOT_RUN,
    "IGNORED": S.SUCCEEDED,  # nothing to do; NodeMan itself counts an all-ignored job as SUCCESS
}
HOST_WORDS = {
    "QUEUE": "queued",
    "PENDING": "waiting",
    "RUNNING": "running",
    "SUCCESS": "succeeded",
    "FAILED": "failed",
    "TERMINATED": "terminated",
    "REMOVED": "removed",
    "FILTERED": "filtered",
    "IGNORED": "ignored",
}


_V2_FIELDS = (
    "status",
    "bk_cloud_id",
    "ip",
    "bk_host_id",
    "status_display",
    "step",
    "cost_time",
    "start_time",
    "end_time",
)
# All fields in one C call; rows missing one take the .get() path.
_v2_fields = itemgetter(*_V2_FIELDS)
# Display texts repeat across hosts and polls ("执行成功", a step name): made plain once each.
_PLAIN: dict[str, str] = {}
_PLAIN_MAX = 4096
_PLAIN_MAX_LEN = 512  # longer texts are not kept: 4,096 of 1 MB each would be 4 GB


def _plain(text: str) -> str:
    out = _PLAIN.get(text)
    if out is None:
        out = plain_text(text)
        if len(text) <= _PLAIN_MAX_LEN:
            if len(_PLAIN) >= _PLAIN_MAX:
                _PLAIN.clear()
            _PLAIN[text] = out
    return out


def _v2_hosts(rows: list[Any], out: dict[str, Host], where: str) -> None:
    host_status = HOST_STATUS
    words = HOST_WORDS
    plain = _PLAIN
    fields = _v2_fields
    unknown = S.UNKNOWN
    failed_like = (S.FAILED, S.STOPPED)
    for row in rows:
        if type(row) is not dict:
            raise bad(where, "a host row is not an object")
        try:
            status, cloud, ip, host_id, display, step, cost, start, end = fields(row)
        except KeyError:
            status, cloud, ip, host_id, display, step, cost, start, end = map(row.get, _V2_FIELDS)
        if row.get("filter_host") is True:
            # Rejected before execution; NodeMan reports FAILED (or IGNORED) yet counts it as
            # ignored, so it is shown as filtered with its reason, never as a failure.
            status = "FILTERED"
        state = host_status.get(status, unknown) if type(status) is str else unknown
        if type(cloud) is not int:
            cloud = to_int(cloud, 0)
        if type(host_id) is not int:
            host_id = to_int(host_id)
        # Inline test of the usual short printable address: this loop runs for every host.
        if type(ip) is not str or not ip or len(ip) > MAX_IP or not ip.isprintable():
            fallback = host_id or row.get("instance_id")
            ip = host_ip(ip, row.get("inner_ip"), row.get("inner_ipv6"), fallback=fallback)
        display = (plain.get(display) or _plain(display)) if type(display) is str else ""
        if status == "FILTERED":
            display = f"filtered: {display}" if display else "filtered"
        step = (plain.get(step) or _plain(step)) if type(step) is str and step else ""
        key = f"{cloud}:{ip}"
        raw = status if state is not unknown else raw_text(status)  # known ones are plain already
        out[key] = Host(
            key,
            ip,
            cloud,
            state,
            raw,
            display or (words.get(status) if type(status) is str else None) or raw,
            host_id,
            None,
            None,
            (display or step) if state in failed_like else "",
            "",
            step,
            parse_time_text(start) if type(start) is str else parse_time(start),
            parse_time_text(end) if type(end) is str else parse_time(end),
            cost if type(cost) is float else to_float(cost),
        )


def parse(payload: Any, target: Target, *, pages: list[Any] | None = None) -> Task:
    """`data` of api/job/details (first page) + later pages' `data` -> Task (pure)."""
    where = "NodeMan api/job/details"
    status = need(payload, "status", where)
    hosts: dict[str, Host] = {}
    _v2_hosts(need_list(payload, "list", where), hosts, where)
    for page in pages or ():
        _v2_hosts(need_list(page, "list", where), hosts, where)
    state = JOB_STATUS.get(status, S.UNKNOWN) if isinstance(status, str) else S.UNKNOWN
    meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
    kind = readable(payload.get("job_type_display") or payload.get("job_type"), 200)
    subject = meta.get("plugin_name") or meta.get("name")
    name = f"{kind} {readable(subject, 200)}".strip() if isinstance(subject, str) else kind
    return Task(
        target=str(target),
        system=System.NODEMAN,
        name=name or None,
        state=state,
        raw_state=raw_text(status),
        terminal=type(status) is str and status in JOB_TERMINAL,
        start=parse_time(payload.get("start_time")),
        end=parse_time(payload.get("end_time")),
        elapsed=to_float(payload.get("cost_time")),
        hosts=hosts,
        detail=raw_text(payload.get("job_type") or ""),
        started_by=readable(payload.get("created_by"), 100) or None,
    )


def parse_v1(payload: Any, target: Target) -> Task:
    """`data` of 1.x get_task_info -> Task (pure). Job state is derived from status_count."""
    where = "NodeMan get_task_info"
    rows = need_list(payload, "hosts", where)
    hosts: dict[str, Host] = {}
    busy = False
    for row in rows:
        if not isinstance(row, dict):
            raise bad(where, "a host row is not an object")
        info = row.get("host") if isinstance(row.get("host"), dict) else {}
        status = row.get("status")
        state = HOST_STATUS.get(status, S.UNKNOWN) if isinstance(status, str) else S.UNKNOWN
        busy = busy or state.is_active
        cloud = to_int(info.get("bk_cloud_id", payload.get("bk_cloud_id")), 0) or 0
        host_id = to_int(info.get("id"))
        ip = host_ip(info.get("inner_ip"), info.get("outer_ip"), fallback=host_id)
        err = row.get("err_code")
        desc = readable(row.get("err_code_desc"))
        step = readable(row.get("step"), 200)
        key = f"{cloud}:{ip}"
        raw = raw_text(status)
        hosts[key] = Host(
            key=key,
            ip=ip,
            cloud_id=cloud,
            state=state,
            raw_status=raw,
            status_text=(HOST_WORDS.get(status) if isinstance(status, str) else None) or raw,
            host_id=host_id,
            error_code=raw_text(err) if err not in (None, "", 0, "0") else None,
            error_text=desc if state.is_bad else "",
            step=step,
        )
    counts = payload.get("status_count") if isinstance(payload.get("status_count"), dict) else {}
    running = to_int(counts.get("running_count"), 0) or 0
    failed = to_int(counts.get("failed_count"), 0) or 0
    success = to_int(counts.get("success_count"), 0) or 0
    if running > 0 or (busy and (failed or success)):
        state, raw = S.RUNNING, "RUNNING"
    elif busy or not (failed or success):
        state, raw = S.PENDING, "PENDING"
    elif failed:
        state, raw = S.FAILED, "FAILED" if not success else "PART_FAILED"
    else:
        state, raw = S.SUCCEEDED, "SUCCESS"
    kind = payload.get("job_type_desc") or payload.get("job_type")
    start = parse_time(payload.get("start_time"))
    end = parse_time(payload.get("end_time"))
    return Task(
        target=str(target),
        system=System.NODEMAN,
        name=readable(kind, 200) or None,
        state=state,
        raw_state=raw,
        terminal=state.is_done,
        start=start,
        end=end,
        elapsed=span(start, end),
        hosts=hosts,
        detail=raw_text(payload.get("job_type") or ""),
        started_by=readable(payload.get("creator"), 100) or None,
    )


def _real_rows(page: Any) -> int:
    """Rows of a page that are not filtered hosts (those come on every page, outside `total`)."""
    rows = page.get("list") if isinstance(page, dict) and isinstance(page.get("list"), list) else []
    return sum(1 for r in rows if not (isinstance(r, dict) and r.get("filter_host") is True))


async def _fetch_v2(client: BkClient, target: Target) -> Task:
    """Every row of the job: `pagesize=-1` first; when a server refuses it, or a proxy caps it,
    pages whose size is what page 1 actually held, never what was asked for (bk-apis §10.2)."""
    via = client.transport_for(System.NODEMAN)
    job_id = to_int(target.id) or target.id
    if via == "esb":
        path = "nodeman/api/job/details/"
        base: dict[str, Any] = {"job_id": job_id}
    else:
        path = f"api/job/{target.id}/details/"
        base = {}

    async def page(n: int, size: int) -> Any:
        params = {**base, "page": n, "pagesize": size}
        return await client.call(System.NODEMAN, path, via=via, method="POST", params=params)

    answers, key = Answers.of(client), str(target)
    first: Any = None
    fingerprint: int | None = None  # of the one answer that held every row
    if client.nodeman_all_rows:
        seen, held = answers.held(key)
        try:
            first, fingerprint = await client.call_unless(
                seen,
                System.NODEMAN,
                path,
                via=via,
                method="POST",
                params={**base, "page": 1, "pagesize": ALL_ROWS},
            )
        except BkError as exc:
            # Refused means the server answered (HTTP 200, result false, its own code): a 5xx, a
            # timeout or a garbled answer is a fault of this poll, not a refusal of -1.
            refused = exc.status == 200 and exc.code is not None
            if (
                not refused
                or exc.kind not in (ErrorKind.SERVER, ErrorKind.BAD_RESPONSE)
                or isinstance(exc, ApiNotFound)
            ):
                raise
            client.nodeman_all_rows = False  # refused: pages from now on
        if first is UNCHANGED and held is not None:
            return held
    if first is None:
        first = await page(1, PAGE_SIZE)
    total = to_int(need(first, "total", "NodeMan api/job/details"), 0) or 0
    size = _real_rows(first)
    if size >= total or size == 0:
        task = await build_task(size, parse, first, target)
        if fingerprint is not None:  # one answer: the same bytes again are this task again
            answers.keep(key, fingerprint, task)
        return task
    last = min(MAX_PAGES, -(-total // size))
    rest = await asyncio.gather(*(page(n, size) for n in range(2, last + 1)))
    return await build_task(total, parse, first, target, pages=list(rest))


async def _fetch_v1(client: BkClient, target: Target) -> Task:
    if not client.profile.esb_url:
        raise BkError(
            ErrorKind.CONFIG,
            "NodeMan 1.x get_task_info is only on the ESB: set BK_COMPONENT_API_URL (esb_url) "
            'or use nodeman_api = "v2"',
        )
    # 2.x needs only the job id; the 1.x gateway route is per business (bk-apis §10.2).
    biz = target.scope or client.profile.default_biz
    if not biz:
        raise BkError(
            ErrorKind.CONFIG,
            f"this NodeMan answers only the 1.x get_task_info, which needs a business id: watch "
            f"nodeman:BIZ:{target.id} instead, or set default_biz in the profile",
        )
    params = {"bk_biz_id": biz, "job_id": target.id}
    data = await client.call(System.NODEMAN, "nodeman/get_task_info/", via="esb", method="GET", params=params)
    return parse_v1(data, target)


async def fetch(client: BkClient, target: Target) -> Task:
    if client.nodeman_api == "v1":
        return await _fetch_v1(client, target)
    try:
        return await _fetch_v2(client, target)
    except ApiNotFound:
        if not client.profile.esb_url:
            raise
    task = await _fetch_v1(client, target)
    client.nodeman_api = "v1"  # remembered only once v1 has actually answered
    return task
