"""retry / skip / confirm / stop / pause / resume: one task operation, confirmed, sent once, audited;
and `audit`, the record of them. Exit 0 done, 1 refused (by the server or by bkwatch: actions off,
the state, no terminal), 2 error before sending (usage, configuration, the task unreadable),
3 unknown (sent, no answer to trust: the task is read again and what it shows said), 130 cancelled
(answered No, Ctrl-C or end of input at the question)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bkwatch import config
from bkwatch.actions.audit import audit_path, read
from bkwatch.actions.catalog import unreachable
from bkwatch.cli.common import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    check_server,
    dumps,
    err,
    load_cli_profile,
    new_client,
    parse_targets,
    table,
)
from bkwatch.model import BkError
from bkwatch.text import one_line

if TYPE_CHECKING:
    from bkwatch.actions import Actor, Plan
    from bkwatch.config import Profile
    from bkwatch.targets import Target


def cmd_retry(args: argparse.Namespace) -> int:
    return _act("retry", args)


def cmd_skip(args: argparse.Namespace) -> int:
    return _act("skip", args)


def cmd_confirm(args: argparse.Namespace) -> int:
    return _act("confirm", args)


def cmd_stop(args: argparse.Namespace) -> int:
    return _act("stop", args)


def cmd_pause(args: argparse.Namespace) -> int:
    return _act("pause", args)


def cmd_resume(args: argparse.Namespace) -> int:
    return _act("resume", args)


def _act(verb: str, args: argparse.Namespace) -> int:
    profile = load_cli_profile(args)
    check_server(profile)
    (target,) = parse_targets([args.target], getattr(args, "biz", None))
    away = unreachable(target.system, target.scope, target.id, profile.esb_url)
    if away is not None:
        err(f"error: {away}")
        return EXIT_ERROR
    return asyncio.run(_act_async(verb, args, profile, target))


async def _act_async(verb: str, args: argparse.Namespace, profile: Profile, target: Target) -> int:
    # lazy: the engine brings httpx, loaded only once the target and the profile are checked
    from bkwatch.actions import Actor, ChoiceError, Outcome, Plan, Result, choose, enable_hint

    client = new_client(profile)
    try:
        actor = Actor(client, profile, data_dir=config.data_dir())
        subject = {k: v for k in ("step", "node") if (v := getattr(args, k, None)) is not None} or None
        if not profile.allow_actions:
            # Refused before reading anything: recorded with the command, as no action is chosen yet.
            hint = enable_hint(profile)
            actor.note(str(target), target.system, verb, subject, Outcome(Result.DISABLED, hint))
            err(f"refused: {hint}")
            return EXIT_FAILED
        try:
            task = await actor.fetch(target)
        except BkError as exc:
            message = f"cannot read {target}: {exc.message}; nothing was sent"
            actor.note(str(target), target.system, verb, subject, Outcome(Result.ERROR, message))
            err(f"error: {message}")
            return EXIT_ERROR
        fetched_at = time.time()
        try:
            spec, subject_id = choose(
                verb,
                task,
                step_id=getattr(args, "step", None),
                node_id=getattr(args, "node", None),
                all_hosts=getattr(args, "all_hosts", False),
                reject=getattr(args, "reject", False),
            )
        except ChoiceError as exc:
            if exc.spec is not None and exc.not_allowed:
                refused = Plan(exc.spec, target, task, exc.subject_id, fetched_at)
                actor.refuse(refused, Result.NOT_ALLOWED, f"{exc.message}; nothing was sent")
            err(f"{'refused' if exc.not_allowed else 'error'}: {exc.message}; nothing was sent")
            return EXIT_FAILED if exc.not_allowed else EXIT_ERROR
        plan = Plan(spec, target, task, subject_id, fetched_at)
        reason = plan.offer.reason
        if reason is not None:
            actor.refuse(plan, Result.NOT_ALLOWED, f"{reason}; nothing was sent")
            err(f"refused: {reason}; nothing was sent")
            return EXIT_FAILED
        if not args.yes and not sys.stdin.isatty():
            outcome = actor.refuse(plan, Result.NO_TERMINAL, NO_TERMINAL)
            err(f"refused: {outcome.message}")
            return outcome.exit_code
        answer = _confirm(plan, args.yes)
        if answer is not True:
            outcome = actor.decline(plan, answer or "not confirmed")
            err(outcome.message)
            return outcome.exit_code
        return await _send(actor, plan)
    finally:
        await client.aclose()


NO_TERMINAL = (
    "not on a terminal, so nothing can be confirmed; pass --yes to act without asking; nothing was sent"
)


async def _send(actor: Actor, plan: Plan) -> int:
    from bkwatch.actions import Result  # lazy: as in _act_async

    outcome = await actor.perform(plan)
    if outcome.result is Result.DONE:
        print(one_line(outcome.message, 300))
        print(f"follow it with: bkwatch wait {plan.target}  (or bkwatch status {plan.target})")
    elif outcome.result is Result.UNKNOWN:
        err(f"unknown: {one_line(outcome.message, 600)}")
        if outcome.settled is not None:
            print(f"read again: {one_line(outcome.settled, 300)}")
        print(f"look before acting again: bkwatch status {plan.target}")
    else:
        err(outcome.message)
    return outcome.exit_code


def _confirm(plan: Plan, yes: bool) -> bool | str:
    """True to go on; else why not, in words ("not confirmed", "interrupted (Ctrl-C)", …).

    Ctrl-C at the question cancels at once: the event loop's own SIGINT handling (which would wait
    for the line to end) is set aside while the question waits."""
    print("This will:" if not yes else "Doing (--yes):")
    for line in plan.summary():
        print(f"  {line}")
    if yes:
        return True
    try:
        with _interruptible():
            if plan.spec.type_id:
                answer = input(
                    f"Type the task id ({one_line(plan.target.id, 30)}) to go on; anything else cancels: "
                )
                return True if answer.strip() == str(plan.target.id) else "the task id was not typed"
            answer = input("Proceed? [y/N] ")
    except KeyboardInterrupt:
        print()
        return "interrupted at the question (Ctrl-C)"
    except EOFError:
        print()
        return "no answer (end of input)"
    return True if answer.strip().lower() in ("y", "yes") else "not confirmed"


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt at once inside the block (in the main thread; SIGINT left
    ignored where it is, as in a background shell)."""
    try:
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            raise ValueError("SIGINT is ignored")
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread, or ignored: leave it as it is
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# -- audit ----------------------------------------------------------------------------------------


def cmd_audit(args: argparse.Namespace) -> int:
    path = audit_path(config.data_dir())
    records, bad = read(path)
    if bad:
        err(f"warning: {bad} unreadable line(s) in {path} skipped")
    if args.limit is not None and args.limit >= 0:
        records = records[-args.limit :] if args.limit else []
    if args.json:
        for rec in records:
            print(dumps(rec))
        return EXIT_OK
    if not records:
        print(f"no actions recorded ({path})")
        return EXIT_OK
    rows = [["WHEN", "PROFILE", "USER", "TARGET", "ACTION", "ON", "RESULT", "DETAIL"]]
    # "refused" says by whom: the server, or bkwatch (and why).
    for rec in records:
        subject = rec.get("subject") or {}
        on = " ".join(f"{k} {v}" for k, v in subject.items()) if isinstance(subject, dict) else ""
        code = f"[{rec['code']}] " if rec.get("code") else ""
        rows.append(
            [
                one_line(rec.get("at"), 20),
                one_line(rec.get("profile"), 20),
                one_line(rec.get("user") or "-", 20),
                one_line(rec.get("target"), 40),
                one_line(rec.get("action"), 30),
                one_line(on or "-", 30),
                one_line(_result_text(rec), 30),
                one_line(code + str(rec.get("message") or ""), 80),
            ]
        )
    print(table(rows))
    return EXIT_OK


def _result_text(rec: dict[str, Any]) -> str:
    result = str(rec.get("result"))
    if result == "refused" and rec.get("by"):
        return f"refused ({rec['by']}{': ' + str(rec['why']) if rec.get('why') else ''})"
    return result
