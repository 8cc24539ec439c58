"""The `bkwatch` command line: the live monitor, watch lists, one-shot status and wait.

Heavier pieces (HTTP client, adapters, poller, TUI, simulator) are imported inside the commands
that need them, so list editing and `--help` stay fast and work even without the TUI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
import traceback
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from bkwatch import __version__
from bkwatch.model import BkError, ErrorKind, State, Task, failures
from bkwatch.store import StoreError, WatchEntry, WatchStore
from bkwatch.targets import Target, TargetError, parse_target

if TYPE_CHECKING:
    from bkwatch.config import Profile

PROG = "bkwatch"
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
# Errors that a later poll may not see again: `wait` keeps going. Every other kind ends it (exit 2).
TRANSIENT_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.SERVER, ErrorKind.NETWORK, ErrorKind.RATE_LIMITED})
_VALUE_OPTS = ("--profile", "--list")


class UsageError(Exception):
    """Bad command-line usage: reported as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


# -- text safety --------------------------------------------------------------------------------

_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC … BEL/ST (window titles, hyperlinks)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS / SOS / PM / APC strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI sequences (colours, cursor moves)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|\x1b[@-Z\\-_]?"  # other two-byte escapes, or a lone ESC
)
_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def clean(text: object, limit: int | None = None) -> str:
    """Server text made safe for a terminal: escape sequences and control characters removed."""
    s = _ESCAPES.sub("", str(text)).translate(_BIDI)
    s = "".join(ch if ch.isprintable() else " " for ch in s)
    s = " ".join(s.split())
    if limit is not None and width(s) > limit:
        out, w = [], 0
        for ch in s:
            cw = width(ch)
            if w + cw > limit - 1:
                break
            out.append(ch)
            w += cw
        s = "".join(out) + "…"
    return s


def width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, n: int) -> str:
    return s + " " * max(0, n - width(s))


def table(rows: list[list[str]]) -> str:
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(_pad(c, widths[i]) for i, c in enumerate(r)).rstrip() for r in rows)


def dumps(obj: Any) -> str:
    """JSON with readable CJK, yet no raw DEL/C1 bytes a terminal could act on."""
    text = json.dumps(obj, ensure_ascii=False)
    return re.sub(r"[\x7f-\x9f\u2028\u2029]", lambda m: f"\\u{ord(m.group()):04x}", text)


def err(msg: str) -> None:
    print(f"{PROG}: {clean(msg)}", file=sys.stderr)


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Live monitor for BlueKing JOB / SOPS / BKFlow / NodeMan / GSEKit tasks.",
        epilog="targets: job:BIZ:ID, job:biz_set:BIZSET:ID, sops:BIZ:ID, sops:project:PROJECT:ID, "
        "bkflow:SPACE:ID, nodeman:BIZ:ID, gsekit:BIZ:ID, or the task page URL copied from the browser. "
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
    demo.add_argument("--speed", type=_positive, default=1.0, help="simulated time per real second")
    demo.add_argument("--bell", action="store_true", default=argparse.SUPPRESS)
    demo.add_argument("--no-mouse", action="store_true", default=argparse.SUPPRESS)
    sub.add_parser("sim", help="run the BlueKing simulator (see 'bkwatch sim --help')", add_help=False)

    add = sub.add_parser("add", parents=[common], help="add targets or task URLs to the watch list")
    add.add_argument("targets", nargs="+", metavar="TARGET|URL")
    add.add_argument("--label", help="a label shown instead of the task name")
    add.add_argument("--biz", help="business id for URLs that do not carry one (NodeMan pages)")

    ls = sub.add_parser("ls", parents=[common], help="show the watch list")
    ls.add_argument("--json", action="store_true")

    rm = sub.add_parser("rm", parents=[common], help="remove targets from the watch list")
    rm.add_argument("targets", nargs="+", metavar="TARGET|URL")
    rm.add_argument("--biz", help=argparse.SUPPRESS)

    status = sub.add_parser("status", parents=[common], help="query tasks once (default: the watch list)")
    status.add_argument("targets", nargs="*", metavar="TARGET|URL")
    status.add_argument("--json", action="store_true", help='print one object {"tasks": [...]}')
    status.add_argument("--biz", help="business id for URLs that do not carry one")

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
    wait.add_argument("--biz", help="business id for URLs that do not carry one")

    cfg = sub.add_parser("config", parents=[common], help="show / locate / create the configuration")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", parser_class=_Parser, required=True)
    cfg_sub.add_parser("show", parents=[common], help="the profile in use, secrets masked")
    cfg_sub.add_parser("path", parents=[common], help="where the configuration file is")
    cfg_sub.add_parser("init", parents=[common], help="write a commented template (never overwrites)")
    return parser


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
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        rest = _sim_argv(args_list)
        if rest is not None:
            from bkwatch.sim.cli import main as sim_main

            return int(sim_main(rest) or 0)
        args = build_parser().parse_args(args_list)
        return _dispatch(args)
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_ERROR)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `bkwatch status --json | head`: stop quietly, also at exit's flush
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except UsageError as exc:
        err(f"error: {exc}")
    except (TargetError, StoreError) as exc:
        err(f"error: {exc}")
    except BkError as exc:
        err(f"error: {exc.message}")
    except Exception as exc:
        if debug:
            traceback.print_exc()
        err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
    return EXIT_ERROR


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd is None:
        run_watch = _tui("run_watch")
        profile = _profile(args)  # validates the configuration and shows the TLS warning first
        _check_server(profile)
        return int(run_watch(args.profile, args.list_name, _tui_options(args)) or 0)
    if cmd == "demo":
        run_demo = _tui("run_demo")
        return int(run_demo({**_tui_options(args), "seed": args.seed, "speed": args.speed}) or 0)
    handler = {
        "add": cmd_add,
        "ls": cmd_ls,
        "rm": cmd_rm,
        "status": cmd_status,
        "wait": cmd_wait,
        "config": cmd_config,
    }[cmd]
    return handler(args)


def _tui(name: str) -> Any:
    try:
        from bkwatch.tui import launch
    except ImportError as exc:
        raise UsageError(
            f"the terminal UI is not available ({exc}); 'status' and 'wait' still work"
        ) from None
    return getattr(launch, name)


def _tui_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "ascii": args.ascii,
        "bell": getattr(args, "bell", False),
        "no_mouse": getattr(args, "no_mouse", False),
        "insecure": args.insecure,
        "debug": args.debug,
    }


def _store() -> WatchStore:
    from bkwatch import config

    return WatchStore(config.data_dir())


def _flush_warnings(store: WatchStore) -> None:
    for w in store.warnings:
        err(f"warning: {w}")
    store.warnings.clear()


def _profile(args: argparse.Namespace) -> Profile:
    from bkwatch.config import load_profile

    profile = load_profile(args.profile)
    if args.insecure:
        profile.verify = False
    if not profile.verify:
        err(
            "warning: TLS certificate verification is OFF (--insecure): "
            "anyone on the network path can read and alter this traffic"
        )
    return profile


def _check_server(profile: Profile) -> None:
    if not (profile.esb_url or profile.apigw_tmpl):
        raise BkError(
            ErrorKind.CONFIG,
            f"no BlueKing server configured for profile {profile.name!r}: set BK_COMPONENT_API_URL and/or "
            "BK_API_URL_TMPL, or run 'bkwatch config init' and edit the file",
        )
    if not profile.app_code:
        raise BkError(
            ErrorKind.CONFIG, f"no app code for profile {profile.name!r}: set BK_APP_CODE or app_code"
        )


def _targets(texts: Sequence[str], biz: str | None) -> list[Target]:
    out: list[Target] = []
    for text in texts:
        t = parse_target(text, default_biz=biz)
        if t not in out:
            out.append(t)
    return out


# -- list commands ------------------------------------------------------------------------------


def cmd_add(args: argparse.Namespace) -> int:
    targets = _targets(args.targets, args.biz)  # all or nothing: one bad argument adds none
    store = _store()
    now = time.time()
    store.add([WatchEntry(str(t), args.label, now) for t in targets], args.list_name)
    _flush_warnings(store)
    for t in targets:
        print(f"added {t}" + (f"  ({clean(args.label, 40)})" if args.label else ""))
    return EXIT_OK


def cmd_ls(args: argparse.Namespace) -> int:
    store = _store()
    entries = store.load(args.list_name)
    _flush_warnings(store)
    if args.json:
        print(dumps({"list": args.list_name, "entries": [e.to_dict() for e in entries]}))
        return EXIT_OK
    if not entries:
        print(f"the list {args.list_name!r} is empty; add tasks with: bkwatch add TARGET|URL")
        return EXIT_OK
    rows = [["TARGET", "LABEL", "ADDED"]]
    for e in entries:
        added = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.added_at)) if e.added_at else "-"
        rows.append([clean(e.target, 60), clean(e.label or "-", 40), added])
    print(table(rows))
    return EXIT_OK


def cmd_rm(args: argparse.Namespace) -> int:
    keys: list[str] = []
    for text in args.targets:
        try:
            keys.append(str(parse_target(text, default_biz=args.biz)))
        except TargetError:
            keys.append(text.strip())  # a hand-edited entry that no longer parses can still go
    store = _store()
    listed = {e.target for e in store.load(args.list_name)}
    store.remove(keys, args.list_name)
    _flush_warnings(store)
    missing = [k for k in keys if k not in listed]
    for k in keys:
        if k in listed:
            print(f"removed {clean(k)}")
    for k in missing:
        err(f"not in list {args.list_name!r}: {k}")
    return EXIT_FAILED if missing else EXIT_OK


# -- status -------------------------------------------------------------------------------------


async def fetch_many(profile: Profile, targets: list[Target], concurrency: int = 16) -> list[Task | BkError]:
    """Every target fetched concurrently through one client; each result is a Task or its error."""
    from bkwatch.client import BkClient
    from bkwatch.systems import fetch_task

    client = BkClient(profile)
    sem = asyncio.Semaphore(concurrency)

    async def one(target: Target) -> Task | BkError:
        async with sem:
            try:
                return await fetch_task(client, target)
            except BkError as exc:
                return exc
            except Exception as exc:  # an adapter bug is this target's error, not a crash
                return BkError(ErrorKind.BAD_RESPONSE, f"unexpected {type(exc).__name__}: {exc}")

    try:
        return list(await asyncio.gather(*(one(t) for t in targets)))
    finally:
        await client.aclose()


def task_json(key: str, system: str | None, result: Task | BkError) -> dict[str, Any]:
    if isinstance(result, BkError):
        return {
            "target": key,
            "system": system,
            "name": None,
            "state": str(State.UNKNOWN),
            "raw_state": None,
            "terminal": False,
            "counts": {},
            "failures": [],
            "error": result.to_dict(),
        }
    return {
        "target": result.target or key,
        "system": str(result.system),
        "name": result.name,
        "state": str(result.state),
        "raw_state": None if result.raw_state is None else str(result.raw_state),
        "terminal": bool(result.terminal),
        "counts": {str(s): n for s, n in result.counts().items()},
        "failures": [f.to_dict() for f in failures(result)],
        "error": None,
    }


def cmd_status(args: argparse.Namespace) -> int:
    entries: list[tuple[str, str | None, Target | BkError]] = []
    labels: dict[str, str] = {}
    if args.targets:
        entries = [(str(t), str(t.system), t) for t in _targets(args.targets, args.biz)]
    else:
        store = _store()
        for e in store.load(args.list_name):
            if e.label:
                labels[e.target] = e.label
            try:
                t = parse_target(e.target)
                entries.append((str(t), str(t.system), t))
            except TargetError as exc:
                entries.append(
                    (e.target, None, BkError(ErrorKind.CONFIG, f"bad entry in the watch list: {exc}"))
                )
        _flush_warnings(store)
    profile = _profile(args)
    if entries:
        _check_server(profile)
    wanted = [t for _, _, t in entries if isinstance(t, Target)]
    fetched = iter(asyncio.run(fetch_many(profile, wanted)) if wanted else [])
    results = [(k, s, next(fetched) if isinstance(t, Target) else t) for k, s, t in entries]
    tasks = [task_json(k, s, r) for k, s, r in results]
    code = EXIT_ERROR if any(t["error"] for t in tasks) else EXIT_OK
    if args.json:
        print(dumps({"tasks": tasks}))
        return code
    if not tasks:
        print(f"the list {args.list_name!r} is empty; add tasks with: bkwatch add TARGET|URL")
        return code
    rows = [["TARGET", "STATE", "RAW", "PROGRESS", "NAME", "NOTE"]]
    for t, (key, _, _) in zip(tasks, results, strict=True):
        done = sum(n for s, n in t["counts"].items() if State(s).is_done)
        total = sum(t["counts"].values())
        if t["error"]:
            note = f"{t['error']['kind']}: {t['error']['message']}"
        elif t["failures"]:
            f0 = t["failures"][0]
            note = f"{len(t['failures'])} failed, e.g. {f0['id']}: {f0['reason']}"
        else:
            note = ""
        rows.append(
            [
                clean(key, 48),
                t["state"],
                clean(t["raw_state"] or "-", 16),
                f"{done}/{total}" if total else "-",
                clean(labels.get(key) or t["name"] or "-", 40),
                clean(note, 70),
            ]
        )
    print(table(rows))
    return code


# -- wait ---------------------------------------------------------------------------------------


def cmd_wait(args: argparse.Namespace) -> int:
    targets = _targets(args.targets, args.biz)
    profile = _profile(args)
    _check_server(profile)
    return asyncio.run(wait_for(profile, targets, args))


async def wait_for(profile: Profile, targets: list[Target], args: argparse.Namespace) -> int:
    from bkwatch.client import BkClient
    from bkwatch.poller import Cadence, Poller, PollUpdate
    from bkwatch.systems import fetch_task

    client = BkClient(profile)
    every = args.interval
    cadence = Cadence(
        focused=every,
        young=every,
        active=every,
        waiting=every,
        finished=every,
        unknown=every,
        jitter=0.0,
        backoff_max=max(every, min(8 * every, 60.0)),
    )
    queue: asyncio.Queue[PollUpdate] = asyncio.Queue()
    poller = Poller(lambda t: fetch_task(client, t), on_update=queue.put_nowait, cadence=cadence)
    for t in targets:
        poller.add(t)
    outcome: dict[str, State] = {}
    loop = asyncio.get_running_loop()
    deadline = None if args.timeout is None else loop.time() + args.timeout
    runner = loop.create_task(poller.run())
    try:
        while len(outcome) < len(targets):
            remaining = None if deadline is None else deadline - loop.time()
            try:
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                update = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                left = [str(t) for t in targets if str(t) not in outcome]
                err(f"timed out after {args.timeout:g}s waiting for: {', '.join(left)}")
                return EXIT_ERROR
            if update.key in outcome:
                continue
            if update.error is not None:
                if update.error.kind not in TRANSIENT_KINDS:
                    err(f"{update.key}: {update.error.kind}: {update.error.message}")
                    return EXIT_ERROR
                err(f"{update.key}: {update.error.kind}: {update.error.message} (retrying)")
                continue
            task = update.watch.task
            for tr in update.transitions:
                if args.json:
                    print(dumps(tr.to_dict()), flush=True)
                elif tr.level == "task":
                    print(
                        f"{clean(tr.target)}  {tr.old or 'first seen'} -> {tr.new}  {clean(tr.name, 50)}",
                        flush=True,
                    )
            if task is None:
                continue
            state = task.state
            if state.is_done or (state is State.UNKNOWN and task.terminal):
                outcome[update.key] = state
                poller.remove(update.key)
                if args.fail_fast and state.is_bad:
                    return EXIT_FAILED
        if any(s is State.UNKNOWN for s in outcome.values()):
            return EXIT_ERROR
        return EXIT_FAILED if any(s.is_bad for s in outcome.values()) else EXIT_OK
    finally:
        await _stop(runner)
        await client.aclose()


async def _stop(runner: asyncio.Task[None]) -> None:
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner


# -- config -------------------------------------------------------------------------------------

CONFIG_TEMPLATE = """\
# bkwatch configuration. Environment variables override what is set here:
#   BK_COMPONENT_API_URL, BK_API_URL_TMPL, BK_APP_CODE, BK_APP_SECRET, BK_USERNAME, BK_TOKEN,
#   BKWATCH_PROFILE (which profile), BKWATCH_INSECURE=1 (no TLS verification).
# This file holds secrets: keep it readable by you only (chmod 600).

default_profile = "prod"

[profiles.prod]
# ESB ("compapi") base URL of the PaaS:
# esb_url = "https://paas.example.com"
# API gateway URL template; {api_name} is replaced by the gateway name:
# apigw_tmpl = "https://bkapi.example.com/api/{api_name}"
# app_code = "bkwatch"
# app_secret = ""
# username = "admin"      # for apps allowed to skip user login; or use token
# token = ""              # a bk_token
# stage = "prod"
# nodeman_api = "v2"      # "v2" (api/job/details) or "v1" (get_task_info)
# verify = true
# ca_bundle = "/etc/ssl/certs/internal-ca.pem"
# timeout = 10.0

# [profiles.prod.gateways]
# job = "bk-job"
# sops = "bk-sops"
# bkflow = "bk-flow-engine"
# nodeman = "bk-nodeman"
"""


def cmd_config(args: argparse.Namespace) -> int:
    from bkwatch import config

    path = config.config_path()
    action = args.config_command
    if action == "path":
        print(path)
        return EXIT_OK
    if action == "init":
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            err(f"error: {path} already exists; not overwritten")
            return EXIT_FAILED
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(CONFIG_TEMPLATE)
        print(f"wrote {path} (mode 600); edit it, then run: bkwatch config show")
        return EXIT_OK
    profile = _profile(args)
    print(f"config file: {path}" + ("" if path.exists() else " (not found)"))
    warning = config.check_permissions(path)
    if warning:
        err(f"warning: {warning}")
    overrides = [v for v in (*config.ENV_MAP, "BKWATCH_PROFILE", "BKWATCH_INSECURE") if os.environ.get(v)]
    print(
        "environment overrides: "
        + (", ".join(overrides) if overrides else "none")
        + f"  (recognised: {', '.join(config.ENV_MAP)}, BKWATCH_PROFILE, BKWATCH_INSECURE)"
    )
    shown = config.mask(profile)
    rows = [
        [
            f"  {k}",
            clean(json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else "-" if v is None else v),
        ]
        for k, v in shown.items()
    ]
    print(f"profile: {profile.name}")
    print(table(rows))
    return EXIT_OK
