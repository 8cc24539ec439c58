"""The `bkwatch` command line: the live monitor, watch lists, one-shot status and wait.

Heavier pieces (HTTP client, adapters, poller, TUI, simulator) are imported inside the commands
that need them, so list editing and `--help` stay fast and work even without the TUI.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from bkwatch import __version__, defer_gc, resume_gc, tune_gc
from bkwatch.cli.action_args import HANDLERS as ACTION_HANDLERS
from bkwatch.cli.action_args import add_parsers as add_action_parsers
from bkwatch.cli.common import (
    EXIT_ERROR,
    EXIT_FAILED,
    PROG,
    UsageError,
    biz_arg,
    check_server,
    check_watch_list,
    err,
    known_error,
    label_arg,
    load_cli_profile,
    no_screen,
)
from bkwatch.cli.record_args import add_parsers as add_record_parsers
from bkwatch.cli.scope_cmd import add_scope_options

_VALUE_OPTS = ("--profile", "--list")
# The module holding each command's `cmd_<name>`.
_HANDLERS = {
    "add": "lists",
    "ls": "lists",
    "rm": "lists",
    "status": "query",
    "wait": "query",
    "config": "config_cmd",
    "logs": "evidence_cmd",
    "why": "evidence_cmd",
    "report": "record_cmd",
    "hosts": "record_cmd",
    "replay": "record_cmd",
}
_HANDLERS.update(ACTION_HANDLERS)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


# -- arguments ----------------------------------------------------------------------------------


def _globals(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options accepted before and after the command; after it they only override when given."""

    def d(default: object) -> dict[str, object]:
        return {"default": argparse.SUPPRESS if suppress else default}

    p.add_argument("--profile", metavar="P", help="configuration profile", **d(None))
    p.add_argument("--list", metavar="NAME", dest="list_name", help="watch list name", **d("default"))
    p.add_argument("--ascii", action="store_true", help="ASCII-only drawing", **d(False))
    p.add_argument("--insecure", action="store_true", help="do not verify TLS certificates", **d(False))
    p.add_argument("--debug", action="store_true", help="show tracebacks", **d(False))
    p.add_argument(
        "--allow-actions", action="store_true", help="allow task operations (retry, stop, …)", **d(False)
    )
    p.add_argument("--no-record", action="store_true", help="keep no history of this run", **d(False))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Live monitor for BlueKing JOB / SOPS / BKFlow / NodeMan / GSEKit tasks.",
        epilog="targets: job:BIZ:ID, job:biz_set:BIZSET:ID, sops:BIZ:ID, sops:project:PROJECT:ID, "
        "bkflow:SPACE:ID, nodeman:ID, gsekit:BIZ:ID, or the task page URL copied from the browser; "
        "scopes to follow: job:BIZ, job:biz_set:SET, sops:BIZ, sops:project:PROJECT, bkflow:SPACE. "
        "Without a command: the live monitor on the saved list.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _globals(parser, suppress=False)
    parser.add_argument("--bell", action="store_true", help="ring the bell when a task fails")
    parser.add_argument("--no-mouse", action="store_true", help="disable mouse support")
    common = _Parser(add_help=False)
    _globals(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser("demo", parents=[common], help="live demo against a built-in simulator")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--hostile", action="store_true", help="with the text made to test escaping")
    demo.add_argument("--speed", type=_positive, default=1.0, help="simulated time per real second")
    demo.add_argument("--bell", action="store_true", default=argparse.SUPPRESS)
    demo.add_argument("--no-mouse", action="store_true", default=argparse.SUPPRESS)
    sub.add_parser("sim", help="run the BlueKing simulator (see 'bkwatch sim --help')", add_help=False)

    add = sub.add_parser("add", parents=[common], help="add targets or task URLs to the watch list")
    add.add_argument("targets", nargs="+", metavar="TARGET|URL")
    add.add_argument("--label", type=label_arg, help="a label shown instead of the task name")
    add.add_argument("--biz", type=biz_arg, help="business id for links that carry none (JOB api_execute)")
    add.add_argument("--biz-set", type=biz_arg, help="business set id for JOB api_execute links")
    add_scope_options(add)

    ls = sub.add_parser("ls", parents=[common], help="show the watch list")
    ls.add_argument("--json", action="store_true")

    rm = sub.add_parser("rm", parents=[common], help="remove targets from the watch list")
    rm.add_argument("targets", nargs="+", metavar="TARGET|URL")
    rm.add_argument("--biz", type=biz_arg, help=argparse.SUPPRESS)
    rm.add_argument("--biz-set", type=biz_arg, help=argparse.SUPPRESS)

    status = sub.add_parser(
        "status",
        parents=[common],
        help="query tasks once (default: the watch list; exit 0 all read, 2 one unreachable or unread)",
    )
    status.add_argument("targets", nargs="*", metavar="TARGET|URL")
    status.add_argument(
        "--json", action="store_true", help='print one object {"tasks": [...], "counts": {STATE: N}, ...}'
    )
    status.add_argument(
        "--allow-partial",
        action="store_true",
        help="exit 0 even when a task is unreachable or unread (listed as such) or a scope cannot be "
        "listed; without it those exit 2",
    )
    status.add_argument("--biz", type=biz_arg, help="business id for links that carry none")
    status.add_argument("--biz-set", type=biz_arg, help="business set id for JOB api_execute links")
    add_scope_options(status)

    wait = sub.add_parser(
        "wait", parents=[common], help="wait until tasks finish (exit 0 ok, 1 failed, 2 error)"
    )
    wait.add_argument("targets", nargs="+", metavar="TARGET|URL")
    wait.add_argument(
        "--timeout", type=_positive, default=None, metavar="S", help="give up after S seconds (exit 2)"
    )
    wait.add_argument(
        "--interval", type=_positive, default=5.0, metavar="S", help="seconds between polls (5)"
    )
    wait.add_argument("--fail-fast", action="store_true", help="exit 1 as soon as one task fails")
    wait.add_argument("--json", action="store_true", help="one JSON line per state change")
    wait.add_argument("--biz", type=biz_arg, help="business id for links that carry none")
    wait.add_argument("--biz-set", type=biz_arg, help="business set id for JOB api_execute links")
    add_scope_options(wait)

    add_action_parsers(sub, common)
    _evidence_parsers(sub, common)
    add_record_parsers(sub, common)

    cfg = sub.add_parser("config", parents=[common], help="show / locate / create the configuration")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", parser_class=_Parser, required=True)
    cfg_sub.add_parser("show", parents=[common], help="the profile in use, secrets masked")
    cfg_sub.add_parser("path", parents=[common], help="where the configuration file is")
    cfg_sub.add_parser("init", parents=[common], help="write a commented template (never overwrites)")
    return parser


def _evidence_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    logs = sub.add_parser("logs", parents=[common], help="print a host's or node's log and details")
    logs.add_argument("target", metavar="TARGET|URL")
    logs.add_argument("--step", metavar="STEP_ID", help="JOB step (default: the latest with the host)")
    logs.add_argument("--host", metavar="IP|CLOUD:IP")
    logs.add_argument("--node", metavar="NODE_ID", help="SOPS/BKFlow node, GSEKit job task")
    logs.add_argument("--failed", action="store_true", help="every failing host or node")
    logs.add_argument(
        "--follow", action="store_true", help="keep printing new output until it finishes (text only)"
    )
    logs.add_argument(
        "--interval", type=_positive, default=5.0, metavar="S", help="seconds between polls (5)"
    )
    logs.add_argument("--json", action="store_true", help='print {"logs": [...]}')
    why = sub.add_parser("why", parents=[common], help="failing hosts or nodes grouped by what went wrong")
    why.add_argument("target", metavar="TARGET|URL")
    why.add_argument("--step", metavar="STEP_ID", help="JOB step (default: every step)")
    why.add_argument("--json", action="store_true")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def _sim_argv(argv: Sequence[str]) -> list[str] | None:
    """Arguments after `sim` when the command is `sim` (they belong to the simulator's parser)."""
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in _VALUE_OPTS:
            i += 2
            continue
        if tok.startswith("-"):
            i += 1
            continue
        return list(argv[i + 1 :]) if tok == "sim" else None
    return None


# -- entry point --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # a real process, not a test calling main(): tune it for polling
        tune_gc()
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    profile_name: str | None = None
    try:
        rest = _sim_argv(args_list)
        if rest is not None:
            from bkwatch.sim.cli import main as sim_main  # lazy: the simulator (starlette, uvicorn)

            return int(sim_main(rest) or 0)
        args = build_parser().parse_args(args_list)
        profile_name = getattr(args, "profile", None)
        return _dispatch(args)
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_ERROR)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `bkwatch status --json | head`: stop quietly, also at exit's flush
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as exc:
        message = known_error(exc)
        if message is not None:
            err(f"error: {message}")
            return EXIT_ERROR
        from bkwatch.redact import redact  # lazy: only an unexpected error needs it

        secrets = _known_secrets(profile_name)
        if debug:
            err(redact(traceback.format_exc().rstrip(), secrets))
        err(redact(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)", secrets))
    return EXIT_ERROR


def _known_secrets(profile_name: str | None) -> list[str]:
    """The secrets an unexpected error's text must not show: the profile's, else the environment's."""
    try:
        from bkwatch.config import load_profile  # lazy: as in common.py, --help never reads it

        return load_profile(profile_name).secrets()
    except Exception:
        return [v for v in (os.environ.get("BK_APP_SECRET"), os.environ.get("BK_TOKEN")) if v]


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd is None:
        # The configuration is validated (and the TLS warning shown) before the TUI is even imported.
        profile = load_cli_profile(args)
        check_server(profile)
        check_watch_list(args.list_name)
        defer_gc()  # until the first rows: nearly all the screen's imports and start make lives on
        try:
            from bkwatch.cli.start import run_watch  # sends the first polls, then imports the screen

            return run_watch(profile, args.list_name, _tui_options(args))
        finally:
            resume_gc()  # however the monitor ended, even before its first rows
    if cmd == "demo":
        defer_gc()  # as the monitor's
        try:
            run_demo, with_record_config = _tui("demo", "run_demo"), _tui("run", "with_record_config")
            options = _tui_options(args, seed=args.seed, speed=args.speed, hostile=args.hostile, demo=True)
            return int(run_demo(with_record_config(options)) or 0)
        finally:
            resume_gc()
    # Only the command's own module: list editing never imports asyncio and the HTTP side.
    module = importlib.import_module(f"bkwatch.cli.{_HANDLERS[cmd]}")
    return int(getattr(module, f"cmd_{cmd}")(args))


def _tui(module_name: str, name: str) -> Any:
    """`name` from the command module that starts the screen (`run` or `demo`)."""
    try:
        module = importlib.import_module(f"bkwatch.cli.{module_name}")
    except ImportError as exc:
        raise no_screen(exc) from None
    return getattr(module, name)


def _tui_options(args: argparse.Namespace, **demo: Any) -> Any:
    from bkwatch.cli.start import MonitorOptions  # lazy: only once the screen is wanted

    return MonitorOptions(
        ascii=args.ascii,
        bell=getattr(args, "bell", False),
        no_mouse=getattr(args, "no_mouse", False),
        insecure=args.insecure,
        debug=args.debug,
        allow_actions=getattr(args, "allow_actions", False),
        record=not getattr(args, "no_record", False),
        **demo,
    )
