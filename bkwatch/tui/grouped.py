"""Rows grouped by result, with collapsible group headers, updated by diff.

Used for JOB step hosts, NodeMan hosts and GSEKit job tasks. A poll is applied by comparing
each item with the previous one: unchanged items keep their `Line` (and cached strip), changed
ones that stay in their group are repainted in place, and only a change of group membership or
of the filter re-flattens the list (still without re-rendering the unchanged rows).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, Protocol

from rich.text import Text

from bkwatch.tui.lines import Line, LineView, Parts

# Groups with at most this many items in total start expanded; bigger views open only the
# groups that need attention so that a 10,000-host success group stays one header line.
SMALL_VIEW = 300
HEADER = "\x00g:"  # header keys can never collide with a host key "CLOUD:IP" or a task id
EMPTY = "\x00empty"


class Kind(Protocol):
    """How one kind of item (host, job task) is grouped, matched and drawn."""

    def group(self, item: Any) -> Hashable: ...  # items with equal keys share a group
    def order(self, g: Hashable) -> tuple[Any, ...]: ...  # sort key of a group
    def sig(self, item: Any) -> tuple[Any, ...]: ...
    def bad(self, item: Any) -> bool: ...
    def matches(self, item: Any, needle: str) -> bool: ...
    def render_row(self, item: Any, width: int) -> Parts: ...
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
        self._members: dict[Hashable, dict[str, None]] = {}  # insertion-ordered sets
        self._unsorted: set[Hashable] = set()
        self._hkeys: dict[Hashable, str] = {}
        self._row_line: dict[str, Line] = {}
        self.open_groups: dict[str, set[Hashable]] = {}  # scope -> expanded groups
        self.closed_groups: dict[str, set[Hashable]] = {}  # scope -> groups the user closed
        self.filter_text = ""
        self.failures_only = False
        self.ascii_only = False
        self.empty_text = "Nothing to show yet."

    # ---- applying data ----------------------------------------------------------------
    def show(self, scope: str, items: Mapping[str, Any]) -> None:
        """Show `items` (key -> item, server order) of `scope`; a diff when scope is unchanged.

        Every item's signature is compared (a few milliseconds for 10,000 items), so a change
        of any shown field is seen, with or without a state change.
        """
        if scope != self.scope or len(items) != len(self.items) or self.items.keys() != items.keys():
            self._rebuild(scope, items)
            return
        kind, sigs, pos = self.kind, self._sigs, self._pos
        # Signatures come from C-level attribute getters, compared in one comprehension.
        new_sigs = list(map(kind.sig, items.values()))
        diff = [k for k, a, b in zip(items, self._sig_list, new_sigs, strict=True) if a != b]
        self._sig_list = new_sigs
        for k in diff:
            sigs[k] = new_sigs[pos[k]]
        self.items = items  # snapshots are replaced by the poller, never mutated
        if not diff:
            return
        moved = False
        for key in diff:
            self._row_line[key] = Line(key, sigs[key], data=key)
            g = kind.group(items[key])
            if self._gkey[key] != g:
                self._move(key, g)
                moved = True
        if moved or self.filter_text:
            self._flatten()  # headers only for closed groups, so this stays small
            return
        # In place: changed rows plus the headers of their groups (the sample may change).
        touched = {self._gkey[k] for k in diff}
        self.update_lines([self._row_line[k] for k in diff])
        self.update_lines([self._header_line(g) for g in touched])

    def _move(self, key: str, g: Hashable) -> None:
        """Move one item to another group in O(1); the group is put back in server order
        only when someone reads it (a collapsed 10,000-host group never needs to be)."""
        old_g = self._gkey[key]
        members = self._members[old_g]
        del members[key]
        if not members:
            del self._members[old_g]
            del self._gorder[old_g]
            self._unsorted.discard(old_g)
        self._members.setdefault(g, {})[key] = None
        self._unsorted.add(g)
        if g not in self._gorder:
            self._gorder[g] = self.kind.order(g)
        self._gkey[key] = g

    def members(self, g: Hashable) -> list[str]:
        """Keys of group `g` in server order."""
        keys = self._members.get(g)
        if keys is None:
            return []
        if g in self._unsorted:
            self._unsorted.discard(g)
            keys = self._members[g] = dict.fromkeys(sorted(keys, key=self._pos.__getitem__))
        return list(keys)

    def _first(self, g: Hashable) -> str | None:
        return next(iter(self._members.get(g, ())), None)

    def _rebuild(self, scope: str, items: Mapping[str, Any]) -> None:
        self.scope = scope
        self.items = items
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
        members: dict[Hashable, dict[str, None]] = {}
        group = kind.group
        for key, item in self.items.items():
            g = group(item)
            self._gkey[key] = g
            members.setdefault(g, {})[key] = None
        self._gorder.update((g, kind.order(g)) for g in members)
        self._members = members
        self._unsorted.clear()

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
        first = self._first(g)
        return first is not None and self.kind.bad(self.items[first])

    def _visible(self, g: Hashable) -> list[str]:
        keys = self.members(g)
        if not self.filter_text:
            return keys
        needle = self.filter_text.lower()
        items, kind = self.items, self.kind
        return [k for k in keys if kind.matches(items[k], needle)]

    def _header_line(self, g: Hashable) -> Line:
        total = len(self._members.get(g, ()))
        shown = len(self._visible(g)) if self.filter_text else total
        first = self._first(g)
        sample_sig = self._sigs[first] if first is not None else None
        open_ = self._is_open(g)
        hkey = self._hkeys.get(g)
        if hkey is None:
            hkey = self._hkeys[g] = HEADER + repr(g)
        return Line(hkey, (g, shown, total, open_, sample_sig), header=True, data=g)

    def _flatten(self) -> None:
        lines: list[Line] = []
        for g in sorted(self._members, key=lambda g: self._gorder[g]):
            first = self._first(g)
            if self.failures_only and (first is None or not self.kind.bad(self.items[first])):
                continue
            open_ = self._is_open(g)
            # Only open or filtered groups are read in order: a closed group stays one header.
            visible = self._visible(g) if open_ or self.filter_text else None
            if self.filter_text and not visible:
                continue
            lines.append(self._header_line(g))
            if open_ and visible:
                row_line = self._row_line
                lines.extend(row_line[k] for k in visible)
        if not lines:
            lines.append(Line(EMPTY, self.empty_text, header=True, data=None))
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
            first = self._first(g)
            if first is not None and self.kind.bad(self.items[first]):
                out.extend(self.members(g))
        return out

    def copy_ids(self, *, group: Hashable | None, with_cloud: bool) -> list[str]:
        keys = self.members(group) if group is not None else self.bad_keys()
        out = []
        for k in keys:
            item = self.items[k]
            if group is None or self.kind.bad(item):
                ident = self.kind.copy_id(item, with_cloud)
                if ident:
                    out.append(ident)
        return out

    # ---- drawing ----------------------------------------------------------------------
    def _draw(self, line: Line) -> Text | Parts:
        width = max(self.size.width, 40)
        if line.key == EMPTY:
            return Text(self.empty_text, style="dim", end="")
        if line.header:
            g = line.data
            first = self._first(g)
            sample = self.items[first] if first is not None else None
            _, shown, total, open_, _ = line.sig
            return self.kind.render_header(g, sample, shown, total, open_)
        return self.kind.render_row(self.items[line.key], width)

    def on_resize(self) -> None:
        self._cache.clear()
        self.refresh()
