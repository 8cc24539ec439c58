"""status and wait: the commands scripts and CI jobs rely on (JSON contract, exit codes).

The HTTP client, the poller and the systems' adapters are imported inside the commands, so every
other command (and `--help`) starts without them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from bkwatch.cli.common import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    check_server,
    dumps,
    err,
    flush_warnings,
    load_cli_profile,
    open_store,
    parse_targets,
    table,
)
from bkwatch.cli.task_report import (
    TRANSIENT_KINDS,
    UNREAD,
    failure_note,
    name_text,
    progress_text,
    state_counts,
    task_json,
)
from bkwatch.model import BkError, ErrorKind, State, Task
from bkwatch.targets import Target, TargetError, identity, identity_of, parse_target
from bkwatch.text import counted, one_line

if TYPE_CHECKING:
    from bkwatch.config import Profile

# The command's output is its report: an adapter bug is there as its target's error, and the
# traceback `systems.fetch_task` logs is not printed by logging's last resort.
logging.getLogger("bkwatch").addHandler(logging.NullHandler())


async def fetch_many(profile: Profile, targets: list[Target], concurrency: int = 16) -> list[Task | BkError]:
    """Every target fetched concurrently through one client; each result is a Task or its error."""
    from bkwatch.cli.common import new_client
    from bkwatch.systems.adapters import fetch_task, settle

    client = new_client(profile)
    sem = asyncio.Semaphore(concurrency)

    async def one(target: Target) -> Task | BkError:
        async with sem:
            try:
                task = await fetch_task(client, target)  # an adapter bug too is a BkError
                if await settle(client, str(target)):
                    # One answer only: asked again once the pipeline's detail (names, order) is in.
                    task = await fetch_task(client, target)
                return task
            except BkError as exc:
                return exc

    try:
        return list(await asyncio.gather(*(one(t) for t in targets)))
    finally:
        await client.aclose()


def cmd_status(args: argparse.Namespace) -> int:
    """Every task listed and every task a followed scope found, read once. Exit 0 when every one
    was read (failed tasks included), 2 when one was unreachable or unread, or a scope could not
    be listed, unless --allow-partial (a bad list entry or scope stays an error)."""
    from bkwatch.cli import scope_cmd

    entries: list[tuple[str, str | None, Target | BkError]] = []
    labels: dict[str, str] = {}
    store = open_store()
    store.check(args.list_name)  # a corrupt list is an error, not an empty list (moved aside)
    followed, bad_scopes = _followed(args)
    if args.targets:
        _, rest = scope_cmd.split(args.targets)
        entries = [(str(t), str(t.system), t) for t in parse_targets(rest, args)] if rest else []
    else:
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
        flush_warnings(store)
    profile = load_cli_profile(args)
    if entries or followed:
        check_server(profile)
    wanted = [t for _, _, t in entries if isinstance(t, Target)]
    fetched = iter(asyncio.run(fetch_many(profile, wanted)) if wanted else [])
    results = [(k, s, next(fetched) if isinstance(t, Target) else t) for k, s, t in entries]
    tasks = [task_json(k, s, r) for k, s, r in results]
    scopes = bad_scopes
    if followed:
        found, listed = asyncio.run(scope_cmd.status_scopes(profile, followed))
        # Listed once, as added by hand, whichever form the scope names it by (identity).
        by_hand = {identity(t) if isinstance(t, Target) else k for k, _, t in entries}
        found = [t for t in found if identity_of(t["target"]) not in by_hand]
        tasks += found
        scopes = scopes + listed
        results += [(t["target"], t["system"], None) for t in found]  # type: ignore[misc]
        for t in found:
            labels.setdefault(t["target"], t["name"] or "")
    code = _status_code(tasks, scopes, allow_partial=args.allow_partial)
    if args.json:
        doc: dict[str, Any] = {"tasks": tasks, "scopes": scopes} if scopes else {"tasks": tasks}
        doc["counts"] = state_counts(tasks)
        doc["unreachable"] = sum(1 for t in tasks if t["error"])
        unread = doc["counts"].get(UNREAD, 0)
        doc["complete"] = not (doc["unreachable"] or unread or any(s["error"] for s in scopes))
        print(dumps(doc))
        return code
    for sc in scopes:
        counts = ", ".join(f"{n} {s}" for s, n in sc["counts"].items()) or "no tasks"
        note = f"  {sc['error']['kind']}: {one_line(sc['error']['message'], 300)}" if sc["error"] else ""
        cap = f"  (cap reached: {sc['over_cap']} more found, unread)" if sc["cap_reached"] else ""
        print(f"{one_line(sc['scope'], 40)}: {counts}{cap}{note}")
    if not tasks:
        print(f"the list {args.list_name!r} is empty; add tasks with: bkwatch add TARGET|URL")
        return code
    rows = [["TARGET", "STATE", "RAW", "PROGRESS", "NAME", "NOTE"]]
    for t, (key, _, _) in zip(tasks, results, strict=True):
        note_width = 70
        if t["error"]:
            note = f"{t['error']['kind']}: {t['error']['message']}"
            note_width = 300  # the last column: an error is shown whole, not cut mid-sentence
        else:
            note = failure_note(t) or (f"via {t['via']}" if t.get("via") else "")
        rows.append(
            [
                one_line(key, 48),
                t["state"],
                one_line(t["raw_state"] or "-", 16),
                progress_text(t),
                one_line(name_text(t["name"], labels.get(key)), 60),
                one_line(note, note_width),
            ]
        )
    print(table(rows))
    unread = sum(1 for t in tasks if t["state"] == UNREAD)
    unreachable = sum(1 for t in tasks if t["error"])
    if unread or unreachable:
        of = counted(len(tasks), "task")
        err(f"{unreachable} unreachable, {unread} unread of {of}: this answer is partial")
    return code


def _status_code(tasks: list[dict[str, Any]], scopes: list[dict[str, Any]], *, allow_partial: bool) -> int:
    """2 while a task is unreachable or unread or a scope could not be listed; --allow-partial
    accepts those, not a list entry or scope that is itself bad (a config error)."""

    def bad(error: dict[str, Any] | None) -> bool:
        return error is not None and (not allow_partial or error.get("kind") == str(ErrorKind.CONFIG))

    if any(bad(t["error"]) for t in tasks) or any(bad(s["error"]) for s in scopes):
        return EXIT_ERROR
    if not allow_partial and any(t["state"] == UNREAD for t in tasks):
        return EXIT_ERROR
    return EXIT_OK


# -- wait ---------------------------------------------------------------------------------------


def cmd_wait(args: argparse.Namespace) -> int:
    from bkwatch.cli import scope_cmd

    open_store().check(args.list_name)  # the list's scopes are read: a corrupt list is an error
    followed, bad_scopes = _followed(args)
    if bad_scopes:
        err(bad_scopes[0]["error"]["message"])
        return EXIT_ERROR
    _, rest = scope_cmd.split(args.targets)
    targets = parse_targets(rest, args) if rest else []
    profile = load_cli_profile(args)
    check_server(profile)
    if followed:
        return asyncio.run(scope_cmd.wait_scopes(profile, followed, targets, args))
    return asyncio.run(wait_for(profile, targets, args))


def _followed(args: argparse.Namespace) -> tuple[list[Any], list[dict[str, Any]]]:
    """The scopes to query: those named on the command line (with their saved options when the
    list follows them, else the options given), or, without arguments, the list's."""
    from bkwatch.cli import scope_cmd

    saved, bad = scope_cmd.from_entries(scope_cmd.load(args.list_name))
    if not args.targets:
        return saved, bad
    scopes, _ = scope_cmd.split(args.targets)
    if not scopes:
        scope_cmd.refuse_scope_options(args)
        return [], []
    by_key = {str(f.scope): f for f in saved}
    out = []
    for scope in scopes:
        base = by_key.get(str(scope))
        options = scope_cmd.options_from(args, base.options if base else None)
        out.append(
            scope_cmd.Followed(scope, options, base.dismissed if base else [], base.label if base else None)
        )
    return out, []


async def wait_for(profile: Profile, targets: list[Target], args: argparse.Namespace) -> int:
    from bkwatch.cli.common import new_client
    from bkwatch.poller import Cadence, Poller, PollUpdate
    from bkwatch.systems.adapters import fetch_task

    client = new_client(profile)
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
                    change = f"{tr.old or 'first seen'} -> {tr.new}"
                    # The whole name, on one line (cleaned, never cut).
                    print(f"{one_line(tr.target)}  {change}  {one_line(tr.name)}", flush=True)
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
