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
* the colour state is carried from one run to the next: an unchanged style sends nothing, a
  changed one only the codes that differ (attributes off by their own codes, or a reset when
  that is shorter), and a reset goes once at the end of the update;
* the cursor is moved only when the next run does not start where the last one ended, and
  to the next line's start by a carriage return and line feed.

The screen content is the same cell for cell (`tests/test_tui_wire.py` replays both outputs
through a small terminal model and compares them). Textual's `ChopsUpdate` / `LayoutUpdate`
are only read: their chops, spans and strips.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.cells import get_character_cell_size
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
GAP = 4  # unchanged cells between two changes are rewritten when a cursor move would cost more


class Screen:
    """What the terminal shows, as last written: a cell is sent again only when it changes."""

    def __init__(self) -> None:
        self.width = 0
        self.height = 0
        self.rows: list[list[Any]] = []

    # A cell is (glyph, its _Sgr), ("", _Sgr) for the second cell of a wide glyph, or _UNKNOWN.
    def forget(self, width: int = 0, height: int = 0) -> None:
        """Nothing on the terminal is known (start, resize, resume after a suspend)."""
        self.width, self.height = width, height
        self.rows = [[_UNKNOWN] * width for _ in range(height)]


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
        self.sgr: _Sgr = _DEFAULT
        self._parsed: dict[str, _Sgr] = {}

    def move(self, x: int, y: int) -> None:
        if y == self.y and x == self.x:
            return
        if y == self.y and x > self.x >= 0:
            step = x - self.x
            self.parts.append("\x1b[C" if step == 1 else f"\x1b[{step}C")
        elif x == 0 and y == self.y + 1 and self.y >= 0:
            self.parts.append("\r\n")  # the next line's start (no scroll region is ever set)
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
        gone = have[0] - attrs
        offs = sorted({_OFF[a] for a in gone if a in _OFF})
        if len(offs) < len(gone) and gone:  # an attribute with no off code: only a reset will do
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
        glyphs: list[tuple[int, str, int, Style | None, _Sgr]] = []
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
        if not glyphs:
            return
        row = self.screen.rows[y] if y < self.screen.height else None
        if row is None or not self.diff:
            for g in glyphs:
                self._put(row, y, *g)
            return
        # Changed glyphs, and the unchanged ones between two changes closer than GAP cells.
        changed = [
            i
            for i, (p, t, w, _st, sg) in enumerate(glyphs)
            if row[p] != (t, sg) or (w == 2 and (p + 1 >= len(row) or row[p + 1] != ("", sg)))
        ]
        last = -1
        for i in changed:
            if last >= 0 and glyphs[i][0] - (glyphs[last][0] + glyphs[last][2]) <= GAP:
                for j in range(last + 1, i):
                    self._put(row, y, *glyphs[j])
            self._put(row, y, *glyphs[i])
            last = i

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
        if row is None:
            return
        width = len(row)
        if p >= width:
            return
        cur = row[p]
        if p > 0 and isinstance(cur, tuple) and cur[0] == "":
            row[p - 1] = _UNKNOWN  # half of a wide glyph overwritten: the terminal blanks the rest
        row[p] = _UNKNOWN if link else (text, sgr)
        for k in range(1, w):
            if p + k < width:
                row[p + k] = ("", sgr)
        after = p + w
        if after < width and isinstance(row[after], tuple) and row[after][0] == "":
            row[after] = _UNKNOWN

    def done(self) -> str:
        if self.sgr != _DEFAULT:
            self.parts.append("\x1b[0m")
            self.sgr = _DEFAULT
        return "".join(self.parts)


def _color_system(console: Console) -> ColorSystem:
    return console._color_system or ColorSystem.TRUECOLOR


def render_chops(update: ChopsUpdate, console: Console) -> str:
    """`ChopsUpdate.render_segments`: of the dirty spans, only the cells that changed."""
    chops, chop_ends = update.chops, update.chop_ends
    width = chop_ends[0][-1] if chop_ends and chop_ends[0] else 0
    if (width, len(chops)) != (SCREEN.width, SCREEN.height):
        SCREEN.forget(width, len(chops))
    out = _Out(_color_system(console), SCREEN, diff=True)
    for y, x1, x2 in update.spans:
        for end, (x, strip) in zip(chop_ends[y], chops[y].items(), strict=False):
            if strip is None or x >= x2 or end <= x1:
                continue
            out.span(strip, x, y, max(x1, x), min(x2, end))
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
