"""A task's story as Markdown (for a ticket or a chat) and as one self-contained HTML file (CSS and
an SVG timeline inline, nothing fetched). Every server text is cleaned (`clean_text`) and escaped
for where it goes: Markdown punctuation backslashed, HTML through `html.escape`."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable

from bkwatch.evidence.signatures import Cluster, examples
from bkwatch.model import System
from bkwatch.record.story import Story, Unit
from bkwatch.systems.registry import traits
from bkwatch.text import clean_text, one_line

LOG_LINES = 3  # first lines of a failure's text shown under its group
MAX_GROUPS = 20
MAX_MEMBERS = 12  # members named per group; the rest counted
MAX_BARS = 60
_DIGITS = re.compile(r"(\d+)")
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~]|(?<!\w)_|_(?!\w))")  # links, code, tables, HTML, emphasis


def md(text: object) -> str:
    return _MD_SPECIAL.sub(r"\\\1", one_line(clean_text(str(text))))


def h(text: object) -> str:
    return html.escape(clean_text(str(text)), quote=True)


def when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t is not None else "—"


def span(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def label_of(system: str) -> str:
    try:
        return traits(System(system)).label
    except ValueError:
        return system


def _business(story: Story) -> str:
    parts = story.target.split(":")
    return ":".join(parts[1:-1]) or "—"


def header_rows(story: Story) -> list[tuple[str, str]]:
    return [
        ("System", label_of(story.system)),
        ("Business / scope", _business(story)),
        ("Name", story.title),
        ("Link", story.target),
        ("Started by", story.started_by or f"not in {label_of(story.system)}'s answer"),
        ("Start", when(story.start)),
        ("End", when(story.end)),
        ("Duration", span(story.duration)),
        ("Outcome", story.outcome),
        ("Watched", _watched(story)),
    ]


def _watched(story: Story) -> str:
    if not story.recorded:
        return "not in the record: read live just now"
    seen = f"{when(story.first_seen)} – {when(story.last_seen)}" + (" (then read live)" if story.live else "")
    if story.unit_changes:
        seen += f"; {story.unit_changes:,} host changes recorded"
    return seen


def named(cluster: Cluster) -> list[str]:
    """The members a group names, in address order (0:10.2.0.6 before 0:10.2.0.11): only those,
    so a group of thousands costs what it shows."""
    return sorted(cluster.members[:MAX_MEMBERS], key=_natural)


def _natural(text: str) -> list[str | int]:
    """A sort key reading runs of digits as numbers (text at even places, numbers at odd ones)."""
    return [int(part) if i % 2 else part for i, part in enumerate(_DIGITS.split(text))]


def example(cluster: Cluster, reasons: dict[str, str]) -> list[str]:
    """The first lines of a group's first member's failure text (`examples`)."""
    return examples(cluster.signature, reasons.get(cluster.members[0], cluster.sample), LOG_LINES)


# -- Markdown -----------------------------------------------------------------------------------


def markdown(story: Story) -> str:
    out = [f"# {md(label_of(story.system))} {md(story.title)}: {md(story.outcome)}", ""]
    out += ["| | |", "|---|---|"]
    out += [f"| {k} | {md(v)} |" for k, v in header_rows(story)]
    out += ["", "## Timeline", ""]
    if story.bars:
        out += ["| Step / node | State | Start | Duration | |", "|---|---|---|---|---|"]
        bar = _text_bars(story)
        for u in story.bars[:MAX_BARS]:
            dur = (u.end - u.start) if u.start is not None and u.end is not None else None
            indent = "· " * max(0, u.depth - 1)
            out.append(
                f"| {indent}{md(u.name)} | {md(u.state)} | {when(u.start)} | {span(dur)} | `{bar(u)}` |"
            )
        if len(story.bars) > MAX_BARS:
            out.append(f"| … {len(story.bars) - MAX_BARS} more | | | | |")
    else:
        out.append("No steps or nodes recorded.")
    changes = [t for t in story.transitions if t["old"] is not None]
    if changes:
        out += ["", "State changes seen while watching:", ""]
        for t in changes[:MAX_BARS]:
            out.append(f"- {when(t['at'])} {md(t['level'])} {md(t['name'] or t['key'])}: "
                       f"{md(t['old'])} → {md(t['new'])}")  # fmt: skip
    out += ["", "## Failures", ""]
    clusters = story.clusters()
    if not clusters:
        out.append("None recorded.")
    reasons = story.reasons()
    for c in clusters[:MAX_GROUPS]:
        members = ", ".join(md(m) for m in named(c))
        more = f" and {c.count - MAX_MEMBERS} more" if c.count > MAX_MEMBERS else ""
        out += [f"**{c.count} × {md(c.signature)}**", "", f"{members}{more}", ""]
        lines = example(c, reasons)
        if lines:
            out += ["~~~text", *(line.replace("~~~", "~ ~ ~") for line in lines), "~~~", ""]
    if len(clusters) > MAX_GROUPS:
        out.append(f"… {len(clusters) - MAX_GROUPS} more groups")
    out += ["", "## Actions", ""]
    if not story.actions:
        out.append("None.")
    for a in story.actions:
        who = a["user"] or a["local_user"] or "?"
        extra = " ".join(md(x) for x in (a["by"], a["why"], a["code"], a["message"]) if x)
        out.append(f"- {when(a['at'])} {md(a['action'])} {md(a['subject'] or '')} by {md(who)}: "
                   f"**{md(a['result'])}** {extra}".rstrip())  # fmt: skip
    out += ["", "## Outages seen while watching", ""]
    if not story.outages:
        out.append("None.")
    for o in story.outages:
        end = when(o["end"]) if o["end"] is not None else "still unreachable"
        out.append(f"- {when(o['start'])} – {end}: {md(o['kind'])} {md(o['message'] or '')}".rstrip())
    return "\n".join(out) + "\n"


def _text_bars(story: Story, width: int = 24) -> Callable[[Unit], str]:
    """A unit's run as a bar of block characters on the task's time axis."""
    timed = [u for u in story.bars if u.start is not None]
    if not timed:
        return lambda u: ""
    t0 = min(u.start for u in timed if u.start is not None)
    t1 = max(max((u.end or story.last_seen or t0) for u in timed), t0 + 1)

    def bar(u: Unit) -> str:
        if u.start is None:
            return " " * width
        a = round((u.start - t0) / (t1 - t0) * width)
        b = max(a + 1, round(((u.end or story.last_seen or u.start) - t0) / (t1 - t0) * width))
        return ("·" * a + "█" * (b - a)).ljust(width, "·")[:width]

    return bar


# -- HTML ---------------------------------------------------------------------------------------

_COLOURS = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "stopped": "#6d4c41",
    "running": "#1565c0",
    "waiting": "#ef6c00",
    "pending": "#9e9e9e",
}
CSS = """
body{font:14px/1.45 system-ui,"Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif}
body{margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid #ddd}
table.head td{padding:2px 12px 2px 0;vertical-align:top}table.head td:first-child{color:#666}
.state{font-weight:600}.failed,.stopped{color:#c62828}.succeeded{color:#2e7d32}
.group{border:1px solid #e0e0e0;border-radius:6px;padding:8px 12px;margin:8px 0}
.group b{font-family:ui-monospace,monospace}pre{background:#f6f6f6;padding:6px 8px;overflow:auto;margin:6px 0}
ul{padding-left:20px}svg text{font:12px system-ui,sans-serif}.muted{color:#777}
"""


def timeline_svg(story: Story, width: int = 1000) -> str:
    units = [u for u in story.bars if u.start is not None][:MAX_BARS]
    if not units:
        return '<p class="muted">No timed steps or nodes recorded.</p>'
    t0 = min(u.start for u in units if u.start is not None)
    t1 = max((u.end or story.last_seen or u.start or t0) for u in units)
    t1 = max(t1, t0 + 1)
    name_w, row_h = 260, 22
    bar_w = width - name_w - 80
    scale: Callable[[float], float] = lambda t: name_w + (t - t0) / (t1 - t0) * bar_w  # noqa: E731
    rows = []
    for i, u in enumerate(units):
        y = 24 + i * row_h
        start = u.start if u.start is not None else t0
        end = u.end if u.end is not None else (story.last_seen or t1)
        x, x2 = scale(start), scale(max(end, start))
        colour = _COLOURS.get(u.state, "#757575")
        name = one_line(clean_text(u.name))
        short = name if len(name) <= 34 else name[:33] + "…"
        rows.append(
            f'<text x="{4 + 12 * max(0, u.depth - 1)}" y="{y + 14}">{h(short)}</text>'
            f'<rect x="{x:.1f}" y="{y + 3}" width="{max(2.0, x2 - x):.1f}" height="{row_h - 6}" '
            f'fill="{colour}" rx="3"><title>{h(name)}: {h(u.state)}, {h(span(end - start))}</title></rect>'
            f'<text x="{max(2.0, x2 - x) + x + 4:.1f}" y="{y + 14}" fill="#555">{h(span(end - start))}</text>'
        )
    height = 24 + len(units) * row_h + 8
    axis = (
        f'<text x="{name_w}" y="14" fill="#555">{h(when(t0))}</text>'
        f'<text x="{name_w + bar_w}" y="14" fill="#555" text-anchor="end">{h(when(t1))}</text>'
        f'<line x1="{name_w}" y1="18" x2="{name_w + bar_w}" y2="18" stroke="#bbb"/>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="timeline">{axis}{"".join(rows)}</svg>'
    )


def html_page(story: Story) -> str:
    head = "".join(
        f'<tr><td>{h(k)}</td><td class="{h(v) if k == "Outcome" else ""}">{h(v)}</td></tr>'
        for k, v in header_rows(story)
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{h(label_of(story.system))} {h(story.title)}</title><style>{CSS}</style></head><body>",
        f'<h1>{h(label_of(story.system))} {h(story.title)}: <span class="state {h(story.outcome)}">'
        f"{h(story.outcome)}</span></h1>",
        f'<table class="head">{head}</table>',
        "<h2>Timeline</h2>",
        timeline_svg(story),
    ]
    changes = [t for t in story.transitions if t["old"] is not None]
    if changes:
        items = "".join(
            f"<li>{h(when(t['at']))} {h(t['level'])} {h(t['name'] or t['key'])}: {h(t['old'])} → "
            f"{h(t['new'])}</li>"
            for t in changes[:MAX_BARS]
        )
        parts.append(f"<p>State changes seen while watching:</p><ul>{items}</ul>")
    parts.append("<h2>Failures</h2>")
    clusters = story.clusters()
    reasons = story.reasons()
    if not clusters:
        parts.append('<p class="muted">None recorded.</p>')
    for c in clusters[:MAX_GROUPS]:
        more = f" and {c.count - MAX_MEMBERS} more" if c.count > MAX_MEMBERS else ""
        lines = "\n".join(h(line) for line in example(c, reasons))
        parts.append(
            f'<div class="group"><b>{c.count} × {h(c.signature)}</b><div>'
            f"{h(', '.join(named(c)))}{h(more)}</div>" + (f"<pre>{lines}</pre>" if lines else "") + "</div>"
        )
    parts.append("<h2>Actions</h2>")
    if not story.actions:
        parts.append('<p class="muted">None.</p>')
    else:
        items = "".join(
            f"<li>{h(when(a['at']))} {h(a['action'])} {h(a['subject'] or '')} by "
            f"{h(a['user'] or a['local_user'] or '?')}: <b>{h(a['result'])}</b> "
            f"{h(' '.join(str(x) for x in (a['by'], a['why'], a['code'], a['message']) if x))}</li>"
            for a in story.actions
        )
        parts.append(f"<ul>{items}</ul>")
    parts.append("<h2>Outages seen while watching</h2>")
    if not story.outages:
        parts.append('<p class="muted">None.</p>')
    else:
        items = "".join(
            f"<li>{h(when(o['start']))} – "
            f"{h(when(o['end']) if o['end'] is not None else 'still unreachable')}: "
            f"{h(o['kind'])} {h(o['message'] or '')}</li>"
            for o in story.outages
        )
        parts.append(f"<ul>{items}</ul>")
    parts.append(f'<p class="muted">bkwatch report, {h(when(time.time()))}</p></body></html>')
    return "\n".join(parts) + "\n"
