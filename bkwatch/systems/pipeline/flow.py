"""SOPS / BKFlow pipelines in flow order, with every node named, including nodes not reached.

A status tree (`get_task_status` / `get_task_states`) holds only the nodes already reached, in
database row order, and BKFlow's carries no names (bk-apis §10.3). The topology comes from
`get_task_detail`'s `pipeline_tree`, read once per task and cached by the client's `FlowDetails`
(it lives and dies with the client, so with the monitor or command that made it): refreshed after a
retry (a retry may bring new inputs) or when a status tree shows a node the cached tree does not
know. The status poll never waits for it: the detail is fetched beside the poll and used from
the first poll it is ready at. When it cannot be had, the poll's own tree is shown as before and
the task says so (in `Task.detail`) instead of failing.

The ordered tree is a plain `Node` tree: the start event, then each node in flow order; a
gateway's branches are its children (one pseudo-node per outgoing flow, the default condition
first, ids = flow ids), closed by the converge gateway that follows it; a subprocess's nodes are
its children.

A little over ~400 lines: the flow's layout, its merge with a status tree and the per-client cache
of details are one piece, each step reading the last one's shapes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bkwatch.model import BkError, Node, State, Task
from bkwatch.systems.common import bad, raw_text, readable
from bkwatch.systems.pipeline.tree import attach_ex_data, parse_node

RETRY_AFTER_FAILURE = 300.0  # seconds before a detail that could not be read is asked again
REFRESH_MIN_GAP = 30.0  # unknown nodes trigger a new read at most this often
MAX_DEPTH = 32
GATEWAY_NAMES = {
    "ExclusiveGateway": "exclusive gateway",
    "ParallelGateway": "parallel gateway",
    "ConditionalParallelGateway": "conditional parallel gateway",
    "ConvergeGateway": "converge",
}


@dataclass(slots=True)
class FlowItem:
    id: str
    name: str
    kind: str  # event | activity | subprocess | gateway | branch | converge
    children: list[FlowItem] = field(default_factory=list)


# -- the pipeline tree, in flow order ---------------------------------------------------------


def _ids(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class _Walker:
    def __init__(self, tree: dict[str, Any], depth: int) -> None:
        self.depth = depth
        self.acts = tree.get("activities") if isinstance(tree.get("activities"), dict) else {}
        self.gws = tree.get("gateways") if isinstance(tree.get("gateways"), dict) else {}
        self.flows = tree.get("flows") if isinstance(tree.get("flows"), dict) else {}
        start, end = tree.get("start_event"), tree.get("end_event")
        self.start = start if isinstance(start, dict) else {}
        self.end = end if isinstance(end, dict) else {}
        self.seen: set[str] = set()

    def target(self, flow_id: str) -> str | None:
        flow = self.flows.get(flow_id)
        dst = flow.get("target") if isinstance(flow, dict) else None
        return dst if isinstance(dst, str) else None

    def entry(self, node_id: str) -> dict[str, Any] | None:
        for table in (self.acts, self.gws):
            value = table.get(node_id)
            if isinstance(value, dict):
                return value
        for event in (self.start, self.end):
            if event.get("id") == node_id:
                return event
        return None

    def walk(self, node_id: str | None, in_branch: bool) -> tuple[list[FlowItem], str | None]:
        """Items from `node_id` on; stops at a converge gateway when inside a branch and
        returns its id, so the gateway that opened the branches can close them there."""
        out: list[FlowItem] = []
        while node_id is not None and node_id not in self.seen:
            entry = self.entry(node_id)
            if entry is None:
                return out, None
            kind = entry.get("type")
            if kind == "ConvergeGateway" and in_branch:
                return out, node_id
            self.seen.add(node_id)
            name = readable(entry.get("name"), 200)
            outgoing = _ids(entry.get("outgoing"))
            if entry is self.start or entry is self.end:
                out.append(FlowItem(node_id, name or ("start" if entry is self.start else "end"), "event"))
            elif node_id in self.acts:
                item = FlowItem(node_id, name or node_id, "activity")
                sub = entry.get("pipeline")
                if isinstance(sub, dict) and self.depth < MAX_DEPTH:
                    item.kind, item.children = "subprocess", layout(sub, self.depth + 1)
                out.append(item)
            elif kind == "ConvergeGateway":
                out.append(FlowItem(node_id, name or GATEWAY_NAMES[kind], "converge"))
            else:
                gw = FlowItem(node_id, name or GATEWAY_NAMES.get(str(kind), "gateway"), "gateway")
                out.append(gw)
                converge = entry.get("converge_gateway_id")
                closes: list[str] = []
                for i, flow_id in enumerate(_branch_order(entry, outgoing), 1):
                    items, reached = self.walk(self.target(flow_id), True)
                    if reached:
                        closes.append(reached)
                    label = _condition(entry, flow_id)
                    gw.children.append(
                        FlowItem(flow_id, f"branch {i}" + (f": {label}" if label else ""), "branch", items)
                    )
                node_id = (
                    converge if isinstance(converge, str) and converge else (closes[0] if closes else None)
                )
                if node_id is not None and node_id in self.seen:
                    return out, None
                if node_id is not None:
                    entry = self.entry(node_id) or {}
                    self.seen.add(node_id)
                    out.append(FlowItem(node_id, readable(entry.get("name"), 200) or "converge", "converge"))
                    outgoing = _ids(entry.get("outgoing"))
                else:
                    return out, None
            node_id = self.target(outgoing[0]) if outgoing else None
        return out, None


def _branch_order(gateway: dict[str, Any], outgoing: list[str]) -> list[str]:
    default = gateway.get("default_condition")
    first = default.get("flow_id") if isinstance(default, dict) else None
    return sorted(outgoing, key=lambda f: f != first)  # the default condition first, else as given


def _condition(gateway: dict[str, Any], flow_id: str) -> str:
    conds = gateway.get("conditions")
    cond = conds.get(flow_id) if isinstance(conds, dict) else None
    if not isinstance(cond, dict):
        default = gateway.get("default_condition")
        return "default" if isinstance(default, dict) and default.get("flow_id") == flow_id else ""
    return readable(cond.get("name") or cond.get("evaluate"), 80)


def layout(tree: dict[str, Any], depth: int = 0) -> list[FlowItem]:
    """A `pipeline_tree` (one level and its nested subprocesses) as items in flow order."""
    walker = _Walker(tree, depth)
    start = walker.start.get("id")
    items, _ = walker.walk(start if isinstance(start, str) else None, False)
    return items


def known_ids(items: list[FlowItem]) -> set[str]:
    out: set[str] = set()
    for item in items:
        if item.kind != "branch":
            out.add(item.id)
        out |= known_ids(item.children)
    return out


# -- merged with a status tree ------------------------------------------------------------------


def _aggregate(children: list[Node]) -> State:
    states = {c.state for c in children}
    for state in (State.FAILED, State.WAITING, State.RUNNING, State.UNKNOWN):
        if state in states:
            return state
    if states and states <= {State.SUCCEEDED}:
        return State.SUCCEEDED
    if states and states <= {State.SUCCEEDED, State.NOT_RUN} and State.SUCCEEDED in states:
        return State.SUCCEEDED  # what ran of it passed; the rest never will
    if State.SUCCEEDED in states:
        return State.RUNNING  # partly done, the rest not reached yet
    if states and states <= {State.NOT_RUN, State.STOPPED} and State.NOT_RUN in states:
        return State.NOT_RUN
    return State.STOPPED if states == {State.STOPPED} else State.PENDING


_OVER = frozenset({State.SUCCEEDED, State.STOPPED})


def _infer(nodes: list[Node], missing: set[int], over: bool) -> bool:
    """Give the nodes the server reported no state for (`missing`, by identity; a node the flow
    does not know, by its negated identity) the state their
    flow implies: passed once anything after them in their sequence ran (a gateway, a
    subprocess's start event); not run once the flow is `over` for them — the task ended (not
    failed: a retry or skip resumes a failed one), or the flow went on past them (the branches
    an exclusive gateway did not take). A branch takes its nodes' state again. True when
    anything in `nodes` ran."""
    later = False
    for node in reversed(nodes):
        if -id(node) in missing:
            continue
        if node.synthetic:  # a branch: a sequence of its own, beside its sibling branches
            later = _infer(node.children, missing, over) or later
            node.state = _aggregate(node.children)
            continue
        inner = _infer(node.children, missing, over or later) if node.children else False
        if id(node) in missing:
            if later or inner:
                node.state = State.SUCCEEDED
            else:
                if over:
                    node.state = State.NOT_RUN
                continue  # not reached (yet): nothing before it is known to have passed
        later = True
    return later


def _merge(
    items: list[FlowItem],
    level: dict[str, Any],
    parsed: list[Node],
    where: str,
    depth: int,
    unknown: list[str],
    missing: set[int],
) -> list[Node]:
    """`parsed`: the nodes the status tree's parse made of `level`, in its order; they are
    reused (renamed, their children set anew) instead of being parsed from `level` again."""
    used: set[str] = set()
    by_key = dict(zip(level, parsed, strict=True)) if len(parsed) == len(level) else {}
    nodes = _build(items, level, by_key, used, where, depth, unknown, missing)
    for node_id, raw in level.items():
        if node_id not in used and isinstance(raw, dict):  # reached, but not in the cached tree
            unknown.append(raw_text(node_id))
            stray = by_key.get(node_id) or parse_node(raw, raw_text(node_id), where, depth)
            missing.add(-id(stray))  # where it is in the flow is not known: _infer leaves it be
            nodes.append(stray)
    return nodes


def _build(
    seq: list[FlowItem],
    level: dict[str, Any],
    by_key: dict[str, Node],
    used: set[str],
    where: str,
    depth: int,
    unknown: list[str],
    missing: set[int],
) -> list[Node]:
    """`_merge`'s walk of one item sequence. Not a closure inside it: a closure that calls itself
    is a reference cycle, which kept each poll's status answer alive until the collector ran."""
    nodes: list[Node] = []
    for item in seq:
        if item.kind == "branch":
            kids = _build(item.children, level, by_key, used, where, depth, unknown, missing)
            nodes.append(Node(item.id, item.name, _aggregate(kids), "", children=kids, synthetic=True))
            continue
        raw = level.get(item.id)
        inner_parsed: list[Node] = []
        if isinstance(raw, dict):
            used.add(item.id)
            node = by_key.get(item.id) or parse_node(raw, item.id, where, depth)
            inner_parsed, node.children = node.children, []
            node.name = item.name
            inner = raw.get("children") if isinstance(raw.get("children"), dict) else {}
        else:
            node = Node(item.id, item.name, State.PENDING, "")  # no state: see _infer
            missing.add(id(node))
            inner = {}
        if item.kind == "gateway":
            branches = _build(item.children, level, by_key, used, where, depth, unknown, missing)
            if node.state is State.FAILED:
                # A failed gateway (no condition held) is a failure of its own: kept a leaf,
                # its branches drawn after it.
                nodes.append(node)
                nodes.extend(branches)
                continue
            node.children = branches
        elif item.children:
            node.children = _merge(item.children, inner, inner_parsed, where, depth + 1, unknown, missing)
        nodes.append(node)
    return nodes


def ordered(task: Task, payload: Any, items: list[FlowItem], where: str) -> list[str]:
    """Put `task.root`'s nodes in flow order with names, and the nodes the status tree omits
    with the state their flow implies (`_infer`). Returns the ids of reached nodes the items do
    not know (the cached detail is then stale)."""
    root = task.root
    if root is None or not isinstance(payload, dict):
        return []
    level = payload.get("children") if isinstance(payload.get("children"), dict) else {}
    unknown: list[str] = []
    missing: set[int] = set()
    root.children = _merge(items, level, root.children, where, 1, unknown, missing)
    _infer(root.children, missing, task.state in _OVER)
    attach_ex_data(root, payload.get("ex_data"))
    return unknown


# -- the per-client cache -----------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    items: list[FlowItem] | None = None
    name: str | None = None
    started_by: str | None = None  # the detail's executor (who started it), else its creator
    error: str | None = None
    asked_at: float = 0.0
    pending: asyncio.Task[None] | None = None
    retries: int = 0  # retry counts seen in the status tree when the detail was read
    quiet: bool = False  # the last poll ordered with `items` knew every node and wanted no read


# Detail reads run outside the poller's request slots, so they get a few of their own — 2,000
# first polls must not start 800 detail reads that crowd the polls off the pool.
DETAIL_SLOTS = 4
DetailReader = Callable[[], Awaitable[Any]]


def _retries(payload: Any) -> int:
    total, stack = 0, [payload]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if type(item.get("retry")) is int:
                total += item["retry"]
            kids = item.get("children")
            if isinstance(kids, dict):
                stack.extend(kids.values())
    return total


class FlowDetails:
    """The pipeline details one client has read, by target; owned by that client
    (`BkClient.adapter_state`), so it goes when the client goes."""

    def __init__(self, *, now: Callable[[], float] = time.monotonic) -> None:
        self.entries: dict[str, _Entry] = {}
        self.slots = asyncio.Semaphore(DETAIL_SLOTS)
        # Told the target of each detail read that succeeded (the monitor polls it again).
        self.listener: Callable[[str], Any] | None = None
        self.now = now

    @classmethod
    def of(cls, client: Any) -> FlowDetails:
        details = client.adapter_state.get("flow_details")
        if details is None:
            details = client.adapter_state["flow_details"] = cls()
        return details

    def apply(self, task: Task, payload: Any, read_detail: DetailReader, where: str) -> Task:
        """Order `task` with the cached detail, starting (never awaiting) a read when it is
        missing, stale or failed long enough ago."""
        entry = self.entries.setdefault(task.target, _Entry())
        retries = _retries(payload)
        stale = retried = False
        if entry.items is not None:
            unknown = ordered(task, payload, entry.items, where)
            stale, retried = bool(unknown), retries > entry.retries
        elif entry.error is not None:
            task.detail = entry.error
        task.started_by = task.started_by or entry.started_by  # the status tree names no one
        if entry.name and not task.name:  # BKFlow: its status tree has no name at all
            task.name = entry.name
            if task.root is not None and task.root.name == task.root.id:
                task.root.name = entry.name
        t = self.now()
        due = entry.items is None and (entry.error is None or t - entry.asked_at >= RETRY_AFTER_FAILURE)
        if (due or retried or (stale and t - entry.asked_at >= REFRESH_MIN_GAP)) and entry.pending is None:
            entry.asked_at = t
            entry.retries = max(entry.retries, retries)  # one read per retry, even if it fails
            entry.pending = asyncio.ensure_future(self._read(entry, read_detail, retries, task.target))
        entry.quiet = entry.items is not None and not (stale or retried)
        return task

    def settled(self, target: str) -> object | None:
        """What a task's ordering depends on beside its status answer, when that is all: its
        detail read, and the last poll ordered with it wanted no other read (the same answer
        again would want none, and would be ordered the same). None while it is not so."""
        entry = self.entries.get(target)
        if entry is None or not entry.quiet or entry.pending is not None:
            return None
        return entry.items

    async def _read(self, entry: _Entry, read_detail: DetailReader, retries: int, target: str) -> None:
        read = False
        try:
            async with self.slots:
                data = await read_detail()
            tree = data.get("pipeline_tree") if isinstance(data, dict) else None
            if isinstance(data, dict) and "start_event" in data:
                tree = data
            if not isinstance(tree, dict):
                raise bad("get_task_detail", "no pipeline_tree in the answer")
            entry.items, entry.error, entry.retries = layout(tree), None, retries
            got = data if isinstance(data, dict) else {}
            entry.name = readable(got.get("name"), 200) or entry.name
            entry.started_by = readable(got.get("executor"), 100) or readable(got.get("creator"), 100) or None
            read = True
        except BkError as exc:
            if entry.items is None:
                entry.error = f"flow order unavailable ({exc.message[:120]}); nodes shown as reached"
        except Exception as exc:  # a bad tree must not break polling
            if entry.items is None:
                entry.error = f"flow order unavailable ({type(exc).__name__}); nodes shown as reached"
        finally:
            entry.pending = None
        if read and self.listener is not None:
            self.listener(target)

    async def settle(self, target: str | None = None) -> bool:
        """Wait for the detail reads in flight (tests, and a clean close); True when this client
        has read or tried a detail (of `target`, or of any task)."""
        entries = list(self.entries.values()) if target is None else [self.entries.get(target)]
        pending = [e.pending for e in entries if e is not None and e.pending is not None]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return any(e is not None for e in entries)

    def remember_name(self, target: str, name: str) -> None:
        self.entries.setdefault(target, _Entry()).name = name
