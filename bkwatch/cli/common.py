"""What every command shares: exit codes, one-line errors, tables, JSON, profile and targets.

Only light modules are imported here: `--help` and the TUI's start-up pass through this file,
so the model, store and targets are imported by the functions that use them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bkwatch.text import display_width
from bkwatch.text import one_line as clean

if TYPE_CHECKING:
    from bkwatch.config import Profile
    from bkwatch.store import WatchStore
    from bkwatch.targets import Target

__all__ = ["clean"]

PROG = "bkwatch"
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


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
    import json
    import re

    text = json.dumps(obj, ensure_ascii=False)
    return re.sub(r"[\x7f-\x9f\u2028\u2029]", lambda m: f"\\u{ord(m.group()):04x}", text)


def err(msg: str) -> None:
    print(f"{PROG}: {clean(msg)}", file=sys.stderr)


def open_store() -> WatchStore:
    from bkwatch import config
    from bkwatch.store import WatchStore

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
    from bkwatch.model import BkError, ErrorKind

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
    from bkwatch.targets import parse_target

    out: list[Target] = []
    for text in texts:
        t = parse_target(text, default_biz=biz)
        if t not in out:
            out.append(t)
    return out


def known_error(exc: BaseException) -> str | None:
    """The one-line message for an error bkwatch reports without a traceback, else None.

    The classes are looked up only where already imported: an exception cannot be an instance
    of a class whose module was never loaded, and `--help` need not load them.
    """
    if isinstance(exc, UsageError):
        return str(exc)
    for module, name in (("bkwatch.targets", "TargetError"), ("bkwatch.store", "StoreError")):
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(exc, cls):
            return str(exc)
    bk_error = getattr(sys.modules.get("bkwatch.model"), "BkError", None)
    if bk_error is not None and isinstance(exc, bk_error):
        return str(exc.message)  # type: ignore[attr-defined]
    return None
