from __future__ import annotations

from typing import Any

import pytest

from bkwatch.model import BkError, ErrorKind, State, System, failures
from bkwatch.systems.bkflow import poll as bkflow
from bkwatch.systems.common import parse_time
from bkwatch.systems.sops import poll as sops
from bkwatch.targets import Target

T = Target(System.SOPS, "2", "17")
TP = Target(System.SOPS, "5", "17", "project")
TF = Target(System.BKFLOW, "1", "33", "space")


def node(
    nid: str, state: str, name: str = "", children: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    out = {
        "id": nid,
        "state": state,
        "root_id:": "root",
        "parent_id": "root",
        "version": "v" + nid,
        "loop": 1,
        "retry": 0,
        "skip": False,
        "error_ignorable": False,
        "error_ignored": False,
        "elapsed_time": 3,
        "start_time": "2024-05-01 10:02:03 +0800",
        "finish_time": None,
        "name": name,
        "children": children or {},
    }
    out.update(kw)
    return out


def tree() -> dict[str, Any]:
    sub = node(
        "nsub",
        "FAILED",
        "sub flow",
        {
            "ninner": node("ninner", "FAILED", "inner step", finish_time="2024-05-01 10:02:09 +0800"),
            "nok": node("nok", "FINISHED", "ok step", retry=2, loop=3),
        },
    )
    root = node(
        "root",
        "FAILED",
        "nightly deploy",
        {
            "nstart": node("nstart", "FINISHED", ""),
            "njob": node("njob", "FINISHED", "run job", skip="True"),
            "nsub": sub,
            "npause": node("npause", "SUSPENDED", "approve"),
        },
        ex_data={"ninner": "<b>boom</b><br>line&nbsp;two", "zzz": "orphan"},
    )
    return root


def test_parse_tree_nested_subprocess_and_ex_data() -> None:
    task = sops.parse(tree(), T)
    assert (task.system, task.name, task.state, task.terminal) == (
        System.SOPS,
        "nightly deploy",
        State.FAILED,
        True,
    )
    assert task.root is not None and task.root.id == "root"
    ids = [n.id for n, _ in task.root.walk()]
    assert ids == ["root", "nstart", "njob", "nsub", "ninner", "nok", "npause"]
    by_id = {n.id: n for n, _ in task.root.walk()}
    assert by_id["ninner"].message == "boom\nline\xa0two"
    assert by_id["nstart"].name == "nstart"  # events have no name: the id stands in
    assert by_id["njob"].skip is True  # truthy string flag
    assert (by_id["nok"].retry, by_id["nok"].loop) == (2, 3)
    assert by_id["npause"].state is State.WAITING
    assert by_id["ninner"].end == parse_time("2024-05-01T02:02:09Z")
    assert by_id["root"].start == 1714528923.0 and by_id["root"].end is None
    assert [f.id for f in failures(task)] == ["ninner"]
    leaf_ids = [n.id for n in task.leaf_nodes()]
    assert leaf_ids == ["nstart", "njob", "ninner", "nok", "npause"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"code": 3, "reason": "<i>nope</i>"}, "code: 3\nreason: nope"),
        ('{"err": "bad", "hosts": ["a", "b"]}', "err: bad\nhosts: a\nb"),
        ("get ex_data fail: KeyError", "get ex_data fail: KeyError"),
        ("\x1b[31mred\x1b[0m \x1b]0;title\x07x", "red x"),
    ],
)
def test_ex_data_rendered_as_plain_text(value: Any, text: str) -> None:
    data = tree()
    data["ex_data"] = {"ninner": value}
    task = sops.parse(data, T)
    by_id = {n.id: n for n, _ in task.root.walk()}  # type: ignore[union-attr]
    assert by_id["ninner"].message == text
    assert "\x1b" not in by_id["ninner"].message


def test_created_payload_without_id() -> None:
    data = {
        "start_time": None,
        "state": "CREATED",
        "retry": 0,
        "skip": 0,
        "finish_time": None,
        "elapsed_time": 0,
        "children": {},
        "name": "later",
    }
    task = sops.parse(data, T)
    assert (task.state, task.terminal, task.name, task.root.id, task.root.skip) == (  # type: ignore[union-attr]
        State.PENDING,
        False,
        "later",
        "17",
        False,
    )
    assert task.progress() == (0, 0)


def test_expired_payload() -> None:
    task = sops.parse({"state": "EXPIRED", "name": "old"}, TP)
    assert (task.state, task.raw_state, task.terminal, task.target) == (
        State.STOPPED,
        "EXPIRED",
        True,
        "sops:project:5:17",
    )


def test_engine_v1_tree() -> None:
    data = {
        "id": "r1",
        "state": "FINISHED",
        "name": "<class 'pipeline.core.pipeline.Pipeline'>",
        "retry": 0,
        "skip": False,
        "loop": 1,
        "start_time": "2024-05-01 10:02:03 +0800",
        "state_refresh_at": "2024-05-01T02:02:13.320Z",
        "children": {
            "e1": {
                "id": "e1",
                "state": "FINISHED",
                "name": "<class 'pipeline.core.flow.event.EmptyStartEvent'>",
                "state_refresh_at": "2024-05-01T02:02:04.000Z",
                "children": {},
            },
            "a1": {
                "id": "a1",
                "state": "BLOCKED",
                "name": "<class 'pipeline.core.flow.activity.ServiceActivity'>",
                "children": {},
            },
        },
    }
    task = sops.parse(data, T)
    by_id = {n.id: n for n, _ in task.root.walk()}  # type: ignore[union-attr]
    assert by_id["e1"].name == "start" and by_id["a1"].name == "activity" and by_id["r1"].name == "Pipeline"
    assert by_id["r1"].end == pytest.approx(1714528933.32)
    assert by_id["a1"].state is State.RUNNING


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("CREATED", State.PENDING),
        ("READY", State.PENDING),
        ("RUNNING", State.RUNNING),
        ("BLOCKED", State.RUNNING),
        ("SUSPENDED", State.WAITING),
        ("NODE_SUSPENDED", State.WAITING),
        ("FINISHED", State.SUCCEEDED),
        ("FAILED", State.FAILED),
        ("REVOKED", State.STOPPED),
        ("EXPIRED", State.STOPPED),
        ("PENDING_APPROVAL", State.WAITING),
        ("WEIRD", State.UNKNOWN),
        (None, State.UNKNOWN),
    ],
)
def test_every_pipeline_state(raw: Any, state: State) -> None:
    task = sops.parse(node("r", raw, "x"), T)
    assert task.state is state


def test_bad_shapes() -> None:
    for garbage in (
        None,
        [],
        5,
        {"children": {}},
        {"state": "RUNNING", "children": "x"},
        {"state": "RUNNING", "children": {"a": 1}},
    ):
        with pytest.raises(BkError) as err:
            sops.parse(garbage, T)
        assert err.value.kind is ErrorKind.BAD_RESPONSE
    with pytest.raises(BkError, match="state"):
        sops.parse({"children": {}}, T)


def test_bkflow_tree_quirks() -> None:
    data = {
        "id": "nroot",
        "state": "RUNNING",
        "root_id:": "nroot",
        "parent_id": "nroot",
        "elapsed_time": 40,
        "start_time": "2024-06-15 17:29:41 +0800",
        "finish_time": "",
        "skip": False,
        "children": {
            "n11a": {
                "id": "n11a",
                "state": "FAILED",
                "elapsed_time": 5,
                "start_time": "2024-06-15 17:29:41 +0800",
                "finish_time": "2024-06-15 17:29:46 +0800",
                "children": {},
            },
        },
    }
    task = bkflow.parse(data, TF)
    assert (task.system, task.name, task.state, task.target) == (
        System.BKFLOW,
        None,
        State.RUNNING,
        "bkflow:1:33",
    )
    leaf = task.leaf_nodes()[0]
    assert (leaf.name, leaf.state, leaf.elapsed) == ("n11a", State.FAILED, 5.0)
    assert task.root.end is None  # type: ignore[union-attr]


def test_bkflow_created_forms() -> None:
    for data in (
        "CREATED",
        {"state": "CREATED"},
        {
            "start_time": None,
            "state": "CREATED",
            "retry": 0,
            "skip": 0,
            "finish_time": None,
            "elapsed_time": 0,
            "children": {},
        },
    ):
        task = bkflow.parse(data, TF)
        assert (task.state, task.raw_state, task.terminal) == (State.PENDING, "CREATED", False)
        assert task.root is not None and task.root.id == "33"
