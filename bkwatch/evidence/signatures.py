"""Failure signatures: every failing host's log reduced to its last meaningful error lines with
the varying parts masked, and hosts (or SOPS/BKFlow nodes, by ex_data) grouped by it. Which logs
each system reads for them is its own (`systems/<name>/evidence.py`: `signatures`).

Only the tail of a log is read (`TAIL_LINES`), so 500 logs of 50 KB cost little more than
parsing the answers that carried them. JOB logs are fetched in batches of at most 500 hosts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bkwatch.model import BkError, System
from bkwatch.text import clean_text, one_line

TAIL_LINES = 20  # lines read from the end of a log
LINE_CHARS = 1000  # of each, before cleaning
MAX_LINES = 2  # error lines kept in a signature
MAX_HOSTS = 10_000  # failing hosts read per JOB step; the rest are "unread"
# Words that make a line an error line, searched in the lowered line (a case-sensitive search of
# a lowered line is several times faster than a case-insensitive one).
_ERROR_WORDS = (
    "error", "fail", "fatal", "denied", "refused", "not found", "no such", "no space", "timed out",
    "timeout", "exception", "traceback", "panic", "killed", "cannot", "can't", "unable", "invalid",
    "错误", "失败", "异常", "超时", "拒绝", "不存在",
)  # fmt: skip
_ERRORISH = re.compile("|".join(map(re.escape, _ERROR_WORDS)))


def _errorish(line: str) -> bool:
    return _ERRORISH.search(line.lower()) is not None


_LEADING_STAMP = re.compile(r"^\s*\[[^\]]{0,40}\d{2}:\d{2}:\d{2}[^\]]{0,20}\]\s*")
# Masks, in order: the first that matches a span wins it.
_MASKS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|\s?[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),
    (re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE), "<url>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<ip>"),
    (
        re.compile(r"(?<![\w:.])(?=[0-9a-f:]*[0-9a-f])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])", re.I),
        "<ip>",
    ),
    (re.compile(r"(?:(?<=[\s'\"(=,:])|^)(?:~|\.{1,2})?/[^\s'\":,;()\[\]]*"), "<path>"),
    (re.compile(r"\b(?:0x)?(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.IGNORECASE), "<hex>"),
    (
        re.compile(
            r"\b\d+(?:\.\d+)?\s?(?:ms|milliseconds?|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|秒|分钟|小时)\b",
            re.IGNORECASE,
        ),
        "<dur>",
    ),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
]


def mask(line: str) -> str:
    """Numbers, IPs, paths, hex ids, times and durations replaced by placeholders."""
    for pattern, repl in _MASKS:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def error_lines(raw: str) -> list[str]:
    """The last meaningful error lines of a log: the last block of (at most MAX_LINES) lines that
    look like errors, cleaned, leading timestamps removed; the last non-empty line when none does.
    Only the last `TAIL_LINES` lines are read, each cut to `LINE_CHARS` before cleaning: a
    signature costs the same for 1 KB or 5 MB."""
    picked: list[str] = []
    last: str | None = None
    pos = len(raw)
    for _ in range(TAIL_LINES):
        if pos <= 0:
            break
        nl = raw.rfind("\n", 0, pos)
        piece = raw[nl + 1 : pos][:LINE_CHARS]
        pos = nl
        if not piece.strip():
            continue
        line = _LEADING_STAMP.sub("", " ".join(clean_text(piece).split()))
        if not line:
            continue
        if last is None:
            last = line
        if _errorish(line):
            picked.append(line)
            if len(picked) == MAX_LINES:
                break
        elif picked:
            break  # the last block of error lines ends here
    if not picked:
        return [last] if last is not None else []
    picked.reverse()
    return picked


def signature(raw: str) -> tuple[str, str]:
    """(signature, sample): masked error lines joined, and the same lines unmasked."""
    lines = error_lines(raw)
    if not lines:
        return "(empty log)", ""
    masked = list(dict.fromkeys(mask(x[:500]) for x in lines))  # the same error twice is one
    return " | ".join(masked), "\n".join(x[:500] for x in lines)


@dataclass(slots=True)
class Cluster:
    signature: str
    sample: str
    members: list[str] = field(default_factory=list)  # host keys "CLOUD:IP" or node ids
    steps: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.members)


@dataclass(slots=True)
class Signatures:
    target: str
    system: System
    clusters: list[Cluster]
    read: int  # logs read
    unread: int  # failing hosts/nodes whose log could not be read
    unread_reasons: dict[str, int] = field(default_factory=dict)  # reason -> count
    member_key: str = "hosts"  # what the members are, in JSON: "hosts" or "nodes"

    def to_dict(self) -> dict[str, Any]:
        member_key = self.member_key
        return {
            "target": self.target,
            "clusters": [
                {
                    "signature": c.signature,
                    "count": c.count,
                    member_key: c.members,
                    "sample": c.sample,
                    "steps": c.steps,
                }
                for c in self.clusters
            ],
            "read": self.read,
            "unread": self.unread,
        }


def examples(signature: str, text: str, limit: int) -> list[str]:
    """A group's example (`text`: a member's failure text, or the group's sample) as up to `limit`
    lines; none when it only repeats the signature ("script timeout" under "script timeout")."""
    lines = [one_line(line) for line in clean_text(text).splitlines() if line.strip()][:limit]
    return [] if lines == [one_line(signature)] else lines


def group(items: Iterable[tuple[str, str | None, str]]) -> list[Cluster]:
    """(member, step, raw text) -> clusters, biggest first (ties: first seen first)."""
    clusters: dict[str, Cluster] = {}
    for member, step, raw in items:
        sig, sample = signature(raw)
        c = clusters.get(sig)
        if c is None:
            c = clusters[sig] = Cluster(sig, sample)
        if member not in c.members:
            c.members.append(member)
        if step is not None and step not in c.steps:
            c.steps.append(step)
    return sorted(clusters.values(), key=lambda c: -c.count)


def reason_of(exc: BkError) -> str:
    return str(exc.kind)
