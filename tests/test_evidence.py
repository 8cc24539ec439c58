"""Host and node evidence, failure signatures and the log buffer, against the simulator in-process."""

from __future__ import annotations

import asyncio
import math
import re
from collections import defaultdict
from contextlib import aclosing

import httpx
import pytest

from bkwatch.client import BkClient
from bkwatch.evidence.logbuf import LogBuffer
from bkwatch.evidence.sgr import sgr_text
from bkwatch.evidence.signatures import mask
from bkwatch.model import ErrorKind, State, System, Task
from bkwatch.sim import SimConfig, Simulator, logtext
from bkwatch.systems.adapters import fetch_evidence, fetch_task, open_log, task_signatures
from bkwatch.systems.job.evidence import job_hosts
from bkwatch.targets import Target, parse_target
from tests.conftest import sim_profile

LIMIT = 60  # seconds any one test may take
ESCAPES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _client(sim: Simulator, *, gateway: bool = True) -> BkClient:
    return BkClient(sim_profile(gateway=gateway), transport=httpx.ASGITransport(app=sim.app))


def _job_task(sim: Simulator, hosts: int, kind: str = "fail") -> str:
    target = sim.world.add_task("job", kind=kind, hosts=hosts, scope=("biz", 2))
    sim.world.advance(600)  # every step done
    return target


async def _fetch(client: BkClient, target: str) -> Task:
    return await fetch_task(client, parse_target(target))


def _expected_job_groups(sim: Simulator, task: Task, step_id: str, file_step: bool) -> set[frozenset[str]]:
    """The simulator's own error kind of each failing host, grouped."""
    step = next(s for s in task.steps if s.id == step_id)
    groups: dict[str, set[str]] = defaultdict(set)
    kinds = logtext.FILE_ERROR_KINDS if file_step else logtext.ERROR_KINDS
    for h in step.hosts.values():
        if h.state.is_bad:
            key = logtext.job_log_key(
                sim.config.seed, task.target, int(step_id), h.host_id or 0, step.execute_count
            )
            groups[logtext.error_kind(key, int(h.raw_status), kinds)].add(h.key)
    return {frozenset(g) for g in groups.values()}


def _log_batches(sim: Simulator) -> list[int]:
    """Hosts asked for by each batch log call the simulator received."""
    return [
        len(p.get("host_id_list") or []) + len(p.get("ip_list") or [])
        for api, _, p in sim.world.requests_log
        if api == "batch_get_job_instance_ip_log"
    ]


async def test_job_file_step_signatures_batches_of_500() -> None:
    sim = Simulator(SimConfig(seed=5, frozen=True))
    target = _job_task(sim, 2000)
    client = _client(sim)
    async with asyncio.timeout(LIMIT), aclosing(client):
        task = await _fetch(client, target)
        step = task.steps[1]  # the file step of a "fail" job: about 30 % of hosts fail
        failing = [h for h in step.hosts.values() if h.state.is_bad]
        assert len(failing) > 500
        sim.world.requests_log.clear()
        sigs = await task_signatures(client, parse_target(target), task, step.id)
    # What the simulator received: ceil(n / 500) calls, none over 500 hosts, every host once.
    batches = _log_batches(sim)
    assert len(batches) == math.ceil(len(failing) / 500)
    assert max(batches) <= 500 and sum(batches) == len(failing)
    assert sigs.read == len(failing) and sigs.unread == 0
    got = {frozenset(c.members) for c in sigs.clusters}
    assert got == _expected_job_groups(sim, task, step.id, file_step=True)
    assert [c.count for c in sigs.clusters] == sorted((c.count for c in sigs.clusters), reverse=True)
    assert all(c.steps == [step.id] for c in sigs.clusters)
    for c in sigs.clusters:
        assert not re.search(r"\d", c.signature.replace("<n>", "")), c.signature  # every number masked
        assert c.sample and "<" not in c.sample.split(":")[0]


async def test_job_script_step_signatures_group_the_error_kinds() -> None:
    sim = Simulator(SimConfig(seed=11, frozen=True))
    target = _job_task(sim, 60, kind="ok")
    task_obj = sim.world.get(target)
    step = task_obj.steps[2]  # a script step
    for h in step.hosts[:40]:
        sim.world.force(target, 104, host=f"{h.cloud}:{h.ip}", step=step.id)
    client = _client(sim)
    async with asyncio.timeout(LIMIT), aclosing(client):
        task = await _fetch(client, target)
        sigs = await task_signatures(client, parse_target(target), task, str(step.id))
    expected = _expected_job_groups(sim, task, str(step.id), file_step=False)
    assert len(expected) == len(logtext.ERROR_KINDS)  # 40 hosts: every kind is there
    assert {frozenset(c.members) for c in sigs.clusters} == expected
    assert sigs.read == 40 and sigs.unread == 0
    text = " ".join(c.signature for c in sigs.clusters)
    for phrase in ("Connection refused", "Permission denied", "No space left on device", "command not found"):
        assert phrase in text
    assert "timed out after <dur>" in text


async def test_batch_failure_is_counted_unread_and_classified() -> None:
    sim = Simulator(SimConfig(seed=5, frozen=True))
    target = _job_task(sim, 100)
    client = _client(sim)
    async with asyncio.timeout(LIMIT), aclosing(client):
        task = await _fetch(client, target)
        sim.faults.set("http_500", route="batch_get_job_instance_ip_log")
        sigs = await task_signatures(client, parse_target(target), task, task.steps[1].id)
    failing = sum(h.state.is_bad for h in task.steps[1].hosts.values())
    assert sigs.read == 0 and sigs.unread == failing and sigs.unread_reasons == {"server": failing}


async def test_pipeline_signatures_group_failed_nodes_by_ex_data() -> None:
    sim = Simulator(SimConfig(seed=4, frozen=True))
    for system in ("sops", "bkflow"):
        target = sim.world.add_task(system, kind="widefail", nodes=40)
        sim.world.advance(30)
        client = _client(sim)
        async with asyncio.timeout(LIMIT), aclosing(client):
            task = await _fetch(client, target)
            sigs = await task_signatures(client, parse_target(target), task)
        failed = {n.id for n in task.leaf_nodes() if n.state is State.FAILED}
        assert len(failed) == 40
        groups: dict[str, set[str]] = defaultdict(set)
        for node_id in failed:
            groups[logtext.error_kind(node_id)].add(node_id)
        assert {frozenset(c.members) for c in sigs.clusters} == {frozenset(g) for g in groups.values()}, (
            system
        )
        assert sigs.read == len(failed) and sigs.to_dict()["clusters"][0].keys() == {
            "signature",
            "count",
            "nodes",
            "sample",
            "steps",
        }


async def test_job_host_log_is_the_current_execute_count_and_hostile_text_stays_text() -> None:
    sim = Simulator(SimConfig(seed=2, frozen=True, log_bytes=64 * 1024))
    target = _job_task(sim, 10, kind="ok")
    client = _client(sim)
    async with asyncio.timeout(LIMIT), aclosing(client):
        task = await _fetch(client, target)
        step = task.steps[0]
        host = next(iter(step.hosts))
        ev = await fetch_evidence(client, task, step=step.id, host=host)
        assert ev.error is None and ev.done and ev.host == host
        assert "\x1b]52;" in ev.raw_text  # the simulator's hostile sequences, on purpose
        buf = LogBuffer()
        buf.append(ev.raw_text)
        shown = buf.text()
        assert not ESCAPES.search(shown)
        assert "clipboard written by the script" in shown and "all done, exit code 0" in shown
        assert len(ev.raw_text.encode()) > 60 * 1024
        # A retry bumps execute_count: the log is the new run's, not the old one.
        sim.world.force(target, 4, step=step.id)
        sim.world.retry(target)
        sim.world.advance(600)
        task2 = await _fetch(client, target)
        ev2 = await fetch_evidence(client, task2, step=step.id, host=host)
    assert task2.steps[0].execute_count == 1 and ev2.raw_text and ev2.raw_text != ev.raw_text


async def test_follow_a_running_host_appends_only_new_output() -> None:
    sim = Simulator(SimConfig(seed=3, frozen=True))
    target = sim.world.add_task("job", kind="running", hosts=8)
    task_obj = sim.world.get(target)
    for h in task_obj.steps[0].hosts:
        h.off, h.dur = 0.0, 40.0  # long runs, so the log grows between polls
    sim.world.advance(5)
    client = _client(sim)
    async with asyncio.timeout(LIMIT), aclosing(client):
        task = await _fetch(client, target)
        step = task.steps[0]
        host = next(k for k, h in step.hosts.items() if h.state is State.RUNNING)
        src = open_log(client, task, step=step.id, host=host)
        first = await src.open()
        assert not first.done and first.raw_text
        seen = first.raw_text
        for _ in range(10):
            sim.world.advance(5)
            src.update(await _fetch(client, target))
            chunk = await src.more()
            assert not chunk.reset
            seen += chunk.text
            if chunk.done:
                break
        whole = await fetch_evidence(client, src.task, step=step.id, host=host)
    assert chunk.done and seen == whole.raw_text


async def test_sops_node_detail_log_pages_follow_and_job_link() -> None:
    sim = Simulator(SimConfig(seed=6, frozen=True))
    target = sim.world.add_task("sops", kind="running", nodes=20)
    sim.world.advance(3)
    client = _client(sim)
    async with asyncio.timeout(LIMIT), aclosing(client):
        task = await _fetch(client, target)
        running = next(n for n in task.leaf_nodes() if n.state is State.RUNNING)
        src = open_log(client, task, node=running.id)
        ev = await src.open()
        assert ev.fields["state"] == "RUNNING" and "inputs" in ev.fields
        seen = ev.raw_text
        for _ in range(20):
            sim.world.advance(4)
            src.update(await _fetch(client, target))
            chunk = await src.more()
            seen += chunk.text
            if chunk.done:
                break
        whole = await fetch_evidence(client, src.task, node=running.id)
        wide = await _fetch(client, sim.world.add_task("sops", kind="widefail", nodes=6))
        sim.world.advance(5)
        wide = await _fetch(client, wide.target)
        links = []
        for n in wide.leaf_nodes():
            if n.name.startswith("作业平台") and n.state is not State.PENDING:
                links.append((await fetch_evidence(client, wide, node=n.id)).link)
    assert chunk.done and seen == whole.raw_text and whole.raw_text.count("\n") > 30  # several pages
    assert links and all(link and re.fullmatch(r"job:2:\d+", link) for link in links)
    assert all(sim.world.find_job("biz", "2", int(link.split(":")[2])) for link in links)


async def test_sops_node_log_needs_the_gateway_detail_still_shown() -> None:
    sim = Simulator(SimConfig(seed=6, frozen=True))
    target = sim.world.add_task("sops", kind="fail")
    sim.world.advance(300)
    client = _client(sim, gateway=False)
    async with asyncio.timeout(LIMIT), aclosing(client):
        task = await _fetch(client, target)
        node = next(n for n in task.leaf_nodes() if n.state is State.FAILED)
        ev = await fetch_evidence(client, task, node=node.id)
    assert ev.error is not None and ev.error.kind is ErrorKind.CONFIG and ev.fields["ex_data"]


async def test_nodeman_install_log_per_step_and_gsekit_from_the_task() -> None:
    sim = Simulator(SimConfig(seed=8, frozen=True, gsekit_rows_without_ids=True))
    nm = sim.world.add_task("nodeman", kind="fail", hosts=6, scope=2)
    gs = sim.world.add_task("gsekit", kind="mixed", tasks=30, scope=2)
    sim.world.advance(600)
    client = _client(sim)
    async with asyncio.timeout(LIMIT), aclosing(client):
        task = await _fetch(client, nm)
        host = next(h for h in task.hosts.values() if h.state is State.FAILED and h.host_id)
        ev = await fetch_evidence(client, task, host=host.key)
        gtask = await _fetch(client, gs)
        bad = next(jt for jt in gtask.job_tasks.values() if jt.state.is_bad)
        gev = await fetch_evidence(client, gtask, node=bad.id)
    assert (
        ev.raw_text.count("== ") >= 1 and "[FAILED]" in ev.raw_text and "[ERROR]" in (ev.failure_text or "")
    )
    assert bad.failed_reason and f"err_code: {bad.err_code}" in gev.raw_text and gev.system is System.GSEKIT


async def test_unknown_host_and_task_errors_are_classified() -> None:
    sim = Simulator(SimConfig(seed=8, frozen=True))
    client = _client(sim)
    async with asyncio.timeout(LIMIT), aclosing(client):
        task = await _fetch(client, "job:2:20002")
        with pytest.raises(Exception) as info:
            await fetch_evidence(client, task, host="9:9.9.9.9")
        assert getattr(info.value, "kind", None) is ErrorKind.NOT_FOUND
        # A step the server does not know: JOB's own error, classified.
        from bkwatch.model import Step

        ghost = Step("999", "ghost", "script", State.FAILED, "4")
        evs = await job_hosts(
            client, Target(System.JOB, "2", "20002"), ghost, list(task.steps[0].hosts.values())[:2]
        )
    assert all(e.error is not None and e.error.kind is ErrorKind.NOT_FOUND for e in evs)


# -- the buffer, search and colours ----------------------------------------------------------------


def test_buffer_tail_lines_search_and_drop() -> None:
    raw = "".join(
        f"line {i} \x1b[31mred\x1b[0m 中文 \x1b]0;t{i}\x07ok\n" if i % 3 == 0 else f"plain {i}\n"
        for i in range(1000)
    )
    buf = LogBuffer()
    buf.append(raw[:5000])
    buf.append(raw[5000:])  # appends split mid-line join up
    lines = [
        ESCAPES.sub("", re.sub(r"\x1b\[[0-9;]*m|\x1b\][^\x07]*\x07", "", x)) for x in raw.split("\n")[:-1]
    ]
    assert len(buf) == 1000 and buf.lines(0, 1000) == lines
    first, tail = buf.tail(5)
    assert first == 995 and tail == lines[-5:]
    hits = buf.search("red").all()
    assert [h.line for h in hits] == [i for i in range(1000) if i % 3 == 0]
    assert all(lines[h.line][h.start : h.end] == "red" for h in hits)
    assert len(buf.search("t3")) == 0  # inside a removed title sequence: not a hit
    assert [h.line for h in buf.search("PLAIN 1\\d{2}$", regex=True, ignore_case=True).all()] == [
        i for i in range(100, 200) if i % 3
    ]
    small = LogBuffer(max_bytes=4096)
    small.append(raw)
    assert small.truncated and small.nbytes <= 4096 and small.end_line == 1000
    assert small.lines(small.first_line, 3) == lines[small.first_line : small.first_line + 3]


def test_sgr_colours_kept_everything_else_removed() -> None:
    text = sgr_text("\x1b[1;32mOK\x1b[0m \x1b]52;c;eA==\x07\x1b[2J[bold]x[/] \x1b[38;5;196mhot\x1b[0m")
    assert text.plain == "OK [bold]x[/] hot"
    styles = {text.plain[s.start : s.end]: str(s.style) for s in text.spans}
    assert styles["OK"] == "bold green" and "color(196)" in styles["hot"]


def test_mask_hides_the_varying_parts() -> None:
    a = mask(
        "2026-01-02 03:04:05 curl: (7) Failed to connect to 10.1.2.3 port 8080 after 1500 ms id deadbeef01"
    )
    b = mask(
        "2027-11-12 13:14:15 curl: (7) Failed to connect to 192.168.0.9 port 443 after 20 ms id 0123abcd99"
    )
    assert a == b == "<time> curl: (<n>) Failed to connect to <ip> port <n> after <dur> id <hex>"
    assert (
        mask("cp: cannot create '/data/a/b.yaml': Permission denied")
        == "cp: cannot create '<path>': Permission denied"
    )


async def test_esb_transport_job_single_and_batch_and_nodeman_log() -> None:
    sim = Simulator(SimConfig(seed=12, frozen=True))
    job = _job_task(sim, 30)
    nm = sim.world.add_task("nodeman", kind="fail", hosts=4, scope=2)
    sim.world.advance(600)
    client = _client(sim, gateway=False)
    async with asyncio.timeout(LIMIT), aclosing(client):
        task = await _fetch(client, job)
        step = task.steps[1]
        hosts = list(step.hosts.values())
        one = await fetch_evidence(client, task, step=step.id, host=hosts[0].key)
        many = await job_hosts(client, parse_target(job), step, hosts)
        ntask = await _fetch(client, nm)
        host = next(h for h in ntask.hosts.values() if h.state is State.FAILED)
        nev = await fetch_evidence(client, ntask, host=host.key)
    assert one.error is None and one.raw_text == many[0].raw_text and "download" in one.raw_text
    assert [e.host for e in many] == [h.key for h in hosts] and all(e.error is None for e in many)
    assert _log_batches(sim) == [30] and nev.error is None and "[ERROR]" in (nev.failure_text or "")


async def test_a_job_node_of_a_task_by_project_links_its_job_by_the_plugins_business() -> None:
    # Addressed by SOPS project, the task names no business: the JOB plugin's own biz_cc_id
    # does. A link that cannot be opened (`job:?:ID`) is never made.
    sim = Simulator(SimConfig(seed=6, frozen=True))
    wide = sim.world.add_task("sops", scope="project:5", kind="widefail", nodes=6)
    assert wide.startswith("sops:project:5:")
    sim.world.advance(5)
    client = _client(sim)
    async with asyncio.timeout(LIMIT), aclosing(client):
        task = await _fetch(client, wide)
        links = [
            (await fetch_evidence(client, task, node=n.id)).link
            for n in task.leaf_nodes()
            if n.name.startswith("作业平台") and n.state is not State.PENDING
        ]
    assert links and all(link and re.fullmatch(r"job:2:\d+", link) for link in links), links
    assert all(sim.world.find_job("biz", "2", int(link.split(":")[2])) for link in links)
