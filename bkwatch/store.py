"""Saved watch lists and "last seen" history, as small JSON files under the data directory.

Layout::

    DATA_DIR/lists/NAME.json      {"version": 1, "entries": [{"target", "label", "added_at"}]}
    DATA_DIR/history/NAME.json    {"version": 1, "seen": {target: {"state", "name", "at"}}}

Every write is read-merge-write under an advisory ``flock`` on a sibling lock file, then an
atomic replace (temp file in the same directory, fsync, rename, fsync of the directory), so two
processes editing one list lose nothing and a crash never leaves half a file. A file that cannot
be read as a list is moved aside, never overwritten in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["StoreError", "WatchEntry", "WatchStore"]

VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SEEN_KEYS = ("state", "name", "at")  # all a history record may hold: never anything secret


class StoreError(Exception):
    """A list name or file the store cannot use; the message says why."""


@dataclass
class WatchEntry:
    target: str
    label: str | None = None
    added_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "label": self.label, "added_at": self.added_at}


class _Corrupt(Exception):
    pass


class WatchStore:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.lists_dir = self.data_dir / "lists"
        self.history_dir = self.data_dir / "history"
        self.warnings: list[str] = []

    # -- paths ----------------------------------------------------------------------------------

    def path(self, name: str = "default") -> Path:
        return self.lists_dir / f"{_check_name(name)}.json"

    def history_path(self, name: str = "default") -> Path:
        return self.history_dir / f"{_check_name(name)}.json"

    def lists(self) -> list[str]:
        if not self.lists_dir.is_dir():
            return []
        return sorted(p.stem for p in self.lists_dir.glob("*.json") if _NAME.match(p.stem))

    # -- watch lists ----------------------------------------------------------------------------

    def load(self, name: str = "default") -> list[WatchEntry]:
        path = self.path(name)
        if not path.exists():
            return []
        with self._locked(path, write=False):
            return self._read_entries(path)

    def add(self, entries: list[WatchEntry], name: str = "default") -> None:
        """Add entries (a target already listed keeps its place; a new label replaces the old)."""
        path = self.path(name)
        with self._locked(path):
            current = self._read_entries(path)
            index = {e.target: e for e in current}
            for entry in entries:
                old = index.get(entry.target)
                if old is None:
                    new = WatchEntry(entry.target, entry.label, entry.added_at)
                    current.append(new)
                    index[entry.target] = new
                elif entry.label is not None:
                    old.label = entry.label
            self._write_entries(path, current)

    def remove(self, targets: list[str], name: str = "default") -> int:
        """Remove targets; returns how many were listed."""
        path = self.path(name)
        if not path.exists():
            return 0
        drop = set(targets)
        with self._locked(path):
            current = self._read_entries(path)
            kept = [e for e in current if e.target not in drop]
            removed = len(current) - len(kept)
            if removed:
                self._write_entries(path, kept)
            return removed

    # -- last seen ------------------------------------------------------------------------------

    def load_last_seen(self, name: str = "default") -> dict[str, dict]:
        path = self.history_path(name)
        if not path.exists():
            return {}
        with self._locked(path, write=False):
            try:
                data = _read_json(path)
                seen = data.get("seen") if isinstance(data, dict) else None
                if not isinstance(seen, dict) or not all(isinstance(v, dict) for v in seen.values()):
                    raise _Corrupt("expected {'version': 1, 'seen': {target: {...}}}")
            except _Corrupt as exc:
                self._move_aside(path, str(exc))
                return {}
            return {str(k): {f: v.get(f) for f in _SEEN_KEYS} for k, v in seen.items()}

    def save_last_seen(self, name: str, seen: dict[str, dict]) -> None:
        path = self.history_path(name)
        clean = {str(k): {f: v.get(f) for f in _SEEN_KEYS} for k, v in seen.items()}
        with self._locked(path):
            _atomic_write(path, {"version": VERSION, "seen": clean})

    # -- internals ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, path: Path, *, write: bool = True) -> Iterator[None]:
        """Exclusive advisory lock beside `path`. Readers go on without it where locking is
        impossible (read-only or lock-less filesystems): a rename-replaced file is never torn."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            if write:
                raise StoreError(f"cannot write in {path.parent}: {exc.strerror or exc}") from None
            yield
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                if write:
                    raise StoreError(f"cannot lock {path}: {exc.strerror or exc}") from None
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read_entries(self, path: Path) -> list[WatchEntry]:
        if not path.exists():
            return []
        try:
            return _parse_entries(_read_json(path))
        except _Corrupt as exc:
            self._move_aside(path, str(exc))
            return []

    def _write_entries(self, path: Path, entries: list[WatchEntry]) -> None:
        _atomic_write(path, {"version": VERSION, "entries": [e.to_dict() for e in entries]})

    def _move_aside(self, path: Path, why: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime())
        dest = path.with_name(f"{path.name}.corrupt-{stamp}")
        n = 1
        while dest.exists():
            dest = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.replace(path, dest)
        except OSError as exc:
            raise StoreError(
                f"{path} could not be read ({why}) nor moved aside ({exc.strerror or exc})"
            ) from None
        _fsync_dir(path.parent)
        self.warnings.append(f"{path} could not be read ({why}); it was moved to {dest.name} and left as is")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError(
            f"invalid list name {name!r}: use letters, digits, '_', '-' or '.', up to 64 characters"
        )
    return name


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Corrupt(f"not valid JSON: {exc}") from None


def _parse_entries(data: Any) -> list[WatchEntry]:
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise _Corrupt("expected an object with an 'entries' list")
    if data.get("version", VERSION) != VERSION:
        raise _Corrupt(f"unsupported version {data.get('version')!r}")
    out: list[WatchEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(data["entries"]):
        if not isinstance(item, dict) or not isinstance(item.get("target"), str):
            raise _Corrupt(f"entry {i} has no 'target' string")
        label = item.get("label")
        added = item.get("added_at", 0.0)
        if label is not None and not isinstance(label, str):
            raise _Corrupt(f"entry {i}: 'label' must be a string or null")
        if isinstance(added, bool) or not isinstance(added, int | float):
            raise _Corrupt(f"entry {i}: 'added_at' must be a number")
        if item["target"] in seen:
            continue
        seen.add(item["target"])
        out.append(WatchEntry(item["target"], label, float(added)))
    return out


def _atomic_write(path: Path, payload: Any) -> None:
    data = (json.dumps(payload, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)
