"""The lean terminal writer (`tui/widgets/wire.py`) leaves the terminal showing exactly what
Textual's own writer would, cell for cell, with fewer bytes.

Both outputs are replayed through a small terminal model (cursor moves, SGR, wide glyphs)."""

from __future__ import annotations

import random
import re

from rich.color import ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.geometry import Region
from textual.strip import Strip

from bkwatch.tui.widgets import wire

W, H = 24, 6
CUT = 10  # each line has two chops: [0, CUT) and [CUT, W), as two widgets side by side
STYLES = [
    None,
    Style.parse("bold"),
    Style.parse("red on blue"),
    Style.parse("bold reverse #ff8800 on grey23"),
    Style.parse("italic underline"),
    Style.parse("dim green"),
    Style.parse("on blue"),
    Style.parse("bold dim red"),
    Style.parse("dim strike on blue"),
    Style.parse("reverse underline"),
    # The job list's kind: long colour codes kept while an attribute goes on and off.
    Style.parse("bold #aabbcc on #112233"),
    Style.parse("dim #aabbcc on #112233"),
    Style.parse("bold dim reverse #aabbcc on #112233"),
    Style.parse("#aabbcc on #112233"),
]
_OFF_CODES = {
    "22": {"1", "2"},
    "23": {"3"},
    "24": {"4", "21"},
    "25": {"5", "6"},
    "27": {"7"},
    "28": {"8"},
    "29": {"9"},
    "54": {"51", "52"},
    "55": {"53"},
}
WORDS = ["ab", " ", "x", "界", "é", "e\u0301", "名字", "   ", "ok", "✖ FAILED"]
_TOKEN = re.compile(
    r"\x1b\[(\d*);?(\d*)H|\x1b\[(\d*)C|\x1b\[([\d;]*)m|\x1b\]8;[^\x1b]*\x1b\\|\x1b\[([\d;]*)r|(\x1bM)|(.)",
    re.S,
)
SCROLLED_IN = ("\x00", frozenset(), None, None)  # a line a scroll brought in, before it is written


def _original(name: str):  # Textual's own writer, whether or not an app installed ours
    return wire._ORIGINAL.get(name) or {"chops": ChopsUpdate, "layout": LayoutUpdate}[name].render_segments


class Term:
    """Just enough terminal: a grid of (text, attributes, fg, bg) cells."""

    def __init__(self) -> None:
        self.cells = [[(" ", frozenset(), None, None)] * W for _ in range(H)]
        self.x = self.y = 0
        self.top, self.bottom = 0, H - 1  # the scroll region
        self.attrs: frozenset[str] = frozenset()
        self.fg: str | None = None
        self.bg: str | None = None

    def feed(self, data: str) -> None:
        for m in _TOKEN.finditer(data):
            row, col, fwd, sgr, region, ri, ch = m.groups()
            if m.group(0).startswith("\x1b]8"):
                continue
            if region is not None:  # DECSTBM: the region, and the cursor home
                top, _, bottom = region.partition(";")
                self.top, self.bottom = int(top or 1) - 1, int(bottom or H) - 1
                self.x = self.y = 0
                continue
            if ri is not None:  # reverse index: on the region's first line, scroll it down
                if self.y == self.top:
                    del self.cells[self.bottom]
                    self.cells.insert(self.top, [SCROLLED_IN] * W)
                else:
                    self.y -= 1
                continue
            if ch == "\r":
                self.x = 0
                continue
            if ch == "\n":  # on the region's last line, scroll it up
                if self.y == self.bottom:
                    del self.cells[self.top]
                    self.cells.insert(self.bottom, [SCROLLED_IN] * W)
                else:
                    self.y += 1
                continue
            if ch is not None:
                self._char(ch)
            elif fwd is not None:
                self.x += int(fwd or 1)
            elif sgr is not None:
                self._sgr(sgr)
            else:
                self.y, self.x = int(row or 1) - 1, int(col or 1) - 1

    def _sgr(self, params: str) -> None:
        parts = params.split(";") if params else ["0"]
        i = 0
        while i < len(parts):
            p = parts[i]
            if p in ("38", "48"):
                n = 3 if parts[i + 1] == "5" else 5
                value = ";".join(parts[i : i + n])
                if p == "38":
                    self.fg = value
                else:
                    self.bg = value
                i += n
                continue
            code = int(p or 0)
            if code == 0:
                self.attrs, self.fg, self.bg = frozenset(), None, None
            elif code == 39:
                self.fg = None
            elif code == 49:
                self.bg = None
            elif p in _OFF_CODES:
                self.attrs = self.attrs - _OFF_CODES[p]
            elif 30 <= code <= 37 or 90 <= code <= 97:
                self.fg = p
            elif 40 <= code <= 47 or 100 <= code <= 107:
                self.bg = p
            else:
                self.attrs = self.attrs | {p}
            i += 1

    def _char(self, ch: str) -> None:
        from rich.cells import get_character_cell_size

        w = get_character_cell_size(ch)
        if w == 0:  # a combining mark joins the glyph before the cursor
            x = self.x - 1
            while x > 0 and self.cells[self.y][x][0] == "":
                x -= 1
            t, *rest = self.cells[self.y][x]
            self.cells[self.y][x] = (t + ch, *rest)
            return
        style = (self.attrs, self.fg, self.bg)
        self.cells[self.y][self.x] = (ch, *style)
        for k in range(1, w):
            self.cells[self.y][self.x + k] = ("", *style)
        self.x += w


def _line(rng: random.Random, width: int) -> Strip:
    segs: list[Segment] = []
    cells = 0
    while cells < width:
        text = rng.choice(WORDS)
        segs.append(Segment(text, rng.choice(STYLES)))
        cells += Segment(text).cell_length
    return Strip(segs).crop_extend(0, width, None)


def _frame(rng: random.Random) -> list[list[Strip]]:
    return [[_line(rng, CUT), _line(rng, W - CUT)] for _ in range(H)]


def _chops(frame: list[list[Strip]], spans: list[tuple[int, int, int]]) -> ChopsUpdate:
    chops = [{0: left, CUT: right} for left, right in frame]
    return ChopsUpdate(chops, spans, [[CUT, W] for _ in range(H)])


def _layout(frame: list[list[Strip]]) -> LayoutUpdate:
    return LayoutUpdate([list(pair) for pair in frame], Region(0, 0, W, H))


def _full_repaint(frame: list[list[Strip]], console: Console) -> Term:
    """What the terminal shows after Textual's own writer painted `frame` whole."""
    ref = Term()
    ref.feed(_original("layout")(_layout(frame), console))
    return ref


def _changed_spans(
    old: list[list[Strip]], new: list[list[Strip]], rng: random.Random
) -> list[tuple[int, int, int]]:
    """Dirty spans as a widget would mark them: the chops that changed, at least, and a few more."""
    spans = []
    for y in range(H):
        for i, (x1, x2) in enumerate(((0, CUT), (CUT, W))):
            if old[y][i].text != new[y][i].text or list(old[y][i]) != list(new[y][i]) or rng.random() < 0.2:
                spans.append((y, x1, x2))
    merged: list[tuple[int, int, int]] = []
    for y, a, b in spans:
        if merged and merged[-1][0] == y and merged[-1][2] == a:
            merged[-1] = (y, merged[-1][1], b)
        else:
            merged.append((y, a, b))
    return merged


def test_same_screen_as_textual_with_fewer_bytes() -> None:
    console = Console(color_system="256", force_terminal=True, width=W)
    assert console._color_system is ColorSystem.EIGHT_BIT
    rng = random.Random(7)
    theirs, ours = Term(), Term()
    first = _frame(rng)
    theirs.feed(_original("layout")(_layout(first), console))
    ours.feed(wire.render_layout(_layout(first), console))
    assert ours.cells == theirs.cells
    sent = {"theirs": 0, "ours": 0}
    old = first
    for _ in range(200):
        new = [
            [rng.choice((pair[0], _line(rng, CUT))), rng.choice((pair[1], _line(rng, W - CUT)))]
            for pair in old
        ]
        spans = _changed_spans(old, new, rng)
        if not spans:
            continue
        a = _original("chops")(_chops(new, spans), console)
        b = wire.render_chops(_chops(new, spans), console)
        theirs.feed(a)
        ours.feed(b)
        assert ours.cells == theirs.cells
        sent["theirs"] += len(a)
        sent["ours"] += len(b)
        old = new
    assert sent["ours"] < sent["theirs"] * 0.8, sent


def test_a_span_inside_a_row_writes_only_the_changed_cells() -> None:
    console = Console(color_system="256", force_terminal=True, width=W)
    grey = Style.parse("on grey23")
    before = [
        [Strip([Segment("JOB     running 10s".ljust(CUT * 2)[:CUT], grey)]), Strip.blank(W - CUT, grey)]
    ] * H
    wire.render_layout(_layout(before), console)
    after = [list(pair) for pair in before]
    after[2] = [Strip([Segment("JOB     running 20s".ljust(CUT * 2)[:CUT], grey)]), before[2][1]]
    out = wire.render_chops(_chops(after, [(2, 0, CUT)]), console)
    # Textual resends the row from the widget's left edge; only the changed cell goes now.
    assert "JOB" not in out and "running" not in out
    term = Term()
    term.feed(_original("layout")(_layout(before), console))
    term.feed(out)
    assert "".join(c[0] for c in term.cells[2][:CUT]).startswith("JOB     ru")


def test_unknown_screen_is_written_in_full() -> None:
    console = Console(color_system="256", force_terminal=True, width=W)
    frame = _frame(random.Random(3))
    wire.render_layout(_layout(frame), console)
    wire.forget()  # as after a suspend: the terminal may show anything
    out = wire.render_chops(_chops(frame, [(y, 0, W) for y in range(H)]), console)
    term = Term()
    term.feed(out)
    assert term.cells == _full_repaint(frame, console).cells


def test_a_span_through_a_wide_glyph_writes_the_whole_glyph() -> None:
    console = Console(color_system="256", force_terminal=True, width=W)
    rng = random.Random(11)
    for _ in range(50):
        frame = _frame(rng)
        term = Term()
        term.feed(_original("layout")(_layout(frame), console))
        ref = [row[:] for row in term.cells]
        wire.forget()  # nothing known: every glyph of the spans is written
        spans = []
        for y in range(H):
            a = rng.randrange(0, W - 1)
            spans.append((y, a, rng.randrange(a + 1, W + 1)))
        term.feed(wire.render_chops(_chops(frame, spans), console))
        assert term.cells == ref


def _shifted(old: list[list[Strip]], rng: random.Random) -> list[list[Strip]]:
    """Lines of one side (or both) moved up or down by a few, new ones coming in: a log that
    gained lines, a list with a row let in above others."""
    new = [list(pair) for pair in old]
    sides = rng.choice(((0,), (1,), (0, 1)))
    k = rng.choice((1, 1, 2, 3, -1, -2))
    top = rng.randrange(0, H - 2)
    bottom = rng.randrange(top + 1, H)
    for side in sides:
        width = CUT if side == 0 else W - CUT
        for y in range(top, bottom + 1):
            src = y + k
            new[y][side] = old[src][side] if top <= src <= bottom else _line(rng, width)
    return new


def test_lines_that_move_are_scrolled_and_the_screen_stays_the_same() -> None:
    console = Console(color_system="256", force_terminal=True, width=W)
    rng = random.Random(5)
    theirs, ours = Term(), Term()
    first = _frame(rng)
    theirs.feed(_original("layout")(_layout(first), console))
    ours.feed(wire.render_layout(_layout(first), console))
    sent = {"theirs": 0, "ours": 0}
    scrolls = 0
    old = first
    for _ in range(300):
        new = (
            _shifted(old, rng)
            if rng.random() < 0.6
            else [[rng.choice((pair[0], _line(rng, CUT))), pair[1]] for pair in old]
        )
        spans = _changed_spans(old, new, rng)
        if not spans:
            continue
        a = _original("chops")(_chops(new, spans), console)
        b = wire.render_chops(_chops(new, spans), console)
        scrolls += "r\x1b[" in b
        theirs.feed(a)
        ours.feed(b)
        assert ours.cells == theirs.cells
        assert (ours.top, ours.bottom) == (0, H - 1)  # no scroll region is left behind
        sent["theirs"] += len(a)
        sent["ours"] += len(b)
        old = new
    assert scrolls > 20, scrolls
    assert sent["ours"] < sent["theirs"] * 0.6, sent


def test_a_log_that_gained_a_line_is_scrolled_not_rewritten() -> None:
    console = Console(color_system="256", force_terminal=True, width=W)
    grey = Style.parse("on grey23")
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
    lines = [Strip([Segment(f"{i} {words[i]} task: FAILED".ljust(W), grey)]) for i in range(H + 1)]
    before = [[lines[y].crop(0, CUT), lines[y].crop(CUT, W)] for y in range(H)]
    first = wire.render_layout(_layout(before), console)
    after = [[lines[y + 1].crop(0, CUT), lines[y + 1].crop(CUT, W)] for y in range(H)]
    out = wire.render_chops(_chops(after, [(y, 0, W) for y in range(H)]), console)
    assert out.count("task") == 1 and "golf" in out  # the new line; the others moved up
    term = Term()
    term.feed(first)
    term.feed(out)
    assert term.cells == _full_repaint(after, console).cells


def test_colours_carry_from_one_update_to_the_next() -> None:
    console = Console(color_system="256", force_terminal=True, width=W)
    grey = Style.parse("on grey23")
    before = [[Strip([Segment("run 10s".ljust(CUT), grey)]), Strip.blank(W - CUT, grey)]] * H
    term = Term()
    term.feed(wire.render_layout(_layout(before), console))
    for n in range(2, 5):  # a ticking cell, one update each: no colour codes, no reset
        after = [list(pair) for pair in before]
        after[2] = [Strip([Segment(f"run {n}0s".ljust(CUT), grey)]), before[2][1]]
        out = wire.render_chops(_chops(after, [(2, 0, CUT)]), console)
        assert "m" not in out.replace(f"{n}", ""), repr(out)
        term.feed(out)
    assert term.cells == _full_repaint(after, console).cells
    wire.forget()  # after a suspend the colours are not known either: sent from a reset
    out = wire.render_chops(_chops(after, [(2, 0, CUT)]), console)
    assert out.count("\x1b[0;") == 1
