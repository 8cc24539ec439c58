"""The poller against the simulator: cadence, no overlap, errors keep the last good data, backoff,
pause/refresh, transitions when the simulator changes a state."""

from __future__ import annotations

import asyncio
import time

from bkwatch.client import BkClient
from bkwatch.model import ErrorKind, State, Task
from bkwatch.poller import Cadence, Poller, PollUpdate
from bkwatch.sim import Simulator
from bkwatch.systems.adapters import fetch_task
from bkwatch.targets import Target, parse_target

FAST = Cadence(
    focused=0.05,
    young=0.05,
    active=0.05,
    waiting=0.05,
    finished=0.05,
    unknown=0.05,
    backoff_max=0.4,
    jitter=0.0,
)


def first(sim: Simulator, system: str, raw_state: str | None = None) -> str:
    for info in sim.world.tasks():
        if info.system == system and (raw_state is None or str(info.state) == raw_state):
            return info.target
    raise AssertionError(f"no {system} task in state {raw_state}")


def make_poller(client: BkClient, **kwargs: object) -> tuple[Poller, list[PollUpdate]]:
    seen: list[PollUpdate] = []
    poller = Poller(lambda t: fetch_task(client, t), on_update=seen.append, **kwargs)  # type: ignore[arg-type]
    return poller, seen


async def test_first_poll_reports_the_task_then_host_transitions(
    frozen_sim: Simulator, sim_client: BkClient
) -> None:
    key = first(frozen_sim, "job", "2")
    poller, seen = make_poller(sim_client)
    poller.add(parse_target(key))
    update = await poller.poll_once(key)
    assert update.error is None and update.watch.task is not None
    assert [(t.level, t.old) for t in update.transitions] == [("task", None)]

    task = update.watch.task
    step = next(s for s in task.steps if s.hosts and s.state is State.RUNNING)
    host = next(iter(step.hosts.values()))
    frozen_sim.world.force(key, "11", host=host.key, step=step.id)  # JOB host status 11: failed
    update = await poller.poll_once(key)
    hosts = [t for t in update.transitions if t.level == "host"]
    assert [(t.key, t.new, t.step_id) for t in hosts] == [(host.key, State.FAILED, step.id)]
    assert seen[-1] is update


async def test_error_keeps_last_good_snapshot_and_recovers(
    frozen_sim: Simulator, sim_client: BkClient
) -> None:
    key = first(frozen_sim, "sops")
    poller, _ = make_poller(sim_client)
    poller.add(parse_target(key))
    good = (await poller.poll_once(key)).watch.task
    assert isinstance(good, Task)
    last_ok = poller.watches[key].last_ok

    for kind, expected in [
        ("http_502", ErrorKind.SERVER),
        ("html", ErrorKind.BAD_RESPONSE),
        ("malformed_json", ErrorKind.BAD_RESPONSE),
    ]:
        frozen_sim.faults.set(kind)
        update = await poller.poll_once(key)
        frozen_sim.faults.clear()
        assert update.error is not None and update.error.kind is expected, kind
        assert update.watch.task is good  # the last good data stays
        assert update.watch.last_ok == last_ok
    assert poller.watches[key].errors == 3

    update = await poller.poll_once(key)
    assert update.error is None and poller.watches[key].errors == 0
    assert update.transitions == []  # nothing changed while it was failing


async def test_backoff_grows_and_honours_rate_limit() -> None:
    cadence = Cadence(active=2.0, backoff_max=60.0)
    from bkwatch.model import BkError
    from bkwatch.poller import Watch

    watch = Watch(Target.__new__(Target))
    intervals = []
    for n in range(1, 7):
        watch.errors = n
        watch.error = BkError(ErrorKind.SERVER, "boom")
        intervals.append(cadence.interval(watch, False, 0.0))
    assert intervals == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    watch.errors = 1
    watch.error = BkError(ErrorKind.RATE_LIMITED, "slow down", retry_after=45.0)
    assert cadence.interval(watch, False, 0.0) == 45.0


async def test_run_loop_polls_repeatedly_without_overlap(frozen_sim: Simulator, sim_client: BkClient) -> None:
    keys = [first(frozen_sim, s) for s in ("job", "sops", "nodeman", "gsekit", "bkflow")]
    in_flight: dict[str, int] = {}
    overlaps: list[str] = []

    async def fetch(target: Target) -> Task:
        k = str(target)
        in_flight[k] = in_flight.get(k, 0) + 1
        if in_flight[k] > 1:
            overlaps.append(k)
        try:
            return await fetch_task(sim_client, target)
        finally:
            in_flight[k] -= 1

    # Responses slower than the cadence: a naive timer would stack requests up.
    frozen_sim.faults.set("delay", delay=0.15)
    poller = Poller(fetch, cadence=FAST, max_concurrency=3)
    for k in keys:
        poller.add(parse_target(k))
    runner = asyncio.create_task(poller.run())
    await asyncio.sleep(1.0)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    assert overlaps == []
    assert all(poller.watches[k].polls >= 2 for k in keys), {k: poller.watches[k].polls for k in keys}


async def test_few_new_watches_are_polled_at_once_many_are_spread(
    frozen_sim: Simulator, sim_client: BkClient
) -> None:
    """A handful added together all start in the scheduler's first pass; past `first_burst`,
    first polls start one after another at `first_rate`, each counting its lag from its turn."""
    keys = [t.target for t in frozen_sim.world.tasks() if not t.target.startswith("bkflow:7:")][:20]
    started: dict[str, float] = {}

    async def fetch(target: Target) -> Task:
        started.setdefault(str(target), asyncio.get_running_loop().time())
        return await fetch_task(sim_client, target)

    slow = Cadence(young=60, active=60, waiting=60, finished=60, unknown=60, jitter=0.0)
    few = Poller(fetch, cadence=slow)
    for k in keys[:3]:
        few.add(parse_target(k))
    runner = asyncio.create_task(few.run())
    await asyncio.sleep(0)  # one pass of the scheduler
    assert sorted(few.in_flight()) == sorted(keys[:3])
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)

    started.clear()
    spread = Cadence(
        young=60, active=60, waiting=60, finished=60, unknown=60, jitter=0.0, first_burst=4, first_rate=20
    )
    seen: list[PollUpdate] = []
    many = Poller(fetch, cadence=spread, on_update=seen.append)
    for k in keys:
        many.add(parse_target(k))
    t0 = asyncio.get_running_loop().time()
    runner = asyncio.create_task(many.run())
    await asyncio.sleep(0)
    assert len(many.in_flight()) == 4  # the burst; the other 16 wait their turn
    await asyncio.sleep(16 / 20 + 0.5)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    assert sorted(started) == sorted(keys) and all(w.polls == 1 for w in many.watches.values())
    later = sorted(at - t0 for k, at in started.items() if k not in keys[:4])
    # One every 1/20 s: the 16th starts ~0.8 s in, none of them with the burst.
    assert later[0] >= 0.03 and later[-1] >= 0.7, later
    assert max(u.lag for u in seen) < 0.3, [round(u.lag, 3) for u in seen]


async def test_pause_stops_polling_and_refresh_still_polls(
    frozen_sim: Simulator, sim_client: BkClient
) -> None:
    key = first(frozen_sim, "nodeman")
    poller, _ = make_poller(sim_client, cadence=FAST)
    watch = poller.add(parse_target(key))
    poller.pause()
    runner = asyncio.create_task(poller.run())
    await asyncio.sleep(0.3)
    assert watch.polls == 0
    poller.refresh(key)
    await asyncio.sleep(0.3)
    assert watch.polls == 1
    poller.resume()
    await asyncio.sleep(0.3)
    assert watch.polls >= 2
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)


async def test_focus_polls_sooner_and_remove_stops(frozen_sim: Simulator, sim_client: BkClient) -> None:
    a, b = first(frozen_sim, "job", "3"), first(frozen_sim, "sops", "FINISHED")
    cadence = Cadence(focused=0.1, finished=30.0, jitter=0.0)
    poller, _ = make_poller(sim_client, cadence=cadence)
    poller.add(parse_target(a))
    poller.add(parse_target(b))
    runner = asyncio.create_task(poller.run())
    await asyncio.sleep(0.3)  # first polls; both finished, so next due in 30 s
    assert poller.watches[a].polls == 1 and poller.watches[b].polls == 1
    poller.set_focus(b)
    await asyncio.sleep(0.5)
    assert poller.watches[b].polls >= 3
    assert poller.watches[a].polls == 1
    poller.remove(b)
    assert b not in poller.watches
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)


async def test_unexpected_adapter_exception_becomes_an_error_not_a_crash(frozen_sim: Simulator) -> None:
    async def broken(target: Target) -> Task:
        raise KeyError("step_instance_list")

    poller = Poller(broken)
    key = first(frozen_sim, "job")
    poller.add(parse_target(key))
    update = await poller.poll_once(key)
    assert update.error is not None and update.error.kind is ErrorKind.BAD_RESPONSE
    assert "KeyError" in update.error.message


async def test_run_stops_on_the_first_cancel_every_time(frozen_sim: Simulator, sim_client: BkClient) -> None:
    poller, _ = make_poller(sim_client, cadence=FAST)
    for key in [first(frozen_sim, s) for s in ("job", "sops", "gsekit")]:
        poller.add(parse_target(key))
    for i in range(40):
        runner = asyncio.create_task(poller.run())
        await asyncio.sleep(0.002 * (i % 10))
        runner.cancel()
        done, _ = await asyncio.wait({runner}, timeout=2)
        assert runner in done, f"run() ignored a cancel on round {i}"


async def test_focusing_a_failing_watch_keeps_its_backoff(
    frozen_sim: Simulator, sim_client: BkClient
) -> None:
    a, b = first(frozen_sim, "job", "3"), first(frozen_sim, "sops", "FINISHED")
    cadence = Cadence(focused=0.05, active=5.0, finished=30.0, jitter=0.0)
    poller, _ = make_poller(sim_client, cadence=cadence)
    poller.add(parse_target(a))
    poller.add(parse_target(b))
    frozen_sim.faults.set("http_502", route="sops")
    await poller.poll_all()
    assert poller.watches[b].errors == 1  # next poll in 5 s (backoff)
    runner = asyncio.create_task(poller.run())
    for _ in range(5):  # a user flicking the cursor between the two tasks
        poller.set_focus(b)
        await asyncio.sleep(0.06)
        poller.set_focus(a)
        await asyncio.sleep(0.06)
    assert poller.watches[b].polls == 1
    assert poller.watches[a].polls >= 3  # a healthy watch is still pulled in when focused
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)


async def test_a_timing_out_system_does_not_starve_the_others() -> None:
    from bkwatch.sim import SimConfig
    from tests.conftest import sim_profile

    sim = Simulator(SimConfig(seed=7, frozen=True, tasks_per_system=12))
    with sim.serve() as served:
        client = BkClient(sim_profile(served.base_url, timeout=0.5))
        try:
            cadence = Cadence(active=0.2, finished=0.2, waiting=0.2, unknown=0.2, backoff_max=0.2, jitter=0.0)
            poller, _ = make_poller(client, cadence=cadence, max_concurrency=4)
            slow = [t.target for t in sim.world.tasks() if t.system == "nodeman"]
            fast = [first(sim, "job")]
            for key in slow + fast:
                poller.add(parse_target(key))
            sim.faults.set("delay", route="nodeman", delay=2.0)  # every NodeMan poll times out
            runner = asyncio.create_task(poller.run())

            def timing_out() -> list[str]:
                return [k for k in slow if poller.watches[k].error is not None]

            # 3 s at most: without a per-system share the JOB watch gets 3 polls or fewer in them.
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline and (
                poller.watches[fast[0]].polls < 8 or len(timing_out()) < 4
            ):
                await asyncio.sleep(0.05)
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        finally:
            await client.aclose()
    timed_out = timing_out()
    assert len(timed_out) >= 4 and all(poller.watches[k].error.kind is ErrorKind.TIMEOUT for k in timed_out)
    # NodeMan watches hold their slots for 0.5 s each; the JOB watch still polls about every
    # 0.2 s (without a per-system share it waits behind them: 3 polls or fewer).
    assert poller.watches[fast[0]].polls >= 8


async def test_a_kept_error_holds_no_frames(frozen_sim: Simulator) -> None:
    """An error stays on its watch while the fault lasts; its traceback would keep the frames that
    read the answer (up to the response limit) alive for each failing watch."""
    import httpx

    from tests.conftest import sim_profile

    client = BkClient(sim_profile(max_response_mb=0.5), transport=httpx.ASGITransport(app=frozen_sim.app))
    try:
        poller, _ = make_poller(client)
        key = first(frozen_sim, "sops")
        poller.add(parse_target(key))
        frozen_sim.faults.set("oversize", size=1 << 20)
        update = await poller.poll_once(key)
    finally:
        await client.aclose()
    assert update.error is not None and "larger than" in update.error.message
    error = poller.watches[key].error
    assert error is not None and error.__traceback__ is None
    assert error.__context__ is None and error.__cause__ is None


def test_find_matches_a_task_by_any_form_and_forgets_it_when_removed() -> None:
    async def never(_t: Target) -> Task:
        raise AssertionError("not polled here")

    poller = Poller(never)
    sops = poller.add(parse_target("sops:2:101"))
    job = poller.add(parse_target("job:2:101"))  # the same id in another system: another task
    other_biz = poller.add(parse_target("job:3:101"))  # JOB ids are unique per business only
    assert len({id(sops), id(job), id(other_biz)}) == 3
    assert poller.find(parse_target("sops:project:5:101")) is sops  # SOPS ids are system-wide
    assert poller.add(parse_target("sops:project:5:101")) is sops
    assert poller.find(parse_target("job:2:101")) is job
    assert poller.find(parse_target("job:4:101")) is None
    assert poller.watches_id("101") and not poller.watches_id("102")
    poller.remove(sops.key)
    assert poller.find(parse_target("sops:project:5:101")) is None
    assert poller.find(parse_target("job:3:101")) is other_biz
    poller.remove(job.key)
    poller.remove(other_biz.key)
    assert not poller.watches_id("101") and poller.find(parse_target("job:2:101")) is None
