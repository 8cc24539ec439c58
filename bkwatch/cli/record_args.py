"""The arguments of `report` and `hosts` (their commands are `record_cmd.py`)."""

from __future__ import annotations

import argparse
from typing import Any

DEMO_HELP = "the demo's own record (kept apart from yours; implies --offline for report)"


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    report = sub.add_parser(
        "report", parents=[common], help="the story of one task from the record (Markdown, HTML)"
    )
    report.add_argument("--demo", action="store_true", help=DEMO_HELP)
    report.add_argument("target", metavar="TARGET|URL")
    report.add_argument("--md", action="store_true", help="print Markdown (the default without --html)")
    report.add_argument("--html", metavar="FILE", help="write one self-contained HTML file")
    report.add_argument(
        "--offline", action="store_true", help="from the record only, even if the task is still running"
    )
    report.add_argument("--biz", help="business id for links that carry none")
    report.add_argument("--biz-set", help="business set id for JOB api_execute links")
    replay = sub.add_parser(
        "replay",
        parents=[common],
        help="a recorded task replayed in the monitor's panes, offline (plain text into a pipe)",
    )
    replay.add_argument("target", metavar="TARGET|URL")
    replay.add_argument("--demo", action="store_true", help=DEMO_HELP)
    replay.add_argument("--text", action="store_true", help="print the changes as text, even on a terminal")
    replay.add_argument("--biz", help="business id for links that carry none")
    replay.add_argument("--biz-set", help="business set id for JOB api_execute links")
    hosts = sub.add_parser("hosts", parents=[common], help="hosts from the record (--flaky)")
    hosts.add_argument(
        "--flaky", action="store_true", required=True, help="hosts that failed in more than one task"
    )
    hosts.add_argument("--since", default="7d", metavar="DURATION", help="how far back (7d; 12h, 30m…)")
    hosts.add_argument("--min", type=int, default=2, metavar="N", help="failed in at least N tasks (2)")
    hosts.add_argument("--json", action="store_true")
    hosts.add_argument("--demo", action="store_true", help=DEMO_HELP)
