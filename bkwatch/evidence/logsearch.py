"""Search in a `LogBuffer`: every match found in one pass over the held bytes; lines and columns
worked out only for the hits a view shows or moves to.

A match is a hit when nothing the sanitiser removes (escape sequences, control and format
characters) lies inside it: the bytes matched are then the text shown. So a search for "52"
does not stop inside a clipboard escape sequence. Text that only reads as a match once
escapes are removed from its middle is not found (the price of one pass).
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from typing import NamedTuple, Protocol

from bkwatch.text import _DROP, _ESCAPES, clean_text


class Searchable(Protocol):
    """What a search reads of `logbuf.LogBuffer` (declared here: the buffer imports the search)."""

    dropped_bytes: int

    def raw_bytes(self, start: int = 0, end: int | None = None) -> bytes | bytearray: ...

    def line_at(self, offset: int) -> tuple[int, int, int]: ...

    def offset_of_line(self, line: int) -> int: ...


class Hit(NamedTuple):
    line: int  # absolute line number, 0-based (dropped lines count)
    start: int  # columns in the cleaned line
    end: int


def _removed_pattern() -> re.Pattern[bytes]:
    """What `text.clean_text` removes, as a pattern over UTF-8 bytes, built from its tables.
    Lines are cleaned one at a time, so an unterminated sequence stops at the line's end here too.
    Multi-byte characters are grouped by their leading bytes (one class for the last byte), so
    the pattern stays small enough to scan megabytes at C speed."""
    escapes = (
        _ESCAPES.pattern.replace("\\x9b", "\\xc2\\x9b")  # 8-bit CSI, UTF-8 encoded
        .replace("[^\\x07\\x1b]", "[^\\x07\\x1b\\n]")
        .replace("[^\\x1b]", "[^\\x1b\\n]")
    )
    by_prefix: dict[bytes, set[int]] = {}
    for c in _DROP:
        if c >= 0x80:
            enc = chr(c).encode("utf-8", "surrogatepass")
            by_prefix.setdefault(enc[:-1], set()).add(enc[-1])
    parts = [escapes.encode(), rb"[\x00-\x08\x0b-\x1f\x7f]"]
    for prefix, last in sorted(by_prefix.items()):
        cls = b"".join(re.escape(bytes([b])) for b in sorted(last))
        parts.append(re.escape(prefix) + b"[" + cls + b"]")
    return re.compile(b"|".join(parts))


_REMOVED = _removed_pattern()


class Matches:
    """The hits of one search. Offsets are absolute (bytes since the log began), so they stay
    right when older output is dropped; `extend` adds a search of output appended later."""

    def __init__(self, buf: Searchable, starts: array[int], ends: array[int], searched_to: int) -> None:
        self.buf = buf
        self.starts, self.ends = starts, ends
        self.searched_to = searched_to  # absolute byte offset the search covered

    def __len__(self) -> int:
        return len(self.starts)

    def extend(self, more: Matches) -> None:
        self.starts.extend(more.starts)
        self.ends.extend(more.ends)
        self.searched_to = more.searched_to

    def hit(self, k: int) -> Hit | None:
        """Hit k with its line and columns; None when its line was dropped since."""
        rel = self.starts[k] - self.buf.dropped_bytes
        if rel < 0:
            return None
        line, ls, le = self.buf.line_at(rel)
        end = self.ends[k] - self.buf.dropped_bytes
        raw = self.buf.raw_bytes(ls, le)
        if raw.isascii() and not _REMOVED.search(raw):
            return Hit(line, rel - ls, end - ls)
        prefix = len(clean_text(raw[: rel - ls].decode("utf-8", "replace")))
        width = len(clean_text(raw[rel - ls : end - ls].decode("utf-8", "replace")))
        return Hit(line, prefix, prefix + width)

    def index_at_line(self, line: int, forward: bool = True) -> int | None:
        """The first hit on or after absolute `line` (forward) or the last before it, wrapping."""
        if not self.starts:
            return None
        offset = self.buf.offset_of_line(line) + self.buf.dropped_bytes
        if forward:
            k = bisect_left(self.starts, offset)
            return k if k < len(self.starts) else 0
        k = bisect_left(self.starts, offset) - 1
        return k if k >= 0 else len(self.starts) - 1

    def on_lines(self, first: int, count: int) -> list[Hit]:
        """Hits on absolute lines [first, first+count): what a screen highlights."""
        base = self.buf.dropped_bytes
        lo = self.buf.offset_of_line(first) + base
        hi = self.buf.offset_of_line(first + count) + base
        out = []
        for k in range(bisect_left(self.starts, lo), bisect_left(self.starts, hi)):
            h = self.hit(k)
            if h is not None:
                out.append(h)
        return out

    def all(self) -> list[Hit]:
        return [h for k in range(len(self)) if (h := self.hit(k)) is not None]


def search(
    buf: Searchable, query: str, *, regex: bool = False, ignore_case: bool | None = None, since: int = 0
) -> Matches:
    """Every match of `query` in the held log from absolute byte `since`. Literal unless `regex`;
    case ignored when the query has no capital letter unless `ignore_case` says otherwise; ^ and
    $ match at line ends; a match never spans lines."""
    data = buf.raw_bytes()
    base = buf.dropped_bytes
    starts, ends = array("q"), array("q")
    if not query:
        return Matches(buf, starts, ends, base + len(data))
    if ignore_case is None:
        ignore_case = query == query.lower()
    flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)
    pattern = re.compile(query.encode() if regex else re.escape(query.encode()), flags)
    if not regex and _REMOVED.search(query.encode()):
        return Matches(buf, starts, ends, base + len(data))  # never in cleaned text
    begin = max(0, since - base)
    removed, rfind = _REMOVED, data.rfind
    for m in pattern.finditer(data, begin):
        s, e = m.span()
        if e == s:
            continue
        # Only an escape sequence can reach into the match from before it (sequence bodies hold
        # no ESC), so the last ESC on the line before the match is the only one to check.
        line_start = rfind(b"\n", 0, s) + 1
        esc = max(rfind(b"\x1b", line_start, s), rfind(b"\xc2\x9b", line_start, s))
        if esc >= 0 and (r := removed.match(data, esc)) is not None and r.end() > s:
            continue
        if regex and (b"\n" in data[s:e] or removed.search(data, s, e) is not None):
            continue  # a literal query holds nothing the sanitiser removes (checked above)
        starts.append(s + base)
        ends.append(e + base)
    return Matches(buf, starts, ends, base + len(data))
