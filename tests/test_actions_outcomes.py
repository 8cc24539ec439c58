"""Three outcomes, never two: an operation sent ends `done`, `refused` (the server's message and
code) or `unknown` — then the task read once and what it shows said and audited `settled`. Each
answer that cannot be trusted is injected by the simulator AFTER it carried the operation out, for
the command line (on loopback) and the monitor (in-process); the simulator must have received the
operation exactly once. Also: bkwatch's own refusals audited, Ctrl-C at the question (in a
pseudo-terminal) cancelling at once, and the task read again right before every operation."""

from __future__ import annotations

import asyncio
import io
import json
import os
import select
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bkwatch import cli
from bkwatch.actions import BY_ID
from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME, SimConfig, Simulator
from tests.conftest import isolate
from tests.harness import SimRig, frozen_sim, settle, sim_app
from tests.procs import spawned

FAILED_JOB, FAILED_STEP = "job:2:20002", "200022"
ROUTE = "operate_step_instance"
LIMIT = 30.0
SIZE = (160, 48)
WENT_THROUGH = "the step is now running: the request to retry the failed hosts probably went through"
# Every class of answer after which the operation may or may not have happened, as the simulator
# injects it once the operation is done: (fault kind, set with after=True).
AMBIGUOUS = {
    "truncated": ("truncated", False),
    "malformed": ("malformed_json", False),
    "html": ("html", True),
    "oversized": ("oversize", False),
    "502": ("http_502", True),
    "503": ("http_503", True),
    "504": ("http_504", True),
    "reset": ("reset", False),
}
OVERSIZE = 3 * 1024 * 1024  # over the 1 MiB limit the tests set


def inject(sim: Simulator, name: str) -> None:
    kind, after = AMBIGUOUS[name]
    sim.faults.set(kind, route=ROUTE, count=1, after=after, size=OVERSIZE if kind == "oversize" else None)


def the_one_operation(sim: Simulator, name: str) -> dict[str, Any]:
    """The simulator carried out exactly one operation, the retry, and answered it as injected."""
    ops = sim.world.operations.list()
    assert len(ops) == 1, ops
    op = ops[0]
    assert op["api"] == ROUTE and op["params"]["operation_code"] == 2 and op["result"] is True
    kind, after = AMBIGUOUS[name]
    assert op["fault"] == (kind if after else None)
    return op


def results(lines: list[dict[str, Any]]) -> list[str]:
    return [line["result"] for line in lines]


def check_settled(lines: list[dict[str, Any]]) -> None:
    """sent, unknown, settled in that order, the last with what the task showed."""
    assert results(lines) == ["sent", "unknown", "settled"], lines
    sent, unknown, settled = lines
    assert sent["parameters"]["operation_code"] == 2 and unknown["parameters"] == sent["parameters"]
    assert settled["message"] == WENT_THROUGH
    assert settled["state"]["step"]["id"] == FAILED_STEP and settled["state"]["step"]["raw"] == "2"
    assert settled["state"]["step"]["run"] == 2  # the retry's run: execute_count went up
    assert "secret" not in json.dumps(lines).lower()


# -- the command line, on loopback ------------------------------------------------------------------


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate(tmp_path, monkeypatch)


def connect_env(base_url: str) -> dict[str, str]:
    return {
        "BK_COMPONENT_API_URL": base_url,
        "BK_API_URL_TMPL": base_url + "/api/{api_name}",
        "BK_APP_CODE": DEMO_APP_CODE,
        "BK_APP_SECRET": DEMO_APP_SECRET,
        "BK_USERNAME": DEMO_USERNAME,
        "BKWATCH_ALLOW_ACTIONS": "1",
        "BKWATCH_MAX_RESPONSE_MB": "1",
    }


@pytest.fixture
def served(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Simulator, str]]:
    simulator = Simulator(SimConfig(seed=7, frozen=True))
    with simulator.serve() as server:
        for key, value in connect_env(server.base_url).items():
            monkeypatch.setenv(key, value)
        yield simulator, server.base_url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def audit_lines(root: Path) -> list[dict[str, Any]]:
    found = list(root.rglob("audit.jsonl"))
    return [json.loads(x) for x in found[0].read_text().splitlines()] if found else []


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("name", list(AMBIGUOUS))
def test_cli_ambiguous_answer_ends_unknown_then_settled(
    name: str, served: tuple[Simulator, str], capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    sim, _ = served
    inject(sim, name)
    started = time.monotonic()
    code, out, err = run(capsys, "retry", FAILED_JOB, "--yes")
    assert time.monotonic() - started < LIMIT
    assert code == 3, (out, err)
    assert "unknown: " in err and "may or may not have happened" in err
    assert f"read again: {WENT_THROUGH}" in out and f"bkwatch status {FAILED_JOB}" in out
    assert "error" not in err.lower().split("unknown:")[0]  # never said as a plain error
    the_one_operation(sim, name)
    check_settled(audit_lines(isolated))


def test_cli_server_refusal_ends_refused_with_its_message_and_code(
    served: tuple[Simulator, str], capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    sim, _ = served
    sim.faults.set("rate_limit", route=ROUTE, count=1)  # the gateway answers no, readably
    code, _, err = run(capsys, "retry", FAILED_JOB, "--yes")
    assert code == 1
    assert "refused by the server" in err and "Request has been throttled" in err
    lines = audit_lines(isolated)
    assert results(lines) == ["sent", "refused"]
    assert (lines[1]["by"], lines[1]["code"]) == ("server", "1642901")
    assert "Request has been throttled" in lines[1]["message"]
    assert sim.world.operations.list() == []  # the gateway stopped it before the handler
    sent = [r for r in sim.bk.wire.requests() if ROUTE in r.path]
    assert len(sent) == 1  # sent once, not again


def test_cli_refusals_by_bkwatch_are_audited(
    served: tuple[Simulator, str],
    capsys: pytest.CaptureFixture[str],
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim, _ = served
    monkeypatch.delenv("BKWATCH_ALLOW_ACTIONS")
    code, _, err = run(capsys, "retry", FAILED_JOB, "--step", FAILED_STEP, "--yes")
    assert code == 1 and "allow_actions = true" in err
    monkeypatch.setenv("BKWATCH_ALLOW_ACTIONS", "1")
    code, _, err = run(capsys, "confirm", "job:3:20003", "--step", "200031", "--yes")
    assert code == 1 and "step is running" in err
    code, _, err = run(capsys, "retry", FAILED_JOB)  # no terminal, no --yes
    assert code == 1 and "--yes" in err
    off, state, tty = audit_lines(isolated)
    assert all((x["result"], x["by"]) == ("refused", "bkwatch") for x in (off, state, tty))
    assert (off["why"], off["target"], off["action"], off["subject"]) == (
        "disabled",
        FAILED_JOB,
        "retry",
        {"step": FAILED_STEP},
    )
    assert "allow_actions = true" in off["message"]
    assert (state["why"], state["action"]) == ("not_allowed", "job.continue_rolling")
    assert "step is running" in state["message"]
    assert tty["why"] == "no_terminal"
    assert sim.world.operations.list() == []


def test_cli_end_of_input_at_the_question_cancels(
    served: tuple[Simulator, str],
    capsys: pytest.CaptureFixture[str],
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim, _ = served
    monkeypatch.setattr("sys.stdin", Tty(""))
    code, _, err = run(capsys, "retry", FAILED_JOB)
    assert code == 130 and "end of input" in err and "nothing was sent" in err
    assert results(audit_lines(isolated)) == ["cancelled"]
    assert sim.world.operations.list() == []


def test_cli_reads_the_task_right_before_sending(
    served: tuple[Simulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = served
    assert run(capsys, "retry", FAILED_JOB, "--yes")[0] == 0
    paths = [r.path for r in sim.bk.wire.requests()]
    at = next(i for i, p in enumerate(paths) if ROUTE in p)
    assert at == len(paths) - 1 and "get_job_instance_status" in paths[at - 1], paths
    # The command's own read, then the one right before sending.
    assert sum("get_job_instance_status" in p for p in paths[:at]) == 2, paths


# -- Ctrl-C at the question, in a pseudo-terminal -----------------------------------------------------


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as at a terminal, whatever runs the suite


@pytest.mark.timeout(90)
def test_ctrl_c_at_the_question_cancels_at_once(tmp_path: Path) -> None:
    sim = Simulator(SimConfig(seed=7, frozen=True))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BK_", "BKWATCH_", "XDG_")) and k != "PYTHONPATH"
    }
    env.update(
        {f"XDG_{d}_HOME": str(tmp_path / d.lower()) for d in ("CONFIG", "DATA", "STATE", "CACHE")},
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        TERM="dumb",
    )
    with sim.serve() as server:
        env.update(connect_env(server.base_url))
        parent, child = os.openpty()
        out = b""
        try:
            argv = [sys.executable, "-m", "bkwatch", "retry", FAILED_JOB]
            with spawned(
                argv, stdin=child, stdout=child, stderr=child, env=env, preexec_fn=_sigint_default
            ) as proc:
                os.close(child)
                child = -1
                deadline = time.monotonic() + 60
                sent_at: float | None = None
                while proc.poll() is None and time.monotonic() < deadline:
                    if sent_at is None and b"Proceed? [y/N]" in out:
                        time.sleep(0.3)  # waiting in the question
                        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends; no Enter follows
                        sent_at = time.monotonic()
                        deadline = sent_at + 10
                    if select.select([parent], [], [], 0.05)[0]:
                        try:
                            out += os.read(parent, 65536)
                        except OSError:
                            break
                assert sent_at is not None, out[-1500:]
                code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                took = time.monotonic() - sent_at
        finally:
            if child >= 0:
                os.close(child)
            os.close(parent)
    assert code == 130, out[-1500:]
    assert took < 5.0, took  # at once, not at the next Enter
    assert b"interrupted at the question (Ctrl-C); nothing was sent" in out
    assert b"Traceback" not in out
    lines = audit_lines(tmp_path)
    assert results(lines) == ["cancelled"] and "Ctrl-C" in lines[0]["message"]
    assert sim.world.operations.list() == []
    assert not [r for r in sim.bk.wire.requests() if ROUTE in r.path]


# -- the monitor, in-process -----------------------------------------------------------------------------


def _toasts(rig: SimRig) -> str:
    return "\n".join(n.message for n in rig.app._notifications)


def _audit(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def _retry(rig: SimRig, pilot: Any) -> None:
    """Yes to "retry the failed hosts" on the failed step, on the screen's (fresh) data."""
    app = rig.app
    ctx = app.acts.context()
    assert ctx is not None and app.acts.acting is not None
    plan = app.acts.acting.plan(BY_ID["job.retry_failed"], ctx.target, ctx.task, FAILED_STEP, ctx.fetched_at)
    app.acts.answered(plan, True)
    async with asyncio.timeout(LIMIT):
        await pilot.pause()
        while app.acts.busy:
            await pilot.pause(0.02)
        await app.workers.wait_for_complete()
        await pilot.pause()


@pytest.mark.parametrize("name", list(AMBIGUOUS))
async def test_monitor_ambiguous_answer_ends_unknown_then_settled(name: str, tmp_path: Path) -> None:
    rig = sim_app(frozen_sim(seed=7), tmp_path, [FAILED_JOB], select=FAILED_JOB, allow_actions=True)
    rig.client.profile.max_response_mb = 1
    async with rig.app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        inject(rig.sim, name)
        await _retry(rig, pilot)
        toasts = _toasts(rig)
        assert "may or may not have happened" in toasts and f"Read again: {WENT_THROUGH}" in toasts, toasts
        assert any("action unknown: " in line for line in rig.app.log_view.entries)
        the_one_operation(rig.sim, name)
        check_settled(_audit(tmp_path))
    await rig.client.aclose()


async def test_monitor_server_refusal_shows_its_message_and_code(tmp_path: Path) -> None:
    rig = sim_app(frozen_sim(seed=7), tmp_path, [FAILED_JOB], select=FAILED_JOB, allow_actions=True)
    async with rig.app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        rig.sim.faults.set("rate_limit", route=ROUTE, count=1)
        await _retry(rig, pilot)
        toasts = _toasts(rig)
        assert "refused by the server" in toasts and "(code 1642901)" in toasts, toasts
        lines = _audit(tmp_path)
        assert results(lines) == ["sent", "refused"] and lines[1]["by"] == "server"
    await rig.client.aclose()


async def test_monitor_refusals_by_bkwatch_are_audited(tmp_path: Path) -> None:
    for allow, target, why in ((True, "job:3:20003", "not_allowed"), (False, FAILED_JOB, "disabled")):
        here = tmp_path / why
        rig = sim_app(frozen_sim(seed=7), here, [target], select=target, allow_actions=allow)
        async with rig.app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(rig, pilot)
            rig.app.detail.job.hosts_view.focus()
            await pilot.pause()
            # Chosen all the same (a menu opened before the task changed): refused, audited.
            acts = rig.app.acts
            ctx = acts.context()
            offer = next(o for o in acts.offers_for(ctx) if o.spec.id == "job.retry_failed")
            acts.chosen(ctx, offer)
            async with asyncio.timeout(LIMIT):
                await rig.app.workers.wait_for_complete()
            [line] = _audit(here)
            assert (line["result"], line["by"], line["why"]) == ("refused", "bkwatch", why)
            assert line["action"] == "job.retry_failed" and "nothing" in line["message"]
            assert rig.sim.world.operations.list() == []
        await rig.client.aclose()


async def test_monitor_reads_the_task_right_before_sending_even_when_fresh(tmp_path: Path) -> None:
    rig = sim_app(frozen_sim(seed=7), tmp_path, [FAILED_JOB], select=FAILED_JOB, allow_actions=True)
    async with rig.app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        watch = rig.poller.watches[FAILED_JOB]
        assert watch.last_ok is not None and rig.app.clock() - watch.last_ok < 1.0  # fresh
        rig.sim.bk.wire.clear()
        await _retry(rig, pilot)
        paths = [r.path for r in rig.sim.bk.wire.requests()]
        at = next(i for i, p in enumerate(paths) if ROUTE in p)
        assert at >= 1 and "get_job_instance_status" in paths[at - 1], paths
        assert "done: " in _toasts(rig)
    await rig.client.aclose()


# -- the simulator's faults after an operation ----------------------------------------------------------


async def test_sim_after_faults_only_on_operations_and_only_replacing_kinds() -> None:
    import httpx

    sim = Simulator(SimConfig(seed=7, frozen=True))
    with pytest.raises(ValueError, match="after=True"):
        sim.faults.set("truncated", after=True)  # spoils the answer after the handler already
    sim.faults.set("http_502", count=1, after=True)  # every route, but only operations take it
    header = {
        "X-Bkapi-Authorization": json.dumps(
            {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET, "bk_username": DEMO_USERNAME}
        )
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://sim") as c:
        read = await c.get(
            "/api/bk-job/prod/api/v3/get_job_instance_status",
            params={"bk_scope_type": "biz", "bk_scope_id": "2", "job_instance_id": "20002"},
            headers=header,
        )
        assert read.status_code == 200 and read.json()["result"] is True  # not spent on a read
        body = {"bk_scope_type": "biz", "bk_scope_id": "2", "job_instance_id": 20002}
        body |= {"step_instance_id": int(FAILED_STEP), "operation_code": 2}
        path = "/api/bk-job/prod/api/v3/operate_step_instance"
        first = await c.post(path, json=body, headers=header)
        second = await c.post(path, json=body, headers=header)
    assert first.status_code == 502 and first.json()["code"] == 1650200
    assert second.status_code == 200 and second.json()["code"] == 1241003  # already retried: done once
    assert [(o["fault"], o["result"]) for o in sim.world.operations.list()] == [
        ("http_502", True),
        (None, False),
    ]
    assert sim.faults.list() == []


# -- what is said after an unknown answer -----------------------------------------------------------------


def test_cli_a_502_before_the_operation_says_it_probably_did_not_arrive(
    served: tuple[Simulator, str], capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    sim, _ = served
    sim.faults.set("http_502", route=ROUTE, count=1)  # the gateway answers instead: nothing done
    code, out, err = run(capsys, "retry", FAILED_JOB, "--yes")
    assert code == 3 and "unknown: " in err
    said = "the step is still failed: the request to retry the failed hosts probably did not arrive"
    assert f"read again: {said}" in out
    assert sim.world.operations.list() == []
    lines = audit_lines(isolated)
    assert results(lines) == ["sent", "unknown", "settled"] and lines[2]["message"] == said
    assert lines[2]["state"]["step"]["raw"] == "4"
    assert len([r for r in sim.bk.wire.requests() if ROUTE in r.path]) == 1  # not sent again


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["retry", "sops:2:102"],
            "the node is now running: the request to retry the node probably went through",
        ),
        (
            ["pause", "bkflow:1:503"],
            "the task is now paused: the request to pause the task probably went through",
        ),
        (
            ["stop", "job:3:20003"],
            "the job is now stopped: the request to terminate the job probably went through",
        ),
    ],
)
def test_cli_what_is_said_is_tied_to_the_action(
    argv: list[str],
    said: str,
    served: tuple[Simulator, str],
    capsys: pytest.CaptureFixture[str],
    isolated: Path,
) -> None:
    sim, _ = served
    sim.faults.set("http_504", route="/api/bk-", count=1, after=True)  # on the operation only
    code, out, _ = run(capsys, *argv, "--yes")
    assert code == 3 and f"read again: {said}" in out, out
    assert len(sim.world.operations.list()) == 1
    assert results(audit_lines(isolated)) == ["sent", "unknown", "settled"]


async def test_engine_unknown_and_the_task_unreadable_afterwards(tmp_path: Path) -> None:
    import httpx

    from bkwatch.actions import Actor, Plan, Result
    from bkwatch.client import BkClient
    from bkwatch.systems.adapters import fetch_task
    from bkwatch.targets import parse_target
    from tests.conftest import sim_profile

    sim = Simulator(SimConfig(seed=7, frozen=True))
    profile = sim_profile(allow_actions=True)
    reads: list[str] = []

    async def fetch(client: BkClient, target: Any) -> Any:
        task = await fetch_task(client, target)  # the read right before sending succeeds
        reads.append(str(target))
        # …then the status API breaks, and the operation's answer is a reset after it ran.
        sim.faults.set("http_500", route="get_job_instance_status")
        sim.faults.set("reset", route=ROUTE, count=1)
        return task

    async with BkClient(profile, transport=httpx.ASGITransport(app=sim.app)) as client:
        actor = Actor(client, profile, data_dir=tmp_path, fetch=fetch)
        target = parse_target(FAILED_JOB)
        plan = Plan(BY_ID["job.retry_failed"], target, await fetch_task(client, target), FAILED_STEP)
        async with asyncio.timeout(LIMIT):
            out = await actor.perform(plan)
    assert out.result is Result.UNKNOWN and out.exit_code == 3 and out.task is None
    assert out.settled is not None and out.settled.startswith("the task could not be read again")
    assert "whether the request to retry the failed hosts arrived is not known" in out.settled
    assert len(reads) == 1 and len(sim.world.operations.list()) == 1
    lines = _audit(tmp_path)
    assert results(lines) == ["sent", "unknown", "settled"] and lines[2]["state"] is None
