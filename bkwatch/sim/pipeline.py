"""A bamboo-engine pipeline (SOPS and BKFlow): sequences, parallel branches, subprocesses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from . import logtext
from .base import SimError, SimTask
from .fmt import cst_space, iso_ms_z

INF = math.inf
TERMINAL = {"FINISHED", "FAILED", "REVOKED"}
V1_CLASS = {
    "start": "<class 'pipeline.core.flow.event.EmptyStartEvent'>",
    "end": "<class 'pipeline.core.flow.event.EmptyEndEvent'>",
    "pgw": "<class 'pipeline.core.flow.gateway.ParallelGateway'>",
    "cgw": "<class 'pipeline.core.flow.gateway.ConvergeGateway'>",
    "root": "<class 'pipeline.core.pipeline.Pipeline'>",
}


@dataclass(slots=True)
class Attempt:
    dur: float
    outcome: str  # FINISHED | FAILED
    restart_at: float | None = None  # manual retry time; None = right after (or after the auto-retry gap)


@dataclass(slots=True)
class PNode:
    id: str
    name: str
    kind: str  # start | end | act | sub | par
    version: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    auto_retry: int = 0  # max automatic retries configured
    gap: float = 2.0  # auto-retry interval
    suspend_for: float | None = None  # SUSPENDED this long when it starts; inf = until forced
    message: Any = ""  # ex_data of a failure
    body: list[PNode] = field(default_factory=list)  # sub: its nodes; par: not used
    branches: list[list[PNode]] = field(default_factory=list)  # par
    gw_ids: tuple[str, str, str, str] = ("", "", "", "")  # par: gateway ids and versions
    forced: str | None = None
    forced_at: float = 0.0


@dataclass(slots=True)
class Out:
    """An evaluated node before rendering."""

    node: PNode | None
    id: str
    name: str
    kind: str
    version: str
    state: str
    start: float | None
    end: float | None
    retry: int = 0
    children: dict[str, Out] = field(default_factory=dict)


class PipelineTask(SimTask):
    def __init__(
        self,
        system: str,
        target: str,
        name: str,
        scope: str,
        task_id: int,
        start: float,
        root_id: str,
        root_version: str,
        body: list[PNode],
        engine: int = 2,
    ) -> None:
        super().__init__(target, name, scope, start)
        self.system = system
        self.task_id = task_id
        self.root_id = root_id
        self.root_version = root_version
        self.body = body
        self.engine = engine
        self.skipped: set[str] = set()  # node ids skipped by an operate_node "skip"

    # -- evaluation ---------------------------------------------------------------------------
    def _leaf(self, n: PNode, t0: float, lt: float, nxt: list[float]) -> tuple[str, float | None, int]:
        if n.forced is not None:
            return n.forced, (n.forced_at if n.forced in TERMINAL else None), 0
        t = t0
        if n.suspend_for is not None:
            if lt < t + n.suspend_for:
                nxt.append(t + n.suspend_for)
                return "SUSPENDED", None, 0
            t += n.suspend_for
        for i, a in enumerate(n.attempts):
            if i and a.restart_at is not None:
                t = max(t, a.restart_at)
            if lt < t + a.dur:
                nxt.append(t + a.dur)
                return "RUNNING", None, i
            t += a.dur
            if a.outcome != "FAILED":
                return a.outcome, t, i
            if i + 1 < len(n.attempts):
                nx = n.attempts[i + 1]
                wait_until = nx.restart_at if nx.restart_at is not None else t + n.gap
                if lt < wait_until:
                    nxt.append(wait_until)
                    return "FAILED", t, i
                if nx.restart_at is None:
                    t += n.gap
                continue
            return "FAILED", t, i
        return "FINISHED", t, 0

    def _seq(self, seq: list[PNode], t0: float | None, lt: float, out: dict[str, Out], nxt: list[float]):
        for n in seq:
            if t0 is None:
                return None
            if lt < t0:
                nxt.append(t0)
                return None
            if n.kind == "par":
                gw, gwv, cgw, cgwv = n.gw_ids
                out[gw] = Out(None, gw, "", "pgw", gwv, "FINISHED", t0, t0)
                ends = [self._seq(b, t0, lt, out, nxt) for b in n.branches]
                if any(e is None for e in ends):
                    return None
                t0 = max(ends)  # type: ignore[type-var]
                if lt < t0:
                    nxt.append(t0)
                    return None
                out[cgw] = Out(None, cgw, "", "cgw", cgwv, "FINISHED", t0, t0)
            elif n.kind == "sub":
                o = Out(n, n.id, n.name, "sub", n.version, "RUNNING", t0, None)
                end = self._seq(n.body, t0, lt, o.children, nxt)
                if n.forced is not None:
                    o.state = n.forced
                    o.end = n.forced_at if n.forced in TERMINAL else None
                elif end is not None:
                    o.state, o.end = "FINISHED", end
                else:
                    o.state = _format_parent(o.children.values())
                out[n.id] = o
                t0 = o.end if o.state == "FINISHED" else None
            elif n.kind in ("start", "end"):
                out[n.id] = Out(n, n.id, "", n.kind, n.version, "FINISHED", t0, t0)
            else:
                state, end, retry = self._leaf(n, t0, lt, nxt)
                out[n.id] = Out(n, n.id, n.name, "act", n.version, state, t0, end, retry)
                t0 = end if state == "FINISHED" else None
        return t0

    def evaluate(self, lt: float) -> tuple[Out | None, float]:
        nxt: list[float] = []
        if lt < self.start:
            return None, self.start
        root = Out(None, self.root_id, self.name, "root", self.root_version, "RUNNING", self.start, None)
        end = self._seq(self.body, self.start, lt, root.children, nxt)
        if end is not None:
            root.state, root.end = "FINISHED", end
        else:
            root.state = _format_parent(root.children.values())
        if self.forced is not None:
            root.state = self.forced
            if self.forced in TERMINAL and root.end is None:
                root.end = lt
        running = any(o.state in ("RUNNING",) for o, _ in _walk(root))
        limit = math.floor(lt) + 1 if running else INF  # elapsed_time of running nodes ticks
        return root, min([t for t in nxt if t > lt] + [limit])

    def tree(self, now: float) -> Out | None:
        return self.cached("tree", now, self.evaluate)

    def raw_state(self, now: float) -> str:
        if self.forced in ("CREATED", "EXPIRED"):
            return self.forced
        root = self.tree(now)
        return "CREATED" if root is None else root.state

    # -- rendering ----------------------------------------------------------------------------
    def render(self, now: float, flavor: str, subprocess_id: str | None = None) -> dict[str, Any] | str:
        """flavor: "sops" (engine v1/v2 by task) or "bkflow"."""
        lt = self.local(now)
        root = self.tree(now)
        if self.forced == "EXPIRED":
            return {"state": "EXPIRED", "name": self.name}
        if root is None or self.forced == "CREATED":
            return created_payload(self.name if flavor == "sops" else None)
        node = root
        if subprocess_id:
            node = next((o for o, _ in _walk(root) if o.id == subprocess_id and o.kind == "sub"), None)
            if node is None:
                return created_payload(self.name if flavor == "sops" else None)
        return self.render_node(node, self.root_id, root.id, lt, flavor)

    def render_node(self, o: Out, root_id: str, parent_id: str, lt: float, flavor: str) -> dict[str, Any]:
        v1 = flavor == "sops" and self.engine == 1
        end = o.end
        elapsed = int((end if end is not None else lt) - o.start) if o.start is not None else 0
        # bamboo-engine reads the states without ORDER BY: row order, not flow order. Sorted by id
        # here, so a client must take the order from get_task_detail, not from this tree.
        kids = o.children.items() if v1 else sorted(o.children.items())
        children = {k: self.render_node(c, root_id, o.id, lt, flavor) for k, c in kids}
        if v1:
            name = V1_CLASS.get(o.kind, o.name)
            return {
                "id": o.id,
                "state": o.state,
                "name": name,
                "retry": o.retry,
                "loop": 1,
                "skip": False,
                "error_ignorable": False,
                "version": o.version,
                "state_refresh_at": iso_ms_z(end if end is not None else (o.start or lt)),
                "elapsed_time": elapsed,
                "children": children,
                "start_time": cst_space(o.start, ""),
                "finish_time": cst_space(end, ""),
            }
        unset = "" if flavor == "bkflow" else None
        d: dict[str, Any] = {
            "id": o.id,
            "state": o.state,
            "root_id:": root_id,
            "parent_id": parent_id,
            "version": o.version,
            "loop": 1,
            "retry": o.retry,
            "skip": o.id in self.skipped,
            "error_ignorable": False,
            "error_ignored": False,
            "elapsed_time": elapsed,
            "start_time": cst_space(o.start, unset),
            "finish_time": cst_space(end, unset),
        }
        if flavor == "sops":
            d["name"] = o.name
        d["children"] = children
        return d

    def failed_leaves(self, now: float) -> list[Out]:
        root = self.tree(now)
        if root is None:
            return []
        return [o for o, _ in _walk(root) if o.kind == "act" and o.state == "FAILED"]

    def ex_data(self, now: float) -> dict[str, Any]:
        return {
            o.id: (o.node.message if o.node and o.node.message else logtext.node_failure(o.id))
            for o in self.failed_leaves(now)
        }

    def failed_node_info(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for o in self.failed_leaves(now):
            n = o.node
            if n is not None and n.auto_retry:
                out[o.id] = {
                    "node_id": o.id,
                    "auto_retry_times": o.retry,
                    "max_auto_retry_times": n.auto_retry,
                }
            else:
                out[o.id] = {}
        return out

    def auto_retry_status(self, now: float) -> dict[str, Any]:
        nodes = [n for n in _all_nodes(self.body) if n.auto_retry]
        waiting = [
            o.id
            for o in self.failed_leaves(now)
            if o.node and o.node.auto_retry and o.retry < o.node.auto_retry
        ]
        return {"exist_auto_retry_nodes": bool(nodes), "auto_retry_nodes": waiting}

    def find_out(self, now: float, node_id: str) -> Out | None:
        root = self.tree(now)
        if root is None:
            return None
        return next((o for o, _ in _walk(root) if o.id == node_id), None)

    # -- control ------------------------------------------------------------------------------
    def force(self, now: float, state: Any, *, host: str | None, node: str | None, step: str | None) -> None:
        value = str(state)
        if node is not None:
            for n in _all_nodes(self.body):
                if n.id == node:
                    n.forced, n.forced_at = value, self.local(now)
                    self.touch()
                    return
            raise SimError(f"no node {node} in {self.target}")
        self.pin(now, value)

    def retry(self, now: float) -> None:
        self.unpin(now)
        lt = self.local(now)
        for o in self.failed_leaves(now):
            n = o.node
            if n is None:
                continue
            if n.forced is not None:
                n.forced = None
                n.attempts = [Attempt(0.0, "FAILED"), Attempt(3.0, "FINISHED", lt)]
            else:
                n.attempts.append(Attempt(3.0 + len(n.id) % 3, "FINISHED", lt))
        for n in _all_nodes(self.body):
            if n.forced == "SUSPENDED":
                n.forced = None
        root = self.evaluate(lt)[0]
        for o, _ in _walk(root) if root is not None else []:
            # Suspended nodes are resumed: they stop waiting now.
            if o.kind == "act" and o.state == "SUSPENDED" and o.node is not None and o.start is not None:
                o.node.suspend_for = max(0.0, lt - o.start)
        self.touch()


def created_payload(name: str | None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "start_time": None,
        "state": "CREATED",
        "retry": 0,
        "skip": 0,
        "finish_time": None,
        "elapsed_time": 0,
        "children": {},
    }
    if name is not None:
        d["name"] = name
    return d


def _format_parent(children: Any) -> str:
    states = [c.state for c in children]
    if "FAILED" in states:
        return "FAILED"
    if "SUSPENDED" in states or "NODE_SUSPENDED" in states:
        return "NODE_SUSPENDED"
    return "RUNNING"


def _walk(o: Out):
    stack = [(o, 0)]
    while stack:
        cur, depth = stack.pop()
        yield cur, depth
        stack.extend((c, depth + 1) for c in cur.children.values())


def _all_nodes(seq: list[PNode]):
    for n in seq:
        yield n
        if n.kind == "sub":
            yield from _all_nodes(n.body)
        elif n.kind == "par":
            for b in n.branches:
                yield from _all_nodes(b)
