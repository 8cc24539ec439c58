"""`bkwatch logs` and `bkwatch why`, run in-process against the simulator on loopback sockets."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bkwatch import cli
from bkwatch.model import State
from bkwatch.sim import SimConfig, Simulator
from tests.test_cli import connect, isolated  # noqa: F401 - `isolated` is an autouse fixture

LIMIT = 60
ESCAPES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
LOG_KEYS = {"target", "step", "host", "node", "text", "truncated", "error"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(cli.main, list(argv)).result(timeout=LIMIT)
    out, errout = capsys.readouterr()
    return code, out, errout


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    simulator = Simulator(SimConfig(seed=9, frozen=True, gsekit_rows_without_ids=True))
    with simulator.serve() as server:
        connect(monkeypatch, server.base_url)
        yield simulator


def _task(sim: Simulator, target: str) -> Any:
    import asyncio

    from bkwatch.client import BkClient
    from bkwatch.config import load_profile
    from bkwatch.systems.adapters import fetch_task, settle
    from bkwatch.targets import parse_target

    async def go() -> Any:
        client = BkClient(load_profile())
        try:
            task = await fetch_task(client, parse_target(target))
            if await settle(client, target):  # a pipeline's detail names its nodes, as the CLI reads it
                task = await fetch_task(client, parse_target(target))
            return task
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_logs_job_host_text_and_json_clean(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    target = sim.world.add_task("job", kind="ok", hosts=6, scope=("biz", 2))
    sim.world.advance(600)
    task = _task(sim, target)
    step = task.steps[0]
    host = next(iter(step.hosts.values()))
    code, out, errout = run(capsys, "logs", target, "--step", step.id, "--host", host.key)
    assert code == 0, errout
    assert out.startswith(f"==> {target} step {step.id} host {host.key} <==\n")
    assert "all done, exit code 0" in out and "clipboard written by the script" in out
    assert not ESCAPES.search(out)
    code, out, _ = run(capsys, "logs", target, "--host", host.ip, "--json")  # IP alone: any cloud
    doc = json.loads(out)
    assert code == 0 and list(doc) == ["logs"] and len(doc["logs"]) == 1
    entry = doc["logs"][0]
    assert set(entry) == LOG_KEYS and entry["host"] == host.key and entry["step"] == task.steps[-1].id
    assert entry["truncated"] is False and entry["error"] is None and not ESCAPES.search(entry["text"])


def test_logs_job_failed_hosts_several_headers(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    target = sim.world.add_task("job", kind="fail", hosts=40, scope=("biz", 2))
    sim.world.advance(600)
    task = _task(sim, target)
    step = task.steps[1]
    failing = [h.key for h in step.hosts.values() if h.state.is_bad]
    code, out, _ = run(capsys, "logs", target, "--failed")
    assert code == 0
    headers = re.findall(r"^==> (.*) <==$", out, re.MULTILINE)
    assert headers == [f"{target} step {step.id} host {k}" for k in failing]
    assert "[failed]" in out and "download" in out
    code, out, _ = run(capsys, "logs", target, "--failed", "--json")
    logs = json.loads(out)["logs"]
    assert [e["host"] for e in logs] == failing and all(e["step"] == step.id for e in logs)


def test_why_job_json_and_text(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    target = sim.world.add_task("job", kind="fail", hosts=120, scope=("biz", 2))
    sim.world.advance(600)
    task = _task(sim, target)
    failing = {h.key for s in task.steps for h in s.hosts.values() if h.state.is_bad}
    code, out, errout = run(capsys, "why", target, "--json")
    assert code == 0, errout
    doc = json.loads(out)
    assert set(doc) == {"target", "clusters", "read", "unread"} and doc["target"] == target
    assert doc["read"] == len(failing) and doc["unread"] == 0
    counts = [c["count"] for c in doc["clusters"]]
    assert counts == sorted(counts, reverse=True) and sum(counts) == len(failing)
    for c in doc["clusters"]:
        assert set(c) == {"signature", "count", "hosts", "sample", "steps"} and len(c["hosts"]) == c["count"]
    assert {h for c in doc["clusters"] for h in c["hosts"]} == failing
    code, out, _ = run(capsys, "why", target, "--step", task.steps[1].id)
    assert code == 0 and f"{len(failing)} failing hosts in {len(counts)} groups" in out
    assert f"{len(failing)} logs read, 0 not read" in out and "e.g. " in out


def test_why_counts_the_failing_hosts_whose_logs_could_not_be_read(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    target = sim.world.add_task("job", kind="fail", hosts=30, scope=("biz", 2))
    sim.world.advance(600)
    task = _task(sim, target)
    failing = sum(1 for s in task.steps for h in s.hosts.values() if h.state.is_bad)
    sim.faults.set("http_500", route="batch_get_job_instance_ip_log")  # no log can be read
    code, out, _ = run(capsys, "why", target)
    assert code == 0 and failing > 0
    assert f"{failing} failing hosts, 0 of them in 0 groups; 0 logs read, {failing} not read" in out, out


def test_why_and_logs_sops_bkflow_nodes(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    for system in ("sops", "bkflow"):
        target = sim.world.add_task(system, kind="widefail", nodes=12)
        sim.world.advance(60)
        code, out, errout = run(capsys, "why", target, "--json")
        assert code == 0, errout
        doc = json.loads(out)
        assert sum(c["count"] for c in doc["clusters"]) == 12 and all("nodes" in c for c in doc["clusters"])
        node = doc["clusters"][0]["nodes"][0]
        code, out, _ = run(capsys, "why", target)  # as the monitor's view: nodes by their names
        name = _task(sim, target).node_names()[node]
        assert code == 0 and "12 failing nodes in" in out and "12 failures read" in out, out
        assert name in out and node not in out, out
        code, out, _ = run(capsys, "logs", target, "--node", node)
        assert code == 0 and out.startswith(f"==> {target} node {node}")
        assert "ex_data: 作业执行失败" in out and "inputs:" in out
        if system == "sops":
            assert re.search(r"^\[\d{4}-\d\d-\d\d [\d:.]+\] ", out, re.MULTILINE)  # the node log, paged
        code, out, _ = run(capsys, "logs", target, "--failed", "--json")
        assert {e["node"] for e in json.loads(out)["logs"]} == {
            n for c in doc["clusters"] for n in c["nodes"]
        }


def test_logs_and_why_nodeman_gsekit(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    nm = sim.world.add_task("nodeman", kind="fail", hosts=8, scope=2)
    gs = sim.world.add_task("gsekit", kind="mixed", tasks=40, scope=2)
    sim.world.advance(600)
    code, out, _ = run(capsys, "logs", nm, "--failed")
    assert code == 0 and out.count("==> ") >= 6 and "[FAILED]" in out and "[ERROR]" in out
    code, out, _ = run(capsys, "why", nm, "--json")
    doc = json.loads(out)
    assert (
        code == 0 and doc["read"] >= 6 and all(c["signature"].startswith("[ERROR]") for c in doc["clusters"])
    )
    gtask = _task(sim, gs)
    bad = [jt for jt in gtask.job_tasks.values() if jt.state.is_bad]
    code, out, _ = run(capsys, "logs", gs, "--failed", "--json")
    logs = json.loads(out)["logs"]
    assert code == 0 and len(logs) == len(bad) and all("failed_reason:" in e["text"] for e in logs)
    assert all(not ESCAPES.search(e["text"]) for e in logs)  # GSEKit reasons carry colour codes
    code, out, _ = run(capsys, "why", gs, "--json")
    assert code == 0 and sum(c["count"] for c in json.loads(out)["clusters"]) == len(bad)


def test_errors_are_classified_exit_2(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, errout = run(capsys, "why", "job:2:424242", "--json")
    assert code == 2 and json.loads(out)["error"]["kind"] == "not_found" and "Traceback" not in errout
    code, _, errout = run(capsys, "logs", "job:2:20002", "--host", "9.9.9.9")
    assert code == 2 and "not_found" in errout
    code, _, errout = run(capsys, "logs", "job:2:20002")
    assert code == 2 and "--host" in errout and "\n" not in errout.strip()
    sim.faults.set("http_500", route="batch_get_job_instance_ip_log")
    sim.world.advance(600)
    code, out, _ = run(capsys, "logs", "job:2:20002", "--failed", "--json")
    logs = json.loads(out)["logs"]
    assert code == 2 and logs and all(e["error"]["kind"] == "server" for e in logs)


def test_logs_follow_prints_until_the_host_finishes(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    target = sim.world.add_task("job", kind="running", hosts=4, scope=("biz", 2))
    task_obj = sim.world.get(target)
    for h in task_obj.steps[0].hosts:
        h.off, h.dur, h.status = 0.0, 6.0, 9
    sim.world.advance(1)
    task = _task(sim, target)
    host = next(k for k, h in task.steps[0].hosts.items() if h.state is State.RUNNING)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.05):
            sim.world.advance(0.5)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        code, out, _ = run(capsys, "logs", target, "--host", host, "--follow", "--interval", "0.05")
    finally:
        stop.set()
        ticker.join(5)
    assert code == 0 and out.rstrip().endswith("all done, exit code 0")
    assert out.count("==> ") == 1 and not ESCAPES.search(out)
    final = _task(sim, target)
    assert final.steps[0].hosts[host].state is State.SUCCEEDED
