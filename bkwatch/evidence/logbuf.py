"""A bounded in-memory log: UTF-8 bytes held once, lines cut and sanitised only when shown.

A JOB host log can be several megabytes. Holding it as bytes costs its size once (a `str` with
one CJK character costs two bytes a character); counting lines is one C pass; the last screen is
found by scanning backwards from the end, so opening a log costs what is shown, not what was
sent. Lines are decoded and cleaned (`text.clean_text`) when asked for; a full line index is
built only when a line far from the end is wanted. Past `max_bytes` whole lines are dropped
from the start and counted, so the view can say older output was dropped.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from dataclasses import dataclass

from bkwatch.text import clean_text

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
NL = 10
# A line made only of printable ASCII and tabs needs no cleaning: what was matched is what is shown.
_NOT_PLAIN = re.compile(rb"[^\t\x20-\x7e]")


@dataclass(frozen=True, slots=True)
class Hit:
    line: int  # absolute line number, 0-based (dropped lines count)
    start: int  # columns in the cleaned line
    end: int


class LogBuffer:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buf = bytearray()
        self._nl = 0  # newlines held
        self._index: array[int] | None = None  # line start offsets, built on demand
        self.dropped_lines = 0
        self.dropped_bytes = 0

    # -- filling ---------------------------------------------------------------------------------
    def append(self, text: str | bytes) -> None:
        """Add raw server text (untrusted; cleaned when read back)."""
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
        if not data:
            return
        old = len(self._buf)
        self._buf += data
        self._nl += data.count(b"\n")
        if self._index is not None:
            self._extend_index(old)
        if len(self._buf) > self.max_bytes:
            self._drop(len(self._buf) - self.max_bytes * 9 // 10)

    def _drop(self, at_least: int) -> None:
        buf = self._buf
        cut = buf.find(b"\n", at_least - 1)
        cut = len(buf) if cut < 0 else cut + 1
        newlines = buf.count(b"\n", 0, cut)
        self.dropped_lines += newlines + (1 if cut == len(buf) and buf[-1] != NL else 0)
        self.dropped_bytes += cut
        self._nl -= newlines
        del buf[:cut]
        self._index = None

    def _extend_index(self, old: int) -> None:
        """Starts of the lines that `append` completed or began after offset `old`."""
        index = self._index
        assert index is not None
        buf = self._buf
        end = len(buf)
        pos = buf.find(b"\n", max(0, old - 1))
        while pos >= 0 and pos + 1 < end:
            if pos + 1 > index[-1]:
                index.append(pos + 1)
            pos = buf.find(b"\n", pos + 1)

    def _build_index(self) -> array[int]:
        if self._index is None:
            starts = array("q", [0])
            buf = self._buf
            find = buf.find
            pos = find(b"\n")
            end = len(buf)
            while pos >= 0 and pos + 1 < end:
                starts.append(pos + 1)
                pos = find(b"\n", pos + 1)
            self._index = starts
        return self._index

    # -- reading ---------------------------------------------------------------------------------
    @property
    def truncated(self) -> bool:
        """Older output was dropped to stay within `max_bytes`."""
        return self.dropped_lines > 0

    @property
    def nbytes(self) -> int:
        return len(self._buf)

    def __len__(self) -> int:
        """Lines held (an unfinished last line counts)."""
        if not self._buf:
            return 0
        return self._nl + (0 if self._buf[-1] == NL else 1)

    @property
    def first_line(self) -> int:
        """Absolute number (0-based) of the first line held."""
        return self.dropped_lines

    @property
    def end_line(self) -> int:
        return self.dropped_lines + len(self)

    def _span(self, i: int) -> tuple[int, int]:
        index = self._build_index()
        start = index[i]
        end = index[i + 1] - 1 if i + 1 < len(index) else len(self._buf)
        if end > start and self._buf[end - 1] == NL:
            end -= 1
        return start, end

    def raw_line(self, line: int) -> str:
        """Line `line` (absolute) as the server sent it, decoded; not safe to show."""
        i = line - self.dropped_lines
        if not 0 <= i < len(self):
            raise IndexError(line)
        s, e = self._span(i)
        return self._buf[s:e].decode("utf-8", "replace")

    def line(self, line: int) -> str:
        """Line `line` (absolute), cleaned: safe to show as plain text (colours removed too)."""
        return clean_text(self.raw_line(line)).replace("\n", " ")

    def lines(self, start: int, count: int) -> list[str]:
        """Cleaned lines [start, start+count) (absolute numbers), clipped to what is held."""
        lo = max(start, self.dropped_lines)
        hi = min(start + count, self.end_line)
        return [self.line(n) for n in range(lo, hi)]

    def tail(self, count: int) -> tuple[int, list[str]]:
        """(absolute number of the first, cleaned lines) of the last `count` lines, without
        building the index: what opening a log at its end costs."""
        buf = self._buf
        end = len(buf)
        if end and buf[end - 1] == NL:
            end -= 1
        spans: list[tuple[int, int]] = []
        while len(spans) < count and end >= 0 and (spans or buf):
            nl = buf.rfind(b"\n", 0, end)
            spans.append((nl + 1, end))
            if nl < 0:
                break
            end = nl
        spans.reverse()
        first = self.end_line - len(spans)
        return first, [clean_text(buf[s:e].decode("utf-8", "replace")) for s, e in spans]

    def text(self) -> str:
        """Everything held, cleaned."""
        return clean_text(self._buf.decode("utf-8", "replace"))

    def search(self, query: str, *, regex: bool = False, ignore_case: bool | None = None) -> list[Hit]:
        """Every match of `query` in the cleaned lines, in order. Literal unless `regex`; case
        ignored when the query has no capital letter unless `ignore_case` says otherwise.
        Matches are found in the held bytes in one pass; lines that are not plain ASCII are
        cleaned and searched again, so a match inside a removed escape sequence is not a hit
        (a match that only appears once escapes are removed is not found either)."""
        if not query:
            return []
        if ignore_case is None:
            ignore_case = query == query.lower()
        flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)  # ^ and $ at line ends
        text_pat = re.compile(query if regex else re.escape(query), flags)
        byte_pat = re.compile(query.encode() if regex else re.escape(query.encode()), flags)
        buf = self._buf
        hits: list[Hit] = []
        line = self.dropped_lines
        counted_to = 0
        skip_to = -1
        for m in byte_pat.finditer(buf):
            pos = m.start()
            if pos < skip_to:
                continue  # this line was handled already (re-searched as text)
            line += buf.count(b"\n", counted_to, pos)
            counted_to = pos
            ls = buf.rfind(b"\n", 0, pos) + 1
            le = buf.find(b"\n", pos)
            le = len(buf) if le < 0 else le
            if m.end() > le:
                continue  # a regex spanning lines: not a line match
            if _NOT_PLAIN.search(buf, ls, le) is None:
                hits.append(Hit(line, pos - ls, m.end() - ls))
                continue
            clean = clean_text(buf[ls:le].decode("utf-8", "replace"))
            hits.extend(
                Hit(line, t.start(), t.end()) for t in text_pat.finditer(clean) if t.end() > t.start()
            )
            skip_to = le + 1
        return hits

    def line_of_hit(self, hits: list[Hit], line: int, forward: bool = True) -> int | None:
        """Index in `hits` of the next (or previous) hit after (before) absolute `line`."""
        lines = [h.line for h in hits]
        if forward:
            k = bisect_right(lines, line)
            return k if k < len(hits) else (0 if hits else None)
        k = bisect_right(lines, line - 1) - 1
        return k if k >= 0 else (len(hits) - 1 if hits else None)
