"""`bkwatch report TARGET` (one task's story from the record, brought up to date from the server
while it still runs) and `bkwatch hosts --flaky` (hosts that failed in more than one task)."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bkwatch.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    check_server,
    dumps,
    err,
    load_cli_profile,
    new_client,
    parse_targets,
    table,
)
from bkwatch.config import record_dir
from bkwatch.model import BkError, State, Task
from bkwatch.record.db import connect, db_path
from bkwatch.record.flaky import flaky_hosts
from bkwatch.record.render import html_page, markdown
from bkwatch.record.snapshot import frames
from bkwatch.record.story import Story, events, load, merge_live
from bkwatch.scopes import parse_duration
from bkwatch.target import Target
from bkwatch.text import one_line

_DONE = {str(s) for s in (State.SUCCEEDED, State.FAILED, State.STOPPED)}


def _open_record(args: argparse.Namespace) -> sqlite3.Connection | None:
    path = db_path(record_dir(args.demo))
    if not path.exists():
        return None
    return connect(path, readonly=True)


def _demo_hint(args: argparse.Namespace) -> str:
    """Where a task the user looks for may be instead: the demo's record is kept apart."""
    if args.demo or not db_path(record_dir(demo=True)).exists():
        return ""
    return "; a task of `bkwatch demo`? its record is apart: add --demo"


def _read(args: argparse.Namespace, target: str) -> Story | None:
    conn = _open_record(args)
    if conn is None:
        return None
    try:
        return load(conn, target)
    except sqlite3.DatabaseError as exc:
        err(f"warning: the record cannot be read ({exc}); the monitor replaces it when it next starts")
        return None
    finally:
        conn.close()


async def _fetch(args: argparse.Namespace, target: Target) -> Task:
    from bkwatch.systems.adapters import fetch_task  # lazy: httpx, only for a live read

    profile = load_cli_profile(args)
    check_server(profile)
    client = new_client(profile)
    try:
        return await fetch_task(client, target)
    finally:
        await client.aclose()


def cmd_report(args: argparse.Namespace) -> int:
    target = parse_targets([args.target], args)[0]
    key = str(target)
    story = _read(args, key)
    # The demo's simulator went with the demo: a live read would ask the profile's real server.
    if not (args.offline or args.demo) and (story is None or story.state not in _DONE):
        try:
            task = asyncio.run(_fetch(args, target))
        except BkError as exc:
            if story is None:
                hint = _demo_hint(args)
                err(f"{key}: not in the record, and reading it failed: {exc.kind}: {exc.message}{hint}")
                return EXIT_ERROR
            err(f"warning: {key}: read from the record only ({exc.kind}: {one_line(exc.message, 200)})")
        else:
            story = merge_live(story, task, time.time())
    if story is None:
        hint = _demo_hint(args)
        err(f"{key}: not in the record (watch it with bkwatch first, or leave out --offline){hint}")
        return EXIT_ERROR
    if args.html:
        path = Path(args.html)
        path.write_text(html_page(story), encoding="utf-8")
        err(f"wrote {path}")
    if args.md or not args.html:
        sys.stdout.write(markdown(story))
    return EXIT_OK


def cmd_hosts(args: argparse.Namespace) -> int:
    try:
        since = time.time() - parse_duration(args.since)
    except ValueError as exc:
        err(f"error: --since: {exc}")
        return EXIT_ERROR
    conn = _open_record(args)
    found = []
    if conn is not None:
        try:
            found = flaky_hosts(conn, since, minimum=max(2, args.min))
        except sqlite3.DatabaseError as exc:
            err(f"error: the record cannot be read ({exc})")
            return EXIT_ERROR
        finally:
            conn.close()
    if args.json:
        print(dumps({"since": since, "hosts": [f.to_dict() for f in found]}))
        return EXIT_OK
    if not found:
        print(f"no host failed in more than one task in the last {args.since}")
        return EXIT_OK
    rows = [["HOST", "TASKS", "SYSTEMS", "SIGNATURE", "LAST"]]
    for f in found:
        rows.append(
            [
                one_line(f.host, 40),
                str(f.count),
                ",".join(f.systems),
                f"{f.signature_count}× {one_line(f.signature, 60)}",
                time.strftime("%m-%d %H:%M", time.localtime(f.last)),
            ]
        )
    print(table(rows))
    for f in found:
        print(f"{one_line(f.host, 40)}: {' '.join(one_line(t, 60) for t in f.tasks)}")
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """A recorded task replayed in the monitor's panes on a terminal (`tui/replay/screen.py`);
    its changes one line each, with their times, into a pipe or with `--text`."""
    key = str(parse_targets([args.target], args)[0])
    conn = _open_record(args)
    if conn is None:
        err(f"{key}: nothing recorded yet{_demo_hint(args)}")
        return EXIT_ERROR
    kept: Sequence[tuple[float, Task]] = []
    label = None
    try:
        found = events(conn, key)
        if not args.text and sys.stdout.isatty() and sys.stdin.isatty():
            kept = frames(conn, key)
            row = conn.execute("SELECT label FROM tasks WHERE target = ?", (key,)).fetchone()
            label = row[0] if row else None
    except sqlite3.DatabaseError as exc:
        err(f"error: the record cannot be read ({exc})")
        return EXIT_ERROR
    finally:
        conn.close()
    if not found:
        err(f"{key}: not in the record{_demo_hint(args)}")
        return EXIT_ERROR
    if kept:
        from bkwatch.tui.replay.screen import ReplayApp  # lazy: the screen, only on a terminal
        from bkwatch.tui.widgets.fmt import use_ascii_default

        ReplayApp(key, kept, label=label, ascii_only=use_ascii_default()).run()
        return EXIT_OK
    if not args.text and sys.stdout.isatty():
        err(f"{key}: recorded before bkwatch kept what its panes showed: its changes as text")
    first = found[0][0]
    for at, text in found:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
        print(f"{stamp} +{at - first:7.1f}s  {one_line(text, 300)}")
    return EXIT_OK
