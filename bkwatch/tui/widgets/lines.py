"""A keyed, line-based list widget built on the Line API.

Rows are addressed by key, never by position: the cursor follows its key through re-sorts,
an in-place change repaints only that one line, and rendered strips are cached by
(key, signature) so a poll that changes 1% of 10,000 rows costs a handful of line renders.
A stock DataTable repaints its whole visible area on any cell change; this does not.

Over 400 lines on purpose: it is one widget whose key index, cursor, scroll offset and strip
cache must change together; split across modules, that one invariant would be too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import filterfalse
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.widgets import Static

# A row drawn as (text, style) runs: much cheaper than a rich Text for big lists.
Parts = list[tuple[str, str]]


@dataclass(slots=True)
class Window:
    """The visible rows at a moment: where the view was scrolled, the cursor's index and its
    line on the screen, and the lines shown."""

    top: int
    cursor: int
    cursor_row: int
    lines: list[Line]


@dataclass(slots=True)
class Line:
    key: str
    sig: Any  # equal signatures render identically; the cache relies on it
    header: bool = False
    data: Any = None


_CACHE_MAX = 2048
_CACHE_SLACK = 64  # rows gone before their strips are dropped (one pass per 64 at most)
_parse = lru_cache(maxsize=64)(Style.parse)


class LineView(ScrollView, can_focus=True):
    """Rows of pre-formatted text addressed by key, with a cursor that sticks to its key."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "lineview--cursor",
        "lineview--cursor-blur",
        "lineview--header",
        "lineview--highlight",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "Top", show=False),
        Binding("end", "edge(1)", "Bottom", show=False),
        Binding("enter", "select", "Open", show=False),
    ]
    DEFAULT_CSS = """
    LineView { background: $surface; }
    LineView > .lineview--cursor { background: $accent; color: $text; text-style: bold; }
    LineView > .lineview--cursor-blur { background: $accent 40%; }
    LineView > .lineview--header { text-style: bold; background: $panel; }
    LineView > .lineview--highlight { text-style: reverse; }
    """

    class Highlighted(Message):
        """The cursor moved to another key."""

        def __init__(self, view: LineView, line: Line | None) -> None:
            super().__init__()
            self.view = view
            self.line = line

        @property
        def control(self) -> LineView:
            return self.view

    class Selected(Message):
        """Enter (or a click on the cursor row)."""

        def __init__(self, view: LineView, line: Line) -> None:
            super().__init__()
            self.view = view
            self.line = line

        @property
        def control(self) -> LineView:
            return self.view

    def __init__(
        self,
        render: Callable[[Line], Text | Parts],
        *,
        row_width: int = 80,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._render_row = render
        self.row_width = row_width
        self.lines: list[Line] = []
        self._keys: list[str] = []  # the rows' keys in order: order checks and index updates run in C
        self._index: dict[str, int] = {}
        self.cursor_key: str | None = None
        self.highlights: set[str] = set()
        self._cache: dict[str, tuple[tuple[Any, ...], Strip]] = {}  # row key -> (drawn as, strip)
        self.overscroll = False  # may scroll past the last row to keep the cursor's line
        self._scroll_on_size = False  # the cursor is scrolled to once the view has a height
        self.renders = 0  # line renders that missed the cache (tests and benchmarks read it)
        self._styles: dict[str, Style] = {}

    # ---- data -------------------------------------------------------------------------
    @property
    def cursor_index(self) -> int:
        if self.cursor_key is None:
            return -1
        return self._index.get(self.cursor_key, -1)

    @property
    def cursor_line(self) -> Line | None:
        i = self.cursor_index
        return self.lines[i] if i >= 0 else None

    def plain(self, key: str) -> str:
        """The text of a row as drawn (tests and the copy helpers read it)."""
        out = self._render_row(self.lines[self._index[key]])
        return out.plain if isinstance(out, Text) else "".join(t for t, _ in out)

    def index_of(self, key: str) -> int:
        return self._index.get(key, -1)

    def set_lines(self, lines: list[Line]) -> None:
        """Replace the rows; repaints only changed lines when the order is unchanged."""
        keys = [line.key for line in lines]
        if keys == self._keys:
            old = self.lines
            changed = [i for i, (a, b) in enumerate(zip(old, lines, strict=True)) if a.sig != b.sig]
            self.lines = lines
            for i in changed:
                self._refresh_row(i)
            return
        self.splice(lines, keys, 0, ())

    def splice(self, lines: list[Line], keys: list[str], start: int, gone: Iterable[str]) -> None:
        """Replace the rows, knowing that rows before `start` are unchanged.

        The key index is updated from `start` on only (in C), `gone` names keys that may have
        left; the cursor keeps its key and its line on the screen (the view scrolls with it).
        """
        before = self.window()
        index = self._index
        if start == 0:
            index.clear()
        else:
            for k in gone:
                if index.get(k, -1) >= start:
                    del index[k]
        self.lines, self._keys = lines, keys
        index.update(zip(keys[start:], range(start, len(keys)), strict=True))
        self.changed(before, start)

    def rows(self, start: int, count: int) -> list[Line]:
        """The lines at positions start .. start + count (fewer at the end)."""
        return self.lines[start : start + count]

    def window(self) -> Window:
        """What the screen shows now: taken before the rows change, handed to `changed` after."""
        top = int(self.scroll_offset.y)
        pos = self.cursor_index
        lines = self.lines
        shown = self.rows(top, min(top + self._shows(), len(lines)) - top)
        return Window(top, pos, pos - top, shown)

    def _shows(self) -> int:
        """How many rows the view shows: its content height as the last layout left it (a
        ScrollView keeps it as its container size; 0 while hidden). `size` asks the screen's
        compositor each time, up the DOM and through its map: a poll asked a dozen times."""
        return self.container_size.height if self.display else 0

    def _repaint(self, y: int, rows: int = 1) -> None:
        """Repaint `rows` lines of the window from line `y`."""
        self.refresh(Region(0, y, max(self.virtual_size.width, self.container_size.width), rows))

    def changed(self, before: Window, start: int = 0) -> None:
        """The rows changed from line `start` on (`before`: the window as it was): keep the
        cursor on its key and its line on the screen, and repaint the lines that differ."""
        lines = self.lines
        old_cursor_pos, old_cursor_row = before.cursor, before.cursor_row
        new_i = self.cursor_index
        if new_i < 0 and lines:
            # The cursor's row vanished: stay at the same position, clamped. A first fill
            # places the cursor silently; only a vanished row is news to the listener.
            vanished = self.cursor_key is not None
            new_i = min(max(old_cursor_pos, 0), len(lines) - 1)
            self.cursor_key = lines[new_i].key
            if vanished:
                self.post_message(self.Highlighted(self, lines[new_i]))
        elif not lines and self.cursor_key is not None:
            self.cursor_key = None
            self.post_message(self.Highlighted(self, None))
        top = int(self.scroll_offset.y)
        height = self._shows()
        # Keep the cursor row where the eye was: scroll with it. With `overscroll` the list may
        # end above the bottom edge, so that rows arriving above the cursor never move it.
        keep = new_i >= 0 and 0 <= old_cursor_row < height
        want = max(0, new_i - old_cursor_row) if keep else top
        room = max(len(lines), height)  # never below the window: short lists never resize
        need = max(room, want + height) if keep else room
        if self.overscroll and need > height:
            # Some slack (half a page at most) past the last row, or past the cursor's page:
            # a change of virtual size is a layout of the whole screen, so a poll moving a
            # few rows in or out of an open group must not change it every time. A list
            # filled anew (no room past the window yet) gets none.
            room = self.virtual_size.height
            if not need <= room <= need + height // 2:
                room = need + height // 4 if room > height or need > len(lines) else need
        # A new virtual size is a layout (the scrollbar's thumb), which repaints the whole view:
        # set without the reactive's round trip, with the one refresh below.
        relayout = room != self.virtual_size.height
        if relayout:
            self.set_reactive(ScrollView.virtual_size, Size(self.row_width, room))
        if (want != top and self._scroll_lines(want) != top) or relayout:
            # Every line on the screen is drawn again (a scroll shifts them all), as a region:
            # a refresh of the whole widget also drops its caches of styles and sizes.
            if relayout:
                width = max(self.virtual_size.width, self.container_size.width)
                self.refresh(Region(0, 0, width, height), layout=True)
            else:
                self._repaint(0, height)
            self._forget_gone()
            return
        self.repaint_changed(before, start, new_i)

    def _scroll_lines(self, y: int) -> int:
        """Scroll to line `y` at once (clamped); the line now at the top.

        Set directly rather than through the reactive: scroll_to() refuses while the scrollbar
        is not laid out yet, and the reactive's validation, watchers and repaint cost more than
        the rest of a poll; what they do is done here (the caller repaints the view)."""
        y = max(0, min(y, self.max_scroll_y))
        self.set_reactive(ScrollView.scroll_target_y, float(y))
        self.set_reactive(ScrollView.scroll_y, float(y))
        if self.show_vertical_scrollbar:
            bar = self.vertical_scrollbar
            bar.set_reactive(ScrollBar.position, float(y))  # whole lines: no rounding to 1/8
            bar.refresh(Region(0, 0, *bar.outer_size))  # as a region: its styles cache is kept
        return y

    def repaint_changed(self, before: Window, start: int = 0, new_i: int | None = None) -> None:
        """Repaint the visible lines that differ from `before` (rows at the same positions)."""
        # Compare what each visible line showed with what it shows now: unchanged lines are
        # not repainted; of a changed one only the cells that differ reach the terminal.
        lines = self.lines
        if new_i is None:
            new_i = self.cursor_index
        old_cursor_pos = before.cursor
        top = int(self.scroll_offset.y)
        height = self._shows()
        old_lines, old_top = before.lines, before.top
        count = len(lines)
        run_from = -1  # adjacent changed lines are repainted as one region: each request costs
        for y in range(max(0, start - top), height + 1):  # Textual far more than a line
            i = top + y
            dirty = False
            if y < height:
                j = i - old_top
                a = old_lines[j] if 0 <= j < len(old_lines) else None
                b = lines[i] if i < count else None
                if a is None and b is None:
                    y = height  # past both ends: close the last run
                else:
                    dirty = (
                        a is None
                        or b is None
                        or a.key != b.key
                        or a.sig != b.sig
                        or a.header != b.header
                        or (i == old_cursor_pos) != (i == new_i)
                    )
            if dirty and run_from < 0:
                run_from = y
            elif not dirty and run_from >= 0:
                self._repaint(run_from, y - run_from)
                run_from = -1
            if y >= height:
                break
        self._forget_gone()

    def _forget_gone(self) -> None:
        """Drop the strips of rows no longer listed (after the repaint compared against them).

        Without it a pane that shows one task's hosts after another's kept every host row it had
        drawn until the cache was full: up to 2,048 strips, each with Textual's caches of its
        crops and styles."""
        if len(self._cache) > len(self.lines) + _CACHE_SLACK:
            index = self._index
            self._cache = {k: v for k, v in self._cache.items() if k in index}

    def _refresh_row(self, i: int) -> None:
        """Repaint row `i` when it is on the screen; off it, nothing: it is drawn afresh when
        scrolled to (its cache key holds its signature). It is drawn when the frame is painted,
        not now, and only its changed cells reach the terminal (`wire.py` compares each cell
        with what the terminal shows)."""
        y = i - int(self.scroll_offset.y)
        if 0 <= y < self._shows():
            self._repaint(y)

    def set_highlights(self, keys: set[str], *, shown: bool = True) -> None:
        """Mark the rows of `keys`; the marked or unmarked rows on the screen are repainted (not
        when the view is not `shown`: it is drawn whole when it is). Rows off the screen are
        drawn when scrolled to."""
        flipped = keys ^ self.highlights
        self.highlights = set(keys)
        self._repaint_marks(flipped, shown)

    def mark(self, came: Iterable[str], gone: Iterable[str], *, shown: bool = True) -> None:
        """Marks changed by a poll: `gone` no longer marked, then `came` marked (a key in both was
        marked again). Costs what changed, not the rows marked: a busy step keeps hundreds."""
        marks = self.highlights
        flipped = set(filter(marks.__contains__, gone))
        marks.difference_update(flipped)
        new = set(filterfalse(marks.__contains__, came))
        marks.update(new)
        self._repaint_marks(flipped ^ new, shown)

    def _repaint_marks(self, flipped: set[str], shown: bool) -> None:
        """Repaint the rows on the screen whose mark came or went (not when the view is not
        `shown`: it is drawn whole when it is)."""
        if not flipped or not shown:
            return
        top, height = int(self.scroll_offset.y), self._shows()
        if len(flipped) > 8:  # the window's rows read at once: cheaper than finding every key
            at = [i for i, line in enumerate(self.rows(top, height), top) if line.key in flipped]
        else:
            index = self._index
            at = [i for i in map(index.get, flipped) if i is not None and 0 <= i - top < height]
        # Adjacent rows as one region: each repaint request costs Textual far more than a line.
        at.sort()
        run = 0
        for n, i in enumerate(at):
            if n + 1 == len(at) or at[n + 1] != i + 1:
                self._repaint(at[run] - top, i - at[run] + 1)
                run = n + 1

    def move_to(self, key: str, *, scroll: bool = True, notify: bool = True) -> bool:
        i = self._index.get(key)
        if i is None:
            return False
        if i != self.cursor_index or scroll:
            self._set_cursor(i, scroll=scroll, notify=notify)
        return True

    def _set_cursor(self, i: int, *, scroll: bool = True, notify: bool = True) -> None:
        if not self.lines:
            return
        i = max(0, min(i, len(self.lines) - 1))
        old = self.cursor_index
        self.cursor_key = self.lines[i].key
        if old != i:
            if old >= 0:
                self.refresh_line(old)
            self.refresh_line(i)
        if scroll:
            if self.size.height:
                self._scroll_cursor()
            else:  # not laid out yet: scrolling now would aim at a zero-height window
                self._scroll_on_size = True
        if notify and old != i:
            self.post_message(self.Highlighted(self, self.lines[i]))

    def on_resize(self) -> None:
        # Laid out at last (a pane shown, narrow): the scroll asked for while it had no height.
        # Not after the next refresh: that can come before the layout does.
        if self._scroll_on_size and self.size.height:
            self._scroll_cursor()

    def _scroll_cursor(self) -> None:
        self._scroll_on_size = False
        i = self.cursor_index
        if i >= 0:
            self.scroll_to_region(Region(0, i, 1, 1), animate=False, immediate=True, force=True)

    # ---- actions ----------------------------------------------------------------------
    def action_cursor(self, delta: int) -> None:
        self._set_cursor(self.cursor_index + delta if self.cursor_index >= 0 else 0)

    def action_page(self, direction: int) -> None:
        step = max(1, self.size.height - 1)
        self._set_cursor(max(self.cursor_index, 0) + direction * step)

    def action_edge(self, end: int) -> None:
        self._set_cursor(len(self.lines) - 1 if end else 0)

    def action_select(self) -> None:
        line = self.cursor_line
        if line is not None:
            self.post_message(self.Selected(self, line))

    async def _on_click(self, event: events.Click) -> None:
        i = int(self.scroll_offset.y) + event.y
        if 0 <= i < len(self.lines):
            if i == self.cursor_index:
                self.post_message(self.Selected(self, self.lines[i]))
            else:
                self._set_cursor(i, scroll=False)

    def on_focus(self) -> None:
        if self.cursor_index >= 0:
            self.refresh_line(self.cursor_index)

    def on_blur(self) -> None:
        if self.cursor_index >= 0:
            self.refresh_line(self.cursor_index)

    # ---- rendering --------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._styles.clear()

    def _style(self, name: str) -> Style:
        # Resolving a style walks the DOM; a frame asks for the same few styles per line.
        style = self._styles.get(name)
        if style is None:
            style = self.rich_style if name == "base" else self.get_component_rich_style(name)
            self._styles[name] = style
        return style

    def render_line(self, y: int) -> Strip:
        i = int(self.scroll_offset.y) + y
        if i >= len(self.lines):
            return Strip.blank(self.size.width, self._style("base"))
        line = self.lines[i]
        return self._strip_for(line, i == self.cursor_index, line.key in self.highlights)

    def _cache_key(self, line: Line, is_cursor: bool, hl: bool) -> tuple[object, ...]:
        return (line.key, line.sig, line.header, self._flags(is_cursor), hl, *self._view_x())

    def _flags(self, is_cursor: bool) -> int:
        return (is_cursor and (2 if self.has_focus else 1)) or 0

    def _view_x(self) -> tuple[int, int]:
        return int(self.scroll_offset.x), self.size.width

    def _strip_for(self, line: Line, is_cursor: bool, hl: bool) -> Strip:
        # The cache holds finished strips: an unchanged line costs one dict lookup per frame.
        # One entry per row: a line's older drawings (another state, the cursor elsewhere) are
        # replaced, not kept until the cache is full; each strip holds Textual's own caches of
        # its crops and styles, several KB a row.
        key = self._cache_key(line, is_cursor, hl)
        drawn = self._cache.get(line.key)
        strip = drawn[1] if drawn is not None and drawn[0] == key else None
        if strip is None:
            flags = self._flags(is_cursor)
            scroll_x, width = self._view_x()
            base = self._style("base")
            full = self._render_strip(line, flags, hl, base)
            strip = full.crop_extend(scroll_x, scroll_x + width, self._fill_style(flags, line.header, base))
            if len(self._cache) > _CACHE_MAX:
                self._cache.clear()
            self._cache[line.key] = (key, strip)
        return strip

    def _fill_style(self, flags: int, header: bool, base: Style) -> Style:
        if flags == 2:
            return base + self._style("lineview--cursor")
        if flags == 1:
            return base + self._style("lineview--cursor-blur")
        if header:
            return base + self._style("lineview--header")
        return base

    def _render_strip(self, line: Line, flags: int, hl: bool, base: Style) -> Strip:
        self.renders += 1
        out = self._render_row(line)
        if isinstance(out, Text):
            segments: list[Segment] = list(out.render(self.app.console, end=""))
            cells = out.cell_len
        else:
            segments = [Segment(t, _parse(s) if s else None) for t, s in out]
            cells = sum(cell_len(t) for t, _ in out)
        post: Style | None = None
        if line.header:
            post = self._style("lineview--header")
        span = self.highlight_cells() if hl else None
        if hl and span is None:
            hs = self._style("lineview--highlight")
            post = hs if post is None else post + hs
        if flags == 2:
            cs = self._style("lineview--cursor")
            post = cs if post is None else post + cs
        elif flags == 1:
            cs = self._style("lineview--cursor-blur")
            post = cs if post is None else post + cs
        segments = list(Segment.apply_style(segments, base, post))
        width = max(self.row_width, cells, self.size.width)
        strip = Strip(segments).extend_cell_length(width, self._fill_style(flags, line.header, base))
        if span is not None:
            a, b = span
            head, mid, tail = Segment.divide(strip, (a, b, width))
            mid = list(Segment.apply_style(mid, post_style=self._style("lineview--highlight")))
            strip = Strip([*head, *mid, *tail], width)
        return strip

    def highlight_cells(self) -> tuple[int, int] | None:
        """The cells of a row a highlight marks, [start, end) (None: the whole row). A mark is
        written twice, when it comes and when it goes: a narrow one costs a few cells instead of
        a line."""
        return None


class TextBar(Static):
    """A status/info line that repaints only when its text changes, and re-lays out only
    when its number of lines changes (a layout pass repaints the whole screen). The text is
    turned into what Textual draws when it is drawn: a title that several polls change
    within one frame is converted once."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes, markup=False)
        self._shown: Text = Text("")

    @property
    def shown(self) -> Text:
        return self._shown

    def show(self, text: Text) -> None:
        if text == self._shown:
            return
        layout = text.plain.count("\n") != self._shown.plain.count("\n")
        self._shown = text
        if layout:
            self.refresh(layout=True)
            return
        # The whole bar, padding included, as a region: a refresh without one asks the screen's
        # compositor where the widget is (`size`), most of what a title changing every poll cost.
        x, y = self.content_offset
        self.refresh(Region(-x, -y, *self.outer_size))

    def render(self) -> Text:
        return self._shown
