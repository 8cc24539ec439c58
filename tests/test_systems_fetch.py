"""fetch_task end to end against the simulator, every system over each transport it has."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bkwatch.client import BkClient
from bkwatch.model import BkError, ErrorKind, State, System, failures
from bkwatch.sim import SimConfig, Simulator
from bkwatch.systems.adapters import fetch_task
from bkwatch.systems.common import OFF_LOOP_ROWS
from bkwatch.targets import Target, parse_target
from tests.conftest import sim_profile

UNIFIED = {
    "job": {"1": State.PENDING, "2": State.RUNNING, "3": State.SUCCEEDED, "4": State.FAILED,
            "7": State.WAITING, "15": State.WAITING, "8": State.STOPPED, "11": State.STOPPED},
    "pipeline": {"CREATED": State.PENDING, "RUNNING": State.RUNNING, "FINISHED": State.SUCCEEDED,
                 "FAILED": State.FAILED, "NODE_SUSPENDED": State.WAITING, "SUSPENDED": State.WAITING,
                 "EXPIRED": State.STOPPED, "REVOKED": State.STOPPED},
    "nodeman": {"SUCCESS": State.SUCCEEDED, "PART_FAILED": State.FAILED, "FAILED": State.FAILED,
                "RUNNING": State.RUNNING, "PENDING": State.PENDING, "TERMINATED": State.STOPPED},
    "gsekit": {"succeeded": State.SUCCEEDED, "failed": State.FAILED, "running": State.RUNNING,
               "pending": State.PENDING},
}  # fmt: skip


class CountingTransport(httpx.ASGITransport):
    """The real sim app, with a record of the requests that reached it."""

    def __init__(self, app: Any) -> None:
        super().__init__(app=app)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await super().handle_async_request(request)


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimConfig(seed=1, frozen=True))


@pytest.fixture(params=["esb", "apigw"])
async def client(request: pytest.FixtureRequest, sim: Simulator) -> AsyncIterator[BkClient]:
    c = BkClient(sim_profile(gateway=request.param == "apigw"), transport=CountingTransport(sim.app))
    yield c
    await c.aclose()


def family(system: str) -> str:
    return "pipeline" if system in ("sops", "bkflow") else system


async def test_every_sim_task_fetches_with_its_state(sim: Simulator, client: BkClient) -> None:
    seen: set[str] = set()
    for info in sim.world.tasks():
        target = parse_target(info.target)
        if info.system == "bkflow" and client.profile.apigw_tmpl is None:
            with pytest.raises(BkError) as err:
                await fetch_task(client, target)
            assert err.value.kind is ErrorKind.CONFIG and "BK_API_URL_TMPL" in err.value.message
            continue
        if info.target == "bkflow:7:506":  # space bound to another app
            with pytest.raises(BkError) as err:
                await fetch_task(client, target)
            assert err.value.kind is ErrorKind.PERMISSION
            continue
        task = await fetch_task(client, target)
        assert task.target == info.target and task.system == System(info.system)
        assert task.raw_state == info.state, info.target
        assert task.state is UNIFIED[family(info.system)][info.state], info.target
        assert "\x1b" not in (task.name or "")
        seen.add(info.system)
    assert seen == (
        {"job", "sops", "nodeman", "gsekit"} | ({"bkflow"} if client.profile.apigw_tmpl else set())
    )
    paths = {r.url.path for r in client._http._transport.requests}  # type: ignore[attr-defined]
    if client.profile.apigw_tmpl:
        assert any(p.startswith("/api/bk-job/prod/api/v3/") for p in paths)
        assert any(p.startswith("/api/bk-sops/prod/get_task_status/") for p in paths)
    else:
        assert all(p.startswith("/api/c/compapi/v2/") for p in paths)
    # GSEKit has no gateway: ESB either way.
    assert any(p == "/api/c/compapi/v2/gsekit/api/job/job_status/" for p in paths)


async def test_job_hosts_steps_and_biz_set(sim: Simulator, client: BkClient) -> None:
    task = await fetch_task(client, Target(System.JOB, "9991", "20005", "biz_set"))
    assert task.state is State.RUNNING and not task.terminal and len(task.steps) >= 2
    hosts = [h for s in task.steps for h in s.hosts.values()]
    assert hosts and all(h.key == f"{h.cloud_id}:{h.ip}" for h in hosts)
    failed = await fetch_task(client, parse_target("job:2:20002"))
    assert failed.terminal and failed.state is State.FAILED
    bad = [h for s in failed.steps for h in s.hosts.values() if h.state is State.FAILED]
    assert bad and all(h.status_text and h.raw_status not in ("9", "5", "7") for h in bad)
    # Times are epoch seconds, not milliseconds.
    assert failed.start is not None and 1e9 < failed.start < 1e11


async def test_job_large_step(sim: Simulator, client: BkClient) -> None:
    target = parse_target(sim.world.add_task("job", kind="running", hosts=3000))
    task = await fetch_task(client, target)
    assert max(len(s.hosts) for s in task.steps) == 3000


async def test_sops_failure_message_project_scope_and_payload_quirks(
    sim: Simulator, client: BkClient
) -> None:
    failed = await fetch_task(client, parse_target("sops:2:102"))
    assert failed.state is State.FAILED
    failed_leaves = [n for n in failed.leaf_nodes() if n.state is State.FAILED]
    assert failed_leaves and all(n.message for n in failed_leaves)
    assert all("<" not in n.message and "\x1b" not in n.message for n in failed_leaves)
    with_ex = [r for r in client._http._transport.requests if "get_task_status" in r.url.path]  # type: ignore[attr-defined]
    assert all(r.url.params.get("with_ex_data") == "1" for r in with_ex)
    assert all("with_failed_node_info" not in r.url.params for r in with_ex)
    project = await fetch_task(client, parse_target("sops:project:5:103"))
    assert project.state is State.WAITING and any(n.state is State.WAITING for n, _ in project.root.walk())  # type: ignore[union-attr]
    created = await fetch_task(client, parse_target("sops:2:107"))
    assert (created.state, created.root.id, created.root.children) == (State.PENDING, "107", [])  # type: ignore[union-attr]
    expired = await fetch_task(client, parse_target("sops:3:108"))
    assert expired.state is State.STOPPED and expired.terminal
    v1 = await fetch_task(client, parse_target("sops:3:105"))
    names = {n.name for n, _ in v1.root.walk()}  # type: ignore[union-attr]
    assert not any(name.startswith("<class") for name in names) and "start" in names


async def test_sops_and_job_not_found(client: BkClient) -> None:
    for target in ("sops:2:99999", "job:2:99999", "nodeman:2:99999", "gsekit:2:99999"):
        with pytest.raises(BkError) as err:
            await fetch_task(client, parse_target(target))
        assert err.value.kind is ErrorKind.NOT_FOUND, (target, err.value.message)
    with pytest.raises(BkError) as err:
        await fetch_task(client, parse_target("sops:4:101"))  # no such project
    assert err.value.kind is ErrorKind.NOT_FOUND and "does not exist" in err.value.message
    with pytest.raises(BkError) as err:
        await fetch_task(client, parse_target("job:77:20001"))  # business without permission
    assert err.value.kind is ErrorKind.PERMISSION


async def test_bkflow_gateway(sim: Simulator) -> None:
    async with BkClient(sim_profile(esb_url=None), transport=httpx.ASGITransport(app=sim.app)) as c:
        failed = await fetch_task(c, parse_target("bkflow:1:502"))
        assert failed.state is State.FAILED and failed.name is None
        assert all(n.name for n in failed.leaf_nodes())  # ids stand in for names
        with pytest.raises(BkError) as err:
            await fetch_task(c, parse_target("bkflow:1:99999"))
        assert err.value.kind is ErrorKind.NOT_FOUND
        with pytest.raises(BkError) as err:
            await fetch_task(c, parse_target("bkflow:8:501"))  # unknown space: 403 without code
        assert err.value.kind is ErrorKind.PERMISSION


def _bodies(transport: CountingTransport, since: int) -> list[dict[str, Any]]:
    import orjson

    return [orjson.loads(r.content) for r in transport.requests[since:]]


async def test_nodeman_reads_every_row_in_one_answer(sim: Simulator, client: BkClient) -> None:
    target = parse_target(sim.world.add_task("nodeman", kind="mixed", hosts=1234))
    transport: CountingTransport = client._http._transport  # type: ignore[assignment]
    before = len(transport.requests)
    task = await fetch_task(client, target)
    assert [b["pagesize"] for b in _bodies(transport, before)] == [-1]  # one answer, every row
    assert len(task.hosts) == 1234
    assert sum(task.counts().values()) == len(task.hosts)
    assert all(h.key == f"{h.cloud_id}:{h.ip}" for h in task.hosts.values())


@pytest.mark.parametrize(
    ("cap", "all_rows", "sizes"),
    [
        (100, True, [-1] + [100] * 12),  # a proxy caps -1 as well: pages of what page 1 held
        (0, False, [-1, 500, 500, 500]),  # -1 refused: pages, asked at 500, and all 500 came
        (100, False, [-1, 500] + [100] * 12),  # refused and capped: 500 asked, 100 given
    ],
)
async def test_nodeman_capped_or_refusing_servers_lose_no_host(
    cap: int, all_rows: bool, sizes: list[int]
) -> None:
    sim = Simulator(SimConfig(seed=1, frozen=True, nodeman_page_cap=cap, nodeman_all_rows=all_rows))
    target = parse_target(sim.world.add_task("nodeman", kind="mixed", hosts=1234))
    transport = CountingTransport(sim.app)
    async with BkClient(sim_profile(gateway=False), transport=transport) as c:
        task = await fetch_task(c, target)
        assert [b["pagesize"] for b in _bodies(transport, 0)] == sizes
        assert len(task.hosts) == 1234  # every host, each once: filtered rows came on every page
        assert c.nodeman_all_rows is all_rows  # a refusal is remembered
        before = len(transport.requests)
        await fetch_task(c, target)
        assert len(transport.requests) - before == len(sizes) - (0 if all_rows else 1)


@pytest.mark.parametrize("fault", ["http_500", "http_502", "malformed_json", "html"])
async def test_nodeman_a_faulty_answer_is_not_a_refusal_of_every_row(fault: str) -> None:
    """A 5xx or a garbled answer to pagesize=-1 fails that poll: no second request in it, and the
    next poll asks for every row again (only a server's own refusal switches to pages)."""
    sim = Simulator(SimConfig(seed=1, frozen=True))
    target = parse_target(sim.world.add_task("nodeman", kind="mixed", hosts=40))
    transport = CountingTransport(sim.app)
    async with BkClient(sim_profile(gateway=False), transport=transport) as c:
        sim.faults.set(fault, route="job_details", count=1)
        with pytest.raises(BkError):
            await fetch_task(c, target)
        assert len(transport.requests) == 1 and c.nodeman_all_rows
        task = await fetch_task(c, target)
        assert [b["pagesize"] for b in _bodies(transport, 1)] == [-1]
        assert len(task.hosts) == 40


async def test_nodeman_filtered_hosts_are_shown_once_and_never_as_failures(sim: Simulator) -> None:
    sim.config.nodeman_page_cap = 5  # many pages, each carrying the filtered rows again
    statuses: set[str] = set()
    async with BkClient(sim_profile(gateway=False), transport=CountingTransport(sim.app)) as c:
        for info in sim.world.tasks():
            if info.system != "nodeman":
                continue
            sim_task = sim.world.get(info.target)
            filtered = {h.key: h for h in sim_task.hosts if h.filtered}
            statuses |= {h.filtered_status for h in filtered.values()}
            task = await fetch_task(c, parse_target(info.target))
            assert len(task.hosts) == len(sim_task.hosts)
            for key, h in filtered.items():
                host = task.hosts[key]
                assert host.state is State.NOT_RUN and host.status_text == f"filtered: {h.filtered}"
            assert not {f.id for f in failures(task)} & set(filtered)
    assert statuses == {"FAILED", "IGNORED"}


async def test_nodeman_v1_and_fallback(sim: Simulator) -> None:
    async with BkClient(
        sim_profile(gateway=False, nodeman_api="v1"), transport=CountingTransport(sim.app)
    ) as c:
        task = await fetch_task(c, parse_target("nodeman:3:304"))
        assert task.state is State.FAILED and task.hosts
        assert all(r.url.path.endswith("nodeman/get_task_info/") for r in c._http._transport.requests)  # type: ignore[attr-defined]
        running = await fetch_task(c, parse_target("nodeman:2:303"))
        assert running.state is State.RUNNING
    # A gateway without the v2 resource: API not found -> v1 over ESB, remembered.
    prof = sim_profile()
    prof.gateways[System.NODEMAN] = "bk-nodeman-old"
    async with BkClient(prof, transport=CountingTransport(sim.app)) as c:
        task = await fetch_task(c, parse_target("nodeman:2:301"))
        assert task.state is State.SUCCEEDED and c.nodeman_api == "v1"
        n = len(c._http._transport.requests)  # type: ignore[attr-defined]
        await fetch_task(c, parse_target("nodeman:2:301"))
        assert len(c._http._transport.requests) == n + 1  # type: ignore[attr-defined]
    # Without an ESB to fall back to, the not-found error is reported as is.
    gone = sim_profile(esb_url=None, gateways={System.NODEMAN: "gone"})
    async with BkClient(gone, transport=httpx.ASGITransport(app=sim.app)) as c:
        with pytest.raises(BkError) as err:
            await fetch_task(c, parse_target("nodeman:2:301"))
        assert err.value.kind is ErrorKind.NOT_FOUND and "not published" in err.value.message


async def test_gsekit_counts_and_rows(sim: Simulator, client: BkClient) -> None:
    task = await fetch_task(client, parse_target("gsekit:2:802"))
    assert task.job_tasks == {} and task.status_counts is not None
    assert task.counts().get(State.FAILED, 0) > 0 and task.terminal
    old = Simulator(SimConfig(seed=1, frozen=True, gsekit_rows_without_ids=True))
    async with BkClient(sim_profile(gateway=False), transport=httpx.ASGITransport(app=old.app)) as c:
        rows = await fetch_task(c, parse_target("gsekit:2:802"))
    assert rows.job_tasks and rows.counts() == task.counts()
    bad = [jt for jt in rows.job_tasks.values() if jt.state is State.FAILED]
    assert bad and all(jt.failed_reason and "<" not in "".join(jt.solutions) for jt in bad)


async def test_schema_drift_never_crashes(sim: Simulator, client: BkClient) -> None:
    sim.faults.set("drift")
    for info in sim.world.tasks():
        if (info.system == "bkflow" and client.profile.apigw_tmpl is None) or info.target == "bkflow:7:506":
            continue
        try:
            task = await fetch_task(client, parse_target(info.target))
        except BkError as err:
            assert err.kind is ErrorKind.BAD_RESPONSE
            continue
        assert task.state is State.UNKNOWN and task.raw_state in ("99", "ZOMBIE")


async def test_state_changes_are_seen(sim: Simulator, client: BkClient) -> None:
    target = parse_target("job:3:20003")
    assert (await fetch_task(client, target)).state is State.RUNNING
    sim.world.force(str(target), 3)
    after = await fetch_task(client, target)
    assert after.state is State.SUCCEEDED and after.terminal


@pytest.mark.parametrize(
    ("target", "config"),
    [("job:2:20001", {"job_hosts": 2_600}), ("nodeman:301", {"nodeman_hosts": 5_001})],
)
async def test_a_huge_answer_is_made_a_task_off_the_event_loop(
    target: str, config: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past OFF_LOOP_ROWS host rows the model is built in a worker thread, so other polls and
    the screen are not held for its whole parse; small answers are built on the loop."""
    from bkwatch.systems.job import poll as job_poll
    from bkwatch.systems.nodeman import poll as nodeman_poll

    module = job_poll if target.startswith("job") else nodeman_poll
    threads: list[int] = []
    real = module.parse

    def parse(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "parse", parse)
    loop_thread = threading.get_ident()
    for hosts, off_loop in ((config, True), ({k: 40 for k in config}, False)):
        sim = Simulator(SimConfig(seed=7, frozen=True, **hosts))
        async with BkClient(sim_profile(), transport=httpx.ASGITransport(app=sim.app)) as client:
            task = await fetch_task(client, parse_target(target))
        units = sum(len(s.hosts) for s in task.steps) + len(task.hosts)
        assert (units > OFF_LOOP_ROWS) is off_loop
        assert (threads.pop() != loop_thread) is off_loop, (target, units)
