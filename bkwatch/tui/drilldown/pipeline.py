"""SOPS / BKFlow pipeline tree, updated in place by node id.

The tree is never cleared on a poll: labels change through `set_label`, new nodes are
inserted after their previous sibling and vanished ones removed, so expansion and the cursor
survive refreshes. Failed nodes carry their failure message as a child line, and the path to
every failure is expanded the first time a task is shown, or when the failure appears; the
cursor lands on the trouble (`landing.py`).

Past 400 lines: the tree's in-place update (fast flat pass, reconciling children, inserting
new ones) is one piece of state-keeping that reads best in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import compress, filterfalse
from operator import attrgetter, ne, or_

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from bkwatch.model import Node, State, elapsed_at, parents_first
from bkwatch.text import one_line
from bkwatch.tui.drilldown.landing import failed_leaves, landing
from bkwatch.tui.widgets.fmt import STATE_STYLE, badge_str, duration

MSG = "\x00msg:"  # message-line ids can never collide with a pipeline node id
_id = attrgetter("id")
_children = attrgetter("children")
# Every field a node's label or message line is drawn from, read in C.
_raw_sig = attrgetter("state", "name", "elapsed", "retry", "loop", "skip", "message", "raw_state")


_UNREACHED = frozenset({State.PENDING, State.NOT_RUN})


@dataclass(slots=True)
class NodeRef:
    id: str
    message: bool = False  # the failure-message line under a failed node


def _elapsed(node: Node) -> str:
    """A node's time as drawn: nothing before it started (SOPS says 0 s for it)."""
    done = node.state.is_done
    return duration(elapsed_at(node.elapsed, node.start, node.end, done, None), done)


def node_label(node: Node, ascii_only: bool, highlight: bool = False) -> Text:
    out = Text(end="", no_wrap=True, style="reverse" if highlight else "")
    out.append(badge_str(node.state, ascii_only), style=STATE_STYLE[node.state])
    out.append("  ")
    name = one_line(node.name)
    if not name or name == node.id:  # events and gateways have no name: a short, dim id
        out.append(one_line(node.id)[:12] + "…", style="dim")
    else:
        # Not reached yet (known from the pipeline's detail only): dim, like the future it is.
        unreached = node.state in _UNREACHED and not node.raw_state
        out.append(name, style="dim" if unreached else "bold" if node.children else "")
    extra = []
    elapsed = _elapsed(node)
    if elapsed:
        extra.append(elapsed)
    if node.retry:
        extra.append(f"retried {node.retry}x")
    if node.loop > 1:
        extra.append(f"loop {node.loop}")
    if node.skip:
        extra.append("skipped")
    if node.state is State.SUCCEEDED and not node.raw_state and not node.synthetic:
        extra.append("passed, no state reported")
    if node.state is State.UNKNOWN and node.raw_state:
        extra.append(f"raw {one_line(node.raw_state)}")
    if extra:
        out.append("  " + " · ".join(extra), style="dim")
    return out


def message_label(node: Node, ascii_only: bool) -> Text:
    arrow = "-> " if ascii_only else "↳ "
    what = one_line(node.message) or one_line(node.raw_state)
    return Text(arrow + what, style="red", end="", no_wrap=True)


def _matches(node: Node, needle: str) -> bool:
    return needle in node.name.lower() or needle in node.id.lower() or needle in node.message.lower()


class PipelineTree(Tree[NodeRef]):
    """A pipeline's nodes; `show()` applies a poll as a diff."""

    DEFAULT_CSS = "PipelineTree { background: $surface; }"

    def __init__(self, *, id: str | None = None, ascii_only: bool = False) -> None:
        super().__init__("pipeline", NodeRef(""), id=id)
        self.auto_links = False
        self.show_root = True
        self.ascii_only = ascii_only
        # Textual's default expanders are ▶/▼, and ▶ already means "running" here.
        self.ICON_NODE, self.ICON_NODE_EXPANDED = ("> ", "v ") if ascii_only else ("▸ ", "▾ ")
        self.scope: str | None = None
        self.index: dict[str, TreeNode[NodeRef]] = {}
        self._sigs: dict[str, tuple[object, ...]] = {}
        self._shapes: dict[str, tuple[object, ...]] = {}  # node id -> (message line?, child ids)
        # The last poll's nodes parents first (None: filtered): their ids, numbers of children
        # and raw field tuples, and the child ids per node.
        self._ids: list[str] | None = None
        self._counts: list[int] = []
        self._raws: list[tuple[object, ...]] = []
        self._kids: dict[str, tuple[str, ...]] = {}
        self.model: dict[str, Node] = {}
        self.filter_text = ""
        self.failures_only = False
        self.highlights: set[str] = set()
        self._root_node: Node | None = None
        self._failed: set[str] = set()  # failed leaves of the last poll shown
        self._landed: str | None = None  # where the cursor was put when the task was opened

    # ---- applying data ----------------------------------------------------------------
    def show(self, scope: str, root: Node) -> None:
        first = scope != self.scope
        cursor = self.cursor_id
        unmoved = cursor in (self._landed, None, self.root.data.id if self.root.data else None)
        rebuilt, changed = self._apply(scope, root)
        if changed is None:
            failed = failed_leaves(root)
            new = [nid for nid in failed if nid not in self._failed]
            self._failed = set(failed)
        else:  # only the nodes that changed can have become, or stopped being, failed leaves
            new = self._new_failures(root, changed)
        for nid in new:  # a failure that appeared since: open the path to it, once
            self.expand_to(nid, include_self=True)
        if first or ((new or rebuilt) and unmoved):
            self._land(root)  # opened now, or the cursor was never moved from where it landed

    def _new_failures(self, root: Node, changed: list[Node]) -> list[str]:
        """Failed leaves among `changed` not failed before; `_failed` kept in step (a node gone
        from the tree leaves it too)."""
        failed, new = self._failed, []
        for node in changed:
            if node.state is State.FAILED and not node.children and not node.synthetic and node is not root:
                if node.id not in failed:
                    failed.add(node.id)
                    new.append(node.id)
            else:
                failed.discard(node.id)
        if not failed <= self.model.keys():
            self._failed = {nid for nid in failed if nid in self.model}
        return new

    def _land(self, root: Node) -> None:
        target = landing(root)
        self._landed = target
        if target is not None and target in self.index:
            self.call_after_refresh(self.move_cursor, self.expand_to(target))

    def _apply(self, scope: str, root: Node) -> tuple[bool, list[Node] | None]:
        """Apply a poll: (True when the tree was built afresh, the nodes that changed — None
        when not known)."""
        self._root_node = root
        if scope != self.scope:
            self.scope = scope
            self._rebuild_tree(root, expand_failures=True)
            self._remember_shape(root)
            return True, None
        if self._ids is None:  # filtered: the full walk
            self._sync(self.root, root, self._keep(root))
            self._remember_shape(root)
            return False, None
        changed = self._sync_fast(root)
        if changed is None:
            self._reorder(root)
            return True, None
        return False, changed

    def _reorder(self, root: Node) -> None:
        """The flow order arrived (or a node moved): one rebuild, keeping what was open."""
        opened = {i for i, tn in self.index.items() if tn.is_expanded}
        cursor = self.cursor_id
        self._rebuild_tree(root, expand_failures=True, opened=opened)
        self._remember_shape(root)
        if cursor is not None:
            self.expand_to(cursor)  # it may now sit under a branch that was never open
            if cursor in self.index:
                self.call_after_refresh(self.move_cursor, self.index[cursor])

    def _remember_shape(self, root: Node) -> None:
        if self.filter_text or self.failures_only:
            self._ids = None  # filtered trees take the full walk
            return
        nodes = parents_first(root)
        self._ids = [*map(_id, nodes)]
        self._counts = [*map(len, map(_children, nodes))]
        self._raws = [*map(_raw_sig, nodes)]
        self._kids = {n.id: tuple(map(_id, n.children)) for n in nodes}

    def _moved(self, node: Node) -> bool:
        """Whether children `node` had last poll come in another order now (updates in place
        only add and remove children; they never move one)."""
        old = self._kids.get(node.id)
        if not old or len(node.children) < 2:
            return False
        new = [c.id for c in node.children]
        old_set, new_set = set(old), set(new)
        return [c for c in new if c in old_set] != [c for c in old if c in new_set]

    def _sync_fast(self, root: Node) -> list[Node] | None:
        """Apply a poll in one flat pass (unfiltered): each node's raw fields and child ids are
        compared with the last poll's (the tuples are built in C) and only nodes that differ
        are relabelled or have their children reconciled; new nodes are built with their
        subtree. Returns those nodes; None, with nothing applied, when children moved."""
        assert self._ids is not None
        nodes = parents_first(root)
        ids = [*map(_id, nodes)]
        counts = [*map(len, map(_children, nodes))]
        raws = [*map(_raw_sig, nodes)]
        if ids == self._ids and counts == self._counts:
            # The same ids parents first with as many children each: the same tree (a running
            # pipeline's usual poll). Only fields can differ: compared in C, position by position.
            changed = [*compress(nodes, map(ne, self._raws, raws))]
        else:
            kids = [tuple(map(_id, n.children)) for n in nodes]
            old_raws, old_kids = dict(zip(self._ids, self._raws, strict=True)), self._kids
            # Which nodes differ, found in C: two lookups and two tuple comparisons per node.
            # Only those whose children differ can have had children moved.
            new_kids = [*map(ne, map(old_kids.get, ids), kids)]
            changed = [*compress(nodes, map(or_, map(ne, map(old_raws.get, ids), raws), new_kids))]
            if any(map(self._moved, compress(nodes, new_kids))):
                return None
            self._ids, self._counts = ids, counts
            self._kids = dict(zip(ids, kids, strict=True))
        self._raws = raws
        self.model = dict(zip(ids, nodes, strict=True))
        index = self.index
        for node in changed:
            tn = index.get(node.id)
            if tn is not None:  # parents come first: a new node's parent has just added it
                self._sync(tn, node, None, deep=False)
        return changed

    def _relabel(self, tnode: TreeNode[NodeRef], node: Node) -> bool:
        """Repaint `tnode` if what its label shows changed; keep its message line in step.
        True when the label changed."""
        hl = node.id in self.highlights
        sig = (
            node.state,
            node.name,
            _elapsed(node),
            node.retry,
            node.loop,
            node.skip,
            node.message,
            node.raw_state,
            hl,
        )
        if self._sigs.get(node.id) == sig:
            return False
        self._sigs[node.id] = sig
        tnode.set_label(node_label(node, self.ascii_only, hl))
        want = node.state is State.FAILED and bool(node.message or not node.children)
        kids = tnode.children
        has = bool(kids) and kids[0].data is not None and kids[0].data.message
        if want and not has:
            tnode.add_leaf(message_label(node, self.ascii_only), NodeRef(node.id, message=True), before=0)
            tnode.allow_expand = True
        elif has and not want:
            kids[0].remove()
        elif want:
            label = message_label(node, self.ascii_only)
            if str(kids[0].label) != label.plain:
                kids[0].set_label(label)
        return True

    def set_filter(self, text: str, failures_only: bool) -> None:
        self.filter_text, self.failures_only = text.lower(), failures_only
        if self._root_node is not None:
            # A filter is a user action, not a poll: rebuilding is fine, but keep what was open.
            opened = {i for i, tn in self.index.items() if tn.is_expanded}
            cursor = self.cursor_node.data.id if self.cursor_node and self.cursor_node.data else None
            self._rebuild_tree(self._root_node, expand_failures=bool(text) or failures_only, opened=opened)
            self._remember_shape(self._root_node)
            if cursor in self.index:
                self.call_after_refresh(self.move_cursor, self.index[cursor])

    def _keep(self, root: Node) -> set[str] | None:
        """Ids to show under the filter (matches plus their ancestors); None = everything."""
        if not self.filter_text and not self.failures_only:
            return None
        keep: set[str] = set()

        def visit(node: Node, path: list[str]) -> None:
            ok = (not self.failures_only or (node.state is State.FAILED and not node.children)) and (
                not self.filter_text or _matches(node, self.filter_text)
            )
            if ok:
                keep.update(path)
                keep.add(node.id)
            for child in node.children:
                visit(child, [*path, node.id])

        visit(root, [])
        keep.add(root.id)
        return keep

    def _rebuild_tree(self, root: Node, *, expand_failures: bool, opened: set[str] | None = None) -> None:
        self.clear()
        self.index = {root.id: self.root}
        self._sigs = {}
        self._shapes = {}
        self.model = {}
        self.root.data = NodeRef(root.id)
        self._sync(self.root, root, self._keep(root))
        self.root.expand()
        if expand_failures:
            for node, _ in root.walk():
                if node.state is State.FAILED and not node.children:
                    self.expand_to(node.id, include_self=True)
        for nid in opened or ():
            if nid in self.index:
                self.index[nid].expand()

    def _sync(self, tnode: TreeNode[NodeRef], node: Node, keep: set[str] | None, deep: bool = True) -> None:
        """Bring `tnode` (and with `deep` its whole subtree; else only new children's) in line
        with `node`.

        Each node is compared by two small tuples: what its label shows (the duration as
        drawn, so a running node repaints only when its text changes) and its shape (the ids
        of its children and whether it has a message line). Only a changed shape costs the
        reconciliation of children.
        """
        self.model[node.id] = node
        self._relabel(tnode, node)
        msg = node.state is State.FAILED and bool(node.message or not node.children)
        kids = node.children if keep is None else [c for c in node.children if c.id in keep]
        shape = (msg, *[c.id for c in kids])
        if self._shapes.get(node.id) == shape:
            if not deep:
                return
            tchildren = tnode.children
            if msg:
                tchildren = tchildren[1:]
            if len(tchildren) == len(kids) and all(
                tn.data is not None and tn.data.id == c.id for tn, c in zip(tchildren, kids, strict=True)
            ):
                for tn, child in zip(tchildren, kids, strict=True):
                    self._sync(tn, child, keep)
                return
        old_shape = self._shapes.get(node.id)
        if old_shape is not None and old_shape[0] == msg and self._insert_new(tnode, old_shape, kids, keep):
            self._shapes[node.id] = shape
            return
        self._shapes[node.id] = shape
        wanted: list[tuple[str, Node | None]] = []
        if node.state is State.FAILED and (node.message or not node.children):
            wanted.append((MSG + node.id, None))
        wanted.extend((c.id, c) for c in node.children if keep is None or c.id in keep)
        existing = {
            (MSG + tn.data.id if tn.data.message else tn.data.id): tn for tn in tnode.children if tn.data
        }
        wanted_ids = {w for w, _ in wanted}
        for cid, tn in existing.items():
            if cid not in wanted_ids:
                self._forget(tn)
                tn.remove()
        prev: TreeNode[NodeRef] | None = None
        for cid, child in wanted:
            tn = existing.get(cid)
            if child is None:  # the failure message line
                label = message_label(node, self.ascii_only)
                if tn is None:
                    tn = tnode.add_leaf(label, NodeRef(node.id, message=True), before=0)
                elif str(tn.label) != label.plain:
                    tn.set_label(label)
            else:
                if tn is None:
                    kids = tnode.children
                    if prev is None:
                        tn = tnode.add(node_label(child, self.ascii_only), NodeRef(child.id), before=0)
                    elif kids and prev is kids[-1]:  # appending: skip the O(n) sibling lookup
                        tn = tnode.add(node_label(child, self.ascii_only), NodeRef(child.id))
                    else:
                        tn = tnode.add(node_label(child, self.ascii_only), NodeRef(child.id), after=prev)
                    tn.allow_expand = bool(child.children) or child.state is State.FAILED
                    self.index[child.id] = tn
                    self._sigs[child.id] = ()
                    self._sync(tn, child, keep)
                elif deep:
                    self._sync(tn, child, keep)
            prev = tn

    def _insert_new(
        self, tnode: TreeNode[NodeRef], old_shape: tuple[object, ...], kids: list[Node], keep: set[str] | None
    ) -> bool:
        """Add the children that appeared, when no child left or moved (a pipeline growing as
        it runs): O(new) tree edits instead of reconciling every child. False if not so."""
        old_ids = old_shape[1:]
        old_set = set(old_ids)
        index = self.index
        tchildren = tnode.children
        has_msg = bool(old_shape[0])
        if (
            len(old_set) != len(old_ids)
            or len(tchildren) != len(old_ids) + has_msg
            or [c.id for c in kids if c.id in old_set] != list(old_ids)
            or not index.keys() >= old_set
        ):
            return False
        prev: TreeNode[NodeRef] | None = tchildren[0] if has_msg else None
        for child in kids:
            if child.id in old_set:
                prev = index[child.id]
                continue
            label = node_label(child, self.ascii_only)
            siblings = tnode.children
            if prev is None:
                tn = tnode.add(label, NodeRef(child.id), before=0)
            elif siblings and prev is siblings[-1]:  # appending: skip the O(n) sibling lookup
                tn = tnode.add(label, NodeRef(child.id))
            else:
                tn = tnode.add(label, NodeRef(child.id), after=prev)
            tn.allow_expand = bool(child.children) or child.state is State.FAILED
            index[child.id] = tn
            self._sigs[child.id] = ()
            self._sync(tn, child, keep)
            prev = tn
        return True

    def _forget(self, tn: TreeNode[NodeRef]) -> None:
        if tn.data and not tn.data.message:
            self.index.pop(tn.data.id, None)
            self._sigs.pop(tn.data.id, None)
            self._shapes.pop(tn.data.id, None)
        for child in tn.children:
            self._forget(child)

    def set_highlights(self, ids: set[str]) -> None:
        flipped = ids ^ self.highlights
        self.highlights = set(ids)
        self._relabel_marks(flipped)

    def mark(self, came: Iterable[str], gone: Iterable[str]) -> None:
        """Marks changed by a poll (`LineView.mark`): costs what changed, not the nodes marked."""
        marks = self.highlights
        flipped = set(filter(marks.__contains__, gone))
        marks.difference_update(flipped)
        new = set(filterfalse(marks.__contains__, came))
        marks.update(new)
        self._relabel_marks(flipped ^ new)

    def _relabel_marks(self, flipped: set[str]) -> None:
        ids, model = self.highlights, self.model
        for nid in filter(model.__contains__, flipped):  # a JOB task's hosts are no nodes
            tn, node = self.index.get(nid), model.get(nid)
            if tn is not None and node is not None:
                hl = nid in ids
                sig = self._sigs.get(nid, ())
                self._sigs[nid] = (*sig[:-1], hl) if sig else ()
                tn.set_label(node_label(node, self.ascii_only, hl))

    # ---- navigation -------------------------------------------------------------------
    def expand_to(self, node_id: str, include_self: bool = False) -> TreeNode[NodeRef] | None:
        tn = self.index.get(node_id)
        if tn is None:
            return None
        if include_self:
            tn.expand()
        parent = tn.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        return tn

    def reveal(self, node_id: str) -> bool:
        tn = self.expand_to(node_id, include_self=True)
        if tn is None:
            return False
        self.call_after_refresh(self.move_cursor, tn)
        return True

    @property
    def cursor_id(self) -> str | None:
        tn = self.cursor_node
        return tn.data.id if tn is not None and tn.data is not None else None
