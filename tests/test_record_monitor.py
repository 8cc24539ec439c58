"""The record kept by the monitor itself: the app replaces the poller's `on_update` when it
mounts, and the record, a poller observer, still sees every poll the screen applies; the report
then tells what the screen showed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bkwatch.cli.run import MonitorOptions, open_record
from bkwatch.record.db import db_path
from bkwatch.record.render import markdown
from bkwatch.record.story import load
from tests.conftest import isolate
from tests.harness import BAD_RAW, frozen_sim, settle, sim_app

SIZE = (160, 48)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate(tmp_path, monkeypatch)


async def test_the_monitor_records_what_it_shows(tmp_path: Path) -> None:
    sim = frozen_sim()
    failing = [t.target for t in sim.world.tasks() if t.state in BAD_RAW and t.system in ("job", "sops")]
    rig = sim_app(sim, tmp_path, failing)
    recorder, notice = open_record(MonitorOptions())
    assert recorder is not None and notice is None
    rig.poller.observers.append(recorder.observe)
    try:
        async with rig.app.run_test(size=SIZE) as pilot:
            await settle(rig, pilot)
            shown = {key: w.task for key, w in rig.app.poller.watches.items()}
            assert rig.app.poller.on_update is not None  # the screen's own handler is in place
    finally:
        recorder.flush()
        recorder.close()
        await rig.client.aclose()
    import sqlite3

    from bkwatch.config import data_dir

    assert str(data_dir()).startswith(str(tmp_path))
    conn = sqlite3.connect(db_path(data_dir()))
    try:
        for key, task in shown.items():
            assert task is not None
            story = load(conn, key)
            assert story is not None and story.state == str(task.state)
            members = {m for c in story.clusters() for m in c.members}
            if task.steps:
                bad = {h.key for s in task.steps for h in s.hosts.values() if h.state.is_bad}
            else:
                bad = {f"{n.name} ({n.id})" for n in task.leaf_nodes() if n.state.is_bad and n.name}
            assert bad and bad <= members, (key, bad - members)
            text = markdown(story)
            assert f": {task.state}" in text.splitlines()[0]
    finally:
        conn.close()


async def test_polls_before_the_record_opens_are_kept_with_their_time(tmp_path: Path) -> None:
    """The monitor opens the record after its first rows are drawn (`run_app`); what was polled
    before is handed over then, stamped with when it was polled, not when it was written."""
    import sqlite3
    import time

    from bkwatch.cli.run import HeldUpdates
    from bkwatch.config import data_dir

    sim = frozen_sim()
    keys = [t.target for t in sim.world.tasks() if t.system in ("job", "sops")][:4]
    rig = sim_app(sim, tmp_path, keys)
    held = HeldUpdates()
    rig.poller.observers.append(held)
    try:
        async with rig.app.run_test(size=SIZE) as pilot:
            await settle(rig, pilot)
            assert held.updates and held.recorder is None
            polled_by = time.time()
            await pilot.pause(0.3)
            recorder, notice = open_record(MonitorOptions())
            assert recorder is not None and notice is None
            held.hand_to(recorder)
            assert not held.updates and held.recorder is recorder
    finally:
        recorder.flush()
        recorder.close()
        await rig.client.aclose()
    conn = sqlite3.connect(db_path(data_dir()))
    try:
        rows = conn.execute("SELECT target, MIN(at) FROM transitions GROUP BY target").fetchall()
    finally:
        conn.close()
    assert {t for t, _ in rows} == set(rig.app.poller.watches)
    assert all(at <= polled_by for _, at in rows), (rows, polled_by)
