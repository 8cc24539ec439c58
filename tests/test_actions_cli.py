"""retry / skip / confirm / stop / pause / resume / audit on the command line, against the simulator
on loopback: confirmation on a terminal (No by default), --yes, no terminal, actions off, exit codes."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bkwatch import cli
from bkwatch.sim import DEMO_APP_SECRET, SimConfig, Simulator
from tests.conftest import isolate
from tests.test_cli import connect

FAILED_JOB, FAILED_STEP = "job:2:20002", "200022"
WAITING_JOB, MANUAL_STEP = "job:2:20004", "200042"


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


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def answer(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", Tty(text))


def ops(sim: Simulator) -> list[dict[str, Any]]:
    return sim.world.operations.list()


def audit_lines(isolated: Path) -> list[dict[str, Any]]:
    path = next(isolated.rglob("audit.jsonl"))
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_retry_with_yes_is_sent_once_and_exit_0(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "retry", FAILED_JOB, "--yes")
    assert code == 0 and "done: " in out
    [op] = ops(sim)
    assert op["api"] == "operate_step_instance" and str(op["params"]["step_instance_id"]) == FAILED_STEP
    code, out, _ = run(capsys, "status", FAILED_JOB, "--json")
    assert code in (0, 1) and json.loads(out)["tasks"][0]["state"] in ("running", "pending")


def test_prompt_names_what_happens_and_no_sends_nothing(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    answer(monkeypatch, "\n")  # the default is No
    code, out, err = run(capsys, "retry", FAILED_JOB, "--step", FAILED_STEP)
    assert code == 130 and ops(sim) == [] and "nothing was sent" in err
    for text in ("System: JOB", f"({FAILED_JOB})", f"id {FAILED_STEP}", "Hosts:", "Retry the failed hosts"):
        assert text in out
    assert "\x1b" not in out  # the job's name is shown as plain text
    assert audit_lines(isolated)[-1]["result"] == "cancelled"
    answer(monkeypatch, "y\n")
    code, _, _ = run(capsys, "retry", FAILED_JOB, "--step", FAILED_STEP, "--all-hosts")
    assert code == 0 and [o["params"]["operation_code"] for o in ops(sim)] == [8]


def test_no_terminal_without_yes_refuses(
    sim: Simulator, capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    code, _, err = run(capsys, "retry", FAILED_JOB)
    assert code == 1 and "--yes" in err and ops(sim) == []
    last = audit_lines(isolated)[-1]
    assert (last["result"], last["by"], last["why"]) == ("refused", "bkwatch", "no_terminal")


def test_actions_off_say_how_and_send_nothing(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BKWATCH_ALLOW_ACTIONS")
    code, _, err = run(capsys, "retry", FAILED_JOB, "--yes")
    assert code == 1 and ops(sim) == []
    assert "allow_actions = true" in err and "--allow-actions" in err and "BKWATCH_ALLOW_ACTIONS=1" in err
    code, _, _ = run(capsys, "retry", FAILED_JOB, "--yes", "--allow-actions")
    assert code == 0 and len(ops(sim)) == 1


def test_refused_for_state_exit_1(sim: Simulator, capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    code, _, err = run(capsys, "confirm", "job:3:20003", "--step", "200031", "--yes")
    assert code == 1 and "step is running" in err and ops(sim) == []
    code, _, err = run(capsys, "retry", "job:2:20001", "--yes")
    assert code == 1 and "nothing to retry" in err
    last = audit_lines(isolated)[-1]
    assert (last["result"], last["by"], last["why"]) == ("refused", "bkwatch", "not_allowed")


def test_confirm_and_reject_a_manual_step(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "confirm", WAITING_JOB, "--step", MANUAL_STEP, "--reject", "--yes")
    assert code == 0
    code, _, err = run(capsys, "confirm", WAITING_JOB, "--step", MANUAL_STEP, "--reject", "--yes")
    assert code == 1 and "refused at confirmation" in err
    assert [o["params"]["operation_code"] for o in ops(sim)] == [9]


def test_stop_needs_the_task_id_typed(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(monkeypatch, "y\n")
    code, out, _ = run(capsys, "stop", "job:3:20003")
    assert code == 130 and ops(sim) == [] and "Type the task id" in out
    answer(monkeypatch, "20003\n")
    code, _, _ = run(capsys, "stop", "job:3:20003")
    assert code == 0 and [o["api"] for o in ops(sim)] == ["operate_job_instance"]


def test_sops_and_bkflow_commands(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "retry", "sops:2:102", "--yes")[0] == 0
    assert run(capsys, "pause", "sops:2:106", "--yes")[0] == 0
    assert run(capsys, "resume", "sops:2:106", "--yes")[0] == 0
    assert run(capsys, "stop", "bkflow:1:503", "--yes")[0] == 0
    code, _, err = run(capsys, "skip", "bkflow:1:503", "--node", "nope", "--yes")
    assert code == 2 and "no node nope" in err
    code, _, err = run(capsys, "pause", "bkflow:1:502", "--node", "x", "--yes")
    assert code == 2 and "BKFlow offers no node pause" in err
    assert [(o["system"], o["api"]) for o in ops(sim)] == [
        ("sops", "operate_node"),
        ("sops", "operate_task"),
        ("sops", "operate_task"),
        ("bkflow", "operate_task"),
    ]
    assert ops(sim)[-1]["path"].endswith("/space/1/task/503/operate_task/revoke/")


def test_nodeman_points_to_the_web_page(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "retry", "nodeman:2:301", "--yes")
    assert code == 2 and "/o/bk_nodeman/#/task-list/detail/301" in err and ops(sim) == []
    code, _, err = run(capsys, "stop", "gsekit:2:801", "--yes")
    assert code == 2 and "/o/bk_gsekit/task-history/detail/801?biz=2" in err


def test_audit_command_and_file_mode(
    sim: Simulator, capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    assert run(capsys, "retry", FAILED_JOB, "--yes")[0] == 0
    code, out, _ = run(capsys, "audit")
    assert code == 0 and "job.retry_failed" in out and "done" in out and FAILED_JOB in out
    code, out, _ = run(capsys, "audit", "--json")
    sent, rec = [json.loads(x) for x in out.splitlines()]
    assert (sent["result"], rec["result"]) == ("sent", "done") and rec["parameters"]["operation_code"] == 2
    path = next(isolated.rglob("audit.jsonl"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert DEMO_APP_SECRET not in path.read_text()


def test_config_show_tells_whether_actions_are_on(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, "config", "show")
    assert code == 0 and "allow_actions" in out and "False" in out.split("allow_actions")[1].splitlines()[0]
    monkeypatch.setenv("BKWATCH_ALLOW_ACTIONS", "1")
    out = run(capsys, "config", "show")[1]
    assert "True" in out.split("allow_actions")[1].splitlines()[0]


def test_allow_actions_per_profile_in_the_file(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bkwatch import config

    monkeypatch.delenv("BKWATCH_ALLOW_ACTIONS")
    path = config.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('default_profile = "ops"\n[profiles.ops]\nallow_actions = true\n[profiles.ro]\n')
    path.chmod(0o600)
    assert run(capsys, "retry", FAILED_JOB, "--yes")[0] == 0
    code, _, err = run(capsys, "--profile", "ro", "retry", FAILED_JOB, "--yes")
    assert code == 1 and "[profiles.ro]" in err and len(ops(sim)) == 1
    path.write_text('[profiles.default]\nallow_actions = "yes"\n')
    code, _, err = run(capsys, "retry", FAILED_JOB, "--yes")
    assert code == 2 and "allow_actions must be true or false" in err and len(ops(sim)) == 1
