"""Scripts get the truth: `status` and `wait` (and the monitor's start) never take an unreadable
watch list or config for an empty one, `status --json` lists every task it was asked about, read
or not, with counts, and its exit status says when the answer is partial. Against the simulator
served on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bkwatch import config
from bkwatch.cli import run as monitor
from tests.test_cli import connect, isolated, run, sim  # noqa: F401  (fixtures)

CORRUPT = b'{"version": 1, "entries": [{"target": "job:2:20001"'  # cut off mid-save by hand


def _lists(isolated: Path) -> Path:  # noqa: F811
    lists = isolated / "xdg_data_home" / "bkwatch" / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    return lists


@pytest.fixture
def no_screen(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The monitor's start up to the screen: a start that got past its checks is recorded and
    ends there, instead of taking over the test's terminal."""
    started: list[object] = []

    async def fake_run_app(app: object, fetch: Any, options: object) -> None:
        started.append(app)
        await fetch.aclose()

    monkeypatch.setattr(monitor, "run_app", fake_run_app)
    return started


@pytest.mark.parametrize(
    "argv",
    [["status"], ["status", "--json"], ["status", "--json", "--allow-partial"], ["wait", "job:2:20001"], []],
    ids=["status", "status-json", "status-allow-partial", "wait", "monitor"],
)
def test_a_corrupt_watch_list_is_an_error_naming_it_and_is_kept_aside(
    sim: Any,  # noqa: F811
    isolated: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_screen: list[object],
    argv: list[str],
) -> None:
    connect(monkeypatch, sim.base_url)
    lists = _lists(isolated)
    path = lists / "default.json"
    path.write_bytes(CORRUPT)
    code, out, errout = run(capsys, *argv)
    assert code == 2, (argv, out, errout)
    assert out == "" and not no_screen  # no "tasks": [] a script would read as all is well
    aside = [p for p in lists.iterdir() if p.name.startswith("default.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == CORRUPT  # the user's bytes, kept
    assert not path.exists()
    assert str(path) in errout and aside[0].name in errout and "could not be read" in errout
    assert len(errout.strip().splitlines()) == 1 and "Traceback" not in errout
    # Run again: the list is still not an empty one, until the user restores or removes it.
    code, out, errout = run(capsys, *argv)
    assert code == 2 and out == "" and not no_screen and aside[0].name in errout, (argv, out, errout)


def test_a_good_list_still_starts_the_monitor(
    sim: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_screen: list[object],
) -> None:
    connect(monkeypatch, sim.base_url)
    assert run(capsys, "add", "job:2:20001")[0] == 0
    code, _, errout = run(capsys)
    assert code == 0 and len(no_screen) == 1, errout


@pytest.mark.parametrize("argv", [["status"], ["status", "--json"], ["wait", "job:2:20001"], []])
def test_an_unreadable_config_is_an_error_naming_it_and_left_untouched(
    sim: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_screen: list[object],
    argv: list[str],
) -> None:
    connect(monkeypatch, sim.base_url)  # the server is known: only the file is wrong
    assert run(capsys, "add", "job:2:20001")[0] == 0
    path = config.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"[profiles.default\nesb_url = ")
    code, out, errout = run(capsys, *argv)
    assert code == 2 and out == "" and not no_screen, (argv, errout)
    assert str(path) in errout and "not valid TOML" in errout
    assert path.read_bytes() == b"[profiles.default\nesb_url = "


def test_status_lists_every_task_of_a_capped_scope_with_unread_counts(
    sim: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, sim.base_url)
    for _ in range(6):  # live tasks: the cap cannot make room by letting a finished one go
        sim.world.add_task("job", kind="running", scope=("biz", 2), delay=-60)
    tasks = [t for t in sim.world.all_tasks() if t.target.startswith("job:2:")]
    found = {t.target for t in tasks}
    live = {t.target for t in tasks if t.raw_state(sim.world.now()) not in ("3", "4")}  # 3 ok, 4 failed
    assert len(live) > 5
    assert run(capsys, "add", "job:2", "--cap", "5")[0] == 0
    code, out, errout = run(capsys, "status", "--json")
    doc = json.loads(out)
    assert code == 2, errout  # an answer with unread tasks is partial
    via = [t for t in doc["tasks"] if t.get("via") == "job:2"]
    # Every live task found is listed, not only those read; finished ones made room and left.
    assert live <= {t["target"] for t in via} <= found
    unread = [t for t in via if t["state"] == "unread"]
    assert len(via) == 5 + len(unread)
    assert len(unread) == len(live) - 5 and all(t["unread"] == "cap" for t in unread)
    assert all(t["error"] is None and t["counts"] == {} and not t["terminal"] for t in unread)
    (scope,) = doc["scopes"]
    assert scope["cap_reached"] and scope["tasks"] == 5 and scope["over_cap"] == len(live) - 5
    assert sum(scope["counts"].values()) == 5 and scope["unread"] == scope["counts"].get("unread", 0)
    assert sum(doc["counts"].values()) == len(doc["tasks"])
    assert doc["counts"]["unread"] == len(unread) + scope["unread"]
    assert doc["complete"] is False and doc["unreachable"] == 0
    # Text: the unread tasks are rows, the scope line says how many were left out, stderr why.
    code, out, errout = run(capsys, "status")
    assert code == 2 and f"{len(live) - 5} more found, unread" in out
    assert sum(1 for line in out.splitlines() if " unread " in f"{line} ") == len(unread)
    assert "this answer is partial" in errout
    code, out, _ = run(capsys, "status", "--json", "--allow-partial")
    assert code == 0 and json.loads(out)["counts"] == doc["counts"]


def test_an_unreachable_task_makes_status_fail_unless_partial_is_allowed(
    sim: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, sim.base_url)
    assert run(capsys, "add", "job:2:20001", "job:2:20002", "job:2:999999")[0] == 0
    code, out, _ = run(capsys, "status", "--json")
    doc = json.loads(out)
    assert code == 2
    assert doc["unreachable"] == 1 and doc["complete"] is False
    assert doc["counts"] == {"succeeded": 1, "failed": 1, "unknown": 1}
    by_target = {t["target"]: t for t in doc["tasks"]}
    assert by_target["job:2:999999"]["error"]["kind"] == "not_found"
    code, out, _ = run(capsys, "status", "--json", "--allow-partial")
    assert code == 0 and json.loads(out)["counts"] == doc["counts"]
    assert run(capsys, "status", "--allow-partial")[0] == 0
    # Everything read again: complete, exit 0 without the flag.
    assert run(capsys, "rm", "job:2:999999")[0] == 0
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0 and json.loads(out)["complete"] is True
    # The server failing for every task: unreachable, not "nothing failing".
    sim.faults.set("http_502")
    code, out, _ = run(capsys, "status", "--json")
    assert code == 2 and json.loads(out)["unreachable"] == 2
    sim.faults.clear()


def test_a_bad_list_entry_stays_an_error_with_partial_allowed(
    isolated: Path,  # noqa: F811
    sim: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, sim.base_url)
    doc = {"version": 1, "entries": [{"target": "job:2:20001"}, {"target": "nonsense:1"}]}
    (_lists(isolated) / "default.json").write_text(json.dumps(doc))
    code, out, _ = run(capsys, "status", "--json", "--allow-partial")
    assert code == 2 and json.loads(out)["counts"] == {"succeeded": 1, "unknown": 1}
