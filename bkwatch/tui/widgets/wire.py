"""What reaches the terminal: Textual's screen updates written with fewer bytes.

Textual (8.2.8, pinned) writes each dirty span of a line from the left edge of the widget it
falls in, and every run of text as a full SGR sequence followed by a reset. So a ticking
"elapsed" cell at column 70 of the job list resends the 70 cells before it, and a row of five
styles costs five sets of colour codes plus five resets. Over SSH that is most of what a busy
screen writes. `install()` replaces how the compositor's updates become terminal text:

* only the dirty span is written, widened to whole glyphs (a wide character, with the
  combining marks that follow it, is never cut in two), and of it only the glyphs that differ
  from what the terminal shows (`Screen`, what was last written; a full repaint, a resize or a
  resume after a suspend makes it unknown, so everything is written again) — a row that moves
  up one line under an unchanged column costs only the cells that differ;
* the colour state is carried from one run to the next, and from one update to the next: an
  unchanged style sends nothing, a changed one only the codes that differ (attributes off by
  their own codes, or a reset when that is shorter); an update leaves its last colours set;
* the cursor is moved only when the next run does not start where the last one ended, and
  to the next line's start by a carriage return and line feed;
* lines whose content moved up or down by a few lines (the transition log gaining lines, job
  list rows shifted to let a failed task in at the top) are moved by the terminal: a scroll
  region over those lines (full width: terminals cannot scroll a part of a line portably), a
  line feed or reverse index per line, the region dropped, then only the cells that still differ
  are written — the other side's cells of those lines too, from what the terminal showed. It is
  done only when it costs fewer cells than writing the lines (`_best_scroll`).

Past ~400 lines: the writer, its model of the terminal and the scroll planner share one cell
representation; split, each half would reach into the other's.

The screen content is the same cell for cell (`tests/test_tui_wire.py` replays both outputs
through a small terminal model and compares them). Textual's `ChopsUpdate` / `LayoutUpdate`
are only read: their chops, spans and strips.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import eq
from typing import Any

from rich.cells import cell_len, get_character_cell_size
from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.strip import Strip

_Sgr = tuple[frozenset[str], str | None, str | None]  # attributes, foreground, background
_DEFAULT: _Sgr = (frozenset(), None, None)
# The code that turns each SGR attribute off (22: bold and dim; 24: underline, double too).
_OFF = {
    "1": "22",
    "2": "22",
    "3": "23",
    "4": "24",
    "21": "24",
    "5": "25",
    "6": "25",
    "7": "27",
    "8": "28",
    "9": "29",
}
_OFF |= {"51": "54", "52": "54", "53": "55"}


def _parse(codes: str) -> _Sgr:
    """An SGR parameter string as Rich writes it: attributes, then fg, then bg colour."""
    attrs: list[str] = []
    fg = bg = None
    parts = codes.split(";") if codes else []
    i = 0
    while i < len(parts):
        p = parts[i]
        if p in ("38", "48"):
            n = 3 if parts[i + 1] == "5" else 5
            value = ";".join(parts[i : i + n])
            i += n
            if p == "38":
                fg = value
            else:
                bg = value
            continue
        code = int(p)
        if 30 <= code <= 39 or 90 <= code <= 97:
            fg = p
        elif 40 <= code <= 49 or 100 <= code <= 107:
            bg = p
        else:
            attrs.append(p)
        i += 1
    return frozenset(attrs), fg, bg


_UNKNOWN = object()  # a cell whose content on the terminal is not known: always written
_Glyph = tuple[int, str, int, Style | None, _Sgr]  # column, text, cells, style, its SGR
GAP = 4  # unchanged cells between two changes are rewritten when a cursor move would cost more


class Screen:
    """What the terminal shows, as last written: a cell is sent again only when it changes."""

    def __init__(self) -> None:
        self.width = 0
        self.height = 0
        self.rows: list[list[Any]] = []
        self.pen: _Sgr | None = None  # the colours the last update left set; None: not known

    # A cell is (glyph, its _Sgr), ("", _Sgr) for the second cell of a wide glyph, or _UNKNOWN.
    def forget(self, width: int = 0, height: int = 0) -> None:
        """Nothing on the terminal is known (start, resize, resume after a suspend)."""
        self.width, self.height = width, height
        self.rows = [[_UNKNOWN] * width for _ in range(height)]
        self.pen = None


SCREEN = Screen()


class _Out:
    """One update's terminal text, with the terminal's cursor and colour state tracked."""

    def __init__(self, color_system: ColorSystem, screen: Screen, diff: bool) -> None:
        self.parts: list[str] = []
        self.color_system = color_system
        self.screen = screen
        self.diff = diff  # skip cells the terminal already shows
        self.x = -1
        self.y = -1
        self.sgr: _Sgr | None = screen.pen  # carried from the last update (None: not known)
        self._parsed: dict[str, _Sgr] = {}

    def move(self, x: int, y: int) -> None:
        if y == self.y and x == self.x:
            return
        if y == self.y and x > self.x >= 0:
            step = x - self.x
            self.parts.append("\x1b[C" if step == 1 else f"\x1b[{step}C")
        elif x == 0 and y == self.y + 1 and self.y >= 0:
            self.parts.append("\r\n")  # the next line's start (no scroll region is left set)
        else:
            self.parts.append(f"\x1b[{y + 1};{x + 1}H")
        self.x, self.y = x, y

    def sgr_of(self, style: Style | None) -> _Sgr:
        if style is None:
            return _DEFAULT
        codes = style._ansi
        if codes is None:
            codes = Strip.render_ansi(style, self.color_system)
        want = self._parsed.get(codes)
        if want is None:
            want = self._parsed[codes] = _parse(codes)
        return want

    def set_sgr(self, want: _Sgr) -> None:
        have = self.sgr
        if want == have:
            return
        attrs, fg, bg = want
        # From a reset: every attribute and colour of the new style.
        reset = ["0", *sorted(attrs)]
        if fg is not None:
            reset.append(fg)
        if bg is not None:
            reset.append(bg)
        # From the current state: the attributes that go off by their own codes (22 turns off
        # bold and dim together, so one that stays is set again), those that come on, and the
        # colours that change. The shorter of the two is sent.
        gone = have[0] - attrs if have is not None else frozenset()
        offs = sorted({_OFF[a] for a in gone if a in _OFF})
        # Not known (from a reset), or an attribute with no off code: only a reset will do.
        if have is None or (len(offs) < len(gone) and gone):
            params = reset
        else:
            on = attrs - have[0]
            if "22" in offs:
                on = on | (attrs & {"1", "2"})
            step = [*offs, *sorted(on)]
            if fg != have[1]:
                step.append(fg if fg is not None else "39")
            if bg != have[2]:
                step.append(bg if bg is not None else "49")
            params = step if len(";".join(step)) < len(";".join(reset)) else reset
        self.parts.append(f"\x1b[{';'.join(params)}m")
        self.sgr = want

    def span(self, strip: Strip, x: int, y: int, x1: int, x2: int) -> None:
        """Write the cells [x1, x2) of `strip`, which starts at column x of line y, widened to
        whole glyphs; with `diff`, only the glyphs that differ from what the terminal shows."""
        self.write_glyphs(self.glyphs_of(strip, x, x1, x2), y)

    def glyphs_of(self, strip: Strip, x: int, x1: int, x2: int) -> list[_Glyph]:
        """The glyphs of `strip` (starting at column x) over the cells [x1, x2), whole."""
        glyphs: list[_Glyph] = []
        add = glyphs.append
        pos = x
        for text, style, _control in strip._segments:
            if pos >= x2:
                break
            if text.isascii():
                end = pos + len(text)
                if end > x1:
                    sgr = self.sgr_of(style)
                    a, b = max(x1, pos), min(x2, end)
                    for i, ch in enumerate(text[a - pos : b - pos], a):
                        add((i, ch, 1, style, sgr))
                pos = end
                continue
            sgr = self.sgr_of(style)
            for ch in text:
                w = get_character_cell_size(ch)
                if w == 0:  # a combining mark goes with the glyph before it
                    if glyphs and glyphs[-1][0] + glyphs[-1][2] == pos:
                        p, t, gw, st, sg = glyphs[-1]
                        glyphs[-1] = (p, t + ch, gw, st, sg)
                    continue
                if pos < x2 and pos + w > x1:
                    add((pos, ch, w, style, sgr))
                pos += w
        return glyphs

    def write_glyphs(self, glyphs: list[_Glyph], y: int) -> None:
        if not glyphs:
            return
        row = self.screen.rows[y] if y < self.screen.height else None
        if row is None or not self.diff:
            self._write(row, y, glyphs)
            return
        # Changed glyphs, and the unchanged ones between two changes closer than GAP cells.
        changed = [
            i
            for i, (p, t, w, _st, sg) in enumerate(glyphs)
            if row[p] != (t, sg) or (w == 2 and (p + 1 >= len(row) or row[p + 1] != ("", sg)))
        ]
        picked: list[_Glyph] = []
        last = -1
        for i in changed:
            if last >= 0 and glyphs[i][0] - (glyphs[last][0] + glyphs[last][2]) <= GAP:
                picked += glyphs[last + 1 : i]
            picked.append(glyphs[i])
            last = i
        self._write(row, y, picked)

    def _write(self, row: list[Any] | None, y: int, glyphs: list[_Glyph]) -> None:
        """Write `glyphs` in order; a run of narrow glyphs side by side in one style, none a
        hyperlink, goes as one string (most of a row is such runs)."""
        i, n = 0, len(glyphs)
        while i < n:
            p, _text, w, style, sgr = glyphs[i]
            j = i + 1
            if w == 1 and (style is None or not style._link):
                end = p + 1
                while j < n:
                    q, _t, w2, st2, sg2 = glyphs[j]
                    if q != end or w2 != 1 or sg2 != sgr or (st2 is not None and st2._link):
                        break
                    end += 1
                    j += 1
            if j == i + 1:
                self._put(row, y, *glyphs[i])
            else:
                self._put_run(row, y, glyphs[i:j])
            i = j

    def _put_run(self, row: list[Any] | None, y: int, run: list[_Glyph]) -> None:
        """`_put` of each glyph of `run` (narrow, side by side, one style, no link), at once."""
        p = run[0][0]
        sgr = run[0][4]
        self.move(p, y)
        self.set_sgr(sgr)
        self.parts.append("".join([g[1] for g in run]))
        self.x += len(run)
        if row is not None:
            _shows(row, p, [(g[1], sgr) for g in run])

    def _put(
        self, row: list[Any] | None, y: int, p: int, text: str, w: int, style: Style | None, sgr: _Sgr
    ) -> None:
        self.move(p, y)
        self.set_sgr(sgr)
        link = style._link if style is not None else None
        if link:
            self.parts.append(f"\x1b]8;id={style._link_id};{link}\x1b\\{text}\x1b]8;;\x1b\\")  # type: ignore[union-attr]
        else:
            self.parts.append(text)
        self.x += w
        if row is not None:
            _shows(row, p, [_UNKNOWN if link else (text, sgr), *[("", sgr)] * (w - 1)])

    def scroll(self, top: int, bottom: int, k: int) -> None:
        """Scroll the lines [top, bottom] by k (> 0: up, < 0: down) inside a scroll region, then
        drop the region. The lines scrolled in are unknown (blank, in whatever background the
        terminal fills them with)."""
        parts = self.parts
        parts.append(f"\x1b[{top + 1};{bottom + 1}r")
        if k > 0:  # a line feed on the region's last line scrolls it up
            parts.append(f"\x1b[{bottom + 1};1H" + "\n" * k)
        else:  # a reverse index on its first line scrolls it down
            parts.append(f"\x1b[{top + 1};1H" + "\x1bM" * -k)
        parts.append("\x1b[r")  # the whole screen again; the cursor goes home
        self.x = self.y = -1
        rows = self.screen.rows
        band = rows[top : bottom + 1]
        fresh = [[_UNKNOWN] * self.screen.width for _ in range(abs(k))]
        rows[top : bottom + 1] = band[k:] + fresh if k > 0 else fresh + band[: len(band) + k]

    def done(self) -> str:
        # The colours stay set for the next update, which starts from them: nothing but this
        # writer prints on the screen between two updates, and leaving the alternate screen
        # (exit, suspend) restores the colours saved when entering it.
        self.screen.pen = self.sgr
        return "".join(self.parts)


def _shows(row: list[Any], p: int, cells: list[Any]) -> None:
    """`row` (what the terminal shows) once `cells` are written from column p: cells past the
    edge are not kept, and a wide glyph cut in two at either end is unknown (the terminal blanks
    its other half)."""
    width = len(row)
    if p >= width:
        return
    cur = row[p]
    if p > 0 and isinstance(cur, tuple) and cur[0] == "":
        row[p - 1] = _UNKNOWN
    after = min(p + len(cells), width)
    row[p:after] = cells[: after - p]
    if after < width and isinstance(row[after], tuple) and row[after][0] == "":
        row[after] = _UNKNOWN


SCROLL_MAX = 8  # the farthest a region is looked for moved (lines)
SCROLL_COST = 24  # a scroll's own sequences, counted in cells
_LINKED = object()  # a target cell holding a hyperlink: never written from the screen model


def _target(row: list[Any], glyphs: list[_Glyph]) -> list[Any]:
    """What `row` (as the terminal shows it) becomes once `glyphs` are written over it."""
    t = list(row)
    width = len(t)
    for p, text, w, style, sgr in glyphs:
        if p >= width:
            continue
        t[p] = _LINKED if style is not None and style._link else (text, sgr)
        for k in range(1, w):
            if p + k < width:
                t[p + k] = ("", sgr)
    return t


def _sound(row: list[Any]) -> bool:
    """Every cell known, and every wide glyph whole: a line that can be written from its cells."""
    width = len(row)
    for p, c in enumerate(row):
        if c is _UNKNOWN or c is _LINKED:
            return False
        wide = c[0] != "" and cell_len(c[0]) == 2
        if c[0] == "" and (p == 0 or row[p - 1][0] == "" or cell_len(row[p - 1][0]) != 2):
            return False
        if wide and (p + 1 >= width or not isinstance(row[p + 1], tuple) or row[p + 1][0] != ""):
            return False
    return True


def _same(a: list[Any], b: list[Any]) -> int:
    return sum(map(eq, a, b))


def _best_scroll(rows: list[list[Any]], targets: dict[int, list[Any]]) -> tuple[int, int, int] | None:
    """The region (top, bottom) and shift k (> 0 up, < 0 down) whose scroll, with the cells that
    still differ written after it, costs fewest cells, if it costs fewer than writing them all:
    a log that gained lines, a list whose rows moved down to let one in at the top."""
    height = len(rows)
    if not height:
        return None
    width = len(rows[0])
    changed = [y for y in sorted(targets) if targets[y] != rows[y]]
    if len(changed) < 2:
        return None
    # Lines shown alike (blank ones, mostly) share a kind, so a line is compared with each kind
    # once, and a shift onto a line of its own kind changes nothing.
    kinds: dict[tuple[Any, ...], int] = {}
    kind = {
        z: kinds.setdefault(tuple(rows[z]), len(kinds))
        for z in range(max(0, changed[0] - SCROLL_MAX), min(height, changed[-1] + SCROLL_MAX + 1))
    }
    same: dict[tuple[int, int], int] = {}  # (y, kind): cells line y's target shares with that kind

    def alike(y: int, z: int) -> int:
        n = same.get((y, kind[z]))
        if n is None:
            n = same[y, kind[z]] = _same(targets.get(y, rows[y]), rows[z])
        return n

    best: tuple[int, int, int] | None = None
    best_saving = 0
    for k in (*range(1, SCROLL_MAX + 1), *range(-1, -SCROLL_MAX - 1, -1)):
        # Runs of lines that are closer to the line k below (above) than to their own; a line
        # with nothing new joins a run when the line it would get is the same as it.
        runs: list[list[int]] = []
        for y in range(max(changed[0], -k), min(changed[-1] + 1, height - k)):
            here = alike(y, y)
            there = here if kind[y + k] == kind[y] else alike(y, y + k)
            if there > here or there == here == width:
                if runs and runs[-1][-1] == y - 1:
                    runs[-1].append(y)
                else:
                    runs.append([y])
        for run in runs:
            a, b = run[0], run[-1]
            top, bottom = (a, b + k) if k > 0 else (a + k, b)
            if top < 0 or bottom >= height:
                continue
            cost_now = sum(width - alike(y, y) for y in range(top, bottom + 1))
            cost = SCROLL_COST + abs(k) * width
            cost += sum(width - alike(y, y + k) for y in run)
            if cost_now - cost > best_saving and all(
                _sound(targets.get(y, rows[y])) for y in range(top, bottom + 1)
            ):
                best, best_saving = (top, bottom, k), cost_now - cost
    return best


def _glyphs_from(row: list[Any]) -> list[_Glyph]:
    """A sound line's cells as glyphs to write."""
    return [(p, c[0], cell_len(c[0]), None, c[1]) for p, c in enumerate(row) if c[0] != ""]


def _color_system(console: Console) -> ColorSystem:
    return console._color_system or ColorSystem.TRUECOLOR


def render_chops(update: ChopsUpdate, console: Console) -> str:
    """`ChopsUpdate.render_segments`: of the dirty spans, only the cells that changed."""
    chops, chop_ends = update.chops, update.chop_ends
    width = chop_ends[0][-1] if chop_ends and chop_ends[0] else 0
    if (width, len(chops)) != (SCREEN.width, SCREEN.height):
        SCREEN.forget(width, len(chops))
    out = _Out(_color_system(console), SCREEN, diff=True)
    items: list[tuple[int, list[_Glyph]]] = []
    for y, x1, x2 in update.spans:
        for end, (x, strip) in zip(chop_ends[y], chops[y].items(), strict=False):
            if strip is None or x >= x2 or end <= x1:
                continue
            items.append((y, out.glyphs_of(strip, x, max(x1, x), min(x2, end))))
    # Lines that moved up or down (a log that gained lines, rows shifted by one let in above
    # them) are scrolled by the terminal, then only what still differs is written.
    rows = SCREEN.rows
    targets: dict[int, list[Any]] = {}
    for y, glyphs in items:
        if y < SCREEN.height:
            targets[y] = _target(targets.get(y) or rows[y], glyphs)
    scrolled: set[int] = set()
    for _ in range(2):
        plan = _best_scroll(rows, targets)
        if plan is None:
            break
        top, bottom, k = plan
        for y in range(top, bottom + 1):
            targets.setdefault(y, list(rows[y]))  # a line with nothing new keeps what it shows
        out.scroll(top, bottom, k)
        scrolled.update(range(top, bottom + 1))
    for y in sorted(scrolled):
        out.write_glyphs(_glyphs_from(targets[y]), y)
    for y, glyphs in items:
        if y not in scrolled:
            out.write_glyphs(glyphs, y)
    return out.done()


def render_layout(update: LayoutUpdate, console: Console) -> str:
    """`LayoutUpdate.render_segments` (a full repaint: every cell written) with the colour state
    carried along; what it writes becomes the known screen."""
    region = update.region
    SCREEN.forget(region.right, region.bottom)
    out = _Out(_color_system(console), SCREEN, diff=False)
    x0 = region.x
    for y, line in enumerate(update.strips, update.region.y):
        x = x0
        strips: Iterable[Strip] = line
        for strip in strips:
            out.span(strip, x, y, x, x + strip.cell_length)
            x += strip.cell_length
    return out.done()


_ORIGINAL: dict[str, Any] = {}


def forget() -> None:
    """The terminal's content is unknown (after a suspend): the next update writes every cell."""
    SCREEN.forget()


def install() -> None:
    """Make Textual write updates through `render_chops` / `render_layout` (idempotent)."""
    SCREEN.forget()
    if _ORIGINAL:
        return
    _ORIGINAL["chops"] = ChopsUpdate.render_segments
    _ORIGINAL["layout"] = LayoutUpdate.render_segments
    ChopsUpdate.render_segments = render_chops  # type: ignore[method-assign,assignment]
    LayoutUpdate.render_segments = render_layout  # type: ignore[method-assign,assignment]
