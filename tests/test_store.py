"""Watch lists on disk: merge semantics, atomic files, corrupt files moved aside, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from bkwatch.store import StoreError, WatchEntry, WatchStore


def test_empty_store(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    assert store.load() == []
    assert store.lists() == []
    assert store.remove(["job:2:1"]) == 0
    assert store.warnings == []


def test_add_load_remove_round_trip(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    store.add([WatchEntry("job:2:1", "deploy", 100.0), WatchEntry("sops:2:5")])
    store.add([WatchEntry("job:2:1", None, 200.0), WatchEntry("gsekit:2:9", "cfg")])
    entries = WatchStore(tmp_path).load()
    assert [e.target for e in entries] == ["job:2:1", "sops:2:5", "gsekit:2:9"]
    # Re-adding keeps the original time and label unless a new label is given.
    assert entries[0].label == "deploy" and entries[0].added_at == 100.0
    store.add([WatchEntry("job:2:1", "renamed")])
    assert store.load()[0].label == "renamed"

    on_disk = json.loads((tmp_path / "lists" / "default.json").read_text())
    assert on_disk["version"] == 1
    assert on_disk["entries"][0] == {"target": "job:2:1", "label": "renamed", "added_at": 100.0}

    assert store.remove(["job:2:1", "nodeman:2:1"]) == 1
    assert [e.target for e in store.load()] == ["sops:2:5", "gsekit:2:9"]


def test_named_lists_are_separate(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    store.add([WatchEntry("job:2:1")], "release")
    store.add([WatchEntry("job:2:2")])
    assert store.lists() == ["default", "release"]
    assert [e.target for e in store.load("release")] == ["job:2:1"]
    assert [e.target for e in store.load()] == ["job:2:2"]


@pytest.mark.parametrize("name", ["../evil", "", ".hidden", "a/b", "x" * 65, "sp ace"])
def test_bad_list_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(StoreError):
        WatchStore(tmp_path).add([WatchEntry("job:2:1")], name)
    assert not (tmp_path.parent / "evil.json").exists()


def test_no_temp_or_partial_files_left(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    for i in range(1, 6):
        store.add([WatchEntry(f"job:2:{i}")])
    names = sorted(p.name for p in (tmp_path / "lists").iterdir())
    assert names == [".default.json.lock", "default.json"]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b"\xff\xfe",
        b"[1, 2, 3]",
        b'{"version": 1, "entries": {"a": 1}}',
        b'{"version": 1, "entries": [{"label": "no target"}]}',
        b'{"version": 1, "entries": [{"target": "job:2:1", "added_at": "yesterday"}]}',
        b'{"version": 99, "entries": []}',
    ],
)
def test_corrupt_file_is_moved_aside_not_replaced(tmp_path: Path, content: bytes) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "default.json").write_bytes(content)
    store = WatchStore(tmp_path)
    assert store.load() == []
    aside = [p for p in lists.iterdir() if p.name.startswith("default.json.corrupt-")]
    assert len(aside) == 1
    assert aside[0].read_bytes() == content  # the user's bytes are kept exactly
    assert len(store.warnings) == 1 and aside[0].name in store.warnings[0]
    assert not (lists / "default.json").exists()
    # The next write starts a fresh list beside the kept copy.
    store.add([WatchEntry("job:2:1")])
    assert [e.target for e in WatchStore(tmp_path).load()] == ["job:2:1"]
    assert aside[0].exists()


def test_corrupt_file_found_during_add_is_kept(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "ops.json").write_text("garbage")
    store = WatchStore(tmp_path)
    store.add([WatchEntry("sops:2:5")], "ops")
    assert [e.target for e in store.load("ops")] == ["sops:2:5"]
    assert any(p.name.startswith("ops.json.corrupt-") for p in lists.iterdir())
    assert store.warnings and "ops.json" in store.warnings[0]


def test_two_corruptions_in_the_same_second_both_kept(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    store = WatchStore(tmp_path)
    for content in ("one", "two"):
        (lists / "default.json").write_text(content)
        store.load()
    kept = sorted(p.read_text() for p in lists.iterdir() if ".corrupt-" in p.name)
    assert kept == ["one", "two"]


def test_last_seen_round_trip_keeps_only_known_fields(tmp_path: Path) -> None:
    store = WatchStore(tmp_path)
    assert store.load_last_seen("default") == {}
    store.save_last_seen(
        "default",
        {"job:2:1": {"state": "failed", "name": "deploy", "at": 5.0, "token": "do-not-store"}},
    )
    seen = WatchStore(tmp_path).load_last_seen("default")
    assert seen == {"job:2:1": {"state": "failed", "name": "deploy", "at": 5.0}}
    assert "do-not-store" not in (tmp_path / "history" / "default.json").read_text()


def test_corrupt_history_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "default.json").write_text('{"seen": [1]}')
    store = WatchStore(tmp_path)
    assert store.load_last_seen("default") == {}
    assert store.warnings
    assert any(".corrupt-" in p.name for p in (tmp_path / "history").iterdir())


def _writer(data_dir: str, prefix: int, count: int) -> None:
    store = WatchStore(Path(data_dir))
    for i in range(1, count + 1):
        store.add([WatchEntry(f"job:{prefix}:{i}")])
        if i % 10 == 0:
            store.remove([f"job:{prefix}:{i}"])  # removals must not resurrect or drop others' entries


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    count = 60
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), p, count)) for p in (2, 3)]
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
            if p.is_alive():
                p.kill()
                p.join()
    targets = {e.target for e in WatchStore(tmp_path).load()}
    expected = {f"job:{p}:{i}" for p in (2, 3) for i in range(1, count + 1) if i % 10}
    assert targets == expected
