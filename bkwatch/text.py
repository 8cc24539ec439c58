"""Untrusted server text made safe for a terminal: the one sanitiser adapters, CLI and TUI share.

Names, messages and logs come from whatever users typed into BlueKing; escape sequences in them
could recolour, retitle or rewrite the user's terminal, so they are removed, not escaped.
Invisible characters whose width terminals disagree on (zero-width joiners, bidi marks) are
removed too, and stacks of combining marks are cut short, so a line takes the cells it is
measured to take and never draws over its neighbours.
"""

from __future__ import annotations

import re

from rich.cells import cell_len

_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC … BEL/ST (window titles, hyperlinks, clipboard)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS / SOS / PM / APC strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI sequences (colours, cursor moves)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|\x1b[@-Z\\-_]?"  # other two-byte escapes, or a lone ESC
)
# C0/C1 controls except newline and tab, DEL, every format character (bidi controls that reorder
# a line, zero-width joiners and spaces, soft hyphen, tag characters: invisible, and measured
# differently by different terminals), and lone surrogates (they cannot be written out).
_DROP: dict[int, str | None] = dict.fromkeys(
    [
        *range(0x00, 0x09),
        *range(0x0B, 0x20),
        *range(0x7F, 0xA0),
        0x00AD,
        *range(0x0600, 0x0606),
        0x061C,
        0x06DD,
        0x070F,
        0x0890,
        0x0891,
        0x08E2,
        0x180E,
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2065),
        *range(0x2066, 0x2070),
        0xFEFF,
        *range(0xFFF9, 0xFFFC),
        0x110BD,
        0x110CD,
        *range(0x13430, 0x13440),
        *range(0x1BCA0, 0x1BCA4),
        *range(0x1D173, 0x1D17B),
        *range(0xD800, 0xE000),
        0xE0001,
        *range(0xE0020, 0xE0080),
    ]
)
_DROP.update({0x2028: "\n", 0x2029: "\n"})  # line / paragraph separators are line breaks
# Combining marks beyond the third on one character ("Zalgo" text) are dropped: real scripts
# stack at most three, and taller stacks are drawn over the lines above and below.
_MARK = (
    r"[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f"
    r"\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
)
_MARK_STACK = re.compile(f"({_MARK}{{3}}){_MARK}+")


def clean_text(text: str, limit: int | None = None) -> str:
    """Escape sequences, control and invisible format characters removed (newlines and tabs
    kept), combining stacks cut to three marks; cut to `limit` characters with an ellipsis."""
    if limit is not None:
        text = _rough_cut(text, limit)
    if not text.isprintable():
        if "\x1b" in text or "\x9b" in text:
            text = _ESCAPES.sub("", text)
        text = text.translate(_DROP)
    if not text.isascii() and _MARK_STACK.search(text):
        text = _MARK_STACK.sub(r"\1", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def counted(n: int, noun: str) -> str:
    """'1 host', '3 hosts' (`noun` is the singular; every noun bkwatch counts takes an s)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def one_line(value: object, limit: int | None = None) -> str:
    """Server text as one safe line, whitespace folded, cut to `limit` terminal cells."""
    if value is None:
        return ""
    text = str(value)
    if limit is not None:
        text = _rough_cut(text, limit)
    text = " ".join(clean_text(text).split())
    if limit is not None and display_width(text) > limit:
        out, used = [], 0
        for ch in text:
            w = cell_len(ch)
            if used + w > limit - 1:
                break
            out.append(ch)
            used += w
        text = "".join(out) + "…"
    return text


def _rough_cut(text: str, limit: int) -> str:
    """A megabyte of server text shown in a 60-cell column: keep only what could reach the
    limit once escapes and folded whitespace are gone, so cleaning costs the limit, not the size."""
    keep = 4 * limit + 256
    return text[:keep] if len(text) > keep else text


def display_width(text: str) -> int:
    """Terminal cells: CJK wide and full-width characters take two, combining marks none."""
    if text.isascii():
        return len(text)
    return cell_len(text)


# Tags stop at the next "<": with `[^>]*` every "<" of a 1 MB "<<<…" scanned to the end of the
# text, minutes of regex work on one poll.
_TAG = re.compile(r"<[^<>]*>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li|/tr|/pre|/h\d)\b[^<>]*>", re.IGNORECASE)
_BLOCK_OPEN = re.compile(r"<\s*(script|style)\b", re.IGNORECASE)
_BLOCK_CLOSE = {
    "script": re.compile(r"</\s*script\s*>", re.IGNORECASE),
    "style": re.compile(r"</\s*style\s*>", re.IGNORECASE),
}
_BLANK_LINES = re.compile(r"\n\s*\n+")


def _drop_blocks(text: str) -> str:
    """<script>/<style> blocks removed. A lazy `.*?` regex rescanned the rest of the text for
    every unclosed opening tag (quadratic); here each closing tag is searched for once."""
    if _BLOCK_OPEN.search(text) is None:
        return text
    parts: list[str] = []
    pos = 0
    unclosed: set[str] = set()
    for opening in _BLOCK_OPEN.finditer(text):
        kind = opening.group(1).lower()
        if opening.start() < pos or kind in unclosed:
            continue
        closing = _BLOCK_CLOSE[kind].search(text, opening.end())
        if closing is None:
            unclosed.add(kind)  # no closing tag after this one: none after any later one either
            continue
        parts.append(text[pos : opening.start()])
        pos = closing.end()
    parts.append(text[pos:])
    return "".join(parts)


def html_to_text(text: str) -> str:
    """HTML fragment -> plain text: tags removed, line breaks kept, entities decoded."""
    if "<" not in text and "&" not in text:
        return clean_text(text).strip()
    text = _drop_blocks(text)
    text = _BREAK.sub("\n", text)
    text = _TAG.sub("", text)
    import html  # lazy: its entity table is ~0.5 MiB and 1.5 ms of start-up, for rare HTML answers

    text = html.unescape(text)
    text = clean_text(text)
    text = _BLANK_LINES.sub("\n", text)
    return "\n".join(line.strip() for line in text.splitlines()).strip()
