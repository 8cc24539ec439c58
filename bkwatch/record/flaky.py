"""Hosts that failed in more than one recorded task (`bkwatch hosts --flaky`)."""

from __future__ import annotations

import sqlite3
from collections import Counter
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
    """Hosts with failures in at least `minimum` tasks since `since`, most tasks first."""
    rows = conn.execute(
        "SELECT host, target, signature, at FROM failures WHERE host IS NOT NULL AND at >= ? AND host IN "
        "(SELECT host FROM failures WHERE host IS NOT NULL AND at >= ? GROUP BY host "
        "HAVING count(DISTINCT target) >= ?) ORDER BY host, at",
        (since, since, minimum),
    ).fetchall()
    found: dict[str, FlakyHost] = {}
    sigs: dict[str, Counter[str]] = {}
    for host, target, sig, at in rows:
        item = found.get(host)
        if item is None:
            item = found[host] = FlakyHost(host)
            sigs[host] = Counter()
        if target not in item.tasks:
            item.tasks.append(target)
            sigs[host][sig or ""] += 1
        system = target.split(":", 1)[0]
        if system not in item.systems:
            item.systems.append(system)
        item.last = max(item.last, at)
    for host, item in found.items():
        item.signature, item.signature_count = sigs[host].most_common(1)[0]
    return sorted(found.values(), key=lambda f: (-f.count, -f.last, f.host))
