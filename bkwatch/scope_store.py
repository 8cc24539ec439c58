"""Followed scopes in the watch lists, and what discovery remembers between runs.

Scopes live beside the hand-added entries of ``lists/NAME.json`` under a "scopes" key, written
only when a list follows some, so lists from before read and write exactly as they did::

    "scopes": [{"scope": "job:2", "options": {"mine": true, "since": 14400.0}, "label": null,
                "added_at": 1733450000.0, "dismissed": ["job:2:42"]}]

``history/NAME.scopes.json`` keeps `Discovery.snapshot()` per scope (last good round, the tasks
held and their last states: ids, states and names only), for "since last time". The locking,
atomic writes and moving aside of unreadable files are the store's own (store.py).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bkwatch.model import BkError
from bkwatch.scopes import ScopeOptions
from bkwatch.store import (
    VERSION,
    StoreError,
    WatchStore,
    _atomic_write,
    _check_name,
    _Corrupt,
    _exists,
    _read_json,
)

if TYPE_CHECKING:
    from bkwatch.discovery import Discovery

__all__ = ["ScopeEntry", "ScopeStore", "follow_saved", "save_followed"]


@dataclass
class ScopeEntry:
    """A followed scope: its canonical text, its options (`ScopeOptions.to_dict()`) and the
    tasks dismissed from it (never found again)."""

    scope: str
    options: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    added_at: float = field(default_factory=time.time)
    dismissed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "options": self.options,
            "label": self.label,
            "added_at": self.added_at,
            "dismissed": self.dismissed,
        }


class ScopeStore:
    def __init__(self, store: WatchStore) -> None:
        self.store = store

    # -- followed scopes --------------------------------------------------------------------------

    def load(self, name: str = "default") -> list[ScopeEntry]:
        path = self.store.path(name)
        if not _exists(path):
            return []
        with self.store._locked(path, write=False):
            return _read_scopes(path)

    def add(self, scopes: list[ScopeEntry], name: str = "default") -> None:
        """Follow scopes; a scope already listed takes the new options (and label, when given)."""

        def change(current: list[ScopeEntry]) -> list[ScopeEntry]:
            index = {s.scope: s for s in current}
            for new in scopes:
                old = index.get(new.scope)
                if old is None:
                    copy = ScopeEntry(
                        new.scope, dict(new.options), new.label, new.added_at, list(new.dismissed)
                    )
                    current.append(copy)
                    index[new.scope] = copy
                else:
                    old.options = dict(new.options)
                    if new.label is not None:
                        old.label = new.label
            return current

        self._update(name, change)

    def remove(self, keys: list[str], name: str = "default") -> int:
        """Stop following scopes (and forget what discovery saved for them); returns how many
        were listed."""
        if not _exists(self.store.path(name)):
            return 0
        drop = set(keys)
        removed = 0

        def change(current: list[ScopeEntry]) -> list[ScopeEntry]:
            nonlocal removed
            kept = [s for s in current if s.scope not in drop]
            removed = len(current) - len(kept)
            return kept

        self._update(name, change)
        if removed:
            try:
                self.save_state(name, {k: None for k in drop})
            except StoreError as exc:
                self.store.warnings.append(f"what was saved for the removed scopes was kept: {exc}")
        return removed

    def set_dismissed(self, scope: str, dismissed: list[str] | set[str], name: str = "default") -> None:
        """Record the tasks dismissed from a scope (the monitor's `d`)."""

        def change(current: list[ScopeEntry]) -> list[ScopeEntry]:
            for entry in current:
                if entry.scope == scope:
                    entry.dismissed = sorted(set(dismissed))
            return current

        self._update(name, change)

    def _update(self, name: str, change: Any) -> None:
        store = self.store
        path = store.path(name)
        with store._locked(path):
            entries = store._read_entries(path)  # moves a corrupt file aside and says so
            scopes = change(_read_scopes(path))
            store._write_entries(path, entries, [s.to_dict() for s in scopes])

    # -- between runs -----------------------------------------------------------------------------

    def state_path(self, name: str = "default") -> Path:
        return self.store.history_dir / f"{_check_name(name)}.scopes.json"

    def load_state(self, name: str = "default") -> dict[str, Any]:
        """What discovery saved at the last run (`Discovery.snapshot()`), by scope."""
        path = self.state_path(name)
        if not _exists(path):
            return {}
        with self.store._locked(path, write=False):
            return self._read_state(path)

    def save_state(self, name: str, state: dict[str, Any]) -> None:
        """Merge per scope; a None value forgets that scope."""
        path = self.state_path(name)
        with self.store._locked(path):
            current = self._read_state(path)
            for key, value in state.items():
                if value is None:
                    current.pop(str(key), None)
                else:
                    current[str(key)] = value
            _atomic_write(path, {"version": VERSION, "scopes": current})

    def _read_state(self, path: Path) -> dict[str, Any]:
        if not _exists(path):
            return {}
        try:
            data = _read_json(path)
        except _Corrupt as exc:
            self.store._move_aside(path, str(exc))
            return {}
        scopes = data.get("scopes") if isinstance(data, dict) else None
        if not isinstance(scopes, dict):
            self.store._move_aside(path, "expected {'version': 1, 'scopes': {...}}")
            return {}
        return {str(k): v for k, v in scopes.items() if isinstance(v, dict)}


def _read_scopes(path: Path) -> list[ScopeEntry]:
    """The "scopes" of a list; items that are not well formed are left out, never fatal."""
    if not _exists(path):
        return []
    data: Any = None
    with contextlib.suppress(_Corrupt):
        data = _read_json(path)
    raw = data.get("scopes") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return []
    out: list[ScopeEntry] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("scope"), str) or item["scope"] in seen:
            continue
        options = item.get("options") if isinstance(item.get("options"), dict) else {}
        label = item.get("label") if isinstance(item.get("label"), str) else None
        added = item.get("added_at", 0.0)
        added = float(added) if isinstance(added, int | float) and not isinstance(added, bool) else 0.0
        given = item.get("dismissed")
        dismissed = [d for d in given if isinstance(d, str)] if isinstance(given, list) else []
        seen.add(item["scope"])
        out.append(ScopeEntry(item["scope"], options, label, added, dismissed))
    return out


# -- discovery and the watch list -------------------------------------------------------------------


def follow_saved(discovery: Discovery, scopes: ScopeStore, list_name: str) -> list[str]:
    """Follow every scope the watch list keeps, with its options, label and dismissed tasks, and
    take back what the last run saved (for `since_last_time`). Returns a message per saved scope
    that could not be followed (it stays in the list)."""
    problems: list[str] = []
    for entry in scopes.load(list_name):
        try:
            discovery.add(
                entry.scope,
                ScopeOptions.from_dict(entry.options),
                label=entry.label,
                added_at=entry.added_at,
                dismissed=entry.dismissed,
            )
        except (ValueError, BkError) as exc:  # ScopeError is a ValueError
            problems.append(f"{entry.scope}: {getattr(exc, 'message', exc)}")
    discovery.restore(scopes.load_state(list_name))
    return problems


def save_followed(
    discovery: Discovery, scopes: ScopeStore, list_name: str, *, dismissed: bool = False
) -> None:
    """Save what the next run needs for "since last time" (and, with `dismissed`, the tasks
    dismissed from each scope). Raises StoreError."""
    scopes.save_state(list_name, discovery.snapshot())
    if dismissed:
        for key, sw in discovery.scopes.items():
            scopes.set_dismissed(key, sorted(sw.dismissed), list_name)
