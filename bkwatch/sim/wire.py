"""A bounded log of the requests the simulator received, as they arrived on the wire.

Tests read it to check what a client sends (no secret in any URL, which transport carried the
credentials); `bkwatch sim` keeps only the last few hundred.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from urllib.parse import unquote_plus

MAX_KEPT = 500


@dataclass(frozen=True, slots=True)
class WireRequest:
    method: str
    path: str
    query: str  # raw query string, percent-decoded
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def auth_header(self) -> str | None:
        return self.headers.get("x-bkapi-authorization")


class WireLog:
    def __init__(self, keep: int = MAX_KEPT) -> None:
        self._lock = threading.Lock()
        self._items: deque[WireRequest] = deque(maxlen=keep)

    def record(self, method: str, path: str, query: bytes, headers: dict[str, str], body: bytes) -> None:
        item = WireRequest(method, unquote_plus(path), unquote_plus(query.decode("latin-1")), headers, body)
        with self._lock:
            self._items.append(item)

    def requests(self) -> list[WireRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
