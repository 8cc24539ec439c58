"""Rows grouped by result, with collapsible group headers, updated by diff.

Used for JOB step hosts, NodeMan hosts and GSEKit job tasks. A poll is applied by comparing
each item with the previous one (only the items the poller did not share with the last
snapshot, when it says which: `Task.changed_units`): unchanged items keep their `Line` (and
cached strip), and an item that changes group is moved between the groups' sorted member
lists (server positions, bisected); a closed group only notes the move, applied when the group
is next read (opened, copied, filtered). The rows are those lists themselves, as blocks (a header,
then the group's positions when open): a line is found by position and a key's position by
bisection, so a poll that changes 1 % of 10,000 rows touches those rows, the headers of their
groups and the lines on the screen, with every group open too. A change of filter re-lays the
blocks out.

Longer than ~400 lines on purpose: the members, the blocks and the key / position lookups
LineView reads through them are one structure that must change together."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from itertools import compress, count, filterfalse
from operator import is_not, ne
from typing import Any, Protocol

from rich.text import Text

from bkwatch.text import one_line
from bkwatch.tui.widgets.lines import Line, LineView, Parts, Window

# Views with at most this many items (about a pane's height) start with every group open;
# bigger views open only the groups that need attention, so that rows moving between the
# other groups change a header count instead of shifting (and repainting) every row below.
SMALL_VIEW = 40
HEADER = "\x00g:"  # header keys can never collide with a host key "CLOUD:IP" or a task id
EMPTY = "\x00empty"
_MISSING = object()


class Kind(Protocol):
    """How one kind of item (host, job task) is grouped, matched and drawn."""

    noun: str  # what one item is called: "host", "task"

    def group(self, item: Any) -> Hashable: ...  # items with equal keys share a group
    def order(self, g: Hashable) -> tuple[Any, ...]: ...  # sort key of a group
    def sig(self, item: Any) -> tuple[Any, ...]: ...
    def bad(self, item: Any) -> bool: ...
    def bad_group(self, g: Hashable) -> bool: ...  # what `bad` says of each of the group's items
    def matches(self, item: Any, needle: str) -> bool: ...
    def render_row(self, item: Any, width: int) -> Parts: ...
    def render_header(self, gkey: Hashable, shown: int, total: int, open_: bool) -> Text: ...
    def copy_id(self, item: Any, with_cloud: bool) -> str | None: ...


def _by_group(at: Iterable[int], groups: list[Hashable]) -> dict[Hashable, list[int]]:
    """The positions `at`, by the group each is in (`groups`, the same order)."""
    out: dict[Hashable, list[int]] = {}
    for p, g in zip(at, groups, strict=True):
        ps = out.get(g)
        if ps is None:
            out[g] = [p]
        else:
            ps.append(p)
    return out


_Noted = dict[Hashable, set[int]]  # a closed group's positions that left it, or came


def _note(g: Hashable, moves: set[int], mine: _Noted, other: _Noted) -> None:
    """Note closed group `g`'s departures (or arrivals) in `mine`; a position the other kind
    noted (it came, or left, while the group was closed) cancels out instead."""
    opposite = other.get(g)
    if opposite:
        both = opposite & moves
        opposite -= both
        moves -= both
    if moves:
        was = mine.get(g)
        if was is None:
            mine[g] = moves
        else:
            was |= moves


class GroupedView(LineView):
    """Items of one scope (a step, a task) grouped by result."""

    def __init__(self, kind: Kind, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(self._draw, row_width=0, id=id, classes=classes)
        self.kind = kind
        self.overscroll = True  # hosts changing group above the cursor never move its line
        self.scope: str | None = None
        self.items: dict[str, Any] = {}
        # By server position: a poll's changed keys are looked up once (`_pos`), then every
        # other fact about them is a list read, not another look-up in a dict of 10,000.
        self._pos: dict[str, int] = {}  # server order
        self._order: list[str] = []  # the keys in server order
        self._values: list[Any] = []  # the items in server order, as last shown
        self._sig_at: list[tuple[Any, ...]] = []  # each item's signature
        self._group_at: list[Hashable] = []  # each item's group
        self._gorder: dict[Hashable, tuple[Any, ...]] = {}
        # Each group's items by server position, ascending: bisected as plain ints. A group no
        # block shows the rows of (a closed one) keeps its moves aside until it is read: the
        # positions that left it and those that came (`_settle`), so a poll moving hosts
        # between closed groups of thousands moves no list.
        # Positions as machine ints (array): a move's deletion or insertion moves 4-byte slots,
        # and a bisection reads the array, not an int object per step.
        self._members: dict[Hashable, array[int]] = {}
        self._out: _Noted = {}
        self._in: _Noted = {}
        self._live: set[Hashable] = set()  # groups whose member list a block shows
        self._hkeys: dict[Hashable, str] = {}
        self._hgroup: dict[str, Hashable] = {EMPTY: None}  # header key -> its group
        self._row_line: dict[str, Line] = {}
        # Rows whose item changed since their line was made: made anew when read. Noting a
        # key costs less than dropping its line from a dict of 10,000 (a cache miss and a free).
        self._stale: set[str] = set()
        self._redraws = 0
        # The rows as blocks, top to bottom: a group's header, then its open rows' keys. Lines
        # are found by position (bisect on the blocks' starts) and keys by position (bisect on
        # server order within the group), so no list or index of 10,000 rows is kept up to date.
        self._blocks: list[tuple[Hashable, Sequence[int] | None]] = []
        self._starts: list[int] = []
        self._block_of: dict[Hashable, int] = {}
        self._count = 0
        self._heads: dict[Hashable, Line] = {}
        self.lines = _Rows(self)  # type: ignore[assignment]
        self._index = _Index(self)  # type: ignore[assignment]
        self.open_groups: dict[str, set[Hashable]] = {}  # scope -> expanded groups
        self.closed_groups: dict[str, set[Hashable]] = {}  # scope -> groups the user closed
        self.filter_text = ""
        self.failures_only = False
        self.ascii_only = False
        self.empty_text = "Nothing to show yet."

    # ---- applying data ----------------------------------------------------------------
    def show(
        self, scope: str, items: Mapping[str, Any], changed: tuple[int, list[str]] | None = None
    ) -> None:
        """Show `items` (key -> item, server order) of `scope`; a diff when scope is unchanged.

        The poller hands the shown task's unchanged items over as the very same objects, in the
        same order. `changed` (`Task.changed_units`) names the others when the poller compared
        with the very dict shown now: only those are looked at. Without it the items are
        compared position by position by identity (in C, without hashing 10,000 keys), and
        only the others have their key checked. Their signatures are compared (every item, for
        a snapshot that shares nothing). A key that moved or changed means another list: it is
        rebuilt.
        """
        order = self._order
        if scope != self.scope or len(items) != len(order):
            self._rebuild(scope, items)
            return
        if changed is not None and changed[0] == id(self.items):
            # `self.items` is alive, so no other dict can have had its id when the poller
            # compared: the poller compared with this very dict.
            keys = changed[1]
            at = [*map(self._pos.get, keys)]
            if None in at:
                self._rebuild(scope, items)
                return
            fresh = [*map(items.__getitem__, keys)]
            values = self._values
            deque(map(values.__setitem__, at, fresh), 0)
        else:
            values = list(items.values())
            at = list(compress(count(), map(is_not, self._values, values)))
            get = items.get
            for i in at:
                if get(order[i], _MISSING) is not values[i]:
                    self._rebuild(scope, items)
                    return
            keys = [*map(order.__getitem__, at)]
            fresh = [*map(values.__getitem__, at)]
        self._values = values
        kind, sig_at = self.kind, self._sig_at
        # Item by item, but each step over all of them at once in C: signatures, which of them
        # differ, their groups, which of those moved.
        new = [*map(kind.sig, fresh)]
        differ = [*map(ne, map(sig_at.__getitem__, at), new)]
        self.items = items  # snapshots are replaced by the poller, never mutated
        if not any(differ):
            return
        at = [*compress(at, differ)]
        deque(map(sig_at.__setitem__, at, compress(new, differ)), 0)
        before = self.window()  # what the screen shows: compared with the new rows at the end
        self._stale.update(compress(keys, differ))  # their lines are made anew when read (`_row`)
        groups = [*map(kind.group, compress(fresh, differ))]
        old_groups = [*map(self._group_at.__getitem__, at)]
        moved = [*map(ne, old_groups, groups)]
        touched = self._move(
            [*compress(at, moved)], [*compress(old_groups, moved)], [*compress(groups, moved)]
        )
        if self.filter_text:
            self._flatten(before)
            return
        if not any(moved):  # every row kept its place (and every header its count)
            self.repaint_changed(before)
            return
        # Blocks share their group's member list, so moved rows are in place already. When no
        # group came or went, only the headers of the groups the moves touched say another count
        # and the blocks' starts shift; else the blocks are laid out again (O(groups)).
        if touched is None:
            self._set_blocks(self._make_blocks())
        else:
            self._recount(touched)
        self.changed(before)
        if self.cursor_key is None and self._count:
            self.move_to(self.lines[0].key, scroll=False)

    def _recount(self, touched: Iterable[Hashable]) -> None:
        """The headers of groups `touched` drawn with their new sizes, the blocks' starts again."""
        heads = self._heads
        for g in touched:
            head = heads.get(g)
            if head is None or g not in self._block_of:  # not shown (failures only)
                continue
            total = self._group_size(g)
            sig = (g, total, total, head.sig[3])
            if head.sig != sig:
                heads[g] = Line(head.key, sig, header=True, data=g)
        self._set_blocks(self._blocks)

    def redraw_rows(self, keys: set[str]) -> None:
        """Draw these rows again though their items did not change (what a row shows beside its
        item arrived: a host's past from the record)."""
        self._redraws += 1
        before = self.window()
        pos, sig_at = self._pos, self._sig_at
        for key in keys & pos.keys():
            self._stale.discard(key)
            self._row_line[key] = Line(key, (sig_at[pos[key]], self._redraws), data=key)
        self.repaint_changed(before)

    def _move(
        self, at: list[int], old_groups: list[Hashable], groups: list[Hashable]
    ) -> set[Hashable] | None:
        """Move the items at server positions `at` to other groups, keeping the groups shown open
        in server order (bisect); a closed group notes the moves (`_settle`). The moves are
        sorted by group first (a poll moves a hundred hosts of 10,000 between a handful of
        groups), then each group takes its share at once: a group key is a tuple, hashed again
        at every look-up. (One pass of slices per open group instead of a deletion or insertion
        per move measured slower: slicing touches every position's int, a deletion only moves
        pointers.) Each position moves once per poll, so a group's departures and arrivals
        commute. Returns the groups the moves touched, or None when a group came or went."""
        members, live, outs, ins = self._members, self._live, self._out, self._in
        deque(map(self._group_at.__setitem__, at, groups), 0)
        left, came = _by_group(at, old_groups), _by_group(at, groups)
        for old_g, ps in left.items():
            if old_g in live:
                m = members[old_g]
                for p in ps:
                    del m[bisect_left(m, p)]
                continue
            _note(old_g, set(ps), outs, ins)
        regrouped = False
        for g, ps in came.items():
            target = members.get(g)
            if target is None:
                regrouped = True
                members[g] = array("i", sorted(ps))
                self._gorder[g] = self.kind.order(g)
            elif g in live:
                for p in ps:
                    insort(target, p)
            else:
                _note(g, set(ps), ins, outs)
        for old_g in left:  # groups left empty go (a later move may have refilled one)
            if old_g in members and not self._group_size(old_g):
                regrouped = True
                del members[old_g], self._gorder[old_g]
                outs.pop(old_g, None)
                ins.pop(old_g, None)
                live.discard(old_g)
        return None if regrouped else {*left, *came}

    def _group_size(self, g: Hashable) -> int:
        return len(self._members[g]) - len(self._out.get(g, ())) + len(self._in.get(g, ()))

    def _settle(self, g: Hashable) -> array[int]:
        """Group `g`'s positions, ascending, with the moves it noted while closed applied."""
        members = self._members[g]
        gone, came = self._out.pop(g, None), self._in.pop(g, None)
        if gone:
            members[:] = array("i", filterfalse(gone.__contains__, members))
        if came:
            members[:] = array("i", sorted([*members, *came]))
        return members

    def members(self, g: Hashable) -> list[str]:
        """Keys of group `g` in server order."""
        if g not in self._members:
            return []
        return [*map(self._order.__getitem__, self._settle(g))]

    def _ordered(self) -> list[Hashable]:
        return sorted(self._members, key=self._gorder.__getitem__)

    def _rebuild(self, scope: str, items: Mapping[str, Any]) -> None:
        before = self.window()  # the old rows, read before their data goes
        self.scope = scope
        self.items = items
        self._order = list(items)
        self._values = list(items.values())
        self._pos = dict(zip(self._order, range(len(items)), strict=True))
        self._sig_at = [*map(self.kind.sig, self._values)]
        self._row_line = {k: Line(k, s, data=k) for k, s in zip(self._order, self._sig_at, strict=True)}
        self._stale.clear()
        self._regroup()
        self._flatten(before)

    def _regroup(self) -> None:
        kind = self.kind
        self._gorder.clear()
        self._out.clear()
        self._in.clear()
        self._live.clear()
        self._group_at = [*map(kind.group, self._values)]
        groups = _by_group(range(len(self._group_at)), self._group_at)
        self._gorder.update((g, kind.order(g)) for g in groups)
        self._members = {g: array("i", ps) for g, ps in groups.items()}

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
        return self.kind.bad_group(g)

    def _visible(self, g: Hashable) -> Sequence[int]:
        """Positions of group `g`'s items the filter lets through (all of them without one)."""
        if g not in self._members:
            return []
        at = self._settle(g)
        if not self.filter_text:
            return at
        needle = self.filter_text.lower()
        values, kind = self._values, self.kind
        return [p for p in at if kind.matches(values[p], needle)]

    def _hkey(self, g: Hashable) -> str:
        hkey = self._hkeys.get(g)
        if hkey is None:
            hkey = self._hkeys[g] = HEADER + repr(g)
            self._hgroup[hkey] = g
        return hkey

    def _make_blocks(self) -> list[tuple[Hashable, Sequence[int] | None]]:
        """Each shown group with its rows' positions (None: closed), and its header (kept when
        what it says did not change). Without a filter an open group's rows are its member list
        itself, so moves update it in place. Which groups are open as `_is_open` says, with
        what it reads read once."""
        blocks: list[tuple[Hashable, Sequence[int] | None]] = []
        heads, live = self._heads, self._live
        live.clear()
        scope = self.scope or ""
        opened, closed = self.open_groups.get(scope, ()), self.closed_groups.get(scope, ())
        filtering = bool(self.filter_text)
        by_default = filtering or len(self.items) <= SMALL_VIEW
        bad_group, failures_only = self.kind.bad_group, self.failures_only
        for g in self._ordered():
            bad = bad_group(g)
            if failures_only and not bad:
                continue
            open_ = g in opened or (g not in closed and (by_default or bad))
            total = self._group_size(g)
            if filtering:
                # Only open or filtered groups are read: a closed group stays one header.
                visible = self._visible(g)
                if not visible:
                    continue
                keys, shown = (visible if open_ else None), len(visible)
            elif open_:
                keys, shown = self._settle(g), total
                live.add(g)
            else:
                keys, shown = None, total
            sig = (g, shown, total, open_)
            head = heads.get(g)
            if head is None or head.sig != sig:
                heads[g] = Line(self._hkey(g), sig, header=True, data=g)
            blocks.append((g, keys))
        if not blocks:
            heads[None] = Line(EMPTY, self._empty_reason(), header=True, data=None)
            blocks.append((None, None))
        return blocks

    def _set_blocks(self, blocks: list[tuple[Hashable, Sequence[int] | None]]) -> None:
        starts: list[int] = []
        n = 0
        for _g, keys in blocks:
            starts.append(n)
            n += 1 + (len(keys) if keys else 0)
        self._blocks, self._starts, self._count = blocks, starts, n
        self._block_of = {g: b for b, (g, _keys) in enumerate(blocks)}

    def _flatten(self, before: Window | None = None) -> None:
        if before is None:
            before = self.window()
        self._set_blocks(self._make_blocks())
        self.changed(before)
        if self.cursor_key is None and self._count:
            self.move_to(self.lines[0].key, scroll=False)

    def _empty_reason(self) -> str:
        """Why nothing is listed, in words: no items yet, none failing, none matching."""
        if not self.items:
            return self.empty_text
        noun = self.kind.noun
        if self.filter_text:
            also = f"failing {noun}s" if self.failures_only else f"{noun}s"
            return f"no {also} match “{one_line(self.filter_text)}” — escape to clear the filter"
        return f"no failing {noun}s — f to show all"

    # ---- the rows by position (what LineView reads as `lines` and `_index`) ------------
    def row_count(self) -> int:
        return self._count

    def line_at(self, i: int) -> Line:
        """The line at position `i`: its block by bisection, then a header or a row."""
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError(i)
        b = bisect_right(self._starts, i) - 1
        g, at = self._blocks[b]
        off = i - self._starts[b]
        if off == 0:
            return self._heads[g]
        key = self._order[at[off - 1]]  # type: ignore[index]
        return self._row(key) if key in self._stale else self._row_line[key]

    def _row(self, key: str) -> Line:
        """A row's line, made when first read since its item changed."""
        self._stale.discard(key)
        line = self._row_line[key] = Line(key, self._sig_at[self._pos[key]], data=key)
        return line

    def rows(self, start: int, count: int) -> list[Line]:
        """The lines at positions start .. start + count: one bisection, then block by block
        (the window's rows, read on every poll)."""
        out: list[Line] = []
        if count <= 0 or not 0 <= start < self._count:
            return out
        starts, blocks, heads, order = self._starts, self._blocks, self._heads, self._order
        row_line, stale = self._row_line, self._stale
        b = bisect_right(starts, start) - 1
        off = start - starts[b]
        while len(out) < count and b < len(blocks):
            g, at = blocks[b]
            if off == 0:
                out.append(heads[g])
                off = 1
            if at:
                keys = map(order.__getitem__, at[off - 1 : off - 1 + count - len(out)])
                out.extend(self._row(k) if k in stale else row_line[k] for k in keys)
            b, off = b + 1, 0
        return out

    def put_line(self, line: Line) -> None:
        if line.header:
            self._heads[line.data] = line
        else:
            self._stale.discard(line.key)
            self._row_line[line.key] = line

    def all_lines(self) -> Iterator[Line]:
        for g, at in self._blocks:
            yield self._heads[g]
            if at:
                row_line, stale = self._row_line, self._stale
                for key in map(self._order.__getitem__, at):
                    yield self._row(key) if key in stale else row_line[key]

    def position(self, key: str, default: int | None) -> int | None:
        """Where `key` is shown: a header at its block's start, a row at its block's start plus
        its place among the block's positions (bisection: server order)."""
        if key in self._hgroup:
            b = self._block_of.get(self._hgroup[key])
            return self._starts[b] if b is not None else default
        p = self._pos.get(key)
        b = self._block_of.get(self._group_at[p]) if p is not None else None
        if b is None:
            return default
        at = self._blocks[b][1]
        if not at:
            return default
        j = bisect_left(at, p)  # type: ignore[arg-type]
        if j < len(at) and at[j] == p:
            return self._starts[b] + 1 + j
        return default

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
        g = self.group_of(key)
        if g is None:
            return False
        if self.index_of(key) < 0:
            self.toggle_group(g, True)
        return self.move_to(key)

    def group_of_cursor(self) -> Hashable | None:
        line = self.cursor_line
        if line is None:
            return None
        return line.data if line.header else self.group_of(line.key)

    def group_of(self, key: str) -> Hashable | None:
        """The group `key` is in (None: no such item)."""
        p = self._pos.get(key)
        return None if p is None else self._group_at[p]

    def bad_keys(self) -> list[str]:
        """Failing items in display order (group order, then server order)."""
        out: list[str] = []
        for g in self._ordered():
            if self.kind.bad_group(g):
                out.extend(map(self._order.__getitem__, self._settle(g)))
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
            _, shown, total, open_ = line.sig
            return self.kind.render_header(line.data, shown, total, open_)
        return self.kind.render_row(self.items[line.key], width)

    def on_resize(self) -> None:
        self._cache.clear()
        self.refresh()


class _Rows:
    """A `GroupedView`'s lines by position, read from its blocks."""

    __slots__ = ("view",)

    def __init__(self, view: GroupedView) -> None:
        self.view = view

    def __len__(self) -> int:
        return self.view.row_count()

    def __getitem__(self, i: int) -> Line:
        return self.view.line_at(i)

    def __setitem__(self, i: int, line: Line) -> None:
        self.view.put_line(line)

    def __iter__(self) -> Iterator[Line]:
        return self.view.all_lines()


class _Index:
    """A `GroupedView`'s key -> position."""

    __slots__ = ("view",)

    def __init__(self, view: GroupedView) -> None:
        self.view = view

    def get(self, key: str, default: int | None = None) -> int | None:
        return self.view.position(key, default)

    def __getitem__(self, key: str) -> int:
        i = self.view.position(key, None)
        if i is None:
            raise KeyError(key)
        return i

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.view.position(key, None) is not None
