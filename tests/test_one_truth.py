"""One truth on every screen: one task is one row, one watch and one list entry however it
arrived (a page URL, an id, a followed scope), and `bkwatch status` tells of every demo task what
the monitor shows — the same progress, state and name. Against one frozen simulator: the CLI over
loopback, the monitor in-process with `App.run_test()`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from textual.widgets import Input

from bkwatch import cli
from bkwatch.cli.demo import DEMO_SCOPE, demo_entries
from bkwatch.cli.task_report import name_text, progress_text
from bkwatch.model import System
from bkwatch.store import WatchEntry, WatchStore
from bkwatch.targets import identity, parse_target
from bkwatch.tui.dialogs.dialogs import AddDialog
from tests.harness import frozen_sim, settle, sim_app
from tests.test_bad_input import _error, _paste
from tests.test_cli import connect, isolated, sim  # noqa: F401  (fixtures)


def _rows(app: Any) -> dict[str, tuple[object, ...]]:
    """What the monitor's job list draws, by row key: (label, name, state, progress, ...)."""
    return {line.key: line.sig for line in app.joblist.lines if not line.header}


async def _monitor(sim: Any, data_dir: Path, targets: list[str], scopes: dict[str, dict]) -> dict[str, Any]:  # noqa: F811
    rig = sim_app(sim, data_dir, targets, scopes=scopes)
    async with rig.app.run_test(size=(200, 50)) as pilot:
        await settle(rig, pilot)
        rows = _rows(rig.app)
        titles = {k: w.title for k, w in rig.poller.watches.items()}
    await rig.client.aclose()
    return {"rows": rows, "titles": titles}


def test_status_tells_what_the_monitor_shows_for_every_demo_task(
    sim: Any,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, sim.base_url)
    entries, _ = demo_entries(sim.world.tasks())
    targets = [e.target for e in entries]
    # The demo's list and its followed scope, as `status` and as the monitor read them.
    code = cli.main(["status", "--json", DEMO_SCOPE, *targets])
    out, errout = capsys.readouterr()
    assert code == 0, errout
    doc = json.loads(out)
    seen = asyncio.run(_monitor(sim, tmp_path / "monitor", targets, {DEMO_SCOPE: {}}))
    rows, titles = seen["rows"], seen["titles"]

    by_target = {t["target"]: t for t in doc["tasks"]}
    assert set(by_target) == set(rows), "status and the monitor list the same tasks"
    assert len(rows) > len(targets)  # the scope found tasks beyond the list's
    systems = set()
    assert any(f.get("name") for t in doc["tasks"] for f in t["failures"])  # a named failure is shown
    for key, sig in rows.items():
        label, name, state, progress = sig[:4]
        t = by_target[key]
        systems.add(t["system"])
        assert t["state"] == str(state), key
        assert progress_text(t) == progress, key  # e.g. a JOB task's host results over every step
        assert t["name"] == name, key
        assert name_text(t["name"], label) == titles[key] or titles[key] == key, key
    assert systems == {str(s) for s in System}

    # The table says the same: the monitor's progress and the task's own name.
    code = cli.main(["status", DEMO_SCOPE, *targets])
    table, _ = capsys.readouterr()
    for key, sig in rows.items():
        line = next(ln for ln in table.splitlines() if ln.startswith(key + " "))
        assert f" {sig[3]} " in line, line
        if sig[1]:
            assert str(sig[1])[:20] in line, line
        failed = by_target[key]["failures"]
        if failed and failed[0].get("name"):
            # A failed node by the name the monitor shows, not its id.
            assert f"e.g. {failed[0]['name'][:10]}" in line, line


async def test_a_task_by_url_by_id_and_by_a_followed_scope_is_one_row(tmp_path: Path) -> None:
    world = frozen_sim(seed=3)
    by_project = "sops:project:5:101"  # business 2 is SOPS project 5: the same task 101
    url = "http://paas.example.com/o/bk_sops/taskflow/execute/5/?instance_id=101"
    targets = ["sops:2:101", by_project, "nodeman:2:302", "nodeman:302"]
    rig = sim_app(world, tmp_path, targets, scopes={"sops:2": {}})
    async with rig.app.run_test(size=(200, 50)) as pilot:
        await settle(rig, pilot)
        rig.app.watchlist.watch_target(parse_target(url), "release 101")
        rig.app.watchlist.watch_target(parse_target("https://n.example.com/#/task-list/detail/302"))
        await pilot.pause()
        rows = _rows(rig.app)
        for ident in ("sops:101", "nodeman:302"):
            mine = [k for k in rows if identity(parse_target(k)) == ident]
            assert len(mine) == 1, (ident, mine)
        assert sum(1 for w in rig.poller.watches.values() if w.target.id == "101") == 1
        # The label given by the URL is on the one watch, beside the task's name.
        (w101,) = [w for w in rig.poller.watches.values() if w.target.id == "101"]
        assert w101.label == "release 101" and w101.task is not None
        assert w101.title == f"{w101.task.name} (release 101)"
        saved = [e.target for e in rig.store.load("test")]
        assert len([t for t in saved if t.endswith(":101")]) == 1
        assert len([t for t in saved if t.endswith("302")]) == 1
        # The add dialog says so too, whichever form is pasted.
        await pilot.press("a")
        await pilot.pause()
        dialog = rig.app.screen
        assert isinstance(dialog, AddDialog)
        for text in ("https://n.example.com/#/task-list/detail/302", "sops:2:101", url):
            await _paste(pilot, dialog.query_one("#add-target", Input), text)
            await pilot.press("enter")
            await pilot.pause()
            assert rig.app.screen is dialog and "is already watched" in _error(rig.app), text
    await rig.client.aclose()


def test_an_old_list_holding_one_task_in_two_forms_loads_as_one_entry_with_its_labels(
    tmp_path: Path,
) -> None:
    store = WatchStore(tmp_path)
    store.path("old").parent.mkdir(parents=True)
    entries = [
        {"target": "nodeman:2:302", "label": None, "added_at": 1.0},
        {"target": "sops:project:5:103", "label": None, "added_at": 2.0, "focus": "n1"},
        {"target": "nodeman:302", "label": "agents", "added_at": 3.0},
        {"target": "sops:2:103", "label": "release", "added_at": 4.0},
        {"target": "job:2:1", "label": None, "added_at": 5.0},
        {"target": "job:3:1", "label": None, "added_at": 6.0},  # another business: another task
    ]
    store.path("old").write_bytes(orjson.dumps({"version": 1, "entries": entries}))
    loaded = store.load("old")
    assert [(e.target, e.label, e.focus) for e in loaded] == [
        ("nodeman:2:302", "agents", None),  # the first form kept: it carries the business
        ("sops:project:5:103", "release", "n1"),
        ("job:2:1", None, None),
        ("job:3:1", None, None),
    ]
    # Adding the task again in its other form changes its label, not the list's length.
    store.add([WatchEntry("sops:2:103", "hotfix")], "old")
    assert [(e.target, e.label) for e in store.load("old")][1] == ("sops:project:5:103", "hotfix")
    assert len(store.load("old")) == 4
    store.save_last_seen("old", {"nodeman:2:302": {"state": "failed", "at": 1.0}})
    assert store.remove(["nodeman:302"], "old") == 1
    assert store.load_last_seen("old") == {}  # its history too, under whichever form
    assert [e.target for e in store.load("old")] == ["sops:project:5:103", "job:2:1", "job:3:1"]


def test_one_task_named_two_ways_on_the_command_line_is_asked_and_awaited_once(
    sim: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, sim.base_url)
    done = next(t for t in sim.world.tasks() if t.target.startswith("sops:2:") and t.state == "FINISHED")
    task_id = done.target.rsplit(":", 1)[1]
    both = [done.target, f"sops:project:5:{task_id}"]
    code = cli.main(["status", "--json", *both])
    out, errout = capsys.readouterr()
    assert code == 0, errout
    assert [t["target"] for t in json.loads(out)["tasks"]] == [done.target]
    # Awaited once: the one watch's end ends the wait (it would time out waiting for a second).
    code = cli.main(["wait", "--interval", "0.2", "--timeout", "20", *both])
    out, errout = capsys.readouterr()
    assert code == 0, errout
    assert "timed out" not in errout and out.count(done.target) == 1
