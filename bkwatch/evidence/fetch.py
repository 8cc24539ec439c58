"""A host's or node's evidence, fetched per system, as plain data (fact sheet §2.6, §3.7, §4.3,
§5.5, §10.2, §10.5).

Everything here is fetched when asked for, never by a poll. `Evidence.raw_text` is the server's
text as sent (untrusted: show it through `LogBuffer` or `text.clean_text`); `fields` are already
cleaned. `LogSource` is one opened log: `open()` once, then `more()` per poll returns only what
was added (SOPS node logs are paged, so only the last page and the next are asked for; JOB and
NodeMan answer whole logs, so only the new tail is handed on).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bkwatch.model import BkError, ErrorKind, Host, Node, State, Step, System, Task
from bkwatch.systems.job import request_params
from bkwatch.text import one_line

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.targets import Target

JOB_BATCH_MAX = 500  # batch_get_job_instance_ip_log: at most 500 hosts a call (§2.6)
SOPS_LOG_PAGE = 30  # get_task_node_log page_size default (§10.5)
SOPS_LOG_MAX_PAGES = 2000
FILE_STATUS = {1: "waiting", 2: "uploading", 3: "downloading", 4: "success", 5: "failed"}
JOB_LINK_KEYS = ("job_inst_id", "job_instance_id")


@dataclass(slots=True)
class Evidence:
    target: str
    system: System
    title: str  # a header naming the host or node, cleaned
    raw_text: str = ""  # the log as sent: untrusted
    step: str | None = None
    host: str | None = None  # "CLOUD:IP"
    node: str | None = None
    done: bool = True  # the host or node has finished: nothing more will be appended
    fields: dict[str, str] = field(default_factory=dict)  # details (inputs, ex_data, err_code…), cleaned
    link: str | None = None  # a JOB target this node ran (SOPS/BKFlow JOB plugins)
    error: BkError | None = None  # why the log could not be read
    failure_text: str | None = None  # the part that says what went wrong, when not the whole log


@dataclass(slots=True)
class Chunk:
    text: str  # raw text added since the last call
    reset: bool = False  # the log started again (a retry): replace, do not append
    done: bool = False


def _clean(value: Any, limit: int = 2000) -> str:
    if isinstance(value, (dict, list)):
        import orjson

        value = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return one_line(value, limit)


# -- JOB ----------------------------------------------------------------------------------------


def _job_path(client: BkClient, api: str) -> tuple[str, str]:
    via = client.transport_for(System.JOB)
    return via, (f"jobv3/{api}/" if via == "esb" else f"api/v3/{api}")


def _host_ref(h: Host) -> dict[str, Any]:
    if h.host_id is not None:
        return {"bk_host_id": h.host_id}
    return {"bk_cloud_id": h.cloud_id, "ip": h.ip}


def file_lines(file_logs: Any) -> str:
    """file_logs[] as one line per transfer: source, target, status, size, speed, progress."""
    out = []
    for f in file_logs if isinstance(file_logs, list) else []:
        if not isinstance(f, dict):
            continue
        src = f.get("src_ip") if isinstance(f.get("src_ip"), dict) else {}
        source = f"{src.get('bk_cloud_id', '?')}:{src.get('ip', '?')}:{f.get('src_path') or '?'}"
        mode = "upload" if f.get("mode") == 0 else "download"
        status = FILE_STATUS.get(f.get("status"), str(f.get("status")))  # type: ignore[arg-type]
        out.append(
            f"{mode} {source} -> {f.get('dest_path') or '-'} [{status}] size {f.get('size') or '?'} "
            f"speed {f.get('speed') or '?'} progress {f.get('process') or '?'}: {f.get('log_content') or ''}"
        )
    return "\n".join(out) + ("\n" if out else "")


def failed_transfers(file_logs: Any) -> str:
    """What the failed transfers of a host said: their signature, without sizes and paths."""
    rows = file_logs if isinstance(file_logs, list) else []
    return "\n".join(
        str(f.get("log_content") or "") for f in rows if isinstance(f, dict) and f.get("status") == 5
    )


def _job_evidence(target: Target, step: Step, h: Host, raw: str) -> Evidence:
    return Evidence(
        str(target),
        System.JOB,
        f"{target} step {step.id} host {h.key}",
        raw,
        step=step.id,
        host=h.key,
        done=h.state.is_done,
        fields={"status": h.status_text, "exit_code": str(h.exit_code), "error": _clean(h.error_text)},
    )


async def job_host(client: BkClient, target: Target, step: Step, host: Host) -> Evidence:
    """One host's script output (or file-transfer lines) for the step's current execute_count."""
    via, path = _job_path(client, "get_job_instance_ip_log")
    params = {**request_params(target), "step_instance_id": int(step.id), **_host_ref(host)}
    params.pop("return_ip_result", None)
    data = await client.call(
        System.JOB, path, via=via, method="POST" if via == "esb" else "GET", params=params
    )
    if not isinstance(data, dict):
        raise BkError(ErrorKind.BAD_RESPONSE, "job: get_job_instance_ip_log answered no object")
    files = data.get("file_logs")
    raw = data.get("log_content") if files is None else file_lines(files)
    ev = _job_evidence(target, step, host, raw if isinstance(raw, str) else "")
    if files is not None:
        ev.failure_text = failed_transfers(files)
    return ev


async def job_hosts(
    client: BkClient, target: Target, step: Step, hosts: list[Host], *, concurrency: int = 4
) -> list[Evidence]:
    """Many hosts' logs through batch_get_job_instance_ip_log, at most 500 a call; a host a batch
    did not answer (or a batch that failed) comes back with `error` set."""
    via, path = _job_path(client, "batch_get_job_instance_ip_log")
    base = {**request_params(target), "step_instance_id": int(step.id)}
    base.pop("return_ip_result", None)
    sem = asyncio.Semaphore(concurrency)

    async def batch(chunk: list[Host]) -> list[Evidence]:
        params = dict(base)
        if all(h.host_id is not None for h in chunk):
            params["host_id_list"] = [h.host_id for h in chunk]
        else:
            params["ip_list"] = [{"bk_cloud_id": h.cloud_id, "ip": h.ip} for h in chunk]
        try:
            async with sem:
                data = await client.call(System.JOB, path, via=via, method="POST", params=params)
        except BkError as exc:
            return [_unread(target, step, h, exc) for h in chunk]
        return batch_evidence(target, step, chunk, data)

    chunks = [hosts[i : i + JOB_BATCH_MAX] for i in range(0, len(hosts), JOB_BATCH_MAX)]
    results = await asyncio.gather(*(batch(c) for c in chunks))
    return [e for r in results for e in r]


def batch_evidence(target: Target, step: Step, hosts: list[Host], data: Any) -> list[Evidence]:
    """The `data` of one batch_get_job_instance_ip_log answer -> one Evidence per asked host."""
    by_id: dict[Any, tuple[str, str | None]] = {}
    by_ip: dict[tuple[Any, Any], tuple[str, str | None]] = {}
    data = data if isinstance(data, dict) else {}
    for row in data.get("script_task_logs") or []:
        if isinstance(row, dict):
            content = row.get("log_content")
            text = (content if isinstance(content, str) else "", None)
            by_id[row.get("bk_host_id")] = text
            by_ip[(row.get("bk_cloud_id"), row.get("ip"))] = text
    for row in data.get("file_task_logs") or []:
        if isinstance(row, dict):
            files = row.get("file_logs")
            text = (file_lines(files), failed_transfers(files))
            by_id[row.get("bk_host_id")] = text
            by_ip[(row.get("bk_cloud_id"), row.get("ip"))] = text
    out = []
    for h in hosts:
        got = by_id.get(h.host_id) if h.host_id is not None else None
        got = got if got is not None else by_ip.get((h.cloud_id, h.ip))
        if got is None:
            missing = BkError(ErrorKind.NOT_FOUND, "job: no log for this host")
            out.append(_unread(target, step, h, missing))
        else:
            ev = _job_evidence(target, step, h, got[0])
            ev.failure_text = got[1]
            out.append(ev)
    return out


def _unread(target: Target, step: Step, h: Host, exc: BkError) -> Evidence:
    ev = _job_evidence(target, step, h, "")
    ev.error = exc
    return ev


# -- SOPS / BKFlow ------------------------------------------------------------------------------


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
            fields[key] = _clean(data[key])
    histories = data.get("histories")
    if isinstance(histories, list) and histories:
        fields["histories"] = "; ".join(
            _clean(
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


def _job_link(target: Target, job_id: str | None) -> str | None:
    """A JOB target for the instance a node ran: only when the business is known (SOPS tasks
    addressed by CMDB business; JOB's own link carries no scope, §10.1)."""
    if job_id is None:
        return None
    if target.system is System.SOPS and target.scope_type != "project":
        return f"job:{target.scope}:{job_id}"
    return f"job:?:{job_id}"


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
        link=_job_link(target, job),
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
        link=_job_link(target, job),
    )


# -- NodeMan / GSEKit ---------------------------------------------------------------------------


async def nodeman_host(client: BkClient, target: Target, host: Host) -> Evidence:
    """The install log of one host, sub-step by sub-step (api/job/log, NodeMan 2.x)."""
    ev = Evidence(
        str(target), System.NODEMAN, f"{target} host {host.key}", host=host.key, done=host.state.is_done
    )
    ev.fields = {"status": host.status_text, "step": _clean(host.step), "error": _clean(host.error_text)}
    if client.nodeman_api == "v1" or host.host_id is None:
        ev.error = BkError(ErrorKind.CONFIG, "nodeman: install logs need NodeMan 2.x and a host id")
        return ev
    instance = f"host|instance|host|{host.host_id}"
    via = client.transport_for(System.NODEMAN)
    params: dict[str, Any] = {"instance_id": instance}
    if via == "esb":
        path = "nodeman/api/job/log/"
        params["job_id"] = target.id
    else:
        path = f"api/job/{target.id}/log/"
    data = await client.call(System.NODEMAN, path, via=via, method="GET", params=params)
    parts = []
    for entry in data if isinstance(data, list) else []:
        if isinstance(entry, dict):
            if entry.get("status") == "FAILED":
                ev.failure_text = str(entry.get("log") or "")
            parts.append(
                f"== {entry.get('step') or '?'} [{entry.get('status') or '?'}] "
                f"{entry.get('start_time') or ''} - {entry.get('finish_time') or ''}\n"
                f"{entry.get('log') or ''}\n"
            )
    ev.raw_text = "".join(parts)
    return ev


def gsekit_task(task: Task, job_task_id: str) -> Evidence:
    """A GSEKit job task's failure, from the task already fetched (no request)."""
    jt = task.job_tasks[job_task_id]
    lines = [f"failed_reason: {jt.failed_reason}", f"err_code: {jt.err_code}"]
    lines += [f"solution: {s}" for s in jt.solutions]
    return Evidence(
        task.target,
        System.GSEKIT,
        f"{task.target} task {jt.id} {one_line(jt.process, 40)} {jt.ip}".rstrip(),
        "\n".join(lines) + "\n",
        host=f"{jt.cloud_id}:{jt.ip}" if jt.ip else None,
        done=jt.state.is_done,
        fields={
            "status": jt.raw_state,
            "err_code": str(jt.err_code),
            "failed_reason": _clean(jt.failed_reason),
        },
    )


# -- one opened log, for follow mode ------------------------------------------------------------


class LogSource:
    """One host's or node's log kept open: `open()` first, then `more()` for what was added.

    `update(task)` hands it the task's latest poll, so it knows when its host or node is done.
    """

    def __init__(
        self,
        client: BkClient,
        task: Task,
        *,
        step: str | None = None,
        host: str | None = None,
        node: str | None = None,
    ) -> None:
        self.client, self.task = client, task
        self.step_id, self.host_key, self.node_id = step, host, node
        self._seen = 0  # characters of a whole-log answer already handed on
        self._page = 1  # SOPS: last page read and how much of it
        self._page_seen = 0
        self._version = ""
        self.evidence: Evidence | None = None

    def update(self, task: Task) -> None:
        self.task = task

    @property
    def target(self) -> Target:
        from bkwatch.targets import parse_target

        return parse_target(self.task.target)

    def _job_unit(self) -> tuple[Step, Host]:
        steps = [s for s in self.task.steps if self.step_id is None or s.id == self.step_id]
        for s in reversed(steps):
            if self.host_key in s.hosts:
                return s, s.hosts[self.host_key]
        raise BkError(ErrorKind.NOT_FOUND, f"no host {self.host_key} in {self.task.target}")

    def is_done(self) -> bool:
        t = self.task
        if t.system is System.JOB:
            return self._job_unit()[1].state.is_done
        if t.system is System.NODEMAN:
            return t.hosts[self.host_key].state.is_done if self.host_key in t.hosts else True
        if t.system is System.GSEKIT:
            return True
        node = find_node(t, self.node_id or "")
        return node is None or node.state.is_done

    async def open(self) -> Evidence:
        ev = await fetch_evidence(
            self.client, self.task, step=self.step_id, host=self.host_key, node=self.node_id
        )
        self.evidence = ev
        self._seen = len(ev.raw_text)
        if self.task.system is System.SOPS:
            self._version = ev.fields.get("version", "")
            lines = ev.raw_text.split("\n") if ev.raw_text else []
            self._page = max(1, (len(lines) + SOPS_LOG_PAGE - 1) // SOPS_LOG_PAGE)
            self._page_seen = len("\n".join(lines[(self._page - 1) * SOPS_LOG_PAGE :]))
        return ev

    async def more(self) -> Chunk:
        done = self.is_done()
        if self.task.system is System.SOPS:
            return await self._sops_more(done)
        ev = await fetch_evidence(
            self.client, self.task, step=self.step_id, host=self.host_key, node=self.node_id
        )
        text = ev.raw_text
        if len(text) < self._seen:
            self._seen = len(text)
            return Chunk(text, reset=True, done=done)
        new, self._seen = text[self._seen :], len(text)
        return Chunk(new, done=done)

    async def _sops_more(self, done: bool) -> Chunk:
        """Only the last page read and the pages after it are asked for."""
        target, node = self.target, self.node_id or ""
        if not self._version:
            self._version = str((await sops_node_detail(self.client, target, node)).get("version") or "")
        parts = []
        text = await sops_log_page(self.client, target, node, self._version, self._page)
        if len(text) > self._page_seen:
            parts.append(("\n" if self._seen and not self._page_seen else "") + text[self._page_seen :])
            self._page_seen = len(text)
        while text.count("\n") + 1 >= SOPS_LOG_PAGE:
            text = await sops_log_page(self.client, target, node, self._version, self._page + 1)
            if not text:
                break
            self._page += 1
            parts.append("\n" + text)
            self._page_seen = len(text)
        new = "".join(parts)
        self._seen += len(new)
        return Chunk(new, done=done)


def find_node(task: Task, node_id: str) -> Node | None:
    if task.root is None:
        return None
    return next((n for n, _ in task.root.walk() if n.id == node_id), None)


async def fetch_evidence(
    client: BkClient, task: Task, *, step: str | None = None, host: str | None = None, node: str | None = None
) -> Evidence:
    """The evidence of one host (JOB, NodeMan, GSEKit job task by id or host) or node (SOPS, BKFlow)."""
    from bkwatch.targets import parse_target

    target = parse_target(task.target)
    system = task.system
    if system is System.JOB:
        src = LogSource(client, task, step=step, host=host)
        s, h = src._job_unit()
        return await job_host(client, target, s, h)
    if system is System.NODEMAN:
        if host not in task.hosts:
            raise BkError(ErrorKind.NOT_FOUND, f"no host {host} in {task.target}")
        return await nodeman_host(client, target, task.hosts[host])
    if system is System.GSEKIT:
        key = node or host or ""
        match = (
            key
            if key in task.job_tasks
            else next(
                (k for k, jt in task.job_tasks.items() if f"{jt.cloud_id}:{jt.ip}" == key or jt.ip == key),
                None,
            )
        )
        if match is None:
            raise BkError(ErrorKind.NOT_FOUND, f"no job task {key} in {task.target}")
        return gsekit_task(task, match)
    if not node:
        raise BkError(ErrorKind.CONFIG, f"{system}: name a node (--node NODE_ID)")
    if system is System.SOPS:
        ev = await sops_node(client, target, node)
    else:
        ev = await bkflow_node(client, target, node)
    found = find_node(task, node)
    if found is not None:
        ev.done = found.state.is_done or found.state is State.FAILED
    return ev
