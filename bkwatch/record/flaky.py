"""Hosts that failed in more than one recorded task (`bkwatch hosts --flaky`)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field


@dataclass
class FlakyHost:
    host: str  # "CLOUD:IP" (or the IP a GSEKit row gave)
    tasks: list[str] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)
    signature: str = ""  # the most frequent one
    signature_count: int = 0
    last: float = 0.0

    @property
    def count(self) -> int:
        return len(self.tasks)

    def to_dict(self) -> dict[str, object]:
        return {
            "host": self.host,
            "count": self.count,
            "systems": self.systems,
            "tasks": self.tasks,
            "signature": self.signature,
            "signature_count": self.signature_count,
            "last": self.last,
        }


def flaky_hosts(conn: sqlite3.Connection, since: float, *, minimum: int = 2) -> list[FlakyHost]:
    """Hosts with failures in at least `minimum` tasks since `since`, most tasks first (counted
    by SQLite: 30 days of a busy team is over 100,000 failure rows)."""
    found: dict[str, FlakyHost] = {}
    for host, tasks, last in conn.execute(
        "SELECT host, group_concat(DISTINCT target), max(at) FROM failures "
        "WHERE host IS NOT NULL AND at >= ? GROUP BY host HAVING count(DISTINCT target) >= ?",
        (since, minimum),
    ):
        targets = sorted(tasks.split(","))
        systems = sorted({t.split(":", 1)[0] for t in targets})
        found[host] = FlakyHost(host, targets, systems, last=last)
    if not found:
        return []
    best: dict[str, tuple[int, str]] = {}
    for host, sig, n in conn.execute(
        "SELECT host, signature, count(DISTINCT target) FROM failures WHERE host IS NOT NULL AND at >= ? "
        "GROUP BY host, signature",
        (since,),
    ):
        item = found.get(host)
        if item is not None and (n, sig or "") > best.get(host, (0, "")):
            best[host] = (n, sig or "")
            item.signature_count, item.signature = n, sig or ""
    return sorted(found.values(), key=lambda f: (-f.count, -f.last, f.host))
