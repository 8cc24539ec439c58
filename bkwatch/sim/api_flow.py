"""SOPS / BKFlow task detail (the pipeline tree: topology, names, nodes not reached yet), as bk-apis
§10.3 describes it. The BKFlow task list that names tasks is served by `api_lists.py`."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from .api_pipeline import _sops, _sops_task, bkflow_located
from .envelope import Reply, Req
from .fmt import cst_space
from .pipeline import PipelineTask, PNode
from .world import World

COMPONENT = "job_fast_execute_script"


def _flow_id(src: str, dst: str) -> str:
    return "l" + hashlib.md5(f"{src}>{dst}".encode()).hexdigest()[:31]


class _Builder:
    """One pipeline level: activities, gateways, flows and the two events, linked in order."""

    def __init__(self) -> None:
        self.activities: dict[str, Any] = {}
        self.gateways: dict[str, Any] = {}
        self.flows: dict[str, Any] = {}
        self.start: dict[str, Any] = {}
        self.end: dict[str, Any] = {}

    def _entry(self, node_id: str) -> dict[str, Any]:
        for table in (self.activities, self.gateways):
            if node_id in table:
                return table[node_id]
        return self.start if self.start.get("id") == node_id else self.end

    def link(self, src: str, dst: str) -> None:
        fid = _flow_id(src, dst)
        self.flows[fid] = {"id": fid, "source": src, "target": dst, "is_default": False}
        out, inc = self._entry(src), self._entry(dst)
        if isinstance(out.get("outgoing"), list):
            out["outgoing"].append(fid)
        else:
            out["outgoing"] = fid
        inc.setdefault("incoming", []).append(fid)

    def add(self, n: PNode) -> tuple[str, str]:
        """Declare `n`; (first id, last id) for linking it to its neighbours."""
        if n.kind == "start":
            self.start = {"id": n.id, "name": "", "type": "EmptyStartEvent", "incoming": "", "outgoing": ""}
            return n.id, n.id
        if n.kind == "end":
            self.end = {"id": n.id, "name": "", "type": "EmptyEndEvent", "incoming": [], "outgoing": ""}
            return n.id, n.id
        if n.kind == "par":
            gw, _v, cgw, _cv = n.gw_ids
            self.gateways[gw] = {
                "id": gw,
                "name": "",
                "type": "ParallelGateway",
                "incoming": [],
                "outgoing": [],
                "converge_gateway_id": cgw,
            }
            self.gateways[cgw] = {
                "id": cgw,
                "name": "",
                "type": "ConvergeGateway",
                "incoming": [],
                "outgoing": "",
            }
            for branch in n.branches:
                prev = gw
                for m in branch:
                    first, last = self.add(m)
                    self.link(prev, first)
                    prev = last
                self.link(prev, cgw)
            return gw, cgw
        act: dict[str, Any] = {
            "id": n.id,
            "name": n.name,
            "type": "SubProcess" if n.kind == "sub" else "ServiceActivity",
            "incoming": [],
            "outgoing": "",
            "retryable": True,
            "skippable": True,
            "error_ignorable": False,
            "optional": False,
        }
        if n.kind == "sub":
            act["pipeline"] = pipeline_tree(n.body)
        else:
            act["component"] = {"code": COMPONENT, "version": "legacy", "data": {}}
        self.activities[n.id] = act
        return n.id, n.id


def pipeline_tree(body: list[PNode]) -> dict[str, Any]:
    b = _Builder()
    prev: str | None = None
    for n in body:
        first, last = b.add(n)
        if prev is not None:
            b.link(prev, first)
        prev = last
    return {
        "start_event": b.start,
        "end_event": b.end,
        "activities": b.activities,
        "gateways": b.gateways,
        "flows": b.flows,
        "constants": {},
        "outputs": [],
        "location": [],
        "line": [],
    }


def _detail(task: PipelineTask, now: float) -> dict[str, Any]:
    root = task.tree(now)
    return {
        "id": task.task_id,
        "name": task.name,
        "creator": task.operator,
        "create_time": cst_space(task.start, ""),
        "start_time": cst_space(root.start if root is not None else None, ""),
        "finish_time": cst_space(root.end if root is not None else None, ""),
        "pipeline_tree": pipeline_tree(task.body),
    }


def sops_task_detail(world: World, req: Req) -> Reply:
    err, task = _sops_task(world, req, status_api=False)
    if err is not None or task is None:
        return err  # type: ignore[return-value]
    return _sops(0, "", orjson.Fragment(orjson.dumps(_detail(task, world.now()))))


def _bkflow_ok(data: Any) -> Reply:
    return Reply(200, {"result": True, "data": data, "code": "0", "message": ""})


def bkflow_task_detail(world: World, req: Req) -> Reply:
    err, task, space = bkflow_located(world, req)
    if err is not None or task is None:
        return err  # type: ignore[return-value]
    return _bkflow_ok({**_detail(task, world.now()), "space_id": space})
