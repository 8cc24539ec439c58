"""Replay from the record: the monitor run against the simulator, its rows taken at each recorded
transition, then the same task replayed in the same panes from the record alone and compared at
three points; the replay's keys and its REPLAY mark; one SVG snapshot; a task whose units come
and go (whole snapshots and deltas); `bkwatch replay` into a pipe and on a terminal."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest

from bkwatch import cli
from bkwatch.cli.record_view import RecordView
from bkwatch.config import data_dir
from bkwatch.model import Task
from bkwatch.poller import Cadence, Poller
from bkwatch.record.db import connect, db_path
from bkwatch.record.recorder import Recorder
from bkwatch.record.snapshot import FULL_EVERY, frames
from bkwatch.tui.dialogs.dialogs import HelpScreen
from bkwatch.tui.drilldown.detail import DetailPane
from bkwatch.tui.replay.screen import ReplayApp, ReplayScreen
from bkwatch.tui.widgets.lines import LineView
from tests.conftest import isolate
from tests.harness import frame_text, frozen_sim, sim_app
from tests.test_cli import _pty_run

NARROW = (100, 40)
SLOW = Cadence(focused=1e6, young=1e6, active=1e6, waiting=1e6, finished=1e6, unknown=1e6, jitter=0)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate(tmp_path, monkeypatch)


def rows(detail: DetailPane) -> list[str]:
    """Every line the drill-down shows: the title, then each list's lines as text."""
    views: list[LineView] = [detail.job.steps_view, *detail.grouped_views()]
    out = [detail.title_bar.shown.plain]
    for view in views:
        if view.display and view.lines:
            out += [view.plain(line.key) for line in view.lines]
    return out


async def test_replay_shows_the_rows_the_live_monitor_showed(tmp_path: Path) -> None:
    sim = frozen_sim()
    target = sim.world.add_task("job", kind="fail", hosts=24, scope=("biz", 2))
    # One clock for the monitor and its record, as in `bkwatch` (the time of day for both): a
    # running job's time is counted to its last answer, which the record keeps as the frame's.
    rig = sim_app(sim, tmp_path, [target], select=target, record=RecordView(data_dir()), clock=sim.world.now)
    recorder = Recorder(data_dir(), clock=sim.world.now)
    kept: list[bool] = []
    rig.poller.observers.append(recorder.observe)
    rig.poller.observers.append(lambda u: kept.append(bool(u.transitions) or not kept))
    live: list[list[str]] = []
    try:
        async with rig.app.run_test(size=NARROW) as pilot:
            # Below 120 columns the opened task takes the whole width, as the replay's panes do.
            for _ in range(40):
                await rig.poller.poll_all()
                if rig.app.detail.main_view() is not None and not rig.app.detail.has_focus_within:
                    rig.app.detail.main_view().focus()  # type: ignore[union-attr]
                await pilot.pause()
                if kept[-1]:  # a poll the record keeps: what the monitor shows now
                    live.append(rows(rig.app.detail))
                sim.world.advance(2)
            recorder.flush()
            await pilot.press("R")  # the monitor's key on the selected task
            for _ in range(50):
                await pilot.pause(0.05)
                if isinstance(rig.app.screen, ReplayScreen):
                    break
            screen = rig.app.screen
            assert isinstance(screen, ReplayScreen) and screen.key == target
            found = screen.frames
            assert len(found) == len(live) >= 4
            assert found[-1][1].state == rig.poller.watches[target].task.state  # type: ignore[union-attr]
            points = [0, len(found) // 2, len(found) - 1]
            for i in points:
                screen.go(i)
                await pilot.pause()
                assert rows(screen.detail) == live[i], f"frame {i}"
            text = frame_text(rig.app)
            assert "REPLAY" in text and time.strftime("%H:%M:%S", time.localtime(found[-1][0])) in text
            # The mark counts the frames, and the keys move the time cursor.
            await pilot.press("b")
            assert screen.index == 0
            await pilot.press("right", "right")
            assert screen.index == 2
            await pilot.press("left")
            assert screen.index == 1
            await pilot.press("f")
            assert screen.index == min(
                i
                for i, (_, t) in enumerate(found)
                if any(h.state.is_bad for s in t.steps for h in s.hosts.values()) or t.state.is_bad
            )
            await pilot.press("escape")
            await pilot.pause()
            assert rig.app.screen is not screen
    finally:
        recorder.close()
        await rig.client.aclose()


async def test_play_steps_through_at_ten_times_the_pace(tmp_path: Path) -> None:
    task = lambda s: Task("job:2:1", "job", "t", s, s.value, False)  # noqa: E731
    from bkwatch.model import State

    found = [(1000.0, task(State.PENDING)), (1005.0, task(State.RUNNING)), (1010.0, task(State.FAILED))]
    app = ReplayApp("job:2:1", found)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.replay
        await pilot.pause()
        assert screen.index == 0 and "paused" in frame_text(app)
        await pilot.press("space")
        assert screen.playing
        await asyncio.sleep(0.8)  # 5 recorded seconds take half a second, give or take the timer
        await pilot.pause()
        assert screen.index >= 1
        await asyncio.sleep(1.5)
        await pilot.pause()
        assert screen.index == 2 and not screen.playing  # stops at the end
        await pilot.press("question_mark")  # the replay's own keys
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and "The first recorded transition" in frame_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)


def test_replay_snapshot_at_a_failure(snap_compare, tmp_path: Path) -> None:
    target = _record_one(hosts=12, polls=30, step=3)
    conn = connect(db_path(data_dir()), readonly=True)
    found = frames(conn, target)
    conn.close()
    assert len(found) >= 3
    assert snap_compare(ReplayApp(target, found), terminal_size=(80, 24), press=["f"])


def test_whole_snapshots_and_deltas_rebuild_every_frame(isolated: Path) -> None:
    """A pipeline whose nodes appear as it runs and a JOB task of 300 hosts kept past FULL_EVERY
    frames (small deltas kept as JSON, big ones compressed): every frame rebuilt from the record
    equals the snapshot the poller held then."""
    sim = frozen_sim()
    job = sim.world.add_task("job", kind="fail", hosts=300, scope=("biz", 2))
    sops = sim.world.add_task("sops", kind="deepfail")
    held: dict[str, list[Task]] = {job: [], sops: []}

    async def go() -> None:
        import httpx

        from bkwatch.cli.demo import demo_profile
        from bkwatch.client import BkClient
        from bkwatch.systems.adapters import fetch_task
        from bkwatch.targets import parse_target
        from tests.harness import BASE

        client = BkClient(demo_profile(BASE), transport=httpx.ASGITransport(app=sim.app))
        poller = Poller(lambda t: fetch_task(client, t), cadence=SLOW)
        recorder = Recorder(data_dir(), clock=sim.world.now)
        poller.observers.append(recorder.observe)
        poller.observers.append(
            lambda u: held[u.key].append(u.watch.task) if u.transitions and u.watch.task else None
        )
        poller.add(parse_target(job))
        poller.add(parse_target(sops))
        try:
            for _ in range(FULL_EVERY + 10):
                await poller.poll_all()
                sim.world.advance(3)
        finally:
            await client.aclose()
            recorder.flush()
            recorder.close()

    asyncio.run(go())
    conn = connect(db_path(data_dir()), readonly=True)
    try:
        for key, tasks in held.items():
            found = frames(conn, key)
            assert len(found) == len(tasks) >= 3, key
            wholes = [w for (w,) in conn.execute("SELECT whole FROM snapshots WHERE target = ?", (key,))]
            assert 0 in wholes, f"{key}: deltas kept"
            # Nodes appearing as the pipeline runs are deltas too: whole only every FULL_EVERY-th.
            assert wholes == [int(i % FULL_EVERY == 0) for i in range(len(wholes))], (key, wholes)
            if key == job:
                deltas = [
                    d
                    for (d,) in conn.execute(
                        "SELECT data FROM snapshots WHERE target = ? AND NOT whole", (key,)
                    )
                ]
                assert {d[:1] == b"{" for d in deltas} == {True, False}, (
                    "small deltas as JSON, big ones compressed"
                )
            for i in [*range(len(found)), 0, len(found) - 1, 1]:  # forward, then back
                _, task = found[i]
                assert _plain(task) == _plain(tasks[i]), (key, i)
    finally:
        conn.close()


def test_units_that_come_go_and_move_are_kept_as_deltas_and_rebuilt() -> None:
    """Hosts added, removed and reordered in a step, a step added and one gone, NodeMan-style task
    hosts emptied, a node tree that grows, is reshaped and goes: after the first, every snapshot is
    a delta, and every frame is rebuilt as the task was."""
    from bkwatch.model import Host, Node, State, Step, System
    from bkwatch.record.snapshot import Frames, Keeper

    def host(key: str, state: State = State.RUNNING) -> Host:
        return Host(key, key.split(":")[1], 0, state, "7", "running")

    def node(nid: str, *children: Node) -> Node:
        return Node(nid, f"node {nid}", State.RUNNING, "RUNNING", children=list(children))

    def task(steps: dict[str, list[str]], hosts: list[str], tree: Node | None) -> Task:
        return Task(
            "job:2:1", System.JOB, "t", State.RUNNING, "2", False,
            steps=[Step(s, s, "script", State.RUNNING, "2", hosts={k: host(k) for k in ks})
                   for s, ks in steps.items()],
            hosts={k: host(k, State.FAILED) for k in hosts},
            root=tree,
        )  # fmt: skip

    seq = [
        task({"s1": ["0:a", "0:b"]}, ["0:x"], node("r", node("n1"))),
        task({"s1": ["0:a", "0:b", "0:c"]}, ["0:x", "0:y"], node("r", node("n1"), node("n2"))),
        task({"s1": ["0:c", "0:a"]}, ["0:y"], node("r", node("n1", node("n3")), node("n2"))),
        task({"s1": ["0:c", "0:a"], "s2": ["0:d"]}, [], node("r", node("n2"), node("n1"))),
        task({"s2": ["0:d", "0:e"]}, ["0:z"], None),
        task({"s2": ["0:e"]}, ["0:z"], node("r2")),
    ]
    keeper = Keeper()
    kept = [keeper.encode(t, lambda x: x) for t in seq]
    assert [whole for whole, _ in kept] == [True] + [False] * (len(seq) - 1)
    assert all(blob[:1] != b"{" for _, blob in kept[1:]), "a reshaping delta is kept compressed"
    found = Frames([(float(i), whole, blob) for i, (whole, blob) in enumerate(kept)])
    for i in [*range(len(seq)), 2, 0, 5]:  # forward, then back and forth
        assert _plain(found[i][1]) == _plain(seq[i]), i


def test_deltas_are_kept_as_json_and_older_compressed_ones_still_read(isolated: Path) -> None:
    """A delta is kept as JSON without the field names (its whole snapshot names them); a
    record written before that, every snapshot compressed and naming its fields, is read back
    into the very same frames."""
    import sqlite3
    import zlib

    import orjson

    from bkwatch.record.snapshot import FIELDS

    target = _record_one(hosts=6, polls=8)
    path = db_path(data_dir())
    conn = sqlite3.connect(path)
    try:
        kept = conn.execute("SELECT rowid, whole, data FROM snapshots WHERE target = ?", (target,)).fetchall()
        deltas = [data for _, whole, data in kept if not whole]
        assert deltas and all(d[:1] == b"{" and b'"fields"' not in d for d in deltas)
        assert all(zlib.decompress(data)[:1] == b"{" for _, whole, data in kept if whole)
        now = [_plain(task) for _, task in frames(conn, target)]
        for rowid, whole, data in kept:  # as the earlier format wrote them
            body = orjson.loads(zlib.decompress(data) if whole else data)
            body["fields"] = FIELDS
            conn.execute(
                "UPDATE snapshots SET data = ? WHERE rowid = ?", (zlib.compress(orjson.dumps(body), 6), rowid)
            )
        conn.commit()
        assert [_plain(task) for _, task in frames(conn, target)] == now
    finally:
        conn.close()


def _plain(task: Task) -> Any:
    from dataclasses import asdict

    out = asdict(task)
    out.pop("_progress")
    return out


def _record_one(*, hosts: int = 6, polls: int = 8, step: float = 30) -> str:
    """A failing JOB task of the simulator, polled `polls` times `step` seconds apart and recorded."""
    sim = frozen_sim()
    target = sim.world.add_task("job", kind="fail", hosts=hosts, scope=("biz", 2))

    async def go() -> None:
        import httpx

        from bkwatch.cli.demo import demo_profile
        from bkwatch.client import BkClient
        from bkwatch.systems.adapters import fetch_task
        from bkwatch.targets import parse_target
        from tests.harness import BASE

        client = BkClient(demo_profile(BASE), transport=httpx.ASGITransport(app=sim.app))
        poller = Poller(lambda t: fetch_task(client, t), cadence=SLOW)
        recorder = Recorder(data_dir(), clock=sim.world.now)
        poller.observers.append(recorder.observe)
        poller.add(parse_target(target))
        try:
            for _ in range(polls):
                await poller.poll_all()
                sim.world.advance(step)
        finally:
            await client.aclose()
            recorder.flush()
            recorder.close()

    asyncio.run(go())
    return target


def test_replay_into_a_pipe_prints_text(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = _record_one()
    assert cli.main(["replay", target]) == 0
    out = capsys.readouterr().out
    assert "task" in out and "failed" in out and "REPLAY" not in out
    assert cli.main(["replay", target, "--text"]) == 0


@pytest.mark.timeout(120)
def test_replay_on_a_terminal_opens_the_panes(isolated: Path) -> None:
    target = _record_one()
    out, code = _pty_run(["replay", target], {b"REPLAY"})
    assert code == 0, out[-2000:]
    assert b"\x1b[?1049h" in out and b"REPLAY" in out  # the alternate screen: the panes
    out, code = _pty_run(["replay", target, "--text"], {b"never shown"})
    assert code == 0 and b"\x1b[?1049h" not in out and b"failed" in out


# ---- a host's past -------------------------------------------------------------------------------


async def _poll_recorded(sim: Any, targets: list[str]) -> None:
    import httpx

    from bkwatch.cli.demo import demo_profile
    from bkwatch.client import BkClient
    from bkwatch.systems.adapters import fetch_task
    from bkwatch.targets import parse_target
    from tests.harness import BASE

    client = BkClient(demo_profile(BASE), transport=httpx.ASGITransport(app=sim.app))
    poller = Poller(lambda t: fetch_task(client, t), cadence=SLOW)
    recorder = Recorder(data_dir())
    poller.observers.append(recorder.observe)
    for t in targets:
        poller.add(parse_target(t))
    try:
        await poller.poll_all()
    finally:
        await client.aclose()
        recorder.flush()
        recorder.close()


async def test_a_host_failed_in_three_tasks_says_so_on_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bkwatch.tui.replay.hosts import HostHistoryScreen

    sim = frozen_sim()
    targets = [sim.world.add_task("job", kind="ok", hosts=5, scope=("biz", 2)) for _ in range(3)]
    sim.world.advance(600)
    data = sim.world.get(targets[0]).data(sim.world.now(), True)
    h = data["step_instance_list"][0]["step_ip_result_list"][0]
    host = f"{h['bk_cloud_id']}:{h['ip']}"
    for t in targets:
        sim.world.force(t, 11, host=host)  # the same machine fails in each
    await _poll_recorded(sim, targets[:2])  # two tasks seen before
    assert cli.main(["hosts", "--flaky", "--json", "--min", "2"]) == 0
    import json

    [entry] = [e for e in json.loads(capsys.readouterr().out)["hosts"] if e["host"] == host]
    assert entry["count"] == 2 and entry["signature"]

    record = RecordView(data_dir())
    rig = sim_app(sim, tmp_path, [targets[2]], select=targets[2], record=record)
    recorder = Recorder(data_dir())
    rig.poller.observers.append(recorder.observe)
    try:
        async with rig.app.run_test(size=NARROW) as pilot:
            await rig.poller.poll_all()
            await pilot.pause()
            view = rig.app.detail.job.hosts_view
            view.focus()  # below 120 columns: the task opened, full-width
            for _ in range(50):  # the note is read off the screen's thread, then the line redrawn
                await pilot.pause(0.05)
                if any(x.key == host for x in view.lines) and " in 7d" in view.plain(host):
                    break
            line = view.plain(host)
            assert "3rd in 7d, same sig · " in line, line
            view.move_to(host)
            await pilot.pause()
            said = rig.app.detail.info.shown.plain
            assert "3rd failure in 7 days, same signature (H: its past)" in said, said
            await pilot.press("H")
            for _ in range(50):
                await pilot.pause(0.05)
                if isinstance(rig.app.screen, HostHistoryScreen):
                    break
            screen = rig.app.screen
            assert isinstance(screen, HostHistoryScreen) and screen.host == host
            assert {f.target for f in screen.past} == set(targets[:2]) | (
                {targets[2]} if len(screen.past) > 2 else set()
            )
            assert "failure" in frame_text(rig.app) and "Host " in frame_text(rig.app)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(rig.app.screen, HostHistoryScreen)
    finally:
        recorder.close()
        await rig.client.aclose()
    assert cli.main(["hosts", "--flaky", "--json"]) == 0
    [entry] = [e for e in json.loads(capsys.readouterr().out)["hosts"] if e["host"] == host]
    assert entry["count"] == 3 and entry["signature_count"] == 3


async def test_since_last_time_reads_the_record(tmp_path: Path) -> None:
    """The list's history knows nothing of the task (it is saved at most every 30 s); the record
    saw it running: the summary says so, with when, and what fails now."""
    from bkwatch.model import failures

    sim = frozen_sim()
    target = sim.world.add_task("job", kind="fail", hosts=8, scope=("biz", 2))
    await _poll_recorded(sim, [target])  # seen running by an earlier run
    sim.world.advance(3600)  # it failed while bkwatch was closed
    rig = sim_app(sim, tmp_path, [target], select=target, record=RecordView(data_dir()))
    try:
        async with rig.app.run_test(size=NARROW) as pilot:
            await pilot.pause(0.2)  # the record is read off the screen's thread at start
            await rig.poller.poll_all()
            for _ in range(40):
                await pilot.pause(0.05)
                if any("Since last time" in line for line in rig.app.log_view.entries):
                    break
            task = rig.poller.watches[target].task
            assert task is not None and task.state.is_bad
            [line] = [x for x in rig.app.log_view.entries if "Since last time" in x]
            assert f"running -> {task.state} (running at " in line and "when you left" in line, line
            assert f"; {len(failures(task))} failing)" in line, line
    finally:
        await rig.client.aclose()


def test_a_record_from_before_replays_is_migrated_and_still_read(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A schema-1 file (no snapshots) opens as the current schema with its rows kept; its task has no frame
    to replay, and `bkwatch replay` still prints its changes."""
    import sqlite3

    from bkwatch.record.db import MIGRATIONS, VERSION, open_db

    path = db_path(data_dir())
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path)
    old.executescript(f"{MIGRATIONS[0]}; PRAGMA user_version = 1;")
    old.execute("INSERT INTO tasks (target, system, name, state) VALUES ('job:2:7', 'job', 'old', 'failed')")
    old.execute(
        "INSERT INTO transitions VALUES (?, 1.7e9, 'task', ?, 'old', 'running', 'failed', NULL, NULL)",
        ("job:2:7", "job:2:7"),
    )
    old.commit()
    old.close()
    conn, notice = open_db(path)
    try:
        assert notice is None and VERSION == 4
        assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION
        assert conn.execute("SELECT name, started_by FROM tasks").fetchone() == ("old", None)
        assert len(frames(conn, "job:2:7")) == 0
    finally:
        conn.close()
    assert len(RecordView(data_dir()).frames("job:2:7")) == 0
    assert cli.main(["replay", "job:2:7"]) == 0
    assert "running → failed" in capsys.readouterr().out


async def test_a_pipeline_s_first_frames_borrow_the_names_its_detail_gave_later() -> None:
    """BKFlow's status tree names nothing: the first frames, recorded before the task's detail was
    read, show node ids and no title. The replay takes the names (only the names) from the last
    frame; the frames themselves are left as recorded."""
    from bkwatch.model import Node, State, System

    def task(named: bool, state: State) -> Task:
        leaf = Node("n2", "发送通知" if named else "n2", state, str(state))
        root = Node("n1", "bkflow task 9" if named else "n1", state, str(state), children=[leaf])
        return Task(
            "bkflow:1:9", System.BKFLOW, "bkflow task 9" if named else None, state, "x", False, root=root
        )

    first, last = task(False, State.RUNNING), task(True, State.FAILED)
    app = ReplayApp("bkflow:1:9", [(1.0, first), (2.0, last)])
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen = app.replay
        assert screen.index == 0
        assert "bkflow task 9" in screen.detail.title_bar.shown.plain
        shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", frame_text(app))
        assert "running  发送通知" in shown and "running  n2" not in shown, shown
        assert "paused  bkflow task 9" in shown.splitlines()[0], shown  # the REPLAY mark too
        assert "FAILED" not in shown, shown  # the first frame's own states
    assert first.name is None and first.root is not None and first.root.children[0].name == "n2"
