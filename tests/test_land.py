"""Opening a task lands where the trouble is, and every node reads what its flow implies.

Found by a newcomer: a node the status tree omits (a gateway, a subprocess's start event) read
"pending" above a failure, a branch an exclusive gateway did not take read "pending" after the
task had ended, the tree opened on its root instead of the failing node, and a failure that
appeared later stayed folded under its gateway until `n` was pressed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bkwatch.model import Node, State, Task, failures
from bkwatch.systems.pipeline import flow
from bkwatch.targets import parse_target
from tests.harness import frozen_sim, settle, sim_app

SIZE = (80, 24)


def _items() -> list[flow.FlowItem]:
    """start → A → exclusive gateway (branch 1: B, branch 2: C) → converge → subprocess
    (its start, D) → end, the shape `layout` gives."""
    return [
        flow.FlowItem("s", "start", "event"),
        flow.FlowItem("a", "A", "activity"),
        flow.FlowItem(
            "g",
            "exclusive gateway",
            "gateway",
            [
                flow.FlowItem("f1", "branch 1", "branch", [flow.FlowItem("b", "B", "activity")]),
                flow.FlowItem("f2", "branch 2", "branch", [flow.FlowItem("c", "C", "activity")]),
            ],
        ),
        flow.FlowItem("j", "converge", "converge"),
        flow.FlowItem(
            "p",
            "P",
            "subprocess",
            [flow.FlowItem("ps", "start", "event"), flow.FlowItem("d", "D", "activity")],
        ),
        flow.FlowItem("e", "end", "event"),
    ]


def _merged(task_state: State, reached: dict[str, Any]) -> dict[str, State]:
    raw = {
        State.SUCCEEDED: "FINISHED",
        State.FAILED: "FAILED",
        State.RUNNING: "RUNNING",
        State.STOPPED: "EXPIRED",
    }[task_state]
    task = Task("sops:2:1", parse_target("sops:2:1").system, "t", task_state, raw, task_state.is_done)
    task.root = Node("root", "t", task_state, raw)
    flow.ordered(task, {"id": "root", "state": raw, "children": reached}, _items(), "test")
    return {n.id: n.state for n, _ in task.root.walk() if n is not task.root}


def _n(state: str, children: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"state": state, "children": children or {}}


def test_a_node_omitted_before_nodes_that_ran_passed_and_a_branch_not_taken_did_not_run() -> None:
    # The status tree omits the gateway and the subprocess's start event, as SOPS may.
    reached = {
        "s": _n("FINISHED"),
        "a": _n("FINISHED"),
        "b": _n("FINISHED"),
        "j": _n("FINISHED"),
        "p": _n("FINISHED", {"d": _n("FINISHED")}),
        "e": _n("FINISHED"),
    }
    states = _merged(State.SUCCEEDED, reached)
    assert states["g"] is State.SUCCEEDED  # it evidently ran: its branch and what follows did
    assert states["ps"] is State.SUCCEEDED
    assert states["c"] is State.NOT_RUN and states["f2"] is State.NOT_RUN  # the branch not taken
    assert states["f1"] is State.SUCCEEDED
    assert State.PENDING not in states.values()  # the task is over: nothing waits any more


def test_a_failure_has_nothing_pending_above_it_and_the_rest_waits_for_a_retry() -> None:
    reached = {
        "a": _n("FINISHED"),
        "b": _n("FINISHED"),
        "j": _n("FINISHED"),
        "p": _n("RUNNING", {"d": _n("FAILED")}),
    }
    states = _merged(State.FAILED, reached)
    failed_at = list(states).index("d")
    above = [s for s in list(states.values())[:failed_at]]
    assert State.PENDING not in above, above
    assert (
        states["s"] is State.SUCCEEDED and states["g"] is State.SUCCEEDED and states["ps"] is State.SUCCEEDED
    )
    assert states["c"] is State.NOT_RUN  # the flow went on past the branch not taken
    assert states["e"] is State.PENDING  # a failed task resumes on a retry or skip


def test_while_running_nodes_not_reached_stay_pending() -> None:
    states = _merged(State.RUNNING, {"s": _n("FINISHED"), "a": _n("FINISHED"), "b": _n("RUNNING")})
    assert states["g"] is State.SUCCEEDED
    assert states["c"] is State.PENDING and states["j"] is State.PENDING and states["e"] is State.PENDING


def test_a_not_run_node_is_no_work_left_and_no_failure() -> None:
    reached = {"s": _n("FINISHED"), "a": _n("FINISHED"), "b": _n("FINISHED"), "j": _n("FINISHED")}
    reached |= {"p": _n("FINISHED", {"ps": _n("FINISHED"), "d": _n("FINISHED")}), "e": _n("FINISHED")}
    task = Task("sops:2:1", parse_target("sops:2:1").system, "t", State.SUCCEEDED, "FINISHED", True)
    task.root = Node("root", "t", State.SUCCEEDED, "FINISHED")
    flow.ordered(task, {"id": "root", "state": "FINISHED", "children": reached}, _items(), "test")
    done, total = task.progress()
    assert done == total == 7 and task.counts().get(State.NOT_RUN) == 1  # C is no work left
    assert failures(task) == []


async def test_opening_a_failed_pipeline_lands_on_the_failing_node(tmp_path: Path) -> None:
    sim = frozen_sim()
    nested = sim.world.add_task("sops", kind="deepfail")  # a failure two subprocesses deep
    sim.world.advance(3600)
    rig = sim_app(sim, tmp_path, [nested])
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        app.select(nested)
        await pilot.pause()
        await pilot.press("enter")  # below 120 columns the task opens full-width from the list
        await pilot.pause()
        await pilot.pause()
        tree = app.detail.pipeline
        first = failures(rig.poller.watches[nested].task)[0].id
        assert tree.cursor_id == first
        tn = tree.index[first]
        assert tn.parent is not None and tn.parent.is_expanded
        assert tree.cursor_line - tree.scroll_offset.y in range(tree.size.height)  # on screen


async def test_a_failure_that_appears_later_opens_its_path(tmp_path: Path) -> None:
    sim = frozen_sim()
    rig = sim_app(sim, tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        # A pipeline with a node running inside a gateway's branch.
        key, node_id = next(
            (k, n.id)
            for k, w in rig.poller.watches.items()
            if w.task is not None and w.task.root is not None
            for n, d in w.task.root.walk()
            if d > 1 and n.state is State.RUNNING and not n.children
        )
        app.select(key)
        await pilot.pause()
        tree = app.detail.pipeline
        # Nothing failing: it lands on what is under way (a node waiting for a person first).
        assert tree.model[tree.cursor_id].state in (State.WAITING, State.RUNNING)
        for tn in tree.index.values():  # everything folded, as a user may leave it
            if tn is not tree.root:
                tn.collapse()
        tree.move_cursor(tree.root)
        await pilot.pause()
        sim.world.force(key, "FAILED", node=node_id)
        await rig.poller.poll_once(key)
        await pilot.pause()
        await pilot.pause()
        assert rig.poller.watches[key].task.root is not None
        parent = tree.index[node_id].parent
        while parent is not None:
            assert parent.is_expanded
            parent = parent.parent
        assert tree.cursor_id == node_id  # the cursor had not been moved: it goes to the failure


async def _job_answer(client: Any, target: str) -> dict[str, Any]:
    from bkwatch.systems.job import poll as job_poll

    t = parse_target(target)
    return await client.call(
        t.system, f"api/v3/{job_poll.API}", via="gateway", params=job_poll.request_params(t)
    )


async def test_a_retried_step_replaces_a_hosts_old_failure_at_once(tmp_path: Path) -> None:
    """JOB writes a new attempt's host rows as the agents take it up: the first answers after a
    retry carry the step running again (execute_count + 1) beside a host's failure that ended
    before the attempt started. That host shows as waiting for the new attempt, not failed."""
    import copy

    from bkwatch.systems.job import poll as job_poll

    sim = frozen_sim()
    rig = sim_app(sim, tmp_path, ["job:2:20002"])
    try:
        before = await _job_answer(rig.client, "job:2:20002")
        sim.world.advance(5)
        sim.world.retry("job:2:20002")
        after = await _job_answer(rig.client, "job:2:20002")
        old_steps = {s["step_instance_id"]: s for s in before["step_instance_list"]}
        step = next(
            s
            for s in after["step_instance_list"]
            if s["execute_count"] > old_steps[s["step_instance_id"]]["execute_count"]
        )
        lagging = copy.deepcopy(after)
        lag_step = next(
            s for s in lagging["step_instance_list"] if s["step_instance_id"] == step["step_instance_id"]
        )
        old_rows = {r["bk_host_id"]: r for r in old_steps[step["step_instance_id"]]["step_ip_result_list"]}
        lag_step["step_ip_result_list"] = [old_rows[r["bk_host_id"]] for r in step["step_ip_result_list"]]
        task = job_poll.parse(lagging, parse_target("job:2:20002"))
        shown = next(s for s in task.steps if s.id == str(step["step_instance_id"]))
        assert shown.state is State.RUNNING and shown.execute_count >= 1
        assert not [h for h in shown.hosts.values() if h.state.is_bad]  # no stale failure
        waiting = [h for h in shown.hosts.values() if "waiting for attempt" in h.status_text]
        assert waiting and all(h.state is State.PENDING for h in waiting)
        # The answer as it is once the attempt's rows are written: nothing is changed.
        fresh = job_poll.parse(after, parse_target("job:2:20002"))
        assert not any("waiting for attempt" in h.status_text for s in fresh.steps for h in s.hosts.values())
        # A step that failed again keeps its failures: only a step running again retires them.
        failed_again = job_poll.parse(before, parse_target("job:2:20002"))
        assert any(h.state.is_bad for s in failed_again.steps for h in s.hosts.values())
    finally:
        await rig.client.aclose()


async def test_a_job_stopped_at_a_step_without_hosts_opens_on_that_step(tmp_path: Path) -> None:
    """A manual confirmation refused stops the job at a step with no hosts; the step after it,
    never started, lists its hosts as pending: the job opens on the step that stopped it."""
    sim = frozen_sim()
    key = sim.world.add_task("job", kind="confirm")
    sim.world.advance(8)  # the first step done, the confirmation waiting
    task = sim.world.get(key)
    manual = str(task.steps[1].id)
    sim.world.force(key, 13, step=manual)  # CONFIRM_TERMINATED
    sim.world.force(key, 13)
    rig = sim_app(sim, tmp_path, [key])
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        app.select(key)
        await pilot.pause()
        shown = rig.poller.watches[key].task
        assert shown is not None and shown.state is State.STOPPED
        steps = {s.id: s for s in shown.steps}
        assert steps[manual].state is State.STOPPED and not steps[manual].hosts
        assert any(s.state is State.PENDING and s.hosts for s in shown.steps)  # the trap
        assert app.detail.job.step_id == manual


def test_a_task_that_expired_before_it_started_ran_nothing() -> None:
    """SOPS's EXPIRED answer holds no node at all: nothing ran, nothing passed."""
    states = _merged(State.STOPPED, {})
    assert set(states.values()) == {State.NOT_RUN}


def test_the_command_line_counts_progress_as_the_screen_does(
    capsys: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    """A pipeline revoked halfway: its nodes not reached read not run, which neither `bkwatch
    status` nor the screen counts as work."""
    import asyncio

    import httpx

    from bkwatch import cli
    from bkwatch.client import BkClient
    from bkwatch.sim import DEMO_TOKEN
    from bkwatch.systems.adapters import fetch_task, settle
    from tests.conftest import isolate, sim_profile
    from tests.test_cli import connect

    isolate(tmp_path, monkeypatch)
    sim = frozen_sim()
    key = next(t.target for t in sim.world.tasks() if t.system == "sops" and t.state == "RUNNING")
    sim.world.force(key, "REVOKED")

    async def screen_progress() -> tuple[int, int, int]:
        transport = httpx.ASGITransport(app=sim.app)
        async with BkClient(sim_profile(token=DEMO_TOKEN), transport=transport) as client:
            await fetch_task(client, parse_target(key))
            await settle(client)
            task = await fetch_task(client, parse_target(key))
        return (*task.progress(), task.counts().get(State.NOT_RUN, 0))

    done, total, not_run = asyncio.run(screen_progress())
    assert not_run > 0
    with sim.serve() as server:
        connect(monkeypatch, server.base_url)
        assert cli.main(["add", key]) == 0
        capsys.readouterr()
        cli.main(["status"])
        out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(key))
    assert f" {done}/{total} " in row, (row, done, total)
