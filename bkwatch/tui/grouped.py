"""Rows grouped by result, with collapsible group headers, updated by diff.

Used for JOB step hosts, NodeMan hosts and GSEKit job tasks. A poll is applied by comparing
each item with the previous one: unchanged items keep their `Line` (and cached strip), changed
ones that stay in their group are repainted in place, and only a change of group membership or
of the filter re-flattens the list (still without re-rendering the unchanged rows).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Hashable, Mapping
from typing import Any, Protocol

from rich.text import Text

from bkwatch.tui.lines import Line, LineView

# Groups with at most this many items in total start expanded; bigger views open only the
# groups that need attention so that a 10,000-host success group stays one header line.
SMALL_VIEW = 300
HEADER = "\x00g:"  # header keys can never collide with a host key "CLOUD:IP" or a task id


class Kind(Protocol):
    """How one kind of item (host, job task) is grouped, matched and drawn."""

    def group(self, item: Any) -> tuple[tuple[Any, ...], Hashable]: ...  # (order, group key)
    def sig(self, item: Any) -> tuple[Any, ...]: ...
    def bad(self, item: Any) -> bool: ...
    def matches(self, item: Any, needle: str) -> bool: ...
    def render_row(self, item: Any, width: int) -> Text: ...
    def render_header(self, gkey: Hashable, sample: Any, shown: int, total: int, open_: bool) -> Text: ...
    def copy_id(self, item: Any, with_cloud: bool) -> str | None: ...


class GroupedView(LineView):
    """Items of one scope (a step, a task) grouped by result."""

    def __init__(self, kind: Kind, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(self._draw, row_width=0, id=id, classes=classes)
        self.kind = kind
        self.scope: str | None = None
        self.items: dict[str, Any] = {}
        self._sigs: dict[str, tuple[Any, ...]] = {}
        self._gkey: dict[str, Hashable] = {}
        self._pos: dict[str, int] = {}  # server order
        self._sig_list: list[tuple[Any, ...]] = []
        self._gorder: dict[Hashable, tuple[Any, ...]] = {}
        self._members: dict[Hashable, list[str]] = {}
        self._row_line: dict[str, Line] = {}
        self.open_groups: dict[str, set[Hashable]] = {}  # scope -> expanded groups
        self.closed_groups: dict[str, set[Hashable]] = {}  # scope -> groups the user closed
        self.filter_text = ""
        self.failures_only = False
        self.ascii_only = False

    # ---- applying data ----------------------------------------------------------------
    def show(self, scope: str, items: Mapping[str, Any]) -> None:
        """Show `items` (key -> item, server order) of `scope`; a diff when scope is unchanged."""
        if scope != self.scope or self.items.keys() != items.keys():
            self._rebuild(scope, items)
            return
        kind, sigs = self.kind, self._sigs
        # Signatures are built by C-level attribute getters and compared in one comprehension:
        # a 10,000-host poll costs a few milliseconds when 1% of it changed.
        new_sigs = list(map(kind.sig, items.values()))
        changed = [k for k, a, b in zip(items, self._sig_list, new_sigs, strict=True) if a != b]
        self._sig_list = new_sigs
        self.items = dict(items)
        if not changed:
            return
        for k in changed:
            sigs[k] = new_sigs[self._pos[k]]
        moved = False
        for key in changed:
            self._row_line[key] = Line(key, sigs[key], data=key)
            order, g = kind.group(items[key])
            if self._gkey[key] != g:
                self._move(key, g, order)
                moved = True
        if moved or self.filter_text:
            self._flatten()
            return
        # In place: changed rows plus the headers of their groups (the sample may change).
        touched = {self._gkey[k] for k in changed}
        self.update_lines([self._row_line[k] for k in changed])
        self.update_lines([self._header_line(g) for g in touched])

    def _move(self, key: str, g: Hashable, order: tuple[Any, ...]) -> None:
        """Move one item to another group, keeping server order, in O(log n) + memmove."""
        pos = self._pos.__getitem__
        old_g = self._gkey[key]
        members = self._members[old_g]
        del members[bisect_left(members, pos(key), key=pos)]
        if not members:
            del self._members[old_g]
            del self._gorder[old_g]
        target = self._members.setdefault(g, [])
        self._gorder[g] = order
        target.insert(bisect_left(target, pos(key), key=pos), key)
        self._gkey[key] = g

    def _rebuild(self, scope: str, items: Mapping[str, Any]) -> None:
        self.scope = scope
        self.items = dict(items)
        self._pos = {k: i for i, k in enumerate(items)}
        self._sig_list = list(map(self.kind.sig, items.values()))
        self._sigs = dict(zip(items, self._sig_list, strict=True))
        self._row_line = {k: Line(k, s, data=k) for k, s in self._sigs.items()}
        self._regroup()
        self._flatten()

    def _regroup(self) -> None:
        kind = self.kind
        self._gkey.clear()
        self._gorder.clear()
        members: dict[Hashable, list[str]] = {}
        for key, item in self.items.items():
            order, g = kind.group(item)
            self._gkey[key] = g
            self._gorder[g] = order
            members.setdefault(g, []).append(key)
        self._members = members

    def _is_open(self, g: Hashable) -> bool:
        scope = self.scope or ""
        if g in self.open_groups.get(scope, ()):
            return True
        if g in self.closed_groups.get(scope, ()):
            return False
        if self.filter_text:
            return True
        if len(self.items) <= SMALL_VIEW:
            return True
        keys = self._members.get(g, ())
        return bool(keys) and self.kind.bad(self.items[keys[0]])

    def _visible(self, g: Hashable) -> list[str]:
        keys = self._members.get(g, [])
        if not self.filter_text:
            return keys
        needle = self.filter_text.lower()
        items, kind = self.items, self.kind
        return [k for k in keys if kind.matches(items[k], needle)]

    def _header_line(self, g: Hashable) -> Line:
        keys = self._members.get(g, [])
        shown = len(self._visible(g)) if self.filter_text else len(keys)
        sample_sig = self._sigs[keys[0]] if keys else None
        open_ = self._is_open(g)
        return Line(HEADER + repr(g), (g, shown, len(keys), open_, sample_sig), header=True, data=g)

    def _flatten(self) -> None:
        lines: list[Line] = []
        for g in sorted(self._members, key=lambda g: self._gorder[g]):
            if self.failures_only and not self.kind.bad(self.items[self._members[g][0]]):
                continue
            visible = self._visible(g)
            if self.filter_text and not visible:
                continue
            lines.append(self._header_line(g))
            if self._is_open(g):
                row_line = self._row_line
                lines.extend(row_line[k] for k in visible)
        self.set_lines(lines)
        if self.cursor_key is None and lines:
            self.move_to(lines[0].key, scroll=False)

    # ---- user actions -----------------------------------------------------------------
    def toggle_group(self, g: Hashable, open_: bool | None = None) -> None:
        scope = self.scope or ""
        now = self._is_open(g)
        want = (not now) if open_ is None else open_
        if want == now:
            return
        opened = self.open_groups.setdefault(scope, set())
        closed = self.closed_groups.setdefault(scope, set())
        (opened.add if want else opened.discard)(g)
        (closed.discard if want else closed.add)(g)
        self._flatten()

    def set_filter(self, text: str, failures_only: bool) -> None:
        self.filter_text, self.failures_only = text, failures_only
        self._flatten()

    def reveal(self, key: str) -> bool:
        """Open the group of `key` and put the cursor on it."""
        g = self._gkey.get(key)
        if g is None:
            return False
        if self.index_of(key) < 0:
            self.toggle_group(g, True)
        return self.move_to(key)

    def group_of_cursor(self) -> Hashable | None:
        line = self.cursor_line
        if line is None:
            return None
        return line.data if line.header else self._gkey.get(line.key)

    def bad_keys(self) -> list[str]:
        """Failing items in display order (group order, then server order)."""
        out: list[str] = []
        for g in sorted(self._members, key=lambda g: self._gorder[g]):
            keys = self._members[g]
            if keys and self.kind.bad(self.items[keys[0]]):
                out.extend(keys)
        return out

    def copy_ids(self, *, group: Hashable | None, with_cloud: bool) -> list[str]:
        keys = self._members.get(group, []) if group is not None else self.bad_keys()
        out = []
        for k in keys:
            item = self.items[k]
            if group is None or self.kind.bad(item):
                ident = self.kind.copy_id(item, with_cloud)
                if ident:
                    out.append(ident)
        return out

    # ---- drawing ----------------------------------------------------------------------
    def _draw(self, line: Line) -> Text:
        width = max(self.size.width, 40)
        if line.header:
            g = line.data
            keys = self._members.get(g, [])
            sample = self.items[keys[0]] if keys else None
            _, shown, total, open_, _ = line.sig
            return self.kind.render_header(g, sample, shown, total, open_)
        return self.kind.render_row(self.items[line.key], width)

    def on_resize(self) -> None:
        self._cache.clear()
        self.refresh()
