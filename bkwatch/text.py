"""Untrusted server text made safe for a terminal: the one sanitiser adapters, CLI and TUI share.

Names, messages and logs come from whatever users typed into BlueKing; escape sequences in them
could recolour, retitle or rewrite the user's terminal, so they are removed, not escaped.
"""

from __future__ import annotations

import re
import unicodedata

_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC … BEL/ST (window titles, hyperlinks, clipboard)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS / SOS / PM / APC strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI sequences (colours, cursor moves)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|\x1b[@-Z\\-_]?"  # other two-byte escapes, or a lone ESC
)
# C0/C1 controls except newline and tab, DEL, and the bidi overrides that reorder a line.
_DROP = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)])
_DROP.update(dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


def clean_text(text: str, limit: int | None = None) -> str:
    """Escape sequences and control characters removed (newlines and tabs kept); cut to `limit`
    characters with an ellipsis."""
    if not text.isprintable():
        if "\x1b" in text or "\x9b" in text:
            text = _ESCAPES.sub("", text)
        text = text.translate(_DROP)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def one_line(value: object, limit: int | None = None) -> str:
    """Server text as one safe line, whitespace folded, cut to `limit` terminal cells."""
    if value is None:
        return ""
    text = " ".join(clean_text(str(value)).split())
    if limit is not None and display_width(text) > limit:
        out, used = [], 0
        for ch in text:
            w = display_width(ch)
            if used + w > limit - 1:
                break
            out.append(ch)
            used += w
        text = "".join(out) + "…"
    return text


def display_width(text: str) -> int:
    """Terminal cells: CJK wide and full-width characters take two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
