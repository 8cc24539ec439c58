"""Watch-list commands: add, ls, rm."""

from __future__ import annotations

import argparse
import time

from bkwatch.cli import scope_cmd
from bkwatch.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    check_target_text,
    dumps,
    err,
    flush_warnings,
    open_store,
    parse_targets,
    table,
)
from bkwatch.store import WatchEntry
from bkwatch.targets import TargetError, parse_target
from bkwatch.text import one_line


def cmd_add(args: argparse.Namespace) -> int:
    scopes, rest = scope_cmd.split(args.targets)
    if not scopes:
        scope_cmd.refuse_scope_options(args)
    scope_cmd.options_from(args)  # checked before anything is saved
    targets = parse_targets(rest, args) if rest else []  # all or nothing: one bad argument adds none
    if targets:
        store = open_store()
        now = time.time()
        store.add([WatchEntry(str(t), args.label, now, t.focus) for t in targets], args.list_name)
        flush_warnings(store)
    if scopes:
        scope_cmd.add(args, scopes)
    for t in targets:
        print(f"added {t}" + (f"  ({one_line(args.label, 40)})" if args.label else ""))
    return EXIT_OK


def cmd_ls(args: argparse.Namespace) -> int:
    store = open_store()
    entries = store.load(args.list_name)
    flush_warnings(store)
    scopes = scope_cmd.load(args.list_name)
    if args.json:
        doc = {"list": args.list_name, "entries": [e.to_dict() for e in entries]}
        if scopes:
            doc["scopes"] = [s.to_dict() for s in scopes]
        print(dumps(doc))
        return EXIT_OK
    if scopes:
        rows = [["SCOPE", "OPTIONS", "LABEL", "ADDED"]]
        for sc in scopes:
            added = time.strftime("%Y-%m-%d %H:%M", time.localtime(sc.added_at)) if sc.added_at else "-"
            options = scope_cmd.describe_saved(sc.options)
            rows.append([one_line(sc.scope, 40), options or "-", one_line(sc.label or "-", 40), added])
        print(table(rows))
        if not entries:
            return EXIT_OK
        print()
    if not entries:
        print(f"the list {args.list_name!r} is empty; add tasks with: bkwatch add TARGET|URL")
        return EXIT_OK
    rows = [["TARGET", "LABEL", "ADDED"]]
    for e in entries:
        added = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.added_at)) if e.added_at else "-"
        rows.append([one_line(e.target, 60), one_line(e.label or "-", 40), added])
    print(table(rows))
    return EXIT_OK


def cmd_rm(args: argparse.Namespace) -> int:
    scopes, rest = scope_cmd.split(args.targets)
    missing_scopes: list[str] = []
    if scopes:
        followed = {s.scope for s in scope_cmd.load(args.list_name)}
        scope_cmd.remove([str(s) for s in scopes], args.list_name)
        for s in scopes:
            if str(s) in followed:
                print(f"no longer following {s}")
            else:
                missing_scopes.append(str(s))
                err(f"not followed in list {args.list_name!r}: {s}")
        if not rest:
            return EXIT_FAILED if missing_scopes else EXIT_OK
    keys: list[str] = []
    for text in rest:
        raw = check_target_text(text)
        try:
            keys.append(str(parse_target(raw, default_biz=args.biz, default_biz_set=args.biz_set)))
        except TargetError:
            keys.append(raw)  # a hand-edited entry that no longer parses can still go
    store = open_store()
    listed = {e.target for e in store.load(args.list_name)}
    store.remove(keys, args.list_name)
    flush_warnings(store)
    missing = [k for k in keys if k not in listed]
    for k in keys:
        if k in listed:
            print(f"removed {one_line(k)}")
    for k in missing:
        err(f"not in list {args.list_name!r}: {one_line(k, 80)}")
    return EXIT_FAILED if missing or missing_scopes else EXIT_OK
