"""Following scopes against the simulator: discovery rounds, filters, paging and windows (asserted
on the requests the simulator received), caps, retention, errors, batch status reads, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from bkwatch.client import BkClient
from bkwatch.discovery import OVERLAP, Discovery
from bkwatch.model import BkError, ErrorKind, State
from bkwatch.poller import Poller
from bkwatch.scopes import ScopeOptions
from bkwatch.sim import SimConfig, Simulator
from bkwatch.systems.adapters import fetch_task
from tests.conftest import sim_profile

T0 = 1_700_000_000.0


@dataclass
class Rig:
    sim: Simulator
    client: BkClient
    poller: Poller
    disc: Discovery

    def calls(self, api: str) -> list[dict[str, Any]]:
        """Parameters of every `api` call the simulator received, numbers as numbers whatever
        the transport (a gateway GET sends them as query text)."""
        return [
            {k: int(v) if isinstance(v, str) and v.isdigit() else v for k, v in p.items()}
            for a, _, p in self.sim.world.requests_log
            if a == api
        ]

    def held(self, scope: str) -> list[str]:
        return list(self.disc.scopes[scope].held)

    async def settle(self) -> None:
        """One poll of every watch that has none yet."""
        await asyncio.gather(
            *(self.poller.poll_once(k) for k, w in self.poller.watches.items() if not w.polls)
        )


async def make_rig(*, gateway: bool = True, user: str | None = "admin", **cfg: Any) -> Rig:
    sim = Simulator(SimConfig(seed=3, frozen=True, clock=lambda: T0, **cfg))
    client = BkClient(sim_profile(gateway=gateway), transport=httpx.ASGITransport(app=sim.app))
    poller = Poller(lambda t: fetch_task(client, t), clock=sim.world.now)
    disc = Discovery(client, poller, user=user, clock=sim.world.now)
    return Rig(sim, client, poller, disc)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = await make_rig()
    yield r
    await r.client.aclose()


def job_ids(rig: Rig, scope: str) -> set[int]:
    return {int(k.rsplit(":", 1)[1]) for k in rig.held(scope)}


# -- appearing --------------------------------------------------------------------------------


async def test_a_task_started_in_a_followed_scope_appears_within_one_interval() -> None:
    r = await make_rig()
    r.disc.interval = 0.3
    runners = [asyncio.create_task(r.disc.run()), asyncio.create_task(r.poller.run())]
    try:
        async with asyncio.timeout(10):
            r.disc.add("sops:2")
            while r.disc.scopes["sops:2"].rounds == 0:
                await asyncio.sleep(0.02)
            target = r.sim.world.add_task("sops", scope="2", kind="running")
            started = asyncio.get_running_loop().time()
            while not ((w := r.poller.watches.get(target)) and w.task is not None):
                await asyncio.sleep(0.02)
            waited = asyncio.get_running_loop().time() - started
        watch = r.poller.watches[target]
        assert watch.via == "sops:2" and watch.task is not None and watch.task.state is State.RUNNING
        assert waited <= r.disc.interval + 0.5  # one interval, plus the first poll
    finally:
        for t in runners:
            t.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        await r.client.aclose()


@pytest.mark.parametrize("gateway", [True, False])
async def test_every_scope_kind_finds_its_tasks_on_both_transports(gateway: bool) -> None:
    r = await make_rig(gateway=gateway)
    try:
        scopes = ["job:2", "job:biz_set:9991", "sops:2", "sops:project:5"] + (["bkflow:1"] if gateway else [])
        for s in scopes:
            r.disc.add(s)
            await r.disc.discover(s)
            assert r.disc.scopes[s].error is None, s
        assert {k.rsplit(":", 1)[0] for k in r.held("job:biz_set:9991")} == {"job:biz_set:9991"}
        # Each finds the world's tasks of that scope (created within --since) and only those.
        world_job2 = {
            t.job_id for t in r.sim.world.all_tasks() if t.target.startswith("job:2:") and t.launch_mode != 3
        }
        assert job_ids(r, "job:2") == {i for i in world_job2 if i}
        # Business 2 and project 5 name the same SOPS tasks (a task id is global in SOPS): the
        # project's scope finds them, and they stay one watch each, the first scope's.
        by_biz = {k.split(":")[-1] for k in r.held("sops:2")}
        assert by_biz and r.held("sops:project:5") == []
        sops_watches = [w for w in r.poller.watches.values() if str(w.target.system) == "sops"]
        assert sorted(w.target.id for w in sops_watches) == sorted(by_biz)
        assert all(r.poller.watches[k].via == s for s in scopes for k in r.held(s))
        await r.settle()
        if gateway:
            # BKFlow states carry no name: the list's name is shown instead.
            assert all(r.poller.watches[k].label for k in r.held("bkflow:1"))
    finally:
        await r.client.aclose()


# -- filters ----------------------------------------------------------------------------------


async def test_mine_asks_each_system_for_the_configured_user(rig: Rig) -> None:
    # Created by the user and not started yet: SOPS has no executor for it, it is still theirs.
    unstarted = rig.sim.world.add_task("sops", scope="2", kind="created", delay=600, operator="admin")
    for s in ("job:2", "sops:2", "bkflow:1"):
        rig.disc.add(s, ScopeOptions(mine=True))
        await rig.disc.discover(s)
    assert {p["operator"] for p in rig.calls("get_job_instance_list")} == {"admin"}
    # SOPS: who created or started it, read from the rows (its executor is set only once started)
    assert "executor" not in rig.calls("get_task_list")[0]
    assert rig.calls("get_task_list")[1]["creator"] == "admin"  # BKFlow: who created it
    world = {t.target: t for t in rig.sim.world.all_tasks()}
    held = [k for s in ("job:2", "sops:2", "bkflow:1") for k in rig.held(s)]
    assert held and all(world[k].operator == "admin" for k in held)
    assert unstarted in rig.held("sops:2")
    everyone = await make_rig()
    try:
        everyone.disc.add("job:2")
        await everyone.disc.discover("job:2")
        assert len(everyone.held("job:2")) > len(rig.held("job:2"))
    finally:
        await everyone.client.aclose()


async def test_mine_without_a_user_is_a_config_error() -> None:
    r = await make_rig(user=None)
    try:
        with pytest.raises(BkError) as info:
            r.disc.add("job:2", ScopeOptions(mine=True))
        assert info.value.kind is ErrorKind.CONFIG and "BK_USERNAME" in info.value.message
    finally:
        await r.client.aclose()


async def test_name_filters_on_the_server(rig: Rig) -> None:
    rig.sim.world.add_task("job", kind="running", scope=("biz", 2), hosts=1, operator="alice")
    rig.disc.add("job:2", ScopeOptions(name="deploy"))
    rig.disc.add("sops:2", ScopeOptions(name="#10"))
    rig.disc.add("bkflow:1", ScopeOptions(name="50"))
    for s in rig.disc.scopes:
        await rig.disc.discover(s)
    assert {p["name"] for p in rig.calls("get_job_instance_list")} == {"deploy"}
    assert [p.get("keyword") for p in rig.calls("get_task_list")][:1] == ["#10"]
    await rig.settle()
    names = {k: rig.poller.watches[k].task.name for k in rig.held("job:2") + rig.held("sops:2")}  # type: ignore[union-attr]
    assert names and all(("deploy" in n) or ("#10" in n) for n in names.values() if n)
    assert rig.held("job:2") == ["job:2:20001"]  # "deploy-web", the only one


async def test_cron_jobs_are_left_out_unless_asked() -> None:
    r = await make_rig(arrivals=True, cron_interval=60.0, arrival_interval=1e9)
    try:
        r.sim.world.advance(600)  # ten cron-launched jobs in biz 2
        cron = {t.job_id for t in r.sim.world.all_tasks() if getattr(t, "launch_mode", 0) == 3}
        assert len(cron) == 10
        r.disc.add("job:2")
        await r.disc.discover("job:2")
        modes = sorted(p.get("launch_mode") for p in r.calls("get_job_instance_list"))
        assert modes == [1, 2]  # web and API asked for, cron never listed
        assert not job_ids(r, "job:2") & cron
        r.disc.add("job:biz_set:9991")
        r.disc.remove("job:2")
        r.sim.world.requests_log.clear()
        r.disc.add("job:2", ScopeOptions(cron=True))
        await r.disc.discover("job:2")
        assert [p.get("launch_mode") for p in r.calls("get_job_instance_list")] == [None]
        assert cron <= job_ids(r, "job:2")
    finally:
        await r.client.aclose()


async def test_since_sets_the_first_window(rig: Rig) -> None:
    now = rig.sim.world.now()
    # Waiting for a confirmation since then: still live, so retention keeps it.
    old = rig.sim.world.add_task("job", kind="waiting", scope=("biz", 2), hosts=1, delay=-3 * 3600)
    rig.disc.add("job:2", ScopeOptions(since=4 * 3600))
    rig.disc.add("sops:2", ScopeOptions(since=1800))
    await rig.disc.discover("job:2")
    await rig.disc.discover("sops:2")
    (call,) = {(p["create_time_start"], p["create_time_end"]) for p in rig.calls("get_job_instance_list")}
    assert call[0] == int((now - 4 * 3600 - OVERLAP) * 1000)
    assert old in rig.held("job:2")
    sops = rig.calls("get_task_list")[0]
    assert datetime.fromisoformat(sops["create_time_start"]).timestamp() == now - 1800 - OVERLAP
    # 30 minutes back: the SOPS tasks created earlier (ok at -900 s is in, v1 at -300 s too; the
    # expired one a day ago is not).
    assert "sops:3:108" not in rig.held("sops:2")
    short = await make_rig()
    try:
        short.sim.world.add_task("job", kind="waiting", scope=("biz", 2), hosts=1, delay=-3 * 3600)
        short.disc.add("job:2", ScopeOptions(since=3600))
        await short.disc.discover("job:2")
        assert not any(t.endswith(old.rsplit(":", 1)[1]) for t in short.held("job:2"))
    finally:
        await short.client.aclose()


# -- limits -----------------------------------------------------------------------------------


async def test_job_pages_of_1000_and_windows_of_30_days(rig: Rig) -> None:
    for i in range(2500):
        rig.sim.world.add_task(
            "job", kind="waiting", scope=("biz", 2), hosts=1, delay=-i * 60.0, operator="bob"
        )
    rig.disc.add("job:2", ScopeOptions(since=45 * 86400, cap=5000, cron=True))
    await rig.disc.discover("job:2")
    calls = rig.calls("get_job_instance_list")
    assert all(1 <= p["length"] <= 1000 for p in calls)
    assert all(p["create_time_end"] - p["create_time_start"] <= 30 * 86400 * 1000 for p in calls)
    recent = [p for p in calls if p["create_time_end"] >= int(rig.sim.world.now() * 1000)]
    assert [p["start"] for p in recent] == [0, 1000, 2000]
    assert len({(p["create_time_start"], p["create_time_end"]) for p in calls}) == 2  # 45 days: two slices
    assert len(rig.held("job:2")) == 2500 + 4  # and the seeded world's four jobs in biz 2


async def test_sops_and_bkflow_pages_of_200_until_a_known_task(rig: Rig) -> None:
    for _ in range(450):
        rig.sim.world.add_task("sops", scope="2", kind="running", nodes=1)
        rig.sim.world.add_task("bkflow", scope=1, kind="running", nodes=1)
    rig.disc.add("sops:2", ScopeOptions(cap=1000))
    rig.disc.add("bkflow:1", ScopeOptions(cap=1000))
    await rig.disc.discover("sops:2")
    await rig.disc.discover("bkflow:1")
    calls = rig.calls("get_task_list")
    assert all(p["limit"] == 200 for p in calls)
    assert [p["offset"] for p in calls] == [0, 200, 400, 0, 200, 400]
    assert len(rig.held("sops:2")) == 456 and len(rig.held("bkflow:1")) == 455
    rig.sim.world.requests_log.clear()
    rig.sim.world.add_task("sops", scope="2", kind="running", nodes=1)
    rig.sim.world.advance(15)
    added = await rig.disc.discover("sops:2")
    assert len(added) == 1 and [p["offset"] for p in rig.calls("get_task_list")] == [0]  # one page


async def test_batch_status_reads_50_ids_a_call_and_wakes_only_what_changed(rig: Rig) -> None:
    for _ in range(120):
        rig.sim.world.add_task("sops", scope="2", kind="running", nodes=1)
    rig.disc.add("sops:2", ScopeOptions(cap=500))
    await rig.disc.discover("sops:2")
    await rig.settle()
    held = rig.held("sops:2")
    assert all(rig.poller.watches[k].parked for k in held)
    assert rig.poller.cadence.interval(rig.poller.watches[held[0]], False, T0) == rig.poller.cadence.parked
    assert await rig.disc.batch("sops:2") == []
    sizes = [len(p["task_id_list"]) for p in rig.calls("get_tasks_status")]
    assert sizes == [50, 50, 26]
    victim = held[-1]
    rig.sim.world.force(victim, "FAILED")
    rig.sim.world.requests_log.clear()
    before = rig.sim.traffic.snapshot()["requests"]
    woken = await rig.disc.batch("sops:2")
    assert woken == [victim]
    assert rig.sim.traffic.snapshot()["requests"] - before == 3  # batches only, no task polled
    update = await rig.poller.poll_once(victim)
    assert update.watch.task is not None and update.watch.task.state is State.FAILED
    assert await rig.disc.batch("sops:2") == []  # seen: not woken again


async def test_bkflow_batch_wakes_a_changed_task(rig: Rig) -> None:
    rig.disc.add("bkflow:1")
    await rig.disc.discover("bkflow:1")
    await rig.settle()
    running = next(k for k in rig.held("bkflow:1") if rig.poller.watches[k].task.state is State.RUNNING)  # type: ignore[union-attr]
    assert await rig.disc.batch("bkflow:1") == []
    rig.sim.world.force(running, "REVOKED")
    assert await rig.disc.batch("bkflow:1") == [running]
    assert len(rig.calls("get_tasks_states")) == 2


# -- caps and retention ----------------------------------------------------------------------


async def test_cap_keeps_the_newest_live_tasks_and_evicts_the_oldest_finished(rig: Rig) -> None:
    rig.disc.add("job:2", ScopeOptions(cap=3))
    await rig.disc.discover("job:2")
    sw = rig.disc.scopes["job:2"]
    assert len(sw.held) == 3 and sw.cap_reached and len(sw.waiting) == 1
    await rig.settle()
    ended = {k: rig.poller.watches[k].task.end for k in sw.held}  # type: ignore[union-attr]
    first_done = min((e, k) for k, e in ended.items() if e is not None)[1]
    waiting = next(iter(sw.waiting))
    rig.disc.prune("job:2")
    # Once polled, the finished task that ended first gives way to the one waiting.
    assert waiting in sw.held and first_done not in sw.held and len(sw.held) == 3
    assert not sw.waiting and sw.cap_reached  # still at the cap, having pushed one out
    # Full again: newer live tasks push out the finished ones.
    for _ in range(3):
        rig.sim.world.add_task("job", kind="running", scope=("biz", 2), hosts=1, operator="bob")
    rig.sim.world.advance(15)
    await rig.disc.discover("job:2")
    await rig.settle()
    assert len(sw.held) == 3 and sw.cap_reached
    states = {k: rig.poller.watches[k].task.state for k in sw.held}  # type: ignore[union-attr]
    assert all(not s.is_done for s in states.values()), states  # finished ones went first


async def test_succeeded_leave_on_schedule_failed_stay_until_dismissed(rig: Rig) -> None:
    rig.disc.add("job:2", ScopeOptions(keep_succeeded=600, keep_failed=7200))
    await rig.disc.discover("job:2")
    await rig.settle()
    ok = next(k for k in rig.held("job:2") if rig.poller.watches[k].task.state is State.SUCCEEDED)  # type: ignore[union-attr]
    failed = next(k for k in rig.held("job:2") if rig.poller.watches[k].task.state is State.FAILED)  # type: ignore[union-attr]
    end = rig.poller.watches[ok].task.end  # type: ignore[union-attr]
    assert end is not None
    rig.sim.world.advance(end + 600 - rig.sim.world.now() - 1)
    assert ok not in rig.disc.prune("job:2")
    rig.sim.world.advance(2)
    assert rig.disc.prune("job:2") == [ok] and ok not in rig.poller.watches
    rig.sim.world.advance(3600)
    await rig.disc.discover("job:2")  # still listed in the window: not found again
    assert ok not in rig.held("job:2") and failed in rig.held("job:2")
    assert rig.disc.dismiss(failed) and failed not in rig.poller.watches
    await rig.disc.discover("job:2")
    assert failed not in rig.held("job:2") and failed in rig.disc.scopes["job:2"].dismissed
    assert not rig.disc.dismiss("job:2:999999")


async def test_failed_tasks_leave_after_keep_failed(rig: Rig) -> None:
    rig.disc.add("sops:2", ScopeOptions(keep_failed=3600))
    await rig.disc.discover("sops:2")
    await rig.settle()
    failed = [k for k in rig.held("sops:2") if rig.poller.watches[k].task.state is State.FAILED]  # type: ignore[union-attr]
    assert failed
    rig.sim.world.advance(1800)
    assert not set(failed) & set(rig.disc.prune("sops:2"))
    rig.sim.world.advance(3600)
    assert set(failed) <= set(rig.disc.prune("sops:2"))


# -- errors -----------------------------------------------------------------------------------


async def test_a_failing_list_call_shows_on_the_scope_keeps_its_tasks_and_recovers(rig: Rig) -> None:
    rig.disc.add("sops:2")
    await rig.disc.discover("sops:2")
    sw = rig.disc.scopes["sops:2"]
    held = list(sw.held)
    rig.sim.faults.set("http_502", route="get_task_list")
    t0 = rig.disc.monotonic()
    await rig.disc.discover("sops:2")
    first_delay = sw.next_round - t0
    await rig.disc.discover("sops:2")
    assert sw.error is not None and sw.error.kind is ErrorKind.SERVER and sw.errors == 2
    assert sw.problem is sw.error and list(sw.held) == held
    assert sw.next_round - rig.disc.monotonic() > first_delay  # backs off
    rig.sim.faults.clear()
    rig.sim.world.add_task("sops", scope="2", kind="running")
    added = await rig.disc.discover("sops:2")
    assert sw.error is None and sw.errors == 0 and len(added) == 1


async def test_upstream_errors_surface_as_scope_errors(rig: Rig) -> None:
    rig.disc.add("job:9")  # a business the user may not see
    rig.disc.add("bkflow:7")  # a space bound to another app
    await rig.disc.discover("job:9")
    await rig.disc.discover("bkflow:7")
    assert rig.disc.scopes["job:9"].error.kind is ErrorKind.PERMISSION  # type: ignore[union-attr]
    assert rig.disc.scopes["bkflow:7"].error.kind is ErrorKind.PERMISSION  # type: ignore[union-attr]


# -- across runs ------------------------------------------------------------------------------


async def test_restart_restores_scopes_and_reports_since_last_time(rig: Rig) -> None:
    rig.disc.add("sops:2")
    rig.disc.add("job:2")
    await rig.disc.discover("sops:2")
    await rig.disc.discover("job:2")
    await rig.settle()
    snapshot = rig.disc.snapshot()
    running = next(k for k in rig.held("sops:2") if rig.poller.watches[k].task.state is State.RUNNING)  # type: ignore[union-attr]
    held_before = set(rig.held("sops:2"))
    # bkwatch is closed: one held task fails, a new one starts and fails, another starts.
    rig.sim.world.advance(300)
    rig.sim.world.force(running, "FAILED")
    new_failed = rig.sim.world.add_task("sops", scope="2", kind="running")
    rig.sim.world.force(new_failed, "FAILED")
    new_running = rig.sim.world.add_task("sops", scope="2", kind="running")
    rig.sim.world.advance(300)

    again = await make_rig()
    again.sim = rig.sim
    again.client, again.poller = (
        rig.client,
        Poller(lambda t: fetch_task(rig.client, t), clock=rig.sim.world.now),
    )
    again.disc = Discovery(rig.client, again.poller, user="admin", clock=rig.sim.world.now)
    again.disc.add("sops:2")
    again.disc.add("job:2")
    again.disc.restore(snapshot)
    assert held_before <= set(again.held("sops:2"))  # watched again before any round
    rig.sim.world.requests_log.clear()
    await again.disc.discover("sops:2")
    await again.disc.discover("job:2")
    start = datetime.fromisoformat(again.calls("get_task_list")[0]["create_time_start"]).timestamp()
    assert start == snapshot["sops:2"]["at"] - OVERLAP  # from where the last run stopped
    assert not again.disc.settled()
    await again.settle()
    assert again.disc.settled()
    report = {s.scope: s for s in again.disc.since_last_time()}
    sops = report["sops:2"]
    assert sops.started == sorted([new_failed, new_running])
    assert {running, new_failed} <= set(sops.failed)
    for key in sops.failed:  # and nothing that had failed already, or did not fail
        assert rig.sim.world.get(key).raw_state(rig.sim.world.now()) == "FAILED"
        assert snapshot["sops:2"]["held"].get(key, {}).get("state") != "failed"
    assert report["job:2"].started == []  # nothing new in JOB; its held jobs went on meanwhile
    assert all(rig.sim.world.get(k).raw_state(rig.sim.world.now()) == "4" for k in report["job:2"].failed)
    lines = sops.lines()
    counts = f"{len(sops.started)} started, {len(sops.finished)} finished, {len(sops.failed)} failed"
    assert lines[0] == f"sops:2: {counts}" and len(lines) == 1 + len(sops.failed)
    assert rig.disc.since_last_time() == []  # a scope not restored reports nothing


async def test_a_restart_through_the_watch_list_keeps_options_dismissed_and_reports(
    rig: Rig, tmp_path: Any
) -> None:
    from bkwatch.scope_store import ScopeEntry, ScopeStore, follow_saved, save_followed
    from bkwatch.store import WatchStore

    store = ScopeStore(WatchStore(tmp_path))
    store.add([ScopeEntry("sops:2", ScopeOptions(keep_failed=7200).to_dict()), ScopeEntry("nodeman:2")])
    assert [p.split(":")[0] for p in follow_saved(rig.disc, store, "default")] == ["nodeman"]
    await rig.disc.discover("sops:2")
    await rig.settle()
    failed = next(k for k in rig.held("sops:2") if rig.poller.watches[k].task.state is State.FAILED)  # type: ignore[union-attr]
    assert rig.disc.dismiss(failed)
    save_followed(rig.disc, store, "default", dismissed=True)

    new = rig.sim.world.add_task("sops", scope="2", kind="running")
    rig.sim.world.advance(60)
    poller = Poller(lambda t: fetch_task(rig.client, t), clock=rig.sim.world.now)
    again = Rig(
        rig.sim, rig.client, poller, Discovery(rig.client, poller, user="admin", clock=rig.sim.world.now)
    )
    follow_saved(again.disc, store, "default")
    sw = again.disc.scopes["sops:2"]
    assert sw.options.keep_failed == 7200 and failed in sw.dismissed
    await again.disc.discover("sops:2")
    await again.settle()
    assert failed not in sw.held and new in sw.held
    (report,) = again.disc.since_last_time()
    assert report.scope == "sops:2" and report.started == [new]


@pytest.mark.parametrize("kind", ["malformed_json", "html", "drift", "rate_limit"])
async def test_bad_answers_to_list_and_batch_calls_are_scope_errors_never_crashes(
    rig: Rig, kind: str
) -> None:
    rig.disc.add("sops:2")
    await rig.disc.discover("sops:2")
    await rig.settle()
    sw = rig.disc.scopes["sops:2"]
    held = list(sw.held)
    rig.sim.faults.set(kind, route="get_task_list")
    rig.sim.faults.set(kind, route="get_tasks_status")
    await rig.disc.discover("sops:2")
    await rig.disc.batch("sops:2")
    if kind != "drift":  # drift keeps the shape readable: the round may well work
        assert sw.error is not None and sw.batch_error is not None and sw.problem is sw.error
    assert list(sw.held) == held  # the tasks stay
    rig.sim.faults.clear()
    await rig.disc.discover("sops:2")
    sw.next_batch = 0.0
    await rig.disc.batch("sops:2")
    assert sw.error is None and sw.batch_error is None and sw.problem is None


async def test_a_task_added_by_hand_is_left_alone_by_the_scope(rig: Rig) -> None:
    from bkwatch.targets import parse_target

    by_hand = rig.poller.add(parse_target("job:2:20001"), "mine")
    rig.disc.add("job:2", ScopeOptions(keep_succeeded=1))
    await rig.disc.discover("job:2")
    await rig.settle()
    rig.sim.world.advance(3600)
    rig.disc.prune("job:2")
    assert "job:2:20001" not in rig.held("job:2")
    assert rig.poller.watches["job:2:20001"] is by_hand and by_hand.via is None and not by_hand.parked
