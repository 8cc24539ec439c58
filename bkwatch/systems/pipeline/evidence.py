"""SOPS and BKFlow node evidence: `get_task_node_detail` (inputs, outputs, ex_data, histories)
and SOPS's paged `get_task_node_log` (gateway only); a JOB-plugin node's outputs name the JOB
instance it ran (fact sheet §3.7, §4.3, §10.5)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bkwatch.evidence.base import Chunk, Evidence, clean_value, find_node
from bkwatch.evidence.signatures import Signatures, group, reason_of
from bkwatch.model import BkError, ErrorKind, Node, State, System, Task
from bkwatch.text import one_line

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.target import Target

NodeReader = Callable[["BkClient", "Target", Any], Awaitable[Evidence]]
SOPS_LOG_PAGE = 30  # get_task_node_log page_size default (§10.5)
SOPS_LOG_MAX_PAGES = 2000
JOB_LINK_KEYS = ("job_inst_id", "job_instance_id")


def _sops_path(client: BkClient, target: Target, api: str, params: dict[str, Any]) -> tuple[str, str]:
    via = client.transport_for(System.SOPS)
    if target.scope_type == "project":
        params["scope"] = "project"
    if via == "apigw":
        return via, f"{api}/{target.id}/{target.scope}/"
    params.update({"bk_biz_id": target.scope, "task_id": target.id})
    return via, f"sops/{api}/"


def _node_fields(data: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    fields: dict[str, str] = {}
    for key in ("state", "version", "ex_data", "inputs", "outputs"):
        if data.get(key) not in (None, "", [], {}):
            fields[key] = clean_value(data[key])
    histories = data.get("histories")
    if isinstance(histories, list) and histories:
        fields["histories"] = "; ".join(
            clean_value(
                f"#{h.get('retry', '?')} {h.get('state', '?')} {h.get('start_time') or ''}: "
                f"{h.get('ex_data') or ''}",
                300,
            )
            for h in histories
            if isinstance(h, dict)
        )
    link = None
    for out in data.get("outputs") or []:
        if (
            isinstance(out, dict)
            and out.get("key") in JOB_LINK_KEYS
            and str(out.get("value") or "").isdigit()
        ):
            link = str(out["value"])
    return fields, link


def _job_link(target: Target, job_id: str | None, data: dict[str, Any]) -> str | None:
    """A JOB target for the instance a node ran: only when the business is known — the JOB
    plugin's own `biz_cc_id` input, or a SOPS task addressed by CMDB business (JOB's own link
    carries no scope, §10.1). Without one there is no link: never `job:?:ID`."""
    if job_id is None:
        return None
    inputs = data.get("inputs")
    biz = str(inputs.get("biz_cc_id") or "") if isinstance(inputs, dict) else ""
    if biz.isdigit() and int(biz) > 0:
        return f"job:{int(biz)}:{job_id}"
    if target.system is System.SOPS and target.scope_type != "project":
        return f"job:{target.scope}:{job_id}"
    return None


async def sops_node_detail(client: BkClient, target: Target, node_id: str) -> dict[str, Any]:
    params: dict[str, Any] = {"node_id": node_id}
    via, path = _sops_path(client, target, "get_task_node_detail", params)
    data = await client.call(System.SOPS, path, via=via, method="GET", params=params)
    if not isinstance(data, dict):
        raise BkError(ErrorKind.BAD_RESPONSE, "sops: get_task_node_detail answered no object")
    return data


async def sops_log_page(client: BkClient, target: Target, node_id: str, version: str, page: int) -> str:
    """One page of get_task_node_log (gateway only; `data` is plain text)."""
    if client.transport_for(System.SOPS) != "apigw":
        raise BkError(ErrorKind.CONFIG, "sops: node logs are only published on the API gateway")
    params: dict[str, Any] = {
        "node_id": node_id,
        "version": version,
        "page": page,
        "page_size": SOPS_LOG_PAGE,
    }
    _, path = _sops_path(client, target, "get_task_node_log", params)
    data = await client.call(System.SOPS, path, via="apigw", method="GET", params=params)
    return data if isinstance(data, str) else ""


async def sops_node(client: BkClient, target: Target, node: Node | str) -> Evidence:
    node_id = node if isinstance(node, str) else node.id
    data = await sops_node_detail(client, target, node_id)
    fields, job = _node_fields(data)
    name = data.get("name") or (node.name if isinstance(node, Node) else "")
    state = str(data.get("state") or "")
    ev = Evidence(
        str(target),
        System.SOPS,
        f"{target} node {node_id} {one_line(name, 60)}".rstrip(),
        node=node_id,
        done=state in ("FINISHED", "FAILED", "REVOKED"),
        fields=fields,
        link=_job_link(target, job, data),
    )
    version = str(data.get("version") or "")
    pages: list[str] = []
    try:
        for page in range(1, SOPS_LOG_MAX_PAGES + 1):
            text = await sops_log_page(client, target, node_id, version, page)
            if not text:
                break
            pages.append(text)
    except BkError as exc:
        ev.error = exc
    ev.raw_text = "\n".join(pages)  # follow mode appends to the last line's page as it grows
    return ev


async def bkflow_node(client: BkClient, target: Target, node: Node | str) -> Evidence:
    node_id = node if isinstance(node, str) else node.id
    path = f"space/{target.scope}/task/{target.id}/node/{node_id}/get_task_node_detail/"
    data = await client.call(System.BKFLOW, path, method="GET")
    if not isinstance(data, dict):
        raise BkError(ErrorKind.BAD_RESPONSE, "bkflow: get_task_node_detail answered no object")
    fields, job = _node_fields(data)
    state = str(data.get("state") or "")
    return Evidence(
        str(target),
        System.BKFLOW,
        f"{target} node {node_id} {one_line(data.get('name') or '', 60)}".rstrip(),
        raw_text=str(data.get("ex_data") or ""),
        node=node_id,
        done=state in ("FINISHED", "FAILED", "REVOKED"),
        fields=fields,
        link=_job_link(target, job, data),
    )


async def _node_evidence(
    read: NodeReader, client: BkClient, task: Task, target: Target, node: str | None
) -> Evidence:
    if not node:
        raise BkError(ErrorKind.CONFIG, f"{task.system}: name a node (--node NODE_ID)")
    ev = await read(client, target, node)
    found = find_node(task, node)
    if found is not None:
        ev.done = found.state.is_done or found.state is State.FAILED
    return ev


async def sops_evidence(
    client: BkClient, task: Task, target: Target, step: str | None, host: str | None, node: str | None
) -> Evidence:
    return await _node_evidence(sops_node, client, task, target, node)


async def bkflow_evidence(
    client: BkClient, task: Task, target: Target, step: str | None, host: str | None, node: str | None
) -> Evidence:
    return await _node_evidence(bkflow_node, client, task, target, node)


async def _signatures(
    client: BkClient, target: Target, task: Task, read_missing: NodeReader | None
) -> Signatures:
    """Failed SOPS/BKFlow leaf nodes grouped by their ex_data. SOPS trees carry ex_data already;
    BKFlow's gateway does not forward `with_ex_data`, so each failed node's detail is read."""
    failed = [n for n in task.leaf_nodes() if n.state is State.FAILED]
    items: list[tuple[str, str | None, str]] = []
    reasons: dict[str, int] = {}
    for node in failed:
        text = node.message
        if not text and read_missing is not None:
            try:
                text = (await read_missing(client, target, node)).raw_text
            except BkError as exc:
                reasons[reason_of(exc)] = reasons.get(reason_of(exc), 0) + 1
                continue
        items.append((node.id, None, text or node.raw_state))
    return Signatures(
        str(target), task.system, group(items), len(items), sum(reasons.values()), reasons, member_key="nodes"
    )


async def sops_signatures(client: BkClient, target: Target, task: Task, step_id: str | None) -> Signatures:
    """SOPS trees carry each failed node's ex_data already."""
    return await _signatures(client, target, task, None)


async def bkflow_signatures(client: BkClient, target: Target, task: Task, step_id: str | None) -> Signatures:
    """BKFlow's gateway does not forward `with_ex_data`, so each failed node's detail is read."""
    return await _signatures(client, target, task, bkflow_node)


class SopsLogPager:
    """Follows a SOPS node log: only the last page read and the pages after it are asked for."""

    def __init__(self) -> None:
        self.page = 1  # last page read and how much of it
        self.page_seen = 0
        self.version = ""

    def adopt(self, ev: Evidence) -> None:
        self.version = ev.fields.get("version", "")
        lines = ev.raw_text.split("\n") if ev.raw_text else []
        self.page = max(1, (len(lines) + SOPS_LOG_PAGE - 1) // SOPS_LOG_PAGE)
        self.page_seen = len("\n".join(lines[(self.page - 1) * SOPS_LOG_PAGE :]))

    async def more(self, client: BkClient, target: Target, node: str, seen: int, done: bool) -> Chunk:
        if not self.version:
            self.version = str((await sops_node_detail(client, target, node)).get("version") or "")
        parts = []
        text = await sops_log_page(client, target, node, self.version, self.page)
        if len(text) > self.page_seen:
            parts.append(("\n" if seen and not self.page_seen else "") + text[self.page_seen :])
            self.page_seen = len(text)
        while text.count("\n") + 1 >= SOPS_LOG_PAGE:
            text = await sops_log_page(client, target, node, self.version, self.page + 1)
            if not text:
                break
            self.page += 1
            parts.append("\n" + text)
            self.page_seen = len(text)
        return Chunk("".join(parts), done=done)
