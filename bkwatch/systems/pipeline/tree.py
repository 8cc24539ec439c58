"""The bamboo-engine state tree that SOPS and BKFlow both answer with, as a `Node` tree."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from bkwatch.model import Node, State, System, Task
from bkwatch.systems.common import (
    bad,
    parse_time,
    parse_time_text,
    raw_text,
    readable,
    to_bool,
    to_float,
    to_int,
)
from bkwatch.target import Target

S = State

# bamboo-engine states plus the SOPS synthetic / extra ones (docs/states.md).
PIPELINE_STATES: dict[str, State] = {
    "CREATED": S.PENDING,
    "READY": S.PENDING,
    "RUNNING": S.RUNNING,
    "BLOCKED": S.RUNNING,
    "SUSPENDED": S.WAITING,
    "NODE_SUSPENDED": S.WAITING,
    "PENDING_APPROVAL": S.WAITING,
    "PENDING_CONFIRMATION": S.WAITING,
    "PENDING_PROCESSING": S.WAITING,
    "PENDING_CONTINUE": S.WAITING,
    "FINISHED": S.SUCCEEDED,
    "FAILED": S.FAILED,
    "REVOKED": S.STOPPED,
    "EXPIRED": S.STOPPED,
}

# Engine-v1 trees name nodes by Python class path; show the kind instead.
_V1_KINDS = {
    "EmptyStartEvent": "start",
    "EmptyEndEvent": "end",
    "ExecutableEndEvent": "end",
    "ServiceActivity": "activity",
    "SubProcess": "subprocess",
    "ExclusiveGateway": "exclusive gateway",
    "ParallelGateway": "parallel gateway",
    "ConditionalParallelGateway": "conditional parallel gateway",
    "ConvergeGateway": "converge gateway",
}


def readable_name(name: Any, node_id: str) -> str:
    if not isinstance(name, str) or not name:
        return node_id
    if "<" not in name and "&" not in name and len(name) <= 200 and name.isprintable():
        return name
    if name.startswith("<class "):
        cls = name[len("<class ") :].strip("'\"<> ").rsplit(".", 1)[-1]
        return _V1_KINDS.get(cls) or raw_text(cls) or node_id
    return readable(name, 200) or node_id


_NODE_FIELDS = (
    "id",
    "state",
    "start_time",
    "finish_time",
    "elapsed_time",
    "retry",
    "loop",
    "skip",
    "children",
)
# All fields in one C call; nodes missing one (engine-v1 trees) take the .get() path. `name` is
# not among them: BKFlow trees never carry it.
_node_fields = itemgetter(*_NODE_FIELDS)


def parse_node(raw: dict[str, Any], fallback_id: str, where: str, depth: int) -> Node:
    if depth > 64:
        raise bad(where, "node tree nested too deeply")
    try:
        node_id, raw_state, start, end, elapsed, retry, loop, skip, children_raw = _node_fields(raw)
    except KeyError:
        node_id, raw_state, start, end, elapsed, retry, loop, skip, children_raw = map(raw.get, _NODE_FIELDS)
    # Ids are shown (BKFlow nodes have no names) and are the keys ex_data refers to.
    if type(node_id) is not str or not node_id.isprintable() or len(node_id) > 200:
        node_id = raw_text(node_id) if node_id is not None else ""
    node_id = node_id or fallback_id
    if type(raw_state) is str:
        state = PIPELINE_STATES.get(raw_state, S.UNKNOWN)
        state_text = raw_state if state is not S.UNKNOWN else raw_text(raw_state)
    else:
        state = S.UNKNOWN
        state_text = raw_text(raw_state) if raw_state is not None else ""
    start = parse_time_text(start) if type(start) is str else parse_time(start)
    end = parse_time_text(end) if type(end) is str else parse_time(end)
    if end is None and state.is_done:  # FINISHED, FAILED, REVOKED, EXPIRED
        # Engine-v1 trees: the last state change is the best end time there is.
        end = parse_time(raw.get("state_refresh_at"))
    children: list[Node] = []
    if children_raw:
        if isinstance(children_raw, dict):
            for cid, child in children_raw.items():
                if not isinstance(child, dict):
                    raise bad(where, f"node {raw_text(cid)} is not an object")
                children.append(parse_node(child, raw_text(cid), where, depth + 1))
        elif isinstance(children_raw, list):
            for i, child in enumerate(children_raw):
                if not isinstance(child, dict):
                    raise bad(where, "a child node is not an object")
                children.append(parse_node(child, f"{node_id}.{i}", where, depth + 1))
        else:
            raise bad(where, f"node {node_id}: 'children' should be an object")
    return Node(
        node_id,
        readable_name(raw.get("name"), node_id),
        state,
        state_text,
        start,
        end,
        float(elapsed) if type(elapsed) is int else to_float(elapsed),
        retry if type(retry) is int else (to_int(retry, 0) or 0),
        loop if type(loop) is int else (to_int(loop, 1) or 1),
        skip if type(skip) is bool else to_bool(skip),
        "",
        children,
    )


def attach_ex_data(root: Node, ex_data: Any) -> None:
    if not isinstance(ex_data, dict) or not ex_data:
        return
    by_id = {n.id: n for n, _ in root.walk()}
    for node_id, value in ex_data.items():
        node = by_id.get(raw_text(node_id))
        if node is not None:
            node.message = readable(value)


def parse_tree(payload: Any, target: Target, system: System, where: str) -> Task:
    """A bamboo-engine state tree (SOPS or BKFlow `data`) -> Task."""
    if isinstance(payload, str):
        # BKFlow answers a bare "CREATED" for a tree the engine has not built yet.
        payload = {"state": payload}
    if not isinstance(payload, dict):
        raise bad(where, f"data should be an object, got {type(payload).__name__}")
    if "state" not in payload:
        raise bad(where, "field 'state' is missing")
    root = parse_node(payload, str(target.id), where, 0)
    attach_ex_data(root, payload.get("ex_data"))
    name = payload.get("name")
    raw = root.raw_state
    return Task(
        target=str(target),
        system=system,
        # Engine-v1 roots carry a class path, not the task's name.
        name=readable(name, 200) or None
        if isinstance(name, str) and not name.startswith("<class ")
        else None,
        state=root.state,
        raw_state=raw,
        terminal=root.state.is_done,  # FINISHED, FAILED, REVOKED, EXPIRED, whatever type `raw` had
        start=root.start,
        end=root.end,
        elapsed=root.elapsed,
        root=root,
    )
