"""What every command shares: exit codes, one-line errors, tables, JSON, profile and targets.

Only light modules are imported here: `--help`, `--version` and usage errors pass through this
file, and importing the configuration, store, model and targets up front would add about 40 ms
(a third) to them, so those are imported by the functions that use them. The HTTP client
(httpx) is imported only by `new_client`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bkwatch.text import clean_text, display_width, one_line

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.config import Profile
    from bkwatch.store import WatchStore
    from bkwatch.targets import Target

PROG = "bkwatch"
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
# A BlueKing task URL is a few hundred characters; anything far longer is a bad paste.
MAX_TARGET_CHARS = 2000
MAX_LABEL_CELLS = 100
# Task, business, project and space ids are 64-bit integers on every BlueKing system.
MAX_ID = 2**63 - 1
# One error line stays readable even when it quotes a huge argument.
MAX_ERROR_CELLS = 1000


class UsageError(Exception):
    """Bad command-line usage: reported as one line, exit 2."""


def no_screen(exc: ImportError) -> UsageError:
    """The error when the screen's modules cannot be imported (Textual missing or broken)."""
    return UsageError(f"the terminal UI is not available ({exc}); 'status' and 'wait' still work")


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
    print(f"{PROG}: {one_line(msg, MAX_ERROR_CELLS)}", file=sys.stderr)


def open_store() -> WatchStore:
    # lazy: the configuration and the store, for the commands that use them (see the top)
    from bkwatch import config
    from bkwatch.store import WatchStore

    return WatchStore(config.data_dir())


def flush_warnings(store: WatchStore) -> None:
    for w in store.warnings:
        err(f"warning: {w}")
    store.warnings.clear()


def load_cli_profile(args: argparse.Namespace) -> Profile:
    from bkwatch.config import check_permissions, load_profile  # lazy: see the top

    profile = load_profile(args.profile)
    exposed = check_permissions()  # every command says it: the file holds the app secret
    if exposed:
        err(f"warning: {exposed}")
    for warning in profile.warnings:
        err(f"warning: {warning}")
    if args.insecure:
        profile.verify = False
    if getattr(args, "allow_actions", False):
        profile.allow_actions = True
    if not profile.verify:
        err(
            "warning: TLS certificate verification is OFF (--insecure): "
            "anyone on the network path can read and alter this traffic"
        )
    return profile


def check_server(profile: Profile) -> None:
    from bkwatch.model import BkError, ErrorKind  # lazy: see the top

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


def check_target_text(text: str) -> str:
    """`text` stripped, refused (UsageError) when empty or too long to be a target or a URL."""
    raw = text.strip()
    if not raw:
        raise UsageError("empty target; give job:BIZ:ID, sops:BIZ:ID, … or a task page URL")
    if len(raw) > MAX_TARGET_CHARS:
        raise UsageError(
            f"target too long ({len(raw):,} characters, at most {MAX_TARGET_CHARS:,}): {one_line(raw, 40)}"
        )
    return raw


def check_watch_list(name: str) -> None:
    """Refuse a bad list name (StoreError) or a data directory that cannot hold watch lists because
    a file stands in its path (UsageError): checked before the screen takes over, and without
    reading or writing any list."""
    open_store().path(name)
    from bkwatch import config  # lazy: see the top

    lists = config.data_dir() / "lists"
    for path in (lists, *lists.parents):
        if path.is_dir():
            return
        if path.exists() or path.is_symlink():
            what = "a file, not a directory" if path.is_file() else "not a directory"
            raise UsageError(f"cannot use {lists}: {path} is {what}")


def parse_targets(texts: Sequence[str], args: argparse.Namespace) -> list[Target]:
    """Targets from the command line; a link without a business takes --biz / --biz-set, else the
    profile's default_biz (the profile is read only when a link needs it)."""
    from bkwatch.targets import MissingScope, identity, parse_target  # lazy: see the top

    biz, biz_set = getattr(args, "biz", None), getattr(args, "biz_set", None)
    out: list[Target] = []
    seen: set[str] = set()  # one task named twice (by business and by project) is asked once
    for text in texts:
        raw = check_target_text(text)
        try:
            t = parse_target(raw, default_biz=biz, default_biz_set=biz_set)
        except MissingScope:
            if biz or biz_set:
                raise
            t = parse_target(raw, default_biz=load_cli_profile(args).default_biz)
        if (t.scope and int(t.scope) > MAX_ID) or int(t.id) > MAX_ID:
            raise UsageError(f"{t.system} target {one_line(text, 60)}: an id is larger than BlueKing allows")
        if identity(t) not in seen:
            seen.add(identity(t))
            out.append(t)
    return out


def label_arg(text: str) -> str:
    """The --label value: one line of printable text, not too long (argparse type)."""
    label = text.strip()
    if clean_text(label) != label or any(ch in label for ch in "\t\n\r\v\f"):
        raise argparse.ArgumentTypeError("must be one line of printable text, without control characters")
    if display_width(label) > MAX_LABEL_CELLS:
        raise argparse.ArgumentTypeError(
            f"too long ({display_width(label):,} characters, at most {MAX_LABEL_CELLS})"
        )
    return label


def biz_arg(text: str) -> str:
    """The --biz value: a positive business id (argparse type)."""
    value = text.strip()
    # The length first: int() of thousands of digits is refused by Python itself.
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or not 0 < int(value) <= MAX_ID:
        raise argparse.ArgumentTypeError(f"must be a positive business id, got {one_line(text, 40)!r}")
    return str(int(value))


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


def new_client(profile: Profile) -> BkClient:
    """The one way a command makes its BkClient (imports the HTTP stack): with the profile's
    remembered ESB credential mode."""
    # lazy: httpx, for the commands that make requests
    from bkwatch.client import BkClient
    from bkwatch.esb_auth import default_memory

    return BkClient(profile, esb_memory=default_memory())
