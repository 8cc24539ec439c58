"""A bounded in-memory log: UTF-8 bytes held once, lines cut and sanitised only when shown.

A JOB host log can be several megabytes. Holding it as bytes costs its size once (a `str` with
one CJK character costs two bytes a character); counting lines is one C pass; the last screen is
found by scanning backwards from the end, so opening a log costs what is shown, not what was
sent. Lines are decoded and cleaned (`text.clean_text`) when asked for; a full line index is
built only when a line far from the end is wanted. Past `max_bytes` whole lines are dropped
from the start and counted, so the view can say older output was dropped.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right

from bkwatch.evidence.logsearch import Hit, Matches, search
from bkwatch.text import clean_text

__all__ = ["Hit", "LogBuffer", "Matches"]

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
NL = 10


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

    # -- positions, for search ------------------------------------------------------------------
    def raw_bytes(self, start: int = 0, end: int | None = None) -> bytes | bytearray:
        """Held bytes (offsets relative to what is held); the whole buffer itself when unsliced."""
        if start == 0 and end is None:
            return self._buf
        return self._buf[start:end]

    def line_at(self, offset: int) -> tuple[int, int, int]:
        """(absolute line number, start, end) of the line holding byte `offset` (relative)."""
        index = self._build_index()
        i = bisect_right(index, offset) - 1
        start, end = self._span(i)
        return self.dropped_lines + i, start, end

    def offset_of_line(self, line: int) -> int:
        """Relative byte offset where absolute `line` starts (clipped to what is held)."""
        i = line - self.dropped_lines
        if i <= 0:
            return 0
        index = self._build_index()
        return index[i] if i < len(index) else len(self._buf)

    def search(
        self, query: str, *, regex: bool = False, ignore_case: bool | None = None, since: int = 0
    ) -> Matches:
        """Every match of `query` (see `logsearch.search`)."""
        return search(self, query, regex=regex, ignore_case=ignore_case, since=since)
