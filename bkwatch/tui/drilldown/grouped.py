"""Rows grouped by result, with collapsible group headers, updated by diff.

Used for JOB step hosts, NodeMan hosts and GSEKit job tasks. A poll is applied by comparing
each item with the previous one: unchanged items keep their `Line` (and cached strip), changed
ones that stay in their group are repainted in place, and an item that changes group is moved
between the groups' sorted member lists; only the blocks of lines of the groups involved are
rebuilt, the rest of the list is copied by slice. A change of filter re-flattens the list.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Hashable, Mapping
from itertools import compress
from operator import is_not
from typing import Any, Protocol

from rich.text import Text

from bkwatch.text import one_line
from bkwatch.tui.widgets.lines import Line, LineView, Parts

# Views with at most this many items (about a pane's height) start with every group open;
# bigger views open only the groups that need attention, so that rows moving between the
# other groups change a header count instead of shifting (and repainting) every row below.
SMALL_VIEW = 40
HEADER = "\x00g:"  # header keys can never collide with a host key "CLOUD:IP" or a task id
EMPTY = "\x00empty"


class Kind(Protocol):
    """How one kind of item (host, job task) is grouped, matched and drawn."""

    noun: str  # what one item is called: "host", "task"

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
        self.overscroll = True  # hosts changing group above the cursor never move its line
        self.scope: str | None = None
        self.items: dict[str, Any] = {}
        self._sigs: dict[str, tuple[Any, ...]] = {}
        self._gkey: dict[str, Hashable] = {}
        self._pos: dict[str, int] = {}  # server order
        self._gorder: dict[Hashable, tuple[Any, ...]] = {}
        self._members: dict[Hashable, list[str]] = {}  # keys of each group, in server order
        self._layout: list[tuple[Hashable, int]] = []  # (group, lines it shows), top to bottom
        self._hkeys: dict[Hashable, str] = {}
        self._row_line: dict[str, Line] = {}
        self._redraws = 0
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
        kind, sigs = self.kind, self._sigs
        previous = self.items
        # The poller hands the shown task's unchanged items over as the very same objects, so
        # only the others need their signature compared (all of them for other snapshots).
        maybe = list(compress(items.keys(), map(is_not, map(previous.__getitem__, items), items.values())))
        diff = []
        for k in maybe:
            sig = kind.sig(items[k])
            if sig != sigs[k]:
                sigs[k] = sig
                diff.append(k)
        self.items = items  # snapshots are replaced by the poller, never mutated
        if not diff:
            return
        touched: set[Hashable] = set()  # groups whose membership changed
        gone: list[str] = []
        in_place: list[str] = []
        for key in diff:
            self._row_line[key] = Line(key, sigs[key], data=key)
            g = kind.group(items[key])
            old_g = self._gkey[key]
            if old_g != g:
                self._move(key, g)
                touched.update((old_g, g))
                gone.append(key)
            else:
                in_place.append(key)
        if self.filter_text:
            self._flatten()
            return
        # Rows that stayed in their group first, while the index is still valid.
        self.update_lines([self._row_line[k] for k in in_place])
        if touched:
            self._splice(touched, gone)
        headers = {self._gkey[k] for k in in_place} - touched  # a header shows a sample
        self.update_lines([self._header_line(g) for g in headers if g in self._members])

    def redraw_rows(self, keys: set[str]) -> None:
        """Draw these rows again though their items did not change (what a row shows beside its
        item arrived: a host's past from the record)."""
        self._redraws += 1
        lines = []
        for key in keys & self._row_line.keys():
            line = self._row_line[key] = Line(key, (self._sigs[key], self._redraws), data=key)
            lines.append(line)
        self.update_lines(lines)

    def _move(self, key: str, g: Hashable) -> None:
        """Move one item to another group, keeping both in server order (bisect)."""
        pos = self._pos
        by_pos = pos.__getitem__
        old_g = self._gkey[key]
        members = self._members[old_g]
        del members[bisect_left(members, pos[key], key=by_pos)]
        if not members:
            del self._members[old_g]
            del self._gorder[old_g]
        target = self._members.get(g)
        if target is None:
            target = self._members[g] = []
            self._gorder[g] = self.kind.order(g)
        insort(target, key, key=by_pos)
        self._gkey[key] = g

    def members(self, g: Hashable) -> list[str]:
        """Keys of group `g` in server order."""
        return list(self._members.get(g, ()))

    def _first(self, g: Hashable) -> str | None:
        keys = self._members.get(g)
        return keys[0] if keys else None

    def _ordered(self) -> list[Hashable]:
        return sorted(self._members, key=self._gorder.__getitem__)

    def _shown(self, g: Hashable) -> bool:
        if not self.failures_only:
            return True
        first = self._first(g)
        return first is not None and self.kind.bad(self.items[first])

    def _block(self, g: Hashable) -> list[Line]:
        """The lines of group `g` when no filter is set: its header, then its rows if open."""
        if not self._shown(g):
            return []
        head = [self._header_line(g)]
        if not self._is_open(g):
            return head
        return head + list(map(self._row_line.__getitem__, self._members[g]))

    def _splice(self, touched: set[Hashable], gone: list[str]) -> None:
        """Rebuild the blocks of the `touched` groups; other blocks are copied by slice."""
        old_layout = self._layout
        if self.failures_only and not any(map(self._shown, self._members)):
            self._flatten()  # the last failure went: say so in words
            return
        if not self._members or not old_layout or old_layout[0][0] is None:
            self._flatten()  # to or from the "nothing to show" line
            return
        old_at: dict[Hashable, tuple[int, int]] = {}
        p = 0
        for g, n in old_layout:
            old_at[g] = (p, n)
            p += n
        old_lines, old_keys = self.lines, self._keys
        lines: list[Line] = []
        keys: list[str] = []
        layout: list[tuple[Hashable, int]] = []
        start = -1
        for j, g in enumerate(self._ordered()):
            if g in touched or g not in old_at:
                block = self._block(g)
                lines += block
                keys += [line.key for line in block[:1]]
                if len(block) > 1:
                    keys += self._members[g]
                n = len(block)
            else:
                at, n = old_at[g]
                lines += old_lines[at : at + n]
                keys += old_keys[at : at + n]
            if start < 0 and (j >= len(old_layout) or old_layout[j] != (g, n) or g in touched):
                start = len(lines) - n
            layout.append((g, n))
        if start < 0:
            start = len(lines) if len(layout) == len(old_layout) else 0
        self._layout = layout
        gone_keys = gone + [self._hkeys[g] for g in touched if g in self._hkeys]
        self.splice(lines, keys, start, gone_keys)
        if self.cursor_key is None and lines:
            self.move_to(lines[0].key, scroll=False)

    def _rebuild(self, scope: str, items: Mapping[str, Any]) -> None:
        self.scope = scope
        self.items = items
        self._pos = dict(zip(items, range(len(items)), strict=True))
        self._sigs = dict(zip(items, map(self.kind.sig, items.values()), strict=True))
        self._row_line = {k: Line(k, s, data=k) for k, s in self._sigs.items()}
        self._regroup()
        self._flatten()

    def _regroup(self) -> None:
        kind = self.kind
        self._gkey.clear()
        self._gorder.clear()
        members: dict[Hashable, list[str]] = {}
        group = kind.group
        for key, item in self.items.items():
            g = group(item)
            self._gkey[key] = g
            members.setdefault(g, []).append(key)
        self._gorder.update((g, kind.order(g)) for g in members)
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
        first = self._first(g)
        return first is not None and self.kind.bad(self.items[first])

    def _visible(self, g: Hashable) -> list[str]:
        keys = self._members.get(g, [])
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
        layout: list[tuple[Hashable, int]] = []
        for g in self._ordered():
            if not self._shown(g):
                continue
            open_ = self._is_open(g)
            # Only open or filtered groups are read: a closed group stays one header.
            visible = self._visible(g) if open_ or self.filter_text else None
            if self.filter_text and not visible:
                continue
            n = len(lines)
            lines.append(self._header_line(g))
            if open_ and visible:
                lines.extend(map(self._row_line.__getitem__, visible))
            layout.append((g, len(lines) - n))
        if not lines:
            lines.append(Line(EMPTY, self._empty_reason(), header=True, data=None))
            layout.append((None, 1))
        self._layout = layout
        self.set_lines(lines)
        if self.cursor_key is None and lines:
            self.move_to(lines[0].key, scroll=False)

    def _empty_reason(self) -> str:
        """Why nothing is listed, in words: no items yet, none failing, none matching."""
        if not self.items:
            return self.empty_text
        noun = self.kind.noun
        if self.filter_text:
            also = f"failing {noun}s" if self.failures_only else f"{noun}s"
            return f"no {also} match “{one_line(self.filter_text)}” — escape to clear the filter"
        return f"no failing {noun}s — f to show all"

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
        for g in self._ordered():
            first = self._first(g)
            if first is not None and self.kind.bad(self.items[first]):
                out.extend(self._members[g])
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
            return Text(str(line.sig), style="dim", end="")
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
