"""Saved watch lists and "last seen" history, as small JSON files under the data directory.

Layout::

    DATA_DIR/lists/NAME.json      {"version": 1, "entries": [{"target", "label", "added_at"[, "focus"]}]}
    DATA_DIR/history/NAME.json    {"version": 1, "seen": {target: {"state", "name", "at"}}}

A list may also hold "scopes" (followed scopes, read and written by scope_store.py); saving
the hand-added entries keeps them as they are.

Every write is read-merge-write under an advisory ``flock`` on a sibling lock file, then an
atomic replace (temp file ``.NAME.json.PID-RANDOM.tmp`` in the same directory, fsync, rename,
fsync of the directory), so two processes editing one list lose nothing and a crash never leaves
half a file. A writer killed mid-save can leave its temp file behind; the next writer, holding the
lock and so knowing no other writer is alive, deletes such leftovers. A file that cannot be read
(bad JSON, wrong shape, invalid UTF-8, a directory in its place) is moved aside to
``NAME.json.corrupt-STAMP`` and reported in ``warnings``, never overwritten.

History saves merge too: per target the record with the newer ``at`` wins, so two instances
saving at once each keep what they saw; ``remove`` forgets the removed targets' history.
Any other failure (a data directory that is a file or unwritable, a full disk) is a `StoreError`
naming the path, raised before anything already saved is touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bkwatch.atomic import fsync_dir, temp_files, write_private
from bkwatch.targets import identity_of

__all__ = ["StoreError", "UnreadableList", "WatchEntry", "WatchStore"]

VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SEEN_KEYS = ("state", "name", "at")  # all a history record may hold: never anything secret


class StoreError(Exception):
    """A list name or file the store cannot use; the message says why."""


class UnreadableList(StoreError):
    """A watch list that could not be read: moved aside as any load does, then refused (`check`)."""


@dataclass
class WatchEntry:
    target: str
    label: str | None = None
    added_at: float = field(default_factory=time.time)
    focus: str | None = None  # the step or host the pasted page pointed at (targets.Target.focus)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"target": self.target, "label": self.label, "added_at": self.added_at}
        if self.focus:
            out["focus"] = self.focus  # only when there is one: older lists stay byte for byte
        return out


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
        if not _exists(path):
            return []
        with self._locked(path, write=False):
            return self._read_entries(path)

    def check(self, name: str = "default") -> None:
        """Refuse a list that cannot be read with `UnreadableList` (its path, why, where it was
        moved): for the commands that must not take a corrupt list for an empty one (`status`,
        `wait`, the monitor's start). The file is moved aside first, as `load` does."""
        path = self.path(name)
        if not _exists(path):
            # Moved aside by an earlier run and nothing written since: still not an empty list.
            aside = sorted(path.parent.glob(f"{path.name}.corrupt-*"))
            if aside:
                raise UnreadableList(
                    f"{path} could not be read and was moved to {aside[-1].name}; restore it, or "
                    "remove it to start an empty list"
                )
            return
        with self._locked(path, write=False):
            if not _exists(path):
                return
            try:
                _parse_entries(_read_json(path))
            except _Corrupt as exc:
                self._move_aside(path, str(exc))
                raise UnreadableList(self.warnings.pop()) from None

    def add(self, entries: list[WatchEntry], name: str = "default") -> None:
        """Add entries (a target already listed keeps its place; a new label replaces the old)."""
        path = self.path(name)
        with self._locked(path):
            current = self._read_entries(path)
            # By identity: a task listed by one form (sops:2:103) and added by another
            # (sops:project:5:103, its page URL) stays one entry, in its first form.
            index = {identity_of(e.target): e for e in current}
            for entry in entries:
                ident = identity_of(entry.target)
                old = index.get(ident)
                if old is None:
                    new = WatchEntry(entry.target, entry.label, entry.added_at, entry.focus)
                    current.append(new)
                    index[ident] = new
                else:
                    if entry.label is not None:
                        old.label = entry.label
                    if entry.focus:
                        old.focus = entry.focus
            self._write_entries(path, current)

    def remove(self, targets: list[str], name: str = "default") -> int:
        """Remove targets and forget their history; returns how many were listed."""
        path = self.path(name)
        removed = 0
        if _exists(path):
            drop = {identity_of(t) for t in targets}
            with self._locked(path):
                current = self._read_entries(path)
                kept = [e for e in current if identity_of(e.target) not in drop]
                removed = len(current) - len(kept)
                if removed:
                    self._write_entries(path, kept)
        # Second, so a crash in between leaves a stale history record, never a listed target
        # without one; the removal itself is done, so a history problem is only a warning.
        try:
            self.forget_last_seen(name, targets)
        except StoreError as exc:
            self.warnings.append(f"the history of the removed targets was kept: {exc}")
        return removed

    # -- last seen ------------------------------------------------------------------------------

    def load_last_seen(self, name: str = "default") -> dict[str, dict]:
        path = self.history_path(name)
        if not _exists(path):
            return {}
        with self._locked(path, write=False):
            return self._read_seen(path)

    def save_last_seen(self, name: str, seen: dict[str, dict]) -> None:
        """Merge `seen` into the saved history: per target the newer record (by "at") wins."""
        path = self.history_path(name)
        with self._locked(path):
            current = self._read_seen(path)
            merged = dict(current)
            for target, record in seen.items():
                new = {f: record.get(f) for f in _SEEN_KEYS}
                old = merged.get(str(target))
                if old is None or _seen_at(new) >= _seen_at(old):
                    merged[str(target)] = new
            if merged != current or not _exists(path):
                _atomic_write(path, {"version": VERSION, "seen": merged})

    def forget_last_seen(self, name: str, targets: list[str]) -> int:
        """Drop the history of `targets`; returns how many had one."""
        path = self.history_path(name)
        if not _exists(path):
            return 0
        drop = {identity_of(t) for t in targets}  # whichever form the task was seen by
        with self._locked(path):
            current = self._read_seen(path)
            kept = {k: v for k, v in current.items() if identity_of(k) not in drop}
            if len(kept) != len(current):
                _atomic_write(path, {"version": VERSION, "seen": kept})
            return len(current) - len(kept)

    # -- internals ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, path: Path, *, write: bool = True) -> Iterator[None]:
        """Exclusive advisory lock beside `path`. Readers go on without it where locking is
        impossible (read-only or lock-less filesystems): a rename-replaced file is never torn."""
        try:
            if not path.parent.is_dir():
                missing = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                for created in missing:  # each new directory's own entry, for a crash after it
                    fsync_dir(created.parent)
            fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except (FileExistsError, NotADirectoryError):
            if write:
                raise StoreError(_not_a_directory(path)) from None
            yield
            return
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
        if not _exists(path):
            return []
        try:
            return _parse_entries(_read_json(path))
        except _Corrupt as exc:
            self._move_aside(path, str(exc))
            return []

    def _read_seen(self, path: Path) -> dict[str, dict]:
        if not _exists(path):
            return {}
        try:
            return _parse_seen(_read_json(path))
        except _Corrupt as exc:
            self._move_aside(path, str(exc))
            return {}

    def _write_entries(self, path: Path, entries: list[WatchEntry], scopes: list[Any] | None = None) -> None:
        """Replace the entries; `scopes` (raw dicts) replace the followed scopes, None keeps them."""
        doc: dict[str, Any] = {"version": VERSION, "entries": [e.to_dict() for e in entries]}
        if scopes is None:
            with contextlib.suppress(_Corrupt, StoreError):
                old = _read_json(path) if _exists(path) else None
                kept = old.get("scopes") if isinstance(old, dict) else None
                scopes = kept if isinstance(kept, list) else None
        if scopes:
            doc["scopes"] = scopes
        _atomic_write(path, doc)

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
        fsync_dir(path.parent)
        self.warnings.append(f"{path} could not be read ({why}); it was moved to {dest.name} and left as is")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError(
            f"invalid list name {name!r}: use letters, digits, '_', '-' or '.', up to 64 characters"
        )
    return name


def _exists(path: Path) -> bool:
    """Like Path.exists, but a data directory that is a file or unreadable is a StoreError, not
    an empty list the next save would then fail to write."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        raise StoreError(_not_a_directory(path)) from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    return True


def _not_a_directory(path: Path) -> str:
    blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), path.parent)
    return f"cannot use {path.parent}: {blocker} is a file, not a directory"


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise _Corrupt("a directory, not a file") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return orjson.loads(raw)  # also refuses invalid UTF-8
    except orjson.JSONDecodeError as exc:
        raise _Corrupt(f"not valid JSON: {exc}") from None


def _parse_entries(data: Any) -> list[WatchEntry]:
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise _Corrupt("expected an object with an 'entries' list")
    if data.get("version", VERSION) != VERSION:
        raise _Corrupt(f"unsupported version {data.get('version')!r}")
    out: list[WatchEntry] = []
    seen: dict[str, WatchEntry] = {}  # by identity: older lists may hold one task in two forms
    for i, item in enumerate(data["entries"]):
        if not isinstance(item, dict) or not isinstance(item.get("target"), str):
            raise _Corrupt(f"entry {i} has no 'target' string")
        label = item.get("label")
        added = item.get("added_at", 0.0)
        if label is not None and not isinstance(label, str):
            raise _Corrupt(f"entry {i}: 'label' must be a string or null")
        if isinstance(added, bool) or not isinstance(added, int | float):
            raise _Corrupt(f"entry {i}: 'added_at' must be a number")
        focus = item.get("focus")
        if not (isinstance(focus, str) and 0 < len(focus) <= 200 and focus.isprintable()):
            focus = None  # an optional hint: a bad one is dropped, the entry kept
        ident = identity_of(item["target"])
        first = seen.get(ident)
        if first is not None:
            # The same task twice (`nodeman:2:302` and `nodeman:302`, a SOPS task by business
            # and by project): merged into the first, keeping a label and focus either had.
            first.label = first.label or label
            first.focus = first.focus or focus
            continue
        seen[ident] = entry = WatchEntry(item["target"], label, float(added), focus)
        out.append(entry)
    return out


def _parse_seen(data: Any) -> dict[str, dict]:
    seen = data.get("seen") if isinstance(data, dict) else None
    if not isinstance(seen, dict) or not all(isinstance(v, dict) for v in seen.values()):
        raise _Corrupt("expected {'version': 1, 'seen': {target: {...}}}")
    if data.get("version", VERSION) != VERSION:
        raise _Corrupt(f"unsupported version {data.get('version')!r}")
    return {str(k): {f: v.get(f) for f in _SEEN_KEYS} for k, v in seen.items()}


def _seen_at(record: dict) -> float:
    at = record.get("at")
    return float(at) if isinstance(at, int | float) and not isinstance(at, bool) else float("-inf")


def _atomic_write(path: Path, payload: Any) -> None:
    """Replace `path` whole; the caller holds its lock, so any other temp file of it is stale."""
    # orjson: the stdlib's indenting encoder is pure Python, ~10 ms for a list of 500 entries.
    data = orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n"
    for stale in temp_files(path):
        with contextlib.suppress(OSError):
            stale.unlink()
    try:
        write_private(path, data)
    except OSError as exc:
        raise StoreError(f"cannot save {path}: {exc.strerror or exc}; the saved copy is unchanged") from None
