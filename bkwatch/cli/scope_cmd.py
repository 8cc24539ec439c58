"""Scopes on the command line: `add job:2 --mine --since 4h`, scopes in `ls`/`rm`, every task a
scope holds in `status` (with "via"), and `wait SCOPE`.

`add`, `ls` and `rm` stay light (no HTTP); `status` and `wait` run one `Discovery` on a `Poller`.
Hence the imports inside the functions: each command loads only what it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import time
from typing import TYPE_CHECKING, Any

from bkwatch.cli.common import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    check_target_text,
    dumps,
    err,
)
from bkwatch.text import one_line

if TYPE_CHECKING:
    from bkwatch.config import Profile
    from bkwatch.discovery import Discovery, ScopeWatch
    from bkwatch.scope_store import ScopeEntry
    from bkwatch.scopes import Scope, ScopeOptions
    from bkwatch.targets import Target

_SCOPE_ONLY = ("mine", "name", "since", "cron", "keep_succeeded", "keep_failed", "cap")
FOREVER = 1e12  # `wait` keeps every task until the end: nothing leaves while it waits


# -- arguments ----------------------------------------------------------------------------------


def _duration(text: str) -> float:
    from bkwatch.scopes import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cap(text: str) -> int:
    if not text.strip().isdigit() or not 0 < int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 100000, got {text!r}")
    return int(text)


def add_scope_options(p: argparse.ArgumentParser) -> None:
    """The options that narrow a scope (job:BIZ, sops:BIZ, bkflow:SPACE…); None = not given."""
    g = p.add_argument_group("scopes (job:BIZ, job:biz_set:SET, sops:BIZ, sops:project:P, bkflow:SPACE)")
    g.add_argument("--mine", action="store_true", default=None, help="only tasks the configured user started")
    g.add_argument("--name", metavar="TEXT", help="only tasks whose name contains TEXT")
    g.add_argument("--since", type=_duration, metavar="DURATION", help="look back this far when added (2h)")
    g.add_argument("--cron", action="store_true", default=None, help="JOB: include cron-launched jobs")
    g.add_argument(
        "--keep-succeeded", type=_duration, metavar="DURATION", help="succeeded tasks leave after (30m)"
    )
    g.add_argument(
        "--keep-failed", type=_duration, metavar="DURATION", help="failed/stopped tasks leave after (24h)"
    )
    g.add_argument("--cap", type=_cap, metavar="N", help="live tasks a scope holds at most (300)")


def split(texts: list[str]) -> tuple[list[Scope], list[str]]:
    """Scopes (parsed; NodeMan/GSEKit refused with the reason) and the other arguments."""
    from bkwatch.scopes import looks_like_scope, parse_scope

    scopes: list[Scope] = []
    rest: list[str] = []
    for text in texts:
        raw = check_target_text(text)
        if looks_like_scope(raw):
            scope = parse_scope(raw)
            if scope not in scopes:
                scopes.append(scope)
        else:
            rest.append(text)
    return scopes, rest


def options_from(args: argparse.Namespace, base: ScopeOptions | None = None) -> ScopeOptions:
    from bkwatch.scopes import ScopeOptions

    given = {k: getattr(args, k, None) for k in _SCOPE_ONLY}
    given = {k: v for k, v in given.items() if v is not None}
    if "name" in given:
        from bkwatch.cli.common import label_arg

        try:
            given["name"] = label_arg(given["name"])
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"--name {exc}") from None
    return dataclasses.replace(base or ScopeOptions(), **given)


def refuse_scope_options(args: argparse.Namespace) -> None:
    """Scope options given without a scope are a mistake worth saying."""
    given = [k for k in _SCOPE_ONLY if getattr(args, k, None) is not None]
    if given:
        names = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UsageError(f"{names} only apply to scopes (job:BIZ, sops:BIZ, bkflow:SPACE…)")


# -- add / ls / rm ------------------------------------------------------------------------------


def add(args: argparse.Namespace, scopes: list[Scope]) -> None:
    from bkwatch.cli.common import flush_warnings, open_store
    from bkwatch.scope_store import ScopeEntry, ScopeStore

    options = options_from(args)
    store = open_store()
    now = time.time()
    ScopeStore(store).add(
        [ScopeEntry(str(s), options.to_dict(), args.label, now) for s in scopes], args.list_name
    )
    flush_warnings(store)
    for s in scopes:
        print(f"following {s}" + (f"  ({describe(options)})" if options.to_dict() else ""))


def describe(options: ScopeOptions) -> str:
    parts = []
    for key, value in options.to_dict().items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, float):
            parts.append(f"{flag} {_span(value)}")
        else:
            parts.append(f"{flag} {one_line(str(value), 40)}")
    return " ".join(parts)


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def load(list_name: str) -> list[ScopeEntry]:
    from bkwatch.cli.common import flush_warnings, open_store
    from bkwatch.scope_store import ScopeStore

    store = open_store()
    entries = ScopeStore(store).load(list_name)
    flush_warnings(store)
    return entries


def remove(keys: list[str], list_name: str) -> int:
    from bkwatch.cli.common import flush_warnings, open_store
    from bkwatch.scope_store import ScopeStore

    store = open_store()
    removed = ScopeStore(store).remove(keys, list_name)
    flush_warnings(store)
    return removed


# -- status -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Followed:
    scope: Scope
    options: ScopeOptions
    dismissed: list[str] = dataclasses.field(default_factory=list)
    label: str | None = None


def from_entries(entries: list[ScopeEntry]) -> tuple[list[Followed], list[dict[str, Any]]]:
    """Saved scopes; the ones that no longer parse become errors to report."""
    from bkwatch.scopes import ScopeError, ScopeOptions, parse_scope

    out: list[Followed] = []
    bad: list[dict[str, Any]] = []
    for e in entries:
        try:
            out.append(
                Followed(parse_scope(e.scope), ScopeOptions.from_dict(e.options), e.dismissed, e.label)
            )
        except ScopeError as exc:
            bad.append(scope_json_error(e.scope, f"bad scope in the watch list: {exc}"))
    return out, bad


def scope_json_error(key: str, message: str) -> dict[str, Any]:
    return {"scope": key, "options": {}, "tasks": 0, "counts": {}, "cap_reached": False,
            "error": {"kind": "config", "message": message}, "unread": 0, "over_cap": 0}  # fmt: skip


def scope_json(sw: ScopeWatch, discovery: Discovery) -> dict[str, Any]:
    """A scope's report. `counts`: the tasks it holds by state (`unread`: no answer yet);
    `unread`: how many; `over_cap`: tasks found but over its cap (listed as `unread` too)."""
    from bkwatch.cli.task_report import UNREAD

    problem = sw.problem
    counts: dict[str, int] = {}
    unread = 0
    for key in sw.held:
        watch = discovery.poller.watches.get(key)
        state = UNREAD if watch is None or watch.task is None else str(watch.task.state)
        unread += state == UNREAD
        counts[state] = counts.get(state, 0) + 1
    return {
        "scope": sw.key,
        "options": sw.options.to_dict(),
        "tasks": len(sw.held),
        "counts": counts,
        "cap_reached": sw.cap_reached,
        "error": None if problem is None else problem.to_dict(),
        "unread": unread,
        "over_cap": len(sw.waiting),
    }


async def status_scopes(profile: Profile, followed: list[Followed]) -> tuple[list[dict], list[dict]]:
    """One discovery round per scope, then one poll of every task found: (tasks, scopes) JSON.
    Every task a scope found is listed: those without an answer (an error is one) and those over
    its cap as `unread`."""
    from bkwatch.cli.common import new_client
    from bkwatch.cli.task_report import task_json, unread_json
    from bkwatch.discovery import Discovery
    from bkwatch.poller import Poller
    from bkwatch.systems.adapters import fetch_task, settle

    client = new_client(profile)
    try:
        poller = Poller(lambda t: fetch_task(client, t))
        discovery = Discovery(client, poller, user=profile.username)
        for f in followed:
            discovery.add(f.scope, f.options, dismissed=f.dismissed, label=f.label)
        await asyncio.gather(*(discovery.discover(k) for k in list(discovery.scopes)))
        await poller.poll_all()
        discovery.prune()
        for _ in range(3):  # tasks let in as finished ones left (prune) are read too
            fresh = [k for k, w in poller.watches.items() if w.task is None and w.error is None]
            if not fresh:
                break
            await asyncio.gather(*(poller.poll_once(k) for k in fresh))
            discovery.prune()
        # A pipeline read before its detail (flow order, names, the nodes not reached yet) is
        # read once more with it, as the monitor does: the same nodes, names and progress.
        detailed = [k for k in list(poller.watches) if await settle(client, k)]
        await asyncio.gather(*(poller.poll_once(k) for k in detailed))
        tasks: list[dict[str, Any]] = []
        for sw in discovery.scopes.values():
            system = str(sw.scope.system)
            for key, found in sw.held.items():
                watch = poller.watches.get(key)
                result = None if watch is None else watch.task if watch.error is None else watch.error
                if watch is None or result is None:
                    entry = unread_json(key, system, found.name, "no answer")
                else:
                    entry = task_json(key, system, result)
                    if entry["name"] is None and (watch.label or found.name):
                        entry["name"] = watch.label or found.name  # BKFlow: the name the list gave
                entry["via"] = sw.key
                tasks.append(entry)
            for key, found in sw.waiting.items():
                tasks.append({**unread_json(key, system, found.name, "cap"), "via": sw.key})
        return tasks, [scope_json(sw, discovery) for sw in discovery.scopes.values()]
    finally:
        await client.aclose()


# -- wait ---------------------------------------------------------------------------------------


async def wait_scopes(
    profile: Profile, scopes: list[Followed], targets: list[Target], args: argparse.Namespace
) -> int:
    """Until every task the scopes hold (and every target) has finished: 0 all succeeded,
    1 one failed or stopped, 2 an error or the timeout."""
    from bkwatch.cli.common import new_client
    from bkwatch.cli.task_report import TRANSIENT_KINDS
    from bkwatch.discovery import Discovery
    from bkwatch.model import State
    from bkwatch.poller import Cadence, Poller, PollUpdate
    from bkwatch.systems.adapters import fetch_task

    every = args.interval
    cadence = Cadence(
        every, every, every, every, every, every, jitter=0.0, backoff_max=max(every, min(8 * every, 60.0))
    )
    client = new_client(profile)
    queue: asyncio.Queue[PollUpdate] = asyncio.Queue()
    poller = Poller(lambda t: fetch_task(client, t), on_update=queue.put_nowait, cadence=cadence)
    discovery = Discovery(client, poller, user=profile.username, interval=max(every, 1.0))
    for f in scopes:
        options = dataclasses.replace(f.options, keep_succeeded=FOREVER, keep_failed=FOREVER)
        discovery.add(f.scope, options, dismissed=f.dismissed)
    for t in targets:
        poller.add(t)
    loop = asyncio.get_running_loop()
    deadline = None if args.timeout is None else loop.time() + args.timeout
    runners = [loop.create_task(poller.run()), loop.create_task(discovery.run())]
    states: dict[str, State] = {}
    try:
        while True:
            for sw in discovery.scopes.values():
                if sw.error is not None and sw.error.kind not in TRANSIENT_KINDS:
                    err(f"{sw.key}: {sw.error.kind}: {sw.error.message}")
                    return EXIT_ERROR
            keys = [str(t) for t in targets] + [k for sw in discovery.scopes.values() for k in sw.held]
            all_listed = all(sw.rounds > 0 for sw in discovery.scopes.values())
            done = {k: states[k] for k in keys if k in states and states[k].is_done}
            if all_listed and len(done) == len(keys):
                return EXIT_FAILED if any(s.is_bad for s in done.values()) else EXIT_OK
            if args.fail_fast and any(s.is_bad for s in done.values()):
                return EXIT_FAILED
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                left = [k for k in keys if k not in done] or [sw.key for sw in discovery.scopes.values()]
                err(f"timed out after {args.timeout:g}s waiting for: {', '.join(left[:20])}")
                return EXIT_ERROR
            with contextlib.suppress(TimeoutError):
                update = await asyncio.wait_for(queue.get(), min(0.25, remaining) if remaining else 0.25)
                if update.error is not None:
                    if update.error.kind not in TRANSIENT_KINDS:
                        err(f"{update.key}: {update.error.kind}: {update.error.message}")
                        return EXIT_ERROR
                    continue
                if update.watch.task is not None:
                    states[update.key] = update.watch.task.state
                for tr in update.transitions:
                    if args.json:
                        out = tr.to_dict()
                        if update.watch.via:
                            out["via"] = update.watch.via
                        print(dumps(out), flush=True)
                    elif tr.level == "task":
                        via = f"  [{update.watch.via}]" if update.watch.via else ""
                        change = f"{tr.old or 'first seen'} -> {tr.new}"
                        print(f"{one_line(tr.target)}  {change}  {one_line(tr.name)}{via}", flush=True)
    finally:
        for runner in runners:
            runner.cancel()
        for runner in runners:
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        await client.aclose()


def describe_saved(options: dict[str, Any]) -> str:
    from bkwatch.scopes import ScopeOptions

    return describe(ScopeOptions.from_dict(options))
