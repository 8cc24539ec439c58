"""logs and why: a host's or node's evidence, and the failure signatures of a step or task.

Exit 0 when it could answer, 2 on an error (as `status`): a task that cannot be fetched, a host
or node that is not there, a log that cannot be read (the others are still printed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from bkwatch.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    UsageError,
    check_server,
    dumps,
    err,
    load_cli_profile,
    new_client,
    parse_targets,
)
from bkwatch.evidence.base import Evidence
from bkwatch.evidence.logbuf import LogBuffer
from bkwatch.evidence.signatures import MAX_LINES, examples
from bkwatch.model import BkError, ErrorKind, Host, State, Task
from bkwatch.systems.registry import traits
from bkwatch.systems.traits import View
from bkwatch.targets import parse_target
from bkwatch.text import clean_text, counted, one_line

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.evidence.follow import LogSource
    from bkwatch.targets import Target

MAX_LOG_BYTES = 16 * 1024 * 1024  # per host or node, held and printed; older output is dropped


def _target(args: argparse.Namespace) -> Target:

    return parse_targets([args.target], None)[0]


async def _task(client: BkClient, target: Target) -> Task:
    from bkwatch.systems.adapters import fetch_task, settle  # lazy: httpx, once the profile is checked

    task = await fetch_task(client, target)
    if await settle(client, str(target)):  # a pipeline's detail names its nodes: read as `status` does
        task = await fetch_task(client, target)
    return task


def _host_matches(h: Host, want: str) -> bool:
    return h.key == want or (":" not in want and h.ip == want)


def _pick_step(task: Task, step_id: str | None, failed: bool, host: str | None) -> Any:
    if step_id is not None:
        step = next((s for s in task.steps if s.id == step_id), None)
        if step is None:
            raise BkError(ErrorKind.NOT_FOUND, f"no step {step_id} in {task.target}")
        return step
    started = [s for s in task.steps if s.state is not State.PENDING]
    if failed:
        bad = [s for s in started if any(h.state.is_bad for h in s.hosts.values())]
        return bad[-1] if bad else None
    with_host = [s for s in started if any(_host_matches(h, host or "") for h in s.hosts.values())]
    return with_host[-1] if with_host else None


def units(task: Task, args: argparse.Namespace) -> list[dict[str, str | None]]:
    """What to show: [{step, host, node}] for the options given."""
    view, host, node, failed = traits(task.system).view, args.host, args.node, args.failed
    if view is View.STEPS:
        if not host and not failed:
            raise UsageError("name a host (--host IP|CLOUD:IP) or ask for --failed")
        step = _pick_step(task, args.step, failed, host)
        if step is None and host:
            raise BkError(ErrorKind.NOT_FOUND, f"no host {host} in any started step of {task.target}")
        if step is None:
            return []
        hosts = [
            h for h in step.hosts.values() if (failed and h.state.is_bad) or (host and _host_matches(h, host))
        ]
        if host and not hosts:
            raise BkError(ErrorKind.NOT_FOUND, f"no host {host} in step {step.id} of {task.target}")
        return [{"step": step.id, "host": h.key, "node": None} for h in hosts]
    if view is View.HOSTS:
        if not host and not failed:
            raise UsageError("name a host (--host IP|CLOUD:IP) or ask for --failed")
        hosts = [
            h
            for h in task.hosts.values()
            if (failed and h.state is State.FAILED) or (host and _host_matches(h, host))
        ]
        if host and not hosts:
            raise BkError(ErrorKind.NOT_FOUND, f"no host {host} in {task.target}")
        return [{"step": None, "host": h.key, "node": None} for h in hosts]
    if view is View.JOB_TASKS:
        out = []
        for jt in task.job_tasks.values():
            key = f"{jt.cloud_id}:{jt.ip}"
            if (failed and jt.state.is_bad) or node == jt.id or (host and (host == key or host == jt.ip)):
                out.append({"step": None, "host": key if jt.ip else None, "node": jt.id})
        if not failed and not out:
            raise BkError(ErrorKind.NOT_FOUND, f"no job task {node or host} in {task.target}")
        return out
    if not node and not failed:
        raise UsageError("name a node (--node NODE_ID) or ask for --failed")
    if failed:
        return [
            {"step": None, "host": None, "node": n.id} for n in task.leaf_nodes() if n.state is State.FAILED
        ]
    return [{"step": None, "host": None, "node": node}]


async def _evidence(
    client: BkClient, target: Target, task: Task, wanted: list[dict[str, str | None]]
) -> list[Evidence]:
    from bkwatch.systems.adapters import (  # lazy: httpx, only once the profile is checked
        fetch_evidence,
        fetch_many,
    )

    if len(wanted) > 1:
        many = await fetch_many(client, target, task, wanted)
        if many is not None:
            return many
    out = []
    for u in wanted:
        try:
            out.append(await fetch_evidence(client, task, step=u["step"], host=u["host"], node=u["node"]))
        except BkError as exc:
            ev = Evidence(str(target), task.system, f"{target} {u['node'] or u['host']}", **u)  # type: ignore[arg-type]
            ev.error = exc
            out.append(ev)
    return out


def _details(ev: Evidence) -> str:
    if traits(ev.system).view is View.STEPS:  # a host's log says it all
        return ""
    lines = [f"{k}: {v}" for k, v in ev.fields.items() if v]
    if ev.link:
        lines.append(f"job instance: {ev.link}")
    return "\n".join(lines) + ("\n" if lines else "")


def _text(ev: Evidence) -> tuple[str, bool]:

    buf = LogBuffer(MAX_LOG_BYTES)
    buf.append(ev.raw_text)
    text = buf.text()
    if buf.truncated:
        text = f"[{buf.dropped_lines} older lines dropped]\n" + text
    return _details(ev) + text, buf.truncated


def entry(ev: Evidence) -> dict[str, Any]:
    text, truncated = _text(ev)
    return {
        "target": ev.target,
        "step": ev.step,
        "host": ev.host,
        "node": ev.node,
        "text": text,
        "truncated": truncated,
        "error": None if ev.error is None else ev.error.to_dict(),
    }


def _print_one(ev: Evidence, first: bool) -> None:
    if not first:
        print()
    print(f"==> {one_line(ev.title, 200)} <==")
    text, _ = _text(ev)
    if text:
        print(text, end="" if text.endswith("\n") else "\n")
    if ev.error is not None:
        print(f"(log not read: {ev.error.kind}: {ev.error.message})")


async def run_logs(profile: Any, target: Target, args: argparse.Namespace) -> int:

    client = new_client(profile)
    try:
        task = await _task(client, target)
        wanted = units(task, args)
        if not wanted:
            if args.json:
                print(dumps({"logs": []}))
            else:
                print(f"{one_line(str(target))}: no failing hosts or nodes")
            return EXIT_OK
        evs = await _evidence(client, target, task, wanted)
        if args.json:
            print(dumps({"logs": [entry(e) for e in evs]}))
        else:
            for i, ev in enumerate(evs):
                _print_one(ev, i == 0)
        code = EXIT_ERROR if any(e.error is not None for e in evs) else EXIT_OK
        if args.follow and not args.json:
            await _follow(client, task, wanted, evs, args.interval)
        return code
    finally:
        await client.aclose()


async def _follow(
    client: BkClient, task: Task, wanted: list[dict[str, str | None]], evs: list[Evidence], every: float
) -> None:
    """New output of every host or node still running, under its header when it changes."""
    from bkwatch.systems.adapters import open_log  # lazy: httpx, only once the profile is checked

    sources = []
    for u, ev in zip(wanted, evs, strict=True):
        src = open_log(client, task, step=u["step"], host=u["host"], node=u["node"])
        src.adopt(ev)
        sources.append(src)
    last: LogSource | None = sources[-1] if sources else None
    live = [s for s in sources if s.evidence is not None and not s.evidence.done]
    while live:
        await asyncio.sleep(every)
        task = await _task(client, parse_target(task.target))
        for src in list(live):
            src.update(task)
            chunk = await src.more()
            text = chunk.text
            if text:
                if src is not last and src.evidence is not None:
                    print(f"\n==> {one_line(src.evidence.title, 200)} <==")
                    last = src

                sys.stdout.write(clean_text(text))
                sys.stdout.flush()
            if chunk.done:
                live.remove(src)
    print()


def cmd_logs(args: argparse.Namespace) -> int:
    target = _target(args)
    profile = load_cli_profile(args)
    check_server(profile)
    try:
        return asyncio.run(run_logs(profile, target, args))
    except BkError as exc:
        err(f"{target}: {exc.kind}: {exc.message}")
        return EXIT_ERROR


# -- why ----------------------------------------------------------------------------------------


async def run_why(profile: Any, target: Target, step: str | None) -> tuple[Task, Any]:
    from bkwatch.systems.adapters import task_signatures  # lazy: httpx, only once the profile is checked

    client = new_client(profile)
    try:
        task = await _task(client, target)
        steps = traits(task.system).view is View.STEPS
        if step is not None and steps and not any(s.id == step for s in task.steps):
            raise BkError(ErrorKind.NOT_FOUND, f"no step {step} in {target}")
        return task, await task_signatures(client, target, task, step)
    finally:
        await client.aclose()


def cmd_why(args: argparse.Namespace) -> int:
    target = _target(args)
    profile = load_cli_profile(args)
    check_server(profile)
    try:
        task, sigs = asyncio.run(run_why(profile, target, args.step))
    except BkError as exc:
        if args.json:
            print(
                dumps({"target": str(target), "clusters": [], "read": 0, "unread": 0, "error": exc.to_dict()})
            )
        err(f"{target}: {exc.kind}: {exc.message}")
        return EXIT_ERROR
    doc = sigs.to_dict()
    if args.json:
        print(dumps(doc))
        return EXIT_OK
    what = sigs.member_key
    total = sum(c.count for c in sigs.clusters)
    reasons = ", ".join(f"{n} {k}" for k, n in sigs.unread_reasons.items())
    # Those whose log could not be read fail too, in no group: every failing one is counted.
    grouped = f", {total} of them" if sigs.unread else ""
    read = "log" if what == "hosts" else "failure"  # a node's failure is its ex_data, not a log
    failing = total + sigs.unread
    print(
        f"{one_line(sigs.target)}: {failing} failing {what if failing != 1 else what[:-1]}{grouped} in "
        f"{counted(len(sigs.clusters), 'group')}; {counted(sigs.read, read)} read, {sigs.unread} not read"
        + (f" ({reasons})" if reasons else "")
    )
    # As the monitor's signatures view: a node by its name, no example that repeats its heading.
    names = task.node_names()
    for c in sigs.clusters:
        print(f"\n{c.count:>6}  {one_line(c.signature, 300)}")
        for line in examples(c.signature, c.sample, MAX_LINES):
            print(f"        e.g. {one_line(line, 300)}")
        shown = [one_line(names.get(m) or m, 60) for m in c.members[:20]]
        members = (", " if names else " ").join(shown) + (" …" if c.count > 20 else "")
        print(f"        {what}: {members}")
        if c.steps:
            print(f"        steps: {' '.join(one_line(s, 30) for s in c.steps)}")
    return EXIT_OK
