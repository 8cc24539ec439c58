"""diff(): transition events between two snapshots, at every level."""

from __future__ import annotations

import copy

from bkwatch.model import Host, JobTask, Node, State, Step, System, Task
from bkwatch.poller import diff


def job_task(step_state: State, host_states: dict[str, State]) -> Task:
    hosts = {
        k: Host(key=k, ip=k.split(":")[1], cloud_id=0, state=s, raw_status=str(s), status_text=str(s))
        for k, s in host_states.items()
    }
    step = Step(id="420", name="run script", kind="script", state=step_state, raw_state="2", hosts=hosts)
    return Task("job:2:42", System.JOB, "deploy", step_state, "2", False, steps=[step])


def test_first_snapshot_is_one_task_event() -> None:
    new = job_task(State.RUNNING, {"0:10.0.0.1": State.RUNNING})
    events = diff(None, new, 100.0)
    assert [(e.level, e.old, e.new) for e in events] == [("task", None, State.RUNNING)]


def test_host_step_and_task_changes_are_reported_with_step_id() -> None:
    old = job_task(State.RUNNING, {"0:10.0.0.1": State.RUNNING, "0:10.0.0.2": State.RUNNING})
    new = job_task(State.FAILED, {"0:10.0.0.1": State.SUCCEEDED, "0:10.0.0.2": State.FAILED})
    events = diff(old, new, 5.0)
    got = {(e.level, e.key, e.old, e.new) for e in events}
    assert got == {
        ("task", "job:2:42", State.RUNNING, State.FAILED),
        ("step", "420", State.RUNNING, State.FAILED),
        ("host", "0:10.0.0.1", State.RUNNING, State.SUCCEEDED),
        ("host", "0:10.0.0.2", State.RUNNING, State.FAILED),
    }
    assert all(e.step_id == "420" for e in events if e.level == "host")
    assert all(e.at == 5.0 for e in events)


def test_unchanged_snapshot_gives_nothing() -> None:
    old = job_task(State.RUNNING, {f"0:10.0.{i // 250}.{i % 250}": State.RUNNING for i in range(1000)})
    assert diff(old, copy.deepcopy(old), 1.0) == []


def test_new_units_only_reported_once_past_pending() -> None:
    old = job_task(State.RUNNING, {"0:10.0.0.1": State.RUNNING})
    new = job_task(
        State.RUNNING, {"0:10.0.0.1": State.RUNNING, "0:10.0.0.2": State.PENDING, "0:10.0.0.3": State.FAILED}
    )
    events = diff(old, new, 1.0)
    assert [(e.key, e.old, e.new) for e in events] == [("0:10.0.0.3", None, State.FAILED)]


def tree(leaf_state: State) -> Task:
    leaf = Node(id="n3", name="deep leaf", state=leaf_state, raw_state=str(leaf_state))
    sub = Node(id="n2", name="subprocess", state=State.RUNNING, raw_state="RUNNING", children=[leaf])
    root = Node(id="n1", name="root", state=State.RUNNING, raw_state="RUNNING", children=[sub])
    return Task("sops:2:7", System.SOPS, "pipeline", State.RUNNING, "RUNNING", False, root=root)


def test_nested_node_change_is_found() -> None:
    events = diff(tree(State.RUNNING), tree(State.FAILED), 2.0)
    assert [(e.level, e.key, e.name, e.old, e.new) for e in events] == [
        ("node", "n3", "deep leaf", State.RUNNING, State.FAILED)
    ]


def test_node_changes_come_in_flow_order_depth_first() -> None:
    """A subprocess's nodes are reported right after it and before its next sibling, as the
    tree is drawn, whatever the tree's breadth."""

    def flow(state: State) -> Task:
        def n(node_id: str, *kids: Node) -> Node:
            return Node(id=node_id, name=node_id, state=state, raw_state=str(state), children=list(kids))

        root = n("root", n("a", n("a1"), n("a2", n("a2x"))), n("b"), n("c", n("c1")))
        return Task("sops:2:7", System.SOPS, "pipeline", State.RUNNING, "RUNNING", False, root=root)

    events = diff(flow(State.RUNNING), flow(State.FAILED), 2.0)
    assert [e.key for e in events] == ["a", "a1", "a2", "a2x", "b", "c", "c1"]


def test_gsekit_job_task_change() -> None:
    def gse(state: State) -> Task:
        rows = {"11": JobTask(id="11", state=state, raw_state=str(state), process="nginx")}
        return Task("gsekit:2:5", System.GSEKIT, None, State.RUNNING, "running", False, job_tasks=rows)

    events = diff(gse(State.RUNNING), gse(State.FAILED), 3.0)
    assert [(e.level, e.key, e.name, e.new) for e in events] == [("job_task", "11", "nginx", State.FAILED)]


def test_share_hands_unchanged_units_over_by_identity() -> None:
    old = job_task(
        State.RUNNING, {"0:10.0.0.1": State.RUNNING, "0:10.0.0.2": State.RUNNING, "0:10.0.0.3": State.RUNNING}
    )
    new = copy.deepcopy(old)
    hosts = new.steps[0].hosts
    hosts["0:10.0.0.2"].state = State.SUCCEEDED  # a state change
    hosts["0:10.0.0.3"].error_text = "disk full"  # a change that is not a state change
    diff(old, new, 1.0, share=True)
    before = old.steps[0].hosts
    assert hosts["0:10.0.0.1"] is before["0:10.0.0.1"]
    assert hosts["0:10.0.0.2"] is not before["0:10.0.0.2"]
    assert hosts["0:10.0.0.3"] is not before["0:10.0.0.3"] and hosts["0:10.0.0.3"].error_text == "disk full"
    assert list(hosts) == list(before)  # order kept

    unshared = copy.deepcopy(old)
    diff(old, unshared, 1.0)
    assert unshared.steps[0].hosts["0:10.0.0.1"] is not before["0:10.0.0.1"]


def test_shared_snapshot_names_the_units_it_did_not_share() -> None:
    """What the host list looks at on a poll: only the units that are new objects, and only
    when compared with the very dict it shows, in the same order."""
    keys = [f"0:10.0.0.{i}" for i in range(1, 6)]
    old = job_task(State.RUNNING, dict.fromkeys(keys, State.RUNNING))
    new = copy.deepcopy(old)
    hosts = new.steps[0].hosts
    hosts[keys[1]].state = State.FAILED
    hosts[keys[3]].error_text = "disk full"
    diff(old, new, 1.0, share=True)
    assert new.changed_units(hosts) == (id(old.steps[0].hosts), [keys[1], keys[3]])
    assert new.changed_units(old.steps[0].hosts) is None  # another dict: nothing known

    unshared = copy.deepcopy(old)
    diff(old, unshared, 1.0)
    assert unshared.changed_units(unshared.steps[0].hosts) is None

    reordered = copy.deepcopy(old)
    step = reordered.steps[0]
    step.hosts = dict(reversed(list(step.hosts.items())))
    diff(old, reordered, 1.0, share=True)
    assert reordered.changed_units(step.hosts) is None  # the order moved: compare everything


def test_a_slim_snapshot_diffs_as_the_full_one_it_was_made_of() -> None:
    """A finished task held as its summary (Task.slim): a retry seen on its next poll reports the
    same host changes as against the full snapshot; nothing changed reports nothing."""
    hosts = {"0:10.0.0.1": State.SUCCEEDED, "0:10.0.0.2": State.FAILED, "0:10.0.0.3": State.FAILED}
    full = job_task(State.FAILED, hosts)
    slim = full.slim()
    assert slim.summary is not None and not slim.steps[0].hosts
    assert diff(slim, copy.deepcopy(full), 1.0) == []
    retried = job_task(State.RUNNING, {**hosts, "0:10.0.0.2": State.RUNNING, "0:10.0.0.4": State.FAILED})
    assert diff(slim, retried, 2.0) == diff(full, retried, 2.0)
    assert {(e.key, e.old, e.new) for e in diff(slim, retried, 2.0) if e.level == "host"} == {
        ("0:10.0.0.2", State.FAILED, State.RUNNING),
        ("0:10.0.0.4", None, State.FAILED),
    }
    units = full.steps[0].hosts
    nodeman = Task("nodeman:1:5", System.NODEMAN, "install", State.FAILED, "FAILED", True, hosts=units)
    again = copy.deepcopy(nodeman)
    again.hosts["0:10.0.0.3"].state = State.SUCCEEDED
    assert diff(nodeman.slim(), again, 3.0) == diff(nodeman, again, 3.0) != []
