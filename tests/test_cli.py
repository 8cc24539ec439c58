"""The command line, run in-process against the simulator served on real loopback sockets."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest

from bkwatch import cli
from bkwatch.cli.common import dumps
from bkwatch.model import State
from bkwatch.text import display_width, one_line
from tests.conftest import ENV_VARS, isolate


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate(tmp_path, monkeypatch)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, errout = capsys.readouterr()
    return code, out, errout


def connect(monkeypatch: pytest.MonkeyPatch, base_url: str, *, gateway: bool = True) -> None:
    from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME

    monkeypatch.setenv("BK_COMPONENT_API_URL", base_url)
    if gateway:
        monkeypatch.setenv("BK_API_URL_TMPL", base_url + "/api/{api_name}")
    monkeypatch.setenv("BK_APP_CODE", DEMO_APP_CODE)
    monkeypatch.setenv("BK_APP_SECRET", DEMO_APP_SECRET)
    monkeypatch.setenv("BK_USERNAME", DEMO_USERNAME)


@pytest.fixture
def sim() -> Iterator[Any]:
    """A frozen world (only force/advance change it) served on loopback."""
    from bkwatch.sim import SimConfig, Simulator

    simulator = Simulator(SimConfig(seed=3, frozen=True))
    with simulator.serve() as server:
        simulator.base_url = server.base_url
        yield simulator


def one_per_system(sim: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for info in sim.world.tasks():
        out.setdefault(str(info.system), info)
    assert set(out) == {"job", "sops", "bkflow", "nodeman", "gsekit"}
    return out


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- lists ----------------------------------------------------------------------------------------


def test_add_ls_rm_from_urls_and_canonical(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "add",
        "JOB:2:42",
        "https://job.example.com/biz_set/9991/execute/task/7",
        "http://paas.example.com/o/bk_sops/taskflow/execute/5/?instance_id=12",
        "http://paas.example.com/o/bk_nodeman/#/task-list/detail/187",
        "https://job.example.com/api_execute_step/43/1001",
        "--biz",
        "3",
        "--label",
        "release 1.2",
    )
    assert code == 0
    assert "added job:2:42" in out and "added nodeman:187" in out and "added job:3:43" in out
    code, out, _ = run(capsys, "ls", "--json")
    listed = json.loads(out)
    assert [e["target"] for e in listed["entries"]] == [
        "job:2:42",
        "job:biz_set:9991:7",
        "sops:project:5:12",
        "nodeman:187",
        "job:3:43",
    ]
    assert {e["label"] for e in listed["entries"]} == {"release 1.2"}
    code, out, _ = run(capsys, "ls")
    assert code == 0 and "sops:project:5:12" in out and "release 1.2" in out

    code, out, errout = run(capsys, "rm", "https://job.example.com/biz/2/execute/task/42", "job:2:999")
    assert code == 1 and "removed job:2:42" in out and "job:2:999" in errout
    code, out, _ = run(capsys, "ls", "--json")
    assert "job:2:42" not in [e["target"] for e in json.loads(out)["entries"]]


def test_named_list_option_before_or_after_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--list", "ops", "add", "gsekit:2:5")[0] == 0
    assert run(capsys, "add", "gsekit:2:6", "--list", "ops")[0] == 0
    _code, out, _ = run(capsys, "ls", "--json", "--list", "ops")
    assert [e["target"] for e in json.loads(out)["entries"]] == ["gsekit:2:5", "gsekit:2:6"]
    assert json.loads(run(capsys, "ls", "--json")[1])["entries"] == []


def test_bad_target_adds_nothing_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, errout = run(capsys, "add", "job:2:1", "https://example.com/nothing/here")
    assert code == 2
    assert len(errout.strip().splitlines()) == 1 and "example.com/nothing/here" in errout
    assert "Traceback" not in errout
    assert json.loads(run(capsys, "ls", "--json")[1])["entries"] == []


def test_bad_arguments_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["frobnicate"], ["wait", "job:2:1", "--timeout", "soon"], ["add"], ["ls", "--list", "../x"]):
        code, _, errout = run(capsys, *argv)
        assert code == 2, argv
        assert len(errout.strip().splitlines()) == 1, (argv, errout)
        assert "Traceback" not in errout


def test_corrupt_list_is_reported_not_fatal(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    lists = isolated / "xdg_data_home" / "bkwatch" / "lists"
    lists.mkdir(parents=True)
    (lists / "default.json").write_text("{oops")
    code, out, errout = run(capsys, "ls")
    assert code == 0 and "empty" in out
    assert "corrupt" in errout and "moved" in errout
    assert any(p.name.startswith("default.json.corrupt-") for p in lists.iterdir())


# -- config -----------------------------------------------------------------------------------


def test_config_init_path_show(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(capsys, "config", "path")
    path = Path(out.strip())
    assert code == 0 and path.name == "config.toml" and "xdg_config_home" in str(path)
    assert run(capsys, "config", "init")[0] == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_text()
    code, _, errout = run(capsys, "config", "init")
    assert code != 0 and "exists" in errout and path.read_text() == before

    monkeypatch.setenv("BK_APP_SECRET", "TOPSECRET-value-123")
    monkeypatch.setenv("BK_TOKEN", "token-XYZ-987")
    monkeypatch.setenv("BK_APP_CODE", "my-app")
    code, out, errout = run(capsys, "config", "show")
    assert code == 0
    assert "TOPSECRET" not in out + errout and "XYZ-987" not in out + errout
    assert str(path) in out and "BK_APP_SECRET" in out and "my-app" in out
    assert errout == ""

    os.chmod(path, 0o644)
    code, out, errout = run(capsys, "config", "show")
    assert code == 0 and "chmod 600" in errout


def test_insecure_warns_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, errout = run(capsys, "--insecure", "config", "show")
    assert code == 0 and "verification is OFF" in errout
    assert re.search(r"^ +verify +False$", out, re.M)  # column width follows the longest key


def test_missing_config_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["status", "job:2:1"], ["wait", "job:2:1"], ["status", "job:2:1", "--json"]):
        code, _out, errout = run(capsys, *argv)
        assert code == 2
        assert len(errout.strip().splitlines()) == 1 and "BK_COMPONENT_API_URL" in errout
        assert "Traceback" not in errout


def test_unreachable_server_no_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv("BK_COMPONENT_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("BK_APP_CODE", "a")
    monkeypatch.setenv("BK_APP_SECRET", "s3cr3t-never-shown")
    monkeypatch.setenv("BK_USERNAME", "admin")
    code, out, errout = run(capsys, "status", "job:2:1", "gsekit:2:3", "--json")
    assert code == 2 and "Traceback" not in errout
    tasks = json.loads(out)["tasks"]
    assert [t["target"] for t in tasks] == ["job:2:1", "gsekit:2:3"]
    assert all(t["error"]["kind"] == "network" and t["state"] == "unknown" for t in tasks)
    assert "s3cr3t" not in out + errout
    code, out, errout = run(capsys, "status", "job:2:1")
    assert code == 2 and "network" in out and "Traceback" not in errout
    code, out, errout = run(capsys, "wait", "job:2:1", "--interval", "0.05", "--timeout", "0.5")
    assert code == 2 and "timed out" in errout and "Traceback" not in errout


# -- status -----------------------------------------------------------------------------------


async def _direct(sim: Any, target: str) -> Any:
    """The same task fetched in-process, to compare the CLI's numbers with."""
    from bkwatch.client import BkClient
    from bkwatch.config import load_profile
    from bkwatch.systems.adapters import fetch_task, settle
    from bkwatch.targets import parse_target

    client = BkClient(load_profile(), transport=httpx.ASGITransport(app=sim.app))
    try:
        task = await fetch_task(client, parse_target(target))
        if await settle(client):  # as the CLI does: again once the pipeline's detail is in
            task = await fetch_task(client, parse_target(target))
        return task
    finally:
        await client.aclose()


def test_status_json_contract_per_system(
    sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, sim.base_url)
    picks = one_per_system(sim)
    targets = [info.target for info in picks.values()]
    for system, info in picks.items():
        sim.world.get(info.target).operator = f"ops-{system}"  # who started it, as the server says
    code = cli.main(["status", "--json", *targets])
    out, errout = capsys.readouterr()
    assert code == 0, errout
    doc = json.loads(out)
    assert list(doc) == ["tasks", "counts", "unreachable", "complete"]  # keys are only ever added
    assert sum(doc["counts"].values()) == len(targets) and doc["complete"] and doc["unreachable"] == 0
    by_target = {t["target"]: t for t in doc["tasks"]}
    assert list(by_target) == targets
    for system, info in picks.items():
        entry = by_target[info.target]
        assert set(entry) == {
            "target",
            "system",
            "name",
            "started_by",
            "state",
            "raw_state",
            "terminal",
            "counts",
            "progress",
            "failures",
            "error",
        }
        assert entry["system"] == system and entry["error"] is None
        # NodeMan and GSEKit say it in their answer, a pipeline in its detail; JOB's names no one.
        assert entry["started_by"] == (None if system == "job" else f"ops-{system}"), entry
        # BKFlow's get_task_states carries no task name: it comes from get_task_detail.
        assert entry["name"] == info.name
        assert entry["raw_state"] == info.state
        assert State(entry["state"]) in State and isinstance(entry["terminal"], bool)
        assert isinstance(entry["raw_state"], str)
        task = asyncio.run(_direct(sim, info.target))
        assert entry["raw_state"] == str(task.raw_state) and entry["state"] == str(task.state)
        assert entry["counts"] == {str(s): n for s, n in task.counts().items()}
        ids = [(f["kind"], f["id"]) for f in entry["failures"]]
        assert len(ids) == len(set(ids))


def test_status_forced_failure_shows_failed_host(
    sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, sim.base_url)
    job = one_per_system(sim)["job"].target
    sim.world.force(job, 3)  # JOB 3 = succeeded
    code = cli.main(["status", "--json", job])
    entry = json.loads(capsys.readouterr()[0])["tasks"][0]
    assert code == 0 and entry["state"] == "succeeded" and entry["raw_state"] == "3"

    sim.world.force(job, 4)  # failed
    task = asyncio.run(_direct(sim, job))
    step = next(s for s in task.steps if s.hosts)
    host = next(iter(step.hosts))
    sim.world.force(job, 104, host=host, step=step.id)  # host: script exit code non-zero
    code = cli.main(["status", "--json", job])
    entry = json.loads(capsys.readouterr()[0])["tasks"][0]
    assert code == 0 and entry["state"] == "failed"
    assert {"kind": "host", "id": host} in [{"kind": f["kind"], "id": f["id"]} for f in entry["failures"]]


def test_status_counts_failures_a_server_counts_without_listing(
    sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A current GSEKit answers a failed job with status counts and no task rows: the table says
    how many failed, as the drill-down does, instead of nothing."""
    connect(monkeypatch, sim.base_url)
    failed = next(t.target for t in sim.world.tasks() if t.system == "gsekit" and t.state == "failed")
    task = asyncio.run(_direct(sim, failed))
    assert not task.job_tasks  # no rows: only counts
    bad = sum(n for state, n in task.counts().items() if state.is_bad)
    assert bad > 0
    code, out, _errout = run(capsys, "status", failed)
    row = next(line for line in out.splitlines() if line.startswith(failed))
    assert code == 0 and row.rstrip().endswith(f"{bad} failed; no task rows reported"), row


def test_status_saved_list_text_and_not_found(
    sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, sim.base_url)
    picks = one_per_system(sim)
    job = picks["job"]
    run(capsys, "add", job.target, picks["sops"].target, "job:2:987654321", "--label", "mine")
    code = cli.main(["status"])
    out, _errout = capsys.readouterr()
    assert code == 2  # the missing task makes the run fail
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["TARGET", "STATE", "RAW"]
    assert any(line.startswith(job.target) for line in lines)
    missing = next(line for line in lines if line.startswith("job:2:987654321"))
    assert "not_found" in missing and "unknown" in missing
    assert "\x1b" not in out

    code = cli.main(["status", "--json"])
    tasks = json.loads(capsys.readouterr()[0])["tasks"]
    assert code == 2
    gone = next(t for t in tasks if t["target"] == "job:2:987654321")
    assert gone["error"]["kind"] == "not_found" and gone["state"] == "unknown" and gone["raw_state"] is None


def test_clean_strips_escapes_and_markup_stays_text() -> None:
    dirty = "\x1b[31mred\x1b[0m \x1b]0;pwned\x07ok\x9b2J [bold red]x[/] 名字\u202e\x00"
    assert one_line(dirty) == "red ok [bold red]x[/] 名字"
    assert "\\u009b" in dumps({"n": "a\x9bb"})
    assert one_line("名" * 50, 10).endswith("…") and display_width(one_line("名" * 50, 10)) <= 10


# -- wait -------------------------------------------------------------------------------------


def _wait_argv(*targets: str, extra: tuple[str, ...] = ()) -> list[str]:
    return ["wait", *targets, "--interval", "0.05", "--timeout", "3", *extra]


def test_wait_success_is_0_with_json_transitions(
    sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, sim.base_url)
    target = one_per_system(sim)["job"].target
    sim.world.force(target, 2)  # running
    with ThreadPoolExecutor(1) as pool:
        waiter = pool.submit(cli.main, _wait_argv(target, extra=("--json",)))
        time.sleep(0.5)
        assert not waiter.done()  # a running task is waited for
        sim.world.force(target, 3)
        code = waiter.result(timeout=5)
    out, _ = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    task_level = [x for x in lines if x["level"] == "task"]
    assert task_level[0] == {**task_level[0], "target": target, "old": None, "new": "running"}
    assert task_level[-1]["old"] == "running" and task_level[-1]["new"] == "succeeded"
    assert all(set(x) == {"target", "level", "key", "name", "old", "new", "at"} for x in lines)


def test_wait_failure_is_1_and_fail_fast(
    sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, sim.base_url)
    picks = one_per_system(sim)
    job, gse = picks["job"].target, picks["gsekit"].target
    sim.world.force(job, 4)
    sim.world.force(gse, "succeeded")
    assert cli.main(_wait_argv(job, gse)) == 1
    capsys.readouterr()
    # With --fail-fast a failure ends the wait although the other task is still running.
    sim.world.force(gse, "running")
    assert cli.main(_wait_argv(job, gse, extra=("--fail-fast",))) == 1
    out, _ = capsys.readouterr()
    assert job in out


def test_wait_pending_then_timeout_is_2(
    sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, sim.base_url)
    target = one_per_system(sim)["job"].target
    sim.world.force(target, 1)  # not started yet: waited for, never a pass
    code = cli.main(["wait", target, "--interval", "0.05", "--timeout", "0.6"])
    _, errout = capsys.readouterr()
    assert code == 2 and "timed out" in errout and target in errout


def test_wait_not_found_is_2_at_once(
    sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, sim.base_url)
    started = time.monotonic()
    code = cli.main(["wait", "sops:2:987654", "--interval", "0.05", "--timeout", "20"])
    _, errout = capsys.readouterr()
    assert code == 2 and "not_found" in errout
    assert time.monotonic() - started < 5


def test_wait_auth_error_is_2(
    sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, sim.base_url)
    monkeypatch.setenv("BK_APP_SECRET", "wrong-secret-zz")
    target = one_per_system(sim)["gsekit"].target
    code = cli.main(["wait", target, "--interval", "0.05", "--timeout", "20"])
    _, errout = capsys.readouterr()
    assert code == 2 and "auth" in errout and "wrong-secret-zz" not in errout


FAILED_RAW = {"job": 4, "sops": "FAILED", "bkflow": "FAILED", "nodeman": "FAILED", "gsekit": "failed"}
DONE_RAW = {"job": 3, "sops": "FINISHED", "bkflow": "FINISHED", "nodeman": "SUCCESS", "gsekit": "succeeded"}


@pytest.mark.parametrize("system", sorted(FAILED_RAW))
def test_wait_per_system_outcomes(
    system: str, sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, sim.base_url)
    target = one_per_system(sim)[system].target
    sim.world.force(target, FAILED_RAW[system])
    assert cli.main(_wait_argv(target)) == 1
    assert "-> failed" in capsys.readouterr()[0]
    code = cli.main(["status", "--json", target])
    entry = json.loads(capsys.readouterr()[0])["tasks"][0]
    assert code == 0 and entry["state"] == "failed" and entry["raw_state"] == str(FAILED_RAW[system])
    sim.world.force(target, DONE_RAW[system])
    assert cli.main(_wait_argv(target)) == 0


def test_wait_keeps_going_through_transient_errors(
    sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, sim.base_url)
    target = one_per_system(sim)["gsekit"].target
    sim.world.force(target, "succeeded")
    sim.faults.set("http_502", count=2)
    try:
        code = cli.main(_wait_argv(target))
    finally:
        sim.faults.clear()
    _, errout = capsys.readouterr()
    assert code == 0
    assert "retrying" in errout and "server" in errout


def test_status_text_keeps_server_text_inert(
    sim: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, sim.base_url)
    targets = [info.target for info in sim.world.tasks()]
    # The world holds a task in BKFlow space 7, which the demo app may not read: exit 2.
    forbidden = [t for t in targets if t.startswith("bkflow:7:")]
    assert forbidden
    code = cli.main(["status", *targets])
    out, _ = capsys.readouterr()
    assert code == 2
    assert len(out.splitlines()) == len(targets) + 1
    assert not any(ch in out for ch in "\x1b\x07\x9b\x00")
    code = cli.main(["status", "--json", *targets])
    raw = capsys.readouterr()[0]
    assert code == 2 and "\x1b" not in raw and "\x9b" not in raw
    tasks = json.loads(raw)["tasks"]
    assert [t["target"] for t in tasks] == targets
    assert [t["target"] for t in tasks if t["error"]] == forbidden
    assert {t["error"]["kind"] for t in tasks if t["error"]} == {"permission"}


def test_python_dash_m_entry_point(isolated: Path) -> None:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    done = subprocess.run(
        [sys.executable, "-m", "bkwatch", "--version"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0 and done.stdout.startswith("bkwatch ")
    done = subprocess.run(
        [sys.executable, "-m", "bkwatch", "status", "job:2:1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


# -- start-up: what each command imports, and the job list before any HTTP client -------------------

_PROBE = """
import sys
from bkwatch import cli
code = cli.main(sys.argv[1:])
heavy = ("httpx", "textual", "bkwatch.client", "bkwatch.systems.adapters", "bkwatch.sim", "bkwatch.model")
print("LOADED=" + ",".join(m for m in heavy if m in sys.modules), file=sys.stderr)
raise SystemExit(code)
"""


def _probe(*argv: str) -> tuple[int, str, set[str]]:
    """Run the command line in a fresh interpreter; its exit code, stderr and heavy imports."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    errout, _, loaded = done.stderr.rpartition("LOADED=")
    return done.returncode, errout, set(filter(None, loaded.strip().split(",")))


def test_help_and_list_commands_import_no_http_or_tui() -> None:
    code, _, loaded = _probe("--help")
    assert code == 0 and loaded == set()  # not even the model
    code, _, loaded = _probe(
        "add", "job:2:1", "https://paas.example.com/o/bk_sops/taskflow/execute/3/?instance_id=9"
    )
    assert code == 0 and loaded == {"bkwatch.model"}
    code, _, loaded = _probe("ls")
    assert code == 0 and loaded == {"bkwatch.model"}
    code, errout, loaded = _probe("rm", "job:2:404")
    assert code == 1 and "not in list" in errout and not loaded & {"httpx", "textual"}


def test_watch_config_errors_come_before_the_tui_and_httpx(isolated: Path) -> None:
    code, errout, loaded = _probe()
    assert code == 2 and len(errout.strip().splitlines()) == 1 and "BK_COMPONENT_API_URL" in errout
    assert not loaded & {"httpx", "textual"}
    # A ca_bundle that cannot be loaded is found without creating the client.
    path = isolated / "xdg_config_home" / "bkwatch" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(
        'default_profile = "p"\n[profiles.p]\nesb_url = "https://paas.example.com"\napp_code = "a"\n'
        f'ca_bundle = "{isolated / "missing.pem"}"\n'
    )
    path.chmod(0o600)
    code, errout, loaded = _probe()
    assert code == 2 and "cannot load ca_bundle" in errout and "Traceback" not in errout
    assert "httpx" not in loaded


async def test_job_list_rows_come_before_the_http_client(sim: Any, isolated: Path) -> None:
    from bkwatch.cli.run import LazyFetch, new_client
    from bkwatch.client import BkClient
    from bkwatch.config import Profile
    from bkwatch.poller import Poller
    from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME
    from bkwatch.store import WatchEntry, WatchStore
    from bkwatch.tui.app import BkWatchApp

    infos = one_per_system(sim)
    store = WatchStore(isolated / "data")
    store.add([WatchEntry(i.target, None, 1.0) for i in infos.values()], "default")
    gate = asyncio.Event()
    made: list[BkClient] = []

    async def make() -> BkClient:
        await gate.wait()
        profile = Profile(
            name="t",
            esb_url=sim.base_url,
            apigw_tmpl=sim.base_url + "/api/{api_name}",
            app_code=DEMO_APP_CODE,
            app_secret=DEMO_APP_SECRET,
            username=DEMO_USERNAME,
        )
        made.append(new_client(profile))
        return made[-1]

    fetch = LazyFetch(make)
    app = BkWatchApp(Poller(fetch), store, "default", since_last_time=False)
    async with aclosing(fetch), app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        # Every saved task has its row while no client exists yet.
        assert {line.key for line in app.joblist.lines} == {i.target for i in infos.values()}
        assert fetch.client is None and not made
        gate.set()
        for _ in range(200):
            if all(w.task is not None for w in app.poller.watches.values()):
                break
            await asyncio.sleep(0.025)
        await pilot.pause()  # the polls' updates are messages: let the app apply them
        for key, watch in app.poller.watches.items():
            assert watch.task is not None and watch.error is None, key
            row = app.joblist.plain(key)
            assert "no data" not in row and (watch.task.name or "")[:6] in row
        assert any(w.task and w.task.name for w in app.poller.watches.values())
        assert len(made) == 1 and fetch.client is made[0]  # the first round made one client
    assert fetch.client is None and made[0]._http.is_closed


def _pty_run(
    argv: list[str], markers: set[bytes], timeout: float = 30.0, **env_extra: str
) -> tuple[bytes, int]:
    """Run bkwatch in a pseudo-terminal until one of `markers` shows, press q; output, exit code."""
    import pty
    import select
    import subprocess
    import sys

    from tests.procs import stop

    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "48", **env_extra}
    parent, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bkwatch", *argv], stdin=child, stdout=child, stderr=child, env=env
    )
    os.close(child)
    out = b""
    deadline = time.monotonic() + timeout
    quitting = False
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if not quitting and any(m in out for m in markers):
                os.write(parent, b"q")
                quitting = True
            ready, _, _ = select.select([parent], [], [], 0.1)
            if ready:
                try:
                    out += os.read(parent, 65536)
                except OSError:
                    break
        return out, proc.wait(timeout=10)
    finally:
        stop(proc)
        os.close(parent)


@pytest.mark.timeout(60)
def test_watch_in_a_terminal_warns_then_asks_for_its_rows_then_starts_the_tui(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sim: Any
) -> None:
    """The TLS warning comes first; the first polls go out before the screen's modules are
    imported (their answers come while it loads: `cli/start.py`); then the screen."""
    import re

    connect(monkeypatch, sim.base_url)
    job = one_per_system(sim)["job"]
    assert run(capsys, "add", job.target)[0] == 0
    # The interpreter reports each import on the terminal as it happens (-X importtime).
    out, code = _pty_run(["--insecure"], {job.name[:6].encode()}, PYTHONPROFILEIMPORTTIME="1")
    assert code == 0, out[-2000:]
    warning = out.find(b"verification is OFF")
    httpx_at = re.search(rb"\|\s*httpx\s", out)
    textual_at = re.search(rb"\|\s*textual\s", out)
    screen = out.find(b"\x1b[?1049h")  # the alternate screen: the TUI taking over
    title = out.find(b"1 no data", screen)  # the window title the mounted app sets from the saved list
    assert httpx_at is not None and textual_at is not None
    assert 0 <= warning < httpx_at.start() < textual_at.start() < screen < title
    assert job.name[:6].encode() in out[title:]


@pytest.mark.timeout(60)
def test_demo_in_a_terminal_shows_fetched_names_and_quits_cleanly() -> None:
    from bkwatch.sim import SimConfig, Simulator

    # The demo's world (seed 1) has the same task names as this one; names only come from polls.
    names = {t.name[:6].encode() for t in Simulator(SimConfig(seed=1, hostile=False)).world.tasks()}
    out, code = _pty_run(["demo"], names)
    assert code == 0, out[-2000:]
    assert any(n in out for n in names)


_CLIENT_PROBE = """
import asyncio, sys
from bkwatch.config import Profile
from bkwatch.systems.adapters import fetch_task
from bkwatch.targets import parse_target
from bkwatch.cli.run import new_client

async def main() -> None:
    url, app_code, secret, user, target = sys.argv[1:]
    profile = Profile(esb_url=url, apigw_tmpl=url + "/api/{api_name}", app_code=app_code,
                      app_secret=secret, username=user)
    client = new_client(profile)
    try:
        task = await fetch_task(client, parse_target(target))
    finally:
        await client.aclose()
    left = [m for m in ("httpx._main",) if m in sys.modules]
    print(task.name, "httpcore" in sys.modules, left)

asyncio.run(main())
"""


def test_new_client_works_without_the_unused_optional_modules(sim: Any) -> None:
    import subprocess
    import sys

    from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME

    job = one_per_system(sim)["job"]
    argv = [sys.executable, "-c", _CLIENT_PROBE, sim.base_url, DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME]
    done = subprocess.run([*argv, job.target], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # Fetched over the network with httpcore loaded, and the guard left nothing behind.
    assert done.stdout.strip() == f"{job.name} True []"


def test_tui_log_goes_to_a_file_with_secrets_masked(isolated: Path) -> None:
    """While the screen runs, stderr is the screen: log records go to the log directory."""
    import logging

    from bkwatch.config import log_dir
    from bkwatch.logfile import log_to_file

    logger = logging.getLogger("bkwatch")
    saved = logger.handlers[:], logger.level, logger.propagate
    try:
        log_to_file(["s3cr3t-value"])
        try:
            raise RuntimeError("adapter broke on token s3cr3t-value")
        except RuntimeError:
            logging.getLogger("bkwatch.poller").exception("poll of job:2:1 failed unexpectedly")
        for handler in logger.handlers:
            handler.flush()
        text = (log_dir() / "bkwatch.log").read_text(encoding="utf-8")
    finally:
        for handler in logger.handlers:
            handler.close()
        logger.handlers[:], logger.level, logger.propagate = saved
    assert "poll of job:2:1 failed unexpectedly" in text and "RuntimeError" in text
    assert "s3cr3t-value" not in text and "****" in text


def test_api_execute_links_take_the_profile_default_business(
    capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    link = "https://job.example.com/api_execute/42?stepInstanceId=9"
    code, _, errout = run(capsys, "add", link)
    assert code != 0 and "default_biz" in errout
    path = isolated / "xdg_config_home" / "bkwatch" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('default_profile = "p"\n[profiles.p]\ndefault_biz = 7\n')
    path.chmod(0o600)
    code, out, _ = run(capsys, "add", link)
    assert code == 0 and "added job:7:42" in out
    code, out, _ = run(capsys, "add", link, "--biz-set", "9991")  # the command line wins
    assert code == 0 and "added job:biz_set:9991:42" in out
    code, out, _ = run(capsys, "config", "show")
    assert "default_biz" in out and "7" in out


def test_config_show_says_where_esb_credentials_go(
    capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    from bkwatch.esb_auth import default_memory

    path = isolated / "xdg_config_home" / "bkwatch" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('default_profile = "p"\n[profiles.p]\nesb_url = "https://paas.example.com"\n')
    path.chmod(0o600)
    code, out, _ = run(capsys, "config", "show")
    assert code == 0 and "X-Bkapi-Authorization header" in out
    default_memory().remember_body("p", "https://paas.example.com/")
    code, out, _ = run(capsys, "config", "show")
    assert code == 0 and "JSON body of a POST" in out and "ignored the header" in out
    assert "esb_auth" not in path.read_text()  # remembered in the data directory, not config.toml


_INTERRUPTED_WHILE_LOADING = """
import sys

class Interrupt:  # Ctrl-C arriving while the command line's modules load
    def find_spec(self, name, path=None, target=None):
        if name == "bkwatch.cli":
            raise KeyboardInterrupt

sys.meta_path.insert(0, Interrupt())
import runpy
runpy.run_module("bkwatch", run_name="__main__")
"""


def test_ctrl_c_while_the_command_line_loads_exits_130_without_a_traceback() -> None:
    import importlib.metadata
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED_WHILE_LOADING], capture_output=True, text=True, timeout=50
    )
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr, proc.stderr
    # The installed `bkwatch` command enters the same way as `python -m bkwatch`.
    (script,) = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "bkwatch"]
    assert script.value == "bkwatch.entry:run"
