"""Colours a script printed, kept as colours: a strict SGR-only reader building a rich `Text`.

Only `ESC [ params m` is read, and only the attributes below; every other byte goes through the
one sanitiser (`text.clean_text`), so cursor moves, title changes, clipboard writes and
hyperlinks are removed exactly as elsewhere. The text is appended literally (never markup).
"""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text

from bkwatch.text import clean_text

_SGR = re.compile(r"\x1b\[([0-9;]{0,48})m")
_BASIC = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]
_ON = {1: "bold", 2: "dim", 3: "italic", 4: "underline", 7: "reverse", 9: "strike"}
_OFF = {22: ("bold", "dim"), 23: ("italic",), 24: ("underline",), 27: ("reverse",), 29: ("strike",)}


def _apply(state: dict[str, object], params: str) -> None:
    codes = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            state.clear()
        elif c in _ON:
            state[_ON[c]] = True
        elif c in _OFF:
            for k in _OFF[c]:
                state.pop(k, None)
        elif 30 <= c <= 37 or 90 <= c <= 97:
            state["color"] = ("bright_" if c >= 90 else "") + _BASIC[c % 10]
        elif 40 <= c <= 47 or 100 <= c <= 107:
            state["bgcolor"] = ("bright_" if c >= 100 else "") + _BASIC[c % 10]
        elif c in (39, 49):
            state.pop("color" if c == 39 else "bgcolor", None)
        elif c in (38, 48) and i + 1 < len(codes):
            key = "color" if c == 38 else "bgcolor"
            if codes[i + 1] == 5 and i + 2 < len(codes):
                state[key] = f"color({min(codes[i + 2], 255)})"
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                r, g, b = (min(x, 255) for x in codes[i + 2 : i + 5])
                state[key] = f"rgb({r},{g},{b})"
                i += 4
        i += 1


def sgr_text(raw: str) -> Text:
    """One raw log line as a `Text`: SGR colours kept, everything else cleaned."""
    out = Text(no_wrap=True)
    state: dict[str, object] = {}
    pos = 0
    for m in _SGR.finditer(raw):
        if m.start() > pos:
            out.append(clean_text(raw[pos : m.start()]), Style(**state) if state else None)  # type: ignore[arg-type]
        _apply(state, m.group(1))
        pos = m.end()
    if pos < len(raw):
        out.append(clean_text(raw[pos:]), Style(**state) if state else None)  # type: ignore[arg-type]
    return out
