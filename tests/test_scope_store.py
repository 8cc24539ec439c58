"""Scopes in watch lists: old lists unchanged, scopes kept through target edits, saved state."""

from __future__ import annotations

import json
from pathlib import Path

from bkwatch.scope_store import ScopeEntry, ScopeStore
from bkwatch.scopes import ScopeOptions
from bkwatch.store import WatchEntry, WatchStore


def test_a_list_from_before_loads_and_saves_unchanged(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    path = store.path("default")
    path.parent.mkdir(parents=True)
    old = {"version": 1, "entries": [{"target": "job:2:42", "label": "x", "added_at": 1.0}]}
    path.write_text(json.dumps(old))
    assert [e.target for e in store.load()] == ["job:2:42"]
    assert ScopeStore(store).load() == []
    store.add([WatchEntry("sops:2:101", None, 2.0)])
    saved = json.loads(path.read_text())
    assert set(saved) == {"version", "entries"}  # no "scopes" key for a list without scopes
    assert [e["target"] for e in saved["entries"]] == ["job:2:42", "sops:2:101"]


def test_scopes_survive_edits_of_the_hand_added_targets(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    scopes = ScopeStore(store)
    options = ScopeOptions(mine=True, since=4 * 3600).to_dict()
    scopes.add([ScopeEntry("job:2", options, None, 5.0)])
    store.add([WatchEntry("job:2:42")])
    store.remove(["job:2:42"])
    store.add([WatchEntry("sops:2:1")])
    (entry,) = scopes.load()
    assert entry.scope == "job:2" and ScopeOptions.from_dict(entry.options) == ScopeOptions(
        mine=True, since=14400
    )
    scopes.add([ScopeEntry("job:2", {"cron": True})])  # new options replace the old
    assert scopes.load()[0].options == {"cron": True}
    scopes.set_dismissed("job:2", ["job:2:7", "job:2:7", "job:2:3"])
    assert scopes.load()[0].dismissed == ["job:2:3", "job:2:7"]
    assert [e.target for e in store.load()] == ["sops:2:1"]


def test_removing_a_scope_forgets_its_saved_state(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    scopes = ScopeStore(store)
    scopes.add([ScopeEntry("job:2"), ScopeEntry("sops:2")])
    scopes.save_state("default", {"job:2": {"at": 1.0, "held": {}}, "sops:2": {"at": 2.0, "held": {}}})
    scopes.save_state("default", {"sops:2": {"at": 3.0, "held": {"sops:2:9": {"state": "failed"}}}})
    assert scopes.load_state()["sops:2"]["at"] == 3.0 and scopes.load_state()["job:2"]["at"] == 1.0
    assert scopes.remove(["job:2", "bkflow:1"]) == 1
    assert [s.scope for s in scopes.load()] == ["sops:2"]
    assert set(scopes.load_state()) == {"sops:2"}


def test_bad_scope_items_are_left_out_and_a_corrupt_state_moved_aside(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    path = store.path("default")
    path.parent.mkdir(parents=True)
    doc = {
        "version": 1,
        "entries": [],
        "scopes": [{"scope": "job:2", "options": {"cap": "x", "mine": 1}, "dismissed": "nope"}, 7, {"x": 1}],
    }
    path.write_text(json.dumps(doc))
    (entry,) = ScopeStore(store).load()
    assert entry.dismissed == [] and ScopeOptions.from_dict(entry.options) == ScopeOptions()
    scopes = ScopeStore(store)
    state = scopes.state_path()
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    assert scopes.load_state() == {}
    assert any("moved to" in w for w in store.warnings)
    assert list(state.parent.glob("default.scopes.json.corrupt-*"))
