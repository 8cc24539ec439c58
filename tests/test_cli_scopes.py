"""Scopes on the command line, against the simulator served on loopback: add/ls/rm, status --json
with "via", wait on a scope."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bkwatch import cli
from tests.test_cli import connect, isolated, run, sim  # noqa: F401  (fixtures)


def test_add_ls_rm_scopes_with_options(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:  # noqa: F811
    code, out, _ = run(capsys, "add", "job:2", "--mine", "--since", "4h", "--cap", "50")
    assert code == 0 and out.strip() == "following job:2  (--mine --since 4h --cap 50)"
    code, out, _ = run(capsys, "add", "sops:project:5", "bkflow:1", "job:2:42", "--label", "rel")
    assert code == 0 and "following sops:project:5" in out and "added job:2:42" in out
    code, out, _ = run(capsys, "ls", "--json")
    doc = json.loads(out)
    assert [e["target"] for e in doc["entries"]] == ["job:2:42"]
    scopes = {s["scope"]: s for s in doc["scopes"]}
    assert scopes["job:2"]["options"] == {"mine": True, "since": 14400.0, "cap": 50}
    assert scopes["bkflow:1"]["label"] == "rel"
    code, out, _ = run(capsys, "ls")
    assert "SCOPE" in out and "--mine --since 4h --cap 50" in out and "job:2:42" in out
    code, out, errout = run(capsys, "rm", "job:2", "sops:2")
    assert code == 1 and "no longer following job:2" in out and "not followed" in errout
    code, out, _ = run(capsys, "ls", "--json")
    assert {s["scope"] for s in json.loads(out)["scopes"]} == {"sops:project:5", "bkflow:1"}


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["add", "nodeman:biz:2"], "nodeman has no task list"),
        (["add", "gsekit:biz:2"], "gsekit has no task list"),
        (["add", "job:2:42", "--mine"], "only apply to scopes"),
        (["add", "job:2", "--since", "soon"], "not a duration"),
        (["add", "sops:space:2"], "unexpected scope kind"),
        (["add", "job:0"], "positive integer"),
    ],
)
def test_scopes_that_cannot_be_followed_are_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    code, _, errout = run(capsys, *argv)
    assert code == 2 and words in errout and len(errout.strip().splitlines()) == 1
    assert run(capsys, "ls", "--json")[1].count("scopes") == 0  # nothing was saved


def test_one_id_after_a_system_that_cannot_be_followed_is_a_task(
    capsys: pytest.CaptureFixture[str],
    isolated: Path,  # noqa: F811
) -> None:
    """`nodeman:302` is NodeMan's own short task form, never a scope (NodeMan cannot be followed)."""
    from bkwatch.scopes import looks_like_scope

    assert looks_like_scope("job:2") and looks_like_scope("sops:2") and looks_like_scope("nodeman:biz:2")
    assert not looks_like_scope("nodeman:302") and not looks_like_scope("gsekit:802")
    code, out, _ = run(capsys, "add", "nodeman:302")
    assert code == 0 and "nodeman:302" in out
    code, out, _ = run(capsys, "ls", "--json")
    listed = json.loads(out)
    assert [t["target"] for t in listed["entries"]] == ["nodeman:302"] and not listed.get("scopes")


def test_status_json_lists_every_task_a_scope_found_with_via(
    sim: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, sim.base_url)
    run(capsys, "add", "job:2:20001", "sops:2:101", "sops:2", "bkflow:1")
    run(capsys, "add", "job:2", "--mine")
    code, out, _ = run(capsys, "status", "--json")
    doc = json.loads(out)
    assert code == 0
    by_target = {t["target"]: t for t in doc["tasks"]}
    assert "via" not in by_target["job:2:20001"]  # added by hand
    assert "via" not in by_target["sops:2:101"]  # added by hand, found by sops:2 too: listed once
    assert [t["target"] for t in doc["tasks"]].count("sops:2:101") == 1
    via = {t["target"]: t["via"] for t in doc["tasks"] if "via" in t}
    world = {t.target: t for t in sim.world.all_tasks()}
    assert {k for k, v in via.items() if v == "job:2"} == {
        k for k, t in world.items() if k.startswith("job:2:") and t.operator == "admin"
    }
    project5 = {t.task_id for t in world.values() if t.system == "sops" and t.scope == "project:5"}
    assert {int(k.rsplit(":", 1)[1]) for k, v in via.items() if v == "sops:2"} == project5 - {101}
    assert all(by_target[k]["name"] for k, v in via.items() if v == "bkflow:1")  # names from the list
    scopes = {s["scope"]: s for s in doc["scopes"]}
    assert scopes["job:2"]["options"] == {"mine": True} and scopes["sops:2"]["error"] is None
    assert sum(scopes["sops:2"]["counts"].values()) == scopes["sops:2"]["tasks"]
    # A failing list call is the scope's error, and the exit code says so.
    sim.faults.set("http_502", route="get_job_instance_list")
    code, out, _ = run(capsys, "status", "--json", "job:2")
    doc = json.loads(out)
    assert code == 2 and doc["scopes"][0]["error"]["kind"] == "server" and doc["tasks"] == []
    sim.faults.clear()


def _wait(*args: str) -> list[str]:
    return ["wait", *args, "--interval", "0.05", "--timeout", "10"]


def test_wait_on_a_scope_until_every_task_it_holds_finished(
    sim: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, sim.base_url)
    live = [t for t in sim.world.all_tasks() if t.target.startswith("bkflow:1:")]
    for t in live:
        sim.world.force(t.target, "RUNNING")
    with ThreadPoolExecutor(1) as pool:
        waiter = pool.submit(cli.main, _wait("bkflow:1", "--json"))
        time.sleep(1.5)
        assert not waiter.done()  # running tasks are waited for
        for t in live:
            sim.world.force(t.target, "FINISHED")
        code = waiter.result(timeout=15)
    out, _ = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    finished = {x["target"] for x in lines if x["level"] == "task" and x["new"] == "succeeded"}
    assert finished == {t.target for t in live} and all(x["via"] == "bkflow:1" for x in lines)


def test_wait_on_a_scope_is_1_when_one_fails_and_2_on_errors(
    sim: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, sim.base_url)
    # It holds a failed task already, and others that never finish in a frozen world.
    code, _, errout = run(capsys, *_wait("sops:2", "--fail-fast"))
    assert code == 1
    code, _, errout = run(capsys, "wait", "sops:2", "--interval", "0.05", "--timeout", "1")
    assert code == 2 and "timed out" in errout
    code, _, errout = run(capsys, *_wait("job:9"))  # a business the user may not see
    assert code == 2 and "permission" in errout
