"""How hosts and job tasks are grouped and drawn in a `GroupedView`."""

from __future__ import annotations

from collections.abc import Hashable
from operator import attrgetter
from typing import Any

from rich.text import Text

from bkwatch.model import Host, JobTask, State
from bkwatch.tui.fmt import STATE_STYLE, badge, clean, duration, fit, glyph

# Groups needing attention first, successes last (like BlueKing's execution page tabs).
SEVERITY: dict[State, int] = {
    State.FAILED: 0,
    State.STOPPED: 1,
    State.WAITING: 2,
    State.UNKNOWN: 3,
    State.RUNNING: 4,
    State.PENDING: 5,
    State.SUCCEEDED: 6,
}


def _count(n: int, total: int, noun: str) -> str:
    return f"{n} {noun}" if n == total else f"{n} of {total} {noun}"


def _header(
    state: State, parts: list[str], shown: int, total: int, open_: bool, noun: str, ascii_only: bool
) -> Text:
    arrow = ("v" if open_ else ">") if ascii_only else ("▾" if open_ else "▸")
    out = Text(f"{arrow} ", end="")
    out.append(f"{glyph(state, ascii_only)} ", style=STATE_STYLE[state])
    out.append(" · ".join(clean(p) for p in parts if p), style=STATE_STYLE[state])
    out.append(f"  ({_count(shown, total, noun)})")
    return out


class HostKind:
    """JOB step hosts: grouped by status, error code, exit code and tag."""

    noun = "hosts"

    def __init__(self, ascii_only: bool = False, nodeman: bool = False) -> None:
        self.ascii_only = ascii_only
        self.nodeman = nodeman

    def group(self, h: Host) -> tuple[tuple[Any, ...], Hashable]:
        if self.nodeman:
            g: tuple[Any, ...] = (h.state, h.status_text)
        else:
            g = (h.state, h.raw_status, h.status_text, h.error_code, h.exit_code, h.tag)
        return (SEVERITY[h.state], *(str(x) for x in g[1:])), g

    # `end` stands in for the elapsed time: it is fixed once a host is done, while a running
    # host's elapsed grows every poll and would repaint every row. attrgetter runs in C.
    sig = staticmethod(
        attrgetter("state", "status_text", "exit_code", "error_code", "error_text", "tag", "step", "end")
    )

    def bad(self, h: Host) -> bool:
        return h.state.is_bad

    def matches(self, h: Host, needle: str) -> bool:
        return any(
            needle in s.lower()
            for s in (h.key, h.error_text, h.status_text, h.tag, h.step, h.error_code or "")
        )

    def render_header(self, g: Hashable, sample: Host | None, shown: int, total: int, open_: bool) -> Text:
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

    def render_row(self, h: Host, width: int) -> Text:
        out = Text("    ", end="", no_wrap=True)
        out.append(fit(clean(h.ip), 15) + " ")
        out.append(fit(str(h.cloud_id), 4) + " ")
        out.append(badge(h.state, self.ascii_only))
        out.append(" " + fit(clean(h.status_text), 18) + " ")
        if self.nodeman:
            out.append(fit(clean(h.step), 18) + " ")
        else:
            out.append(fit("" if h.exit_code is None else f"exit {h.exit_code}", 8) + " ")
        err = ""
        if h.error_code not in (None, "", "0"):
            err = f"[{h.error_code}] "
        err += h.error_text
        out.append(fit(duration(h.elapsed) if h.state.is_done else "", 7) + " ")
        rest = max(10, width - out.cell_len - 1)
        out.append(fit(clean(err), rest), style="red" if h.state.is_bad else "")
        return out

    def copy_id(self, h: Host, with_cloud: bool) -> str | None:
        return f"{h.cloud_id}:{h.ip}" if with_cloud else h.ip

    def detail(self, h: Host) -> Text:
        out = Text(f"{clean(h.ip)} (cloud {h.cloud_id}) — {clean(h.status_text)}", end="")
        if h.error_code not in (None, "", "0") or h.error_text:
            out.append(f" — error {clean(h.error_code or '')} {clean(h.error_text)}".rstrip())
        if h.exit_code is not None:
            out.append(f" — exit code {h.exit_code}")
        if h.tag:
            out.append(f" — tag {clean(h.tag)}")
        if h.step:
            out.append(f" — step {clean(h.step)}")
        return out


class JobTaskKind:
    """GSEKit job tasks: grouped by status and error code."""

    noun = "tasks"

    def __init__(self, ascii_only: bool = False) -> None:
        self.ascii_only = ascii_only

    def group(self, jt: JobTask) -> tuple[tuple[Any, ...], Hashable]:
        g = (jt.state, jt.raw_state, jt.err_code)
        return (SEVERITY[jt.state], jt.raw_state, str(jt.err_code)), g

    def sig(self, jt: JobTask) -> tuple[Any, ...]:
        return (jt.state, jt.err_code, jt.failed_reason, jt.retryable, tuple(jt.solutions), jt.end)

    def bad(self, jt: JobTask) -> bool:
        return jt.state.is_bad

    def matches(self, jt: JobTask, needle: str) -> bool:
        return any(needle in s.lower() for s in (jt.ip, jt.process, jt.failed_reason, jt.id, *jt.solutions))

    def render_header(self, g: Hashable, sample: JobTask | None, shown: int, total: int, open_: bool) -> Text:
        assert isinstance(g, tuple)
        state, raw, err = g
        parts = [str(raw)]
        if err not in (None, "", "0"):
            parts.append(f"error {err}")
        return _header(state, parts, shown, total, open_, self.noun, self.ascii_only)

    def render_row(self, jt: JobTask, width: int) -> Text:
        out = Text("    ", end="", no_wrap=True)
        out.append(fit(clean(jt.ip), 15) + " ")
        out.append(fit("" if jt.cloud_id is None else str(jt.cloud_id), 4) + " ")
        out.append(fit(clean(jt.process), 16) + " ")
        out.append(badge(jt.state, self.ascii_only))
        retry = {True: "retryable", False: "final", None: ""}[jt.retryable]
        out.append(" " + fit(retry, 9) + " ")
        rest = max(10, width - out.cell_len - 1)
        out.append(fit(clean(jt.failed_reason), rest), style="red" if jt.state.is_bad else "")
        return out

    def copy_id(self, jt: JobTask, with_cloud: bool) -> str | None:
        if not jt.ip:
            return None
        return f"{jt.cloud_id}:{jt.ip}" if with_cloud and jt.cloud_id is not None else jt.ip

    def detail(self, jt: JobTask) -> Text:
        out = Text(f"{clean(jt.ip)} {clean(jt.process)} — {clean(jt.raw_state)}", end="")
        if jt.err_code not in (None, "", "0"):
            out.append(f" — error {clean(jt.err_code)}")
        if jt.failed_reason:
            out.append(f" — {clean(jt.failed_reason)}")
        if jt.retryable is not None:
            out.append(" — retryable" if jt.retryable else " — not retryable")
        for sol in jt.solutions:
            out.append(f"\n  • {clean(sol)}")
        return out
