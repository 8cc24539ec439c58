"""How hosts and job tasks are grouped and drawn in a `GroupedView`."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from rich.text import Text

from bkwatch.model import Host, JobTask, State
from bkwatch.text import one_line
from bkwatch.tui.widgets.fmt import (
    BADGE_WIDTH,
    CLOUD_WIDTH,
    PROCESS_WIDTH,
    RETRY_WIDTH,
    STATE_STYLE,
    badge_part,
    duration,
    fit,
    glyph,
)
from bkwatch.tui.widgets.lines import Parts

if TYPE_CHECKING:
    from bkwatch.tui.replay.port import HostNote

# Groups needing attention first, successes last (like BlueKing's execution page tabs).
SEVERITY: dict[State, int] = {
    State.FAILED: 0,
    State.STOPPED: 1,
    State.WAITING: 2,
    State.UNKNOWN: 3,
    State.RUNNING: 4,
    State.PENDING: 5,
    State.SUCCEEDED: 6,
    State.NOT_RUN: 7,
}


def _count(n: int, total: int, noun: str) -> str:
    """'1 host', '12 hosts', '3 of 40 hosts' (noun is the singular)."""
    word = noun if total == 1 else noun + "s"
    return f"{n} {word}" if n == total else f"{n} of {total} {word}"


def _header(
    state: State, parts: list[str], shown: int, total: int, open_: bool, noun: str, ascii_only: bool
) -> Text:
    arrow = ("v" if open_ else ">") if ascii_only else ("▾" if open_ else "▸")
    out = Text(f"{arrow} ", end="")
    out.append(f"{glyph(state, ascii_only)} ", style=STATE_STYLE[state])
    out.append(" · ".join(one_line(p) for p in parts if p), style=STATE_STYLE[state])
    out.append(f"  ({_count(shown, total, noun)})")
    return out


# What a copied host id may hold: IPv4 / IPv6 addresses (with a zone), host names, the adapters'
# "host-<id>" stand-in and NodeMan's comma-separated multi-NIC lists. Anything else a server put
# in an IP field ("10.0.0.1; rm -rf ~") stays off the clipboard, which is pasted into shells.
_ADDRESS = re.compile(r"[0-9A-Za-z.:%_,-]{1,255}")


def copyable(ip: str) -> bool:
    return _ADDRESS.fullmatch(ip) is not None


_JOB_GROUP = ("state", "raw_status", "status_text", "error_code", "exit_code", "tag")
_NODEMAN_GROUP = ("state", "status_text")


class HostKind:
    """JOB step hosts: grouped by status, error code, exit code and tag."""

    noun = "host"

    def __init__(self, ascii_only: bool = False, nodeman: bool = False) -> None:
        self.ascii_only = ascii_only
        self.nodeman = nodeman
        # Group keys are built in C: a poll regroups only the hosts that changed, but fast.
        self.group = attrgetter(*_NODEMAN_GROUP) if nodeman else attrgetter(*_JOB_GROUP)
        # Only the fields a row of this kind shows (NodeMan hosts have no exit code or tag).
        self.sig = self._nodeman_sig if nodeman else self._job_sig
        # What the record says of a failing host (its line: "3rd in 7d, same sig", its info line:
        # "3rd failure in 7 days, same signature"): set by the monitor when it keeps a record
        # (tui/replay/control.py); the note is None until known.
        self.past: Callable[[Host], HostNote | None] | None = None

    @staticmethod
    def order(g: Hashable) -> tuple[Any, ...]:
        assert isinstance(g, tuple)
        return (SEVERITY[g[0]], *map(str, g[1:]))

    # `end` stands in for the elapsed time: it is fixed once a host is done, while a running
    # host's elapsed grows every poll and would repaint every row. attrgetter runs in C.
    # Every field of the group key is in the signature: a row whose group changed is one that
    # changed, or it stays in its old group.
    _job_sig = attrgetter(
        "state", "raw_status", "status_text", "exit_code", "error_code", "error_text", "tag", "end"
    )
    _nodeman_sig = attrgetter("state", "status_text", "error_code", "error_text", "step", "end")

    def bad(self, h: Host) -> bool:
        return h.state.is_bad

    @staticmethod
    def bad_group(g: Hashable) -> bool:
        assert isinstance(g, tuple)
        return g[0].is_bad  # the state leads every group key

    def matches(self, h: Host, needle: str) -> bool:
        return any(
            needle in s.lower()
            for s in (h.key, h.error_text, h.status_text, h.tag, h.step, h.error_code or "")
        )

    def render_header(self, g: Hashable, shown: int, total: int, open_: bool) -> Text:
        assert isinstance(g, tuple)
        state = g[0]
        if self.nodeman:
            parts = [str(g[1])]
        else:
            _, raw, words, err, exit_code, tag = g
            parts = [f"{words} ({raw})"]
            if exit_code not in (None, 0):
                parts.append(f"exit {exit_code}")
            if err not in (None, "", "0"):
                parts.append(f"error {err}")
            if tag:
                parts.append(f"tag {tag}")
        return _header(state, parts, shown, total, open_, self.noun, self.ascii_only)

    def render_row(self, h: Host, width: int) -> Parts:
        code = _exit_code(h)
        exit_text = "" if code is None else f"exit {code}"
        head = (
            f"    {fit(one_line(h.ip), 15)} {fit(str(h.cloud_id), CLOUD_WIDTH)} ",
            f" {fit(one_line(h.status_text), 18)} "
            + (fit(one_line(h.step), 18) if self.nodeman else fit(exit_text, 8))
            + f" {fit(duration(h.elapsed, True) if h.state.is_done else '', 7)} ",
        )
        err = f"[{h.error_code}] " if h.error_code not in (None, "", "0") else ""
        err += h.error_text
        note = self.past(h) if self.past is not None and h.state.is_bad else None
        if note is not None:  # first: a narrow pane cuts the end of the error, never this
            err = f"{note.short()} · {err}"
        rest = max(
            10, width - 4 - 16 - (CLOUD_WIDTH + 1) - BADGE_WIDTH - 20 - (19 if self.nodeman else 9) - 8 - 1
        )
        return [
            (head[0], ""),
            badge_part(h.state, self.ascii_only),
            (head[1], ""),
            (fit(one_line(err), rest), "red" if h.state.is_bad else ""),
        ]

    def copy_id(self, h: Host, with_cloud: bool) -> str | None:
        if not copyable(h.ip):
            return None
        return f"{h.cloud_id}:{h.ip}" if with_cloud else h.ip

    def detail(self, h: Host) -> Text:
        out = Text(f"{one_line(h.ip)} (cloud {h.cloud_id}) — {one_line(h.status_text)}", end="")
        if h.error_code not in (None, "", "0") or h.error_text:
            out.append(f" — error {one_line(h.error_code or '')} {one_line(h.error_text)}".rstrip())
        code = _exit_code(h)
        if code is not None:
            out.append(f" — exit code {code}")
        if h.tag:
            out.append(f" — tag {one_line(h.tag)}")
        if h.step:
            out.append(f" — step {one_line(h.step)}")
        note = self.past(h) if self.past is not None and h.state.is_bad else None
        if note is not None:
            out.append(f" — {note.text()} (H: its past)", style="yellow")
        return out


def _exit_code(h: Host) -> int | None:
    """The exit code worth showing: a host's script has one once it ended. JOB answers 0 for
    a host still waiting or running, and for one that failed before its script could say
    anything (agent error, timeout): each read as a script that had exited well."""
    if not h.state.is_done or (h.exit_code == 0 and h.state.is_bad):
        return None
    return h.exit_code


class JobTaskKind:
    """GSEKit job tasks: grouped by status and error code."""

    noun = "task"

    def __init__(self, ascii_only: bool = False) -> None:
        self.ascii_only = ascii_only

    group = staticmethod(attrgetter("state", "raw_state", "err_code"))

    @staticmethod
    def order(g: Hashable) -> tuple[Any, ...]:
        assert isinstance(g, tuple)
        return (SEVERITY[g[0]], str(g[1]), str(g[2]))

    def sig(self, jt: JobTask) -> tuple[Any, ...]:
        return (
            jt.state,
            jt.raw_state,
            jt.err_code,
            jt.failed_reason,
            jt.retryable,
            tuple(jt.solutions),
            jt.end,
        )

    def bad(self, jt: JobTask) -> bool:
        return jt.state.is_bad

    @staticmethod
    def bad_group(g: Hashable) -> bool:
        assert isinstance(g, tuple)
        return g[0].is_bad  # the state leads every group key

    def matches(self, jt: JobTask, needle: str) -> bool:
        return any(needle in s.lower() for s in (jt.ip, jt.process, jt.failed_reason, jt.id, *jt.solutions))

    def render_header(self, g: Hashable, shown: int, total: int, open_: bool) -> Text:
        assert isinstance(g, tuple)
        state, raw, err = g
        parts = [str(raw)]
        if err not in (None, "", "0"):
            parts.append(f"error {err}")
        return _header(state, parts, shown, total, open_, self.noun, self.ascii_only)

    def render_row(self, jt: JobTask, width: int) -> Parts:
        cloud = "" if jt.cloud_id is None else str(jt.cloud_id)
        retry = {True: "yes", False: "no", None: ""}[jt.retryable]
        rest = max(
            10, width - 4 - 16 - (CLOUD_WIDTH + 1) - (PROCESS_WIDTH + 1) - BADGE_WIDTH - (RETRY_WIDTH + 2) - 1
        )
        process = fit(one_line(jt.process), PROCESS_WIDTH)
        return [
            (f"    {fit(one_line(jt.ip), 15)} {fit(cloud, CLOUD_WIDTH)} {process} ", ""),
            badge_part(jt.state, self.ascii_only),
            (f" {fit(retry, RETRY_WIDTH)} ", ""),
            (fit(one_line(jt.failed_reason), rest), "red" if jt.state.is_bad else ""),
        ]

    def copy_id(self, jt: JobTask, with_cloud: bool) -> str | None:
        if not copyable(jt.ip):
            return None
        return f"{jt.cloud_id}:{jt.ip}" if with_cloud and jt.cloud_id is not None else jt.ip

    def detail(self, jt: JobTask) -> Text:
        out = Text(f"{one_line(jt.ip)} {one_line(jt.process)} — {one_line(jt.raw_state)}", end="")
        if jt.err_code not in (None, "", "0"):
            out.append(f" — error {one_line(jt.err_code)}")
        if jt.failed_reason:
            out.append(f" — {one_line(jt.failed_reason)}")
        if jt.retryable is not None:
            out.append(" — retryable" if jt.retryable else " — not retryable")
        for sol in jt.solutions:
            out.append(f"\n  • {one_line(sol)}")
        return out
