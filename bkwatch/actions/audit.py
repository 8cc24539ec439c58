"""The audit file: one JSON line per decision about an action, in the data directory (0600).

``result`` is one of: ``sent`` (just before the request; an ``error`` right after it is the client
refusing to send it, for its configuration), ``done``, ``refused`` (``by`` the server with its
``code``, or by bkwatch with ``why``: disabled, not_allowed, no_terminal, busy),
``cancelled`` (by the user), ``unknown`` (sent, no answer to trust), ``settled`` (after unknown:
the task read again, its ``state`` and the observation in ``message``), ``error`` (nothing sent).

Lines are appended under an exclusive ``flock`` and fsynced, so concurrent bkwatch processes never
interleave a line. Nothing secret is written: the parameters are the operation's own (the client
adds the credentials), and each line is passed through the redactor with the profile's secrets.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from bkwatch.redact import redact

AUDIT_FILE = "audit.jsonl"
FIELDS = ("at", "profile", "user", "local_user", "target", "system", "action", "subject", "parameters",
          "result", "by", "why", "code", "message", "state")  # fmt: skip


def audit_path(data_dir: Path) -> Path:
    return Path(data_dir) / AUDIT_FILE


def append(path: Path, record: dict[str, Any], secrets: Iterable[str] = ()) -> None:
    """Append one record as a JSON line; the file is created 0600 and kept so."""
    line = redact(orjson.dumps({k: record.get(k) for k in FIELDS}).decode(), list(secrets))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            os.write(fd, line.encode() + b"\n")
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read(path: Path) -> tuple[list[dict[str, Any]], int]:
    """(records in file order, number of unreadable lines skipped)."""
    if not path.exists():
        return [], 0
    records: list[dict[str, Any]] = []
    bad = 0
    with open(path, "rb") as fh:
        with contextlib.suppress(OSError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
        for raw in fh:
            if not raw.strip():
                continue
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError:
                bad += 1
                continue
            if isinstance(rec, dict):
                records.append(rec)
            else:
                bad += 1
    return records, bad
