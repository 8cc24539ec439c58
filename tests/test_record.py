"""The record (bkwatch.record): polls of the simulator on loopback kept in SQLite and read back —
what it holds against what the simulator did, outages, actions from the audit, a killed writer,
the size bound, a corrupt file, and `hosts --flaky`."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bkwatch import cli
from bkwatch.client import BkClient
from bkwatch.config import data_dir, load_profile
from bkwatch.poller import Cadence, Poller
from bkwatch.record.db import Limits, db_path, open_db, prune, size_of
from bkwatch.record.recorder import Recorder
from bkwatch.sim import SimConfig, Simulator
from bkwatch.sim.job import HOST_OK
from bkwatch.systems.adapters import fetch_task, settle
from bkwatch.targets import parse_target
from tests.conftest import isolate
from tests.test_cli import connect

SLOW = Cadence(focused=1e6, young=1e6, active=1e6, waiting=1e6, finished=1e6, unknown=1e6, jitter=0)
REPO = Path(__file__).resolve().parent.parent


@contextlib.asynccontextmanager
async def recording(
    targets: list[str], where: Path | None = None, **kw: Any
) -> AsyncIterator[tuple[BkClient, Poller, Recorder]]:
    """A client, a poller of `targets` and a recorder of its updates (in `where`, the user's
    record by default); the recorder flushed and closed after."""
    client = BkClient(load_profile())
    poller = Poller(lambda t: fetch_task(client, t), cadence=SLOW)
    recorder = Recorder(where or data_dir(), **kw)
    poller.observers.append(recorder.observe)
    for t in targets:
        poller.add(parse_target(t))
    try:
        yield client, poller, recorder
    finally:
        await client.aclose()
        recorder.flush()
        recorder.close()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate(tmp_path, monkeypatch)


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    simulator = Simulator(SimConfig(seed=7, frozen=True))
    with simulator.serve() as server:
        connect(monkeypatch, server.base_url)
        monkeypatch.setenv("BKWATCH_ALLOW_ACTIONS", "1")
        yield simulator


def watch(
    sim: Simulator,
    targets: list[str],
    rounds: int = 3,
    step: float = 200.0,
    where: Path | None = None,
    **kw: Any,
) -> Recorder:
    """Poll `targets` `rounds` times with the simulator advanced `step` seconds between rounds,
    every update recorded (in `where`, the user's record by default); returns the (closed)
    recorder."""

    async def go() -> Recorder:
        async with recording(targets, where, **kw) as (_client, poller, recorder):
            for _ in range(rounds):
                await poller.poll_all()
                sim.world.advance(step)
        return recorder

    return asyncio.run(go())


def db() -> sqlite3.Connection:
    return sqlite3.connect(db_path(data_dir()))


def sim_failing_hosts(sim: Simulator, target: str) -> dict[str, set[str]]:
    """step id -> "CLOUD:IP" of the hosts the simulator failed (its own answer, not bkwatch's)."""
    data = sim.world.get(target).data(sim.world.now(), True)
    out: dict[str, set[str]] = {}
    for step in data["step_instance_list"]:
        bad = {
            f"{h['bk_cloud_id']}:{h['ip']}"
            for h in step["step_ip_result_list"]
            if h["status"] not in HOST_OK | {5, 7}
        }
        if bad:
            out[str(step["step_instance_id"])] = bad
    return out


def test_record_holds_what_the_simulator_did(sim: Simulator) -> None:
    target = sim.world.add_task("job", kind="fail", hosts=40, scope=("biz", 2))
    ok = sim.world.add_task("job", kind="ok", hosts=6, scope=("biz", 2))
    watch(sim, [target, ok], rounds=4, step=150)
    conn = db()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    states = dict(conn.execute("SELECT target, state FROM tasks"))
    assert states == {target: "failed", ok: "succeeded"}
    expected = sim_failing_hosts(sim, target)
    assert expected, "the simulator failed some hosts"
    got: dict[str, set[str]] = {}
    for step_id, host in conn.execute("SELECT step_id, host FROM failures WHERE target = ?", (target,)):
        got.setdefault(step_id, set()).add(host)
    assert got == expected
    # Every task-level change in order, first seen to failed; the steps' times as the simulator's.
    chain = [
        r
        for r in conn.execute(
            "SELECT old, new FROM transitions WHERE target = ? AND level = 'task' ORDER BY at, rowid",
            (target,),
        )
    ]
    assert chain[0][0] is None and chain[-1][1] == "failed"
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chain))
    data = sim.world.get(target).data(sim.world.now(), True)
    sim_steps = {str(s["step_instance_id"]): s for s in data["step_instance_list"]}
    for sid, start, end in conn.execute(
        "SELECT id, start, end FROM units WHERE target = ? AND level = 'step'", (target,)
    ):
        s = sim_steps[sid]
        assert (start is None) == (not s["start_time"]) and (
            start is None or abs(start - s["start_time"] / 1000) < 1
        )
        assert (end is None) == (not s["end_time"])
    # Signatures are those of the failure texts, and the codes those the simulator gave.
    codes = {r[0] for r in conn.execute("SELECT code FROM failures WHERE target = ?", (target,))}
    assert codes - {None}, "error codes kept"


def test_outage_from_to_with_its_class(sim: Simulator) -> None:
    target = sim.world.add_task("job", kind="ok", hosts=3, scope=("biz", 2))

    async def go() -> None:
        async with recording([target]) as (_client, poller, _recorder):
            await poller.poll_all()
            sim.faults.set("http_502", route="job")
            [update] = await poller.poll_all()
            assert update.error is not None
            await poller.poll_all()  # still down: the same outage
            sim.faults.clear()
            await poller.poll_all()

    asyncio.run(go())
    rows = db().execute("SELECT target, kind, start, end FROM outages").fetchall()
    assert len(rows) == 1
    [(where, kind, start, end)] = rows
    assert where == target and kind == "server" and end is not None and end >= start


def test_actions_come_from_the_audit(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    failed = "job:2:20002"
    code = cli.main(["retry", failed, "--yes"])
    capsys.readouterr()
    assert code == 0
    [op] = sim.world.operations.list()
    watch(sim, [failed], rounds=1)
    rows = (
        db()
        .execute("SELECT action, result, user FROM actions WHERE target = ? ORDER BY at, rowid", (failed,))
        .fetchall()
    )
    assert [r[1] for r in rows] == ["sent", "done"]
    audit = [json.loads(x) for x in (data_dir() / "audit.jsonl").read_text().splitlines()]
    assert [(a["action"], a["result"], a["user"]) for a in audit] == rows
    assert rows[-1][0].endswith("retry_failed") and rows[-1][2] == load_profile().username
    assert op["api"] == "operate_step_instance"
    watch(sim, [failed], rounds=1)  # the audit is read once: no line twice
    assert db().execute("SELECT count(*) FROM actions").fetchone()[0] == 2


def test_two_monitors_sharing_the_record_copy_each_audit_line_once() -> None:
    """Each recorder reads the audit offset and moves it in one write transaction: two monitors
    on one data directory, reading the audit at the same moment, never copy a line twice."""
    import threading

    from bkwatch.record.rows import Rows

    audit = data_dir() / "audit.jsonl"
    audit.parent.mkdir(parents=True, exist_ok=True)
    audit.touch()
    first, second = Recorder(data_dir()), Recorder(data_dir())
    first.flush()  # their writers are past their first look at the audit, and idle
    second.flush()
    try:
        lines = 40
        for i in range(lines):
            with audit.open("a") as fh:
                line = {"target": "job:2:20002", "at": 1_800_000_000 + i, "action": "retry"}
                fh.write(json.dumps(line) + "\n")
            both = threading.Barrier(2)

            def ingest(recorder: Recorder, both: threading.Barrier = both) -> None:
                both.wait(timeout=10)
                recorder._in_transaction(Rows())

            threads = [threading.Thread(target=ingest, args=(r,)) for r in (first, second)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=10)
    finally:
        first.close()
        second.close()
    count = db().execute("SELECT count(*), count(DISTINCT at) FROM actions").fetchone()
    assert count == (lines, lines)


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bkwatch.model import State, System, Task, Transition
    from bkwatch.poller import PollUpdate, Watch
    from bkwatch.record.recorder import Recorder
    from bkwatch.targets import parse_target

    recorder = Recorder(Path(sys.argv[1]))
    watch = Watch(parse_target("job:2:1"))
    states = [State.RUNNING, State.WAITING]
    i = 0
    print("ready", flush=True)
    while True:
        now = time.time()
        task = Task("job:2:1", System.JOB, "x", states[i % 2], "2", False)
        watch.task = task
        t = Transition("job:2:1", "task", "job:2:1", "x", states[(i + 1) % 2], task.state, now)
        recorder.observe(PollUpdate("job:2:1", watch, [t], None))
        i += 1
        time.sleep(0.005)
    """
)


def test_kill_9_leaves_a_database_that_opens_losing_at_most_a_second(isolated: Path) -> None:
    where = isolated / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(where)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(2.5)
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    conn, notice = open_db(db_path(where), check=True)
    try:
        assert notice is None
        last, count = conn.execute("SELECT max(at), count(*) FROM transitions").fetchone()
        assert count > 100
        assert killed_at - last <= 1.0, f"lost {killed_at - last:.2f} s"
    finally:
        conn.close()


def test_past_its_size_bound_the_record_is_pruned_and_keeps_working(sim: Simulator) -> None:
    targets = [sim.world.add_task("job", kind="fail", hosts=200, scope=("biz", 2)) for _ in range(6)]
    watch(sim, targets, rounds=3, step=200)
    conn, _ = open_db(db_path(data_dir()))
    full = size_of(conn)
    conn.close()
    limits = Limits(days=30, max_bytes=full // 2)
    pruner = Recorder(data_dir(), limits)  # prunes in the background as it starts
    pruner.flush()
    pruner.close()
    conn, _ = open_db(db_path(data_dir()))
    assert size_of(conn) <= limits.max_bytes
    left = {r[0] for r in conn.execute("SELECT target FROM tasks")}
    assert left and left < set(targets)
    assert (
        conn.execute(
            "SELECT count(*) FROM failures WHERE target NOT IN (SELECT target FROM tasks)"
        ).fetchone()[0]
        == 0
    )
    conn.close()
    assert os.path.getsize(db_path(data_dir())) <= full  # pages given back
    later = sim.world.add_task("job", kind="fail", hosts=20, scope=("biz", 2))
    watch(sim, [later], rounds=2, step=300, limits=limits)
    assert db().execute("SELECT state FROM tasks WHERE target = ?", (later,)).fetchone() == ("failed",)


def test_a_corrupt_record_is_moved_aside_and_replaced(isolated: Path) -> None:
    path = db_path(data_dir())
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 500)
    recorder = Recorder(data_dir())
    try:
        assert recorder.notice is not None and "kept as" in recorder.notice
        assert "\n" not in recorder.notice
    finally:
        recorder.close()
    [aside] = list(path.parent.glob("record.sqlite3.corrupt-*"))
    assert aside.read_bytes().startswith(b"this is not a database")
    conn, notice = open_db(path)
    assert notice is None and conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    conn.close()


def test_the_monitor_starts_with_a_corrupt_record(isolated: Path) -> None:
    from bkwatch.cli.run import MonitorOptions, open_record

    path = db_path(data_dir())
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\0garbage" * 1000)
    recorder, notice = open_record(MonitorOptions())
    assert recorder is not None and notice and "unreadable" in notice
    recorder.close()
    off, none = open_record(MonitorOptions(record=False))
    assert off is None and none is None


def test_hosts_flaky_counts_a_host_failed_in_three_tasks(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = [sim.world.add_task("job", kind="ok", hosts=5, scope=("biz", 2)) for _ in range(3)]
    other = sim.world.add_task("job", kind="ok", hosts=5, scope=("biz", 2))
    sim.world.advance(600)
    data = sim.world.get(targets[0]).data(sim.world.now(), True)
    h = data["step_instance_list"][0]["step_ip_result_list"][0]
    host = f"{h['bk_cloud_id']}:{h['ip']}"
    for t in targets:
        sim.world.force(t, 11, host=host)  # the same machine fails in each
    watch(sim, [*targets, other], rounds=2, step=10)
    code = cli.main(["hosts", "--flaky", "--since", "7d", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    hosts = json.loads(out)["hosts"]
    [entry] = [e for e in hosts if e["host"] == host]
    assert entry["count"] == 3 and sorted(entry["tasks"]) == sorted(targets) and entry["systems"] == ["job"]
    assert entry["signature"] and entry["signature_count"] == 3
    assert all(e["count"] >= 2 for e in hosts)
    code = cli.main(["hosts", "--flaky"])
    out, _ = capsys.readouterr()
    assert code == 0 and host in out and " 3 " in f" {out} "


def test_what_is_older_than_the_age_bound_is_pruned(sim: Simulator) -> None:
    old, new = (sim.world.add_task("job", kind="fail", hosts=10, scope=("biz", 2)) for _ in range(2))
    watch(sim, [old], rounds=2, step=300)
    conn, _ = open_db(db_path(data_dir()))
    conn.execute("UPDATE tasks SET last_seen = last_seen - 40 * 86400")
    for table, column in (("transitions", "at"), ("failures", "at")):
        conn.execute(f"UPDATE {table} SET {column} = {column} - 40 * 86400")
    conn.close()
    watch(sim, [new], rounds=2, step=300)
    conn, _ = open_db(db_path(data_dir()))
    assert {r[0] for r in conn.execute("SELECT target FROM tasks")} == {new}
    assert conn.execute("SELECT count(*) FROM transitions WHERE target = ?", (old,)).fetchone()[0] == 0
    assert prune(conn, Limits(days=30)) == 0  # nothing more to do
    conn.close()


def test_the_profile_turns_the_record_off_or_bounds_it(isolated: Path) -> None:
    from bkwatch.cli.run import MonitorOptions, with_record_config
    from bkwatch.config import config_path

    config_path().parent.mkdir(parents=True)
    config_path().write_text("[profiles.default]\nrecord = false\nrecord_days = 7\nrecord_max_mb = 5\n")
    config_path().chmod(0o600)
    options = with_record_config(MonitorOptions())
    assert (options.record, options.record_days, options.record_max_mb) == (False, 7, 5)
    assert cli.main(["--no-record", "ls"]) == 0  # a global option
    assert with_record_config(MonitorOptions(record=False), load_profile()).record is False


def test_once_the_writer_is_gone_updates_are_counted_not_kept(isolated: Path) -> None:
    from bkwatch.model import State, System, Task
    from bkwatch.poller import PollUpdate, Watch

    recorder = Recorder(data_dir())
    recorder.close()
    watch = Watch(parse_target("job:2:1"), task=Task("job:2:1", System.JOB, "x", State.RUNNING, "2", False))
    for _ in range(3):
        recorder.observe(PollUpdate("job:2:1", watch, [], None))
    assert recorder.dropped == 3
    started = time.monotonic()
    recorder.flush(timeout=5)
    assert time.monotonic() - started < 1


def test_a_failure_keeps_the_time_it_was_first_seen(sim: Simulator) -> None:
    target = sim.world.add_task("job", kind="fail", hosts=10, scope=("biz", 2))
    sim.world.advance(900)
    watch(sim, [target], rounds=1)
    first = dict(db().execute("SELECT key, at FROM failures"))
    assert first
    time.sleep(0.05)
    watch(sim, [target], rounds=1)  # a new monitor run: every failure seen again as it starts
    assert dict(db().execute("SELECT key, at FROM failures")) == first


def test_steps_and_nodes_rows_follow_the_last_snapshot(sim: Simulator) -> None:
    """Only the step / node rows that changed are written again at a transition: after a
    pipeline and a JOB task ran to their end, every row is the last snapshot's."""
    from bkwatch.record.rows import unit_rows

    targets = [sim.world.add_task("sops", kind="deepfail"), sim.world.add_task("job", kind="fail", hosts=5)]
    last: dict[str, Any] = {}

    async def go() -> None:
        async with recording(targets) as (client, poller, _recorder):
            poller.observers.append(lambda u: last.update({u.key: u.watch.task}))
            for _ in range(12):
                await poller.poll_all()
                # The pipeline's flow (its node names and branches) is read beside the first
                # poll: in before the next one (names that come later: the test below).
                await settle(client)
                sim.world.advance(20)

    asyncio.run(go())
    conn = db()
    for target in targets:
        want = sorted(unit_rows(target, last[target], lambda s: s))
        got = sorted(conn.execute("SELECT * FROM units WHERE target = ?", (target,)).fetchall())
        assert len(want) > 2 and got == want, target
        assert any(r[7] != "pending" for r in got), "rows written again after the first sight"


def test_node_names_that_come_without_a_transition_are_written(sim: Simulator) -> None:
    """A pipeline first seen already finished has its flow (node names, branches) read beside that
    first poll: the next poll brings the names without any transition, and the rows take them."""
    from bkwatch.record.rows import unit_rows

    target = sim.world.add_task("sops", kind="ok")
    sim.world.advance(3600)
    last: dict[str, Any] = {}
    moved: list[int] = []

    async def go() -> None:
        async with recording([target]) as (client, poller, _recorder):
            poller.observers.append(lambda u: last.update({u.key: u.watch.task}))
            first = await poller.poll_all()
            last["first"] = first[0].watch.task
            await settle(client)  # the flow read, after the first poll
            for _ in range(2):
                moved.extend(len(u.transitions) for u in await poller.poll_all())

    asyncio.run(go())
    assert moved == [0, 0], "no transition brought the names"
    want = sorted(unit_rows(target, last[target], lambda s: s))
    assert want != sorted(unit_rows(target, last["first"], lambda s: s)), (
        "the first poll had the names already"
    )
    got = sorted(db().execute("SELECT * FROM units WHERE target = ?", (target,)).fetchall())
    assert got == want


def test_a_pipeline_answered_as_before_costs_no_comparison_of_its_rows(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the names' window, a poll that hands back the very Task held (the same answer) has
    no new name: the writer does not build and compare the tree's rows again for it."""
    import bkwatch.record.recorder as recorder_module

    target = sim.world.add_task("sops", kind="ok")
    sim.world.advance(3600)
    built: list[int] = []
    real = recorder_module.unit_rows
    monkeypatch.setattr(recorder_module, "unit_rows", lambda *a: built.append(1) or real(*a))
    held: list[object] = []

    async def go() -> None:
        async with recording([target]) as (client, poller, recorder):
            await poller.poll_all()
            await settle(client)
            await poller.poll_all()  # the names come: compared and written
            recorder.flush()
            built.clear()
            for _ in range(3):
                held.extend(u.watch.task for u in await poller.poll_all())
            recorder.flush()

    asyncio.run(go())
    assert len({id(t) for t in held}) == 1, "the poller parsed the same answer again"
    assert built == [], f"rows built {len(built)} times for the same Task"


def test_a_poll_s_host_changes_are_one_row_each_read_back(sim: Simulator) -> None:
    """The host changes of one task in one poll are kept in one row (schema 3), and read back one by
    one: `replay`'s lines and the report's count are the poller's own changes."""
    from bkwatch.record.story import events, load

    target = sim.world.add_task("job", kind="ok", hosts=40, scope=("biz", 2))
    sim.world.advance(3600)
    step = sim.world.get(target).data(sim.world.now(), True)["step_instance_list"][0]
    hosts = [f"{h['bk_cloud_id']}:{h['ip']}" for h in step["step_ip_result_list"]]
    seen: list[list[Any]] = []  # the poller's host changes, one list per poll that had any

    async def go() -> None:
        async with recording([target]) as (_client, poller, _recorder):
            for k in range(5):  # 3 more hosts failed before each poll after the first
                for u in await poller.poll_all():
                    changed = [t for t in u.transitions if t.level == "host"]
                    if changed:
                        seen.append(changed)
                for host in hosts[k * 3 : k * 3 + 3]:
                    sim.world.force(target, 11, host=host, step=step["step_instance_id"])

    asyncio.run(go())
    changes = sum(len(s) for s in seen)
    assert len(seen) >= 4 and changes >= 12, "hosts changed in several polls"
    conn = db()
    try:
        rows = conn.execute(
            "SELECT n FROM unit_transitions WHERE target = ? ORDER BY at", (target,)
        ).fetchall()
        assert [n for (n,) in rows] == [len(s) for s in seen]
        assert conn.execute("SELECT count(*) FROM transitions WHERE level = 'host'").fetchone()[0] == 0
        story = load(conn, target)
        assert story is not None and story.unit_changes == changes
        lines = [text.split(" (code ")[0] for _, text in events(conn, target) if text.startswith("host ")]
        assert sorted(lines) == sorted(
            f"host {t.name or t.key} (step {t.step_id}): "
            + (f"{t.old} → {t.new}" if t.old else f"first seen {t.new}")
            for s in seen
            for t in s
        )
    finally:
        conn.close()


def test_a_record_with_a_row_per_host_change_is_migrated_and_still_read(isolated: Path) -> None:
    """A schema-2 file, its host changes a row each, opens as the current schema; its rows are read
    with the new ones: counted in the report, listed by `replay`, pruned with their task."""
    from bkwatch.record.db import MIGRATIONS, VERSION
    from bkwatch.record.story import events, load

    path = db_path(data_dir())
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path)
    old.executescript(f"{MIGRATIONS[0]}; {MIGRATIONS[1]}; PRAGMA user_version = 2;")
    old.execute("INSERT INTO tasks (target, system, state, last_seen) VALUES ('job:2:7', 'job', 'failed', 1)")
    old.execute(
        "INSERT INTO transitions VALUES ('job:2:7', 1.7e9, 'host', '0:10.0.0.1', '10.0.0.1', 'running', "
        "'failed', '11', '9')"
    )
    old.commit()
    old.close()
    conn, notice = open_db(path)
    try:
        assert notice is None and conn.execute("PRAGMA user_version").fetchone()[0] == VERSION == 4
        conn.execute(
            "INSERT INTO unit_transitions VALUES ('job:2:7', 1.7e9 + 5, 1, ?)",
            (json.dumps([[1.7e9 + 5, "host", "0:10.0.0.2", "10.0.0.2", "running", "failed", "11", None]]),),
        )
        story = load(conn, "job:2:7")
        assert story is not None and story.unit_changes == 2
        lines = [text for _, text in events(conn, "job:2:7")]
        assert lines == [
            "host 10.0.0.1 (step 11): running → failed (code 9)",
            "host 10.0.0.2 (step 11): running → failed",
        ]
        prune(conn, Limits(days=1), now=1.7e9 + 10 * 86_400)  # the task last seen long ago
        assert conn.execute("SELECT count(*) FROM unit_transitions").fetchone()[0] == 0
    finally:
        conn.close()


def test_rows_written_many_to_a_statement_keep_executemany_s_order(isolated: Path) -> None:
    """Rows go in 64, 32, ... to one INSERT: every one is written, and a later row with the same key
    replaces (units) or updates (tasks) an earlier one, as one statement a row did."""
    from bkwatch.record.rows import Rows

    conn, _ = open_db(db_path(data_dir()))
    try:
        rows = Rows()
        for i in range(203):  # 3 x 64 + 8 + 2 + 1
            target = f"job:2:{i % 50}"
            rows.tasks.append(
                (target, "job", f"name {i}", None, "running", "2", None, None, None, i, i, 0, None)
            )
            rows.units.append((target, "step", "1", f"step {i}", None, 0, 0, "running", None, None))
            rows.transitions.append((target, float(i), "task", target, None, None, "running", None, None))
        conn.execute("BEGIN")
        rows.write(conn)
        conn.execute("COMMIT")
        names = dict(conn.execute("SELECT target, name FROM tasks"))
        assert names == {f"job:2:{k}": f"name {max(i for i in range(203) if i % 50 == k)}" for k in range(50)}
        firsts = dict(conn.execute("SELECT target, first_seen FROM tasks"))
        assert firsts == {f"job:2:{k}": k for k in range(50)}  # the upsert kept the first
        steps = dict(conn.execute("SELECT target, name FROM units"))
        assert steps == {t: n.replace("name", "step") for t, n in names.items()}
        ats = [r[0] for r in conn.execute("SELECT at FROM transitions ORDER BY rowid")]
        assert ats == [float(i) for i in range(203)]
    finally:
        conn.close()


def test_a_short_text_is_cleaned_once_a_long_one_each_time() -> None:
    from bkwatch.record.recorder import CACHED_CHARS, CACHED_TEXTS, _Cleaned

    seen: list[str] = []

    def now(text: str) -> str:
        seen.append(text)
        return text.upper()

    clean = _Cleaned(now).__getitem__
    assert [clean("ok"), clean("ok"), clean(None), clean(None), clean("")] == ["OK", "OK", None, None, ""]
    long = "x" * (CACHED_CHARS + 1)
    assert clean(long) == long.upper() and clean(long) == long.upper()
    assert seen == ["ok", long, long]  # None and "" are never cleaned
    for i in range(CACHED_TEXTS):  # past the bound, what was kept is forgotten all at once
        clean(f"t{i}")
    seen.clear()
    clean("ok")
    assert seen == ["ok"]
