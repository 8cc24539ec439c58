"""Arguments of the task-operation commands (retry, skip, confirm, stop, pause, resume) and audit.

Light on purpose: it is imported whenever the parser is built (even for --help)."""

from __future__ import annotations

import argparse
from typing import Any

# command -> module holding cmd_<command>
HANDLERS = {verb: "actions_cmd" for verb in ("retry", "skip", "confirm", "stop", "pause", "resume", "audit")}
_EXIT_TEXT = (
    "The task is read again right before sending; the request is sent once and never repeated. "
    "Exit 0 done; 1 refused, by the server (its message and code) or by bkwatch (actions off, the "
    "task's state, no terminal without --yes); 2 error before sending (usage, configuration, the task "
    "unreadable); 3 unknown: sent, but the answer was lost or unreadable (reset, timeout, HTTP "
    "502/503/504, cut-off, malformed, HTML or oversized): the task is read once more and what it shows "
    "is said — look before trying again; 130 cancelled (No, Ctrl-C or end of input at the question). "
    "Every decision goes to the audit file (bkwatch audit)."
)


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, epilog=_EXIT_TEXT)
        p.add_argument("target", metavar="TARGET|URL")
        p.add_argument("--yes", action="store_true", help="do it without asking (needed without a terminal)")
        p.add_argument("--biz", help=argparse.SUPPRESS)
        return p

    retry = command("retry", "retry a failed JOB step's hosts or a failed SOPS / BKFlow node")
    where = retry.add_mutually_exclusive_group()
    where.add_argument("--step", metavar="STEP_ID", help="JOB step instance id (default: the failed step)")
    where.add_argument("--node", metavar="NODE_ID", help="SOPS / BKFlow node id (default: the failed node)")
    retry.add_argument("--all-hosts", action="store_true", help="JOB: retry every host, not only the failed")

    skip = command("skip", "JOB: ignore a failed step's error and go on; SOPS / BKFlow: skip a failed node")
    where = skip.add_mutually_exclusive_group(required=True)
    where.add_argument("--step", metavar="STEP_ID")
    where.add_argument("--node", metavar="NODE_ID")

    confirm = command("confirm", "JOB: confirm a manual step or continue a rolling step")
    confirm.add_argument("--step", metavar="STEP_ID", required=True)
    confirm.add_argument("--reject", action="store_true", help="refuse the manual step instead")

    command("stop", "JOB: terminate the job; SOPS / BKFlow: revoke the task (asks for the task id)")
    for verb in ("pause", "resume"):
        p = command(verb, f"SOPS / BKFlow: {verb} the task, or (SOPS) a node with --node")
        p.add_argument("--node", metavar="NODE_ID")

    audit = sub.add_parser("audit", parents=[common], help="show the record of task operations")
    audit.add_argument("--json", action="store_true", help="one JSON object per line, as recorded")
    audit.add_argument("--limit", type=int, default=None, metavar="N", help="only the last N")
