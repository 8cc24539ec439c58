"""What every command shares: exit codes, one-line errors, tables, JSON, profile and targets."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bkwatch.model import BkError, ErrorKind
from bkwatch.store import WatchStore
from bkwatch.targets import Target, parse_target
from bkwatch.text import display_width
from bkwatch.text import one_line as clean

if TYPE_CHECKING:
    from bkwatch.config import Profile

__all__ = ["clean"]

PROG = "bkwatch"
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
# Errors that a later poll may not see again: `wait` keeps going. Every other kind ends it (exit 2).
TRANSIENT_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.SERVER, ErrorKind.NETWORK, ErrorKind.RATE_LIMITED})


class UsageError(Exception):
    """Bad command-line usage: reported as one line, exit 2."""


# -- text safety --------------------------------------------------------------------------------


def _pad(s: str, n: int) -> str:
    return s + " " * max(0, n - display_width(s))


def table(rows: list[list[str]]) -> str:
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(_pad(c, widths[i]) for i, c in enumerate(r)).rstrip() for r in rows)


def dumps(obj: Any) -> str:
    """JSON with readable CJK, yet no raw DEL/C1 bytes a terminal could act on."""
    text = json.dumps(obj, ensure_ascii=False)
    return re.sub(r"[\x7f-\x9f\u2028\u2029]", lambda m: f"\\u{ord(m.group()):04x}", text)


def err(msg: str) -> None:
    print(f"{PROG}: {clean(msg)}", file=sys.stderr)


def open_store() -> WatchStore:
    from bkwatch import config

    return WatchStore(config.data_dir())


def flush_warnings(store: WatchStore) -> None:
    for w in store.warnings:
        err(f"warning: {w}")
    store.warnings.clear()


def load_cli_profile(args: argparse.Namespace) -> Profile:
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


def check_server(profile: Profile) -> None:
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


def parse_targets(texts: Sequence[str], biz: str | None) -> list[Target]:
    out: list[Target] = []
    for text in texts:
        t = parse_target(text, default_biz=biz)
        if t not in out:
            out.append(t)
    return out
