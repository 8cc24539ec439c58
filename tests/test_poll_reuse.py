"""A poll answered with the very bytes of the last one (a task that waits, or is finished) is the
Task already held: not decoded, not parsed, no diff; the watch still counts it polled and fresh.
Anything that changes the answer, or what the Task is made of beside it, parses it again."""

from __future__ import annotations

import gc

import httpx
import orjson
import pytest

from bkwatch.client import UNCHANGED, BkClient
from bkwatch.model import ErrorKind, Node, State, System, Task
from bkwatch.poller import Poller, PollUpdate
from bkwatch.sim import Simulator
from bkwatch.systems.adapters import fetch_task, settle
from bkwatch.systems.pipeline import flow
from bkwatch.targets import parse_target
from tests.conftest import sim_profile
from tests.test_poller import first

SYSTEMS = ["job", "sops", "bkflow", "nodeman", "gsekit"]


def polls_of(sim: Simulator) -> int:
    return len(sim.bk.wire.requests())


async def steady(poller: Poller, client: BkClient, key: str) -> PollUpdate:
    """Polled until nothing is left to read beside it (a pipeline's detail)."""
    await poller.poll_once(key)
    await settle(client)
    return await poller.poll_once(key)


@pytest.mark.parametrize("system", SYSTEMS)
async def test_the_same_answer_is_the_task_held_and_the_watch_is_fresh(
    frozen_sim: Simulator, sim_client: BkClient, system: str
) -> None:
    key = first(frozen_sim, system)
    poller = Poller(lambda t: fetch_task(sim_client, t))
    poller.add(parse_target(key))
    held = (await steady(poller, sim_client, key)).watch.task
    watch = poller.watches[key]
    polls, last_ok, asked = watch.polls, watch.last_ok, polls_of(frozen_sim)
    poller.clock = lambda: (last_ok or 0.0) + 60.0

    update = await poller.poll_once(key)
    assert polls_of(frozen_sim) > asked  # the server was asked: a poll, not a cache
    assert update.error is None and update.transitions == []
    assert update.watch.task is held
    assert watch.polls == polls + 1 and watch.last_ok == (last_ok or 0.0) + 60.0


async def test_a_changed_answer_is_parsed_and_its_transitions_reported(
    frozen_sim: Simulator, sim_client: BkClient
) -> None:
    key = first(frozen_sim, "job", "2")
    poller = Poller(lambda t: fetch_task(sim_client, t))
    poller.add(parse_target(key))
    held = (await steady(poller, sim_client, key)).watch.task
    assert held is not None
    step = next(s for s in held.steps if s.hosts and s.state is State.RUNNING)
    host = next(iter(step.hosts.values()))
    frozen_sim.world.force(key, "11", host=host.key, step=step.id)  # JOB host status 11: failed

    update = await poller.poll_once(key)
    assert update.watch.task is not held
    assert [(t.key, t.new) for t in update.transitions if t.level == "host"] == [(host.key, State.FAILED)]
    again = await poller.poll_once(key)
    assert again.watch.task is update.watch.task and again.transitions == []


async def test_errors_between_the_same_answers_keep_the_task_and_clear(
    frozen_sim: Simulator, sim_client: BkClient
) -> None:
    key = first(frozen_sim, "gsekit")
    poller = Poller(lambda t: fetch_task(sim_client, t))
    poller.add(parse_target(key))
    held = (await steady(poller, sim_client, key)).watch.task
    for fault, kind in [("http_502", ErrorKind.SERVER), ("malformed_json", ErrorKind.BAD_RESPONSE)]:
        frozen_sim.faults.set(fault)
        update = await poller.poll_once(key)
        frozen_sim.faults.clear()
        assert update.error is not None and update.error.kind is kind
        assert update.watch.task is held
    update = await poller.poll_once(key)
    assert update.error is None and poller.watches[key].errors == 0
    assert update.watch.task is held and update.transitions == []


async def test_a_task_nothing_holds_is_parsed_again(frozen_sim: Simulator, sim_client: BkClient) -> None:
    """The client keeps the Task only while someone holds it (the poller drops it when it slims
    a found task): the same answer then makes a new one, equal to it."""
    target = parse_target(first(frozen_sim, "nodeman"))
    task = await fetch_task(sim_client, target)
    assert await fetch_task(sim_client, target) is task
    before = (task.state, task.hosts)
    del task
    gc.collect()
    again = await fetch_task(sim_client, target)
    assert (again.state, again.hosts) == before


async def test_a_pipeline_is_ordered_again_when_its_detail_arrives(
    frozen_sim: Simulator, sim_client: BkClient
) -> None:
    target = parse_target(first(frozen_sim, "bkflow"))
    unordered = await fetch_task(sim_client, target)  # starts the detail read, not awaited
    await settle(sim_client)
    ordered = await fetch_task(sim_client, target)
    assert ordered is not unordered and ordered.name and not unordered.name  # its name: from the detail
    assert await fetch_task(sim_client, target) is ordered


def envelope(data: object, **ids: str) -> bytes:
    return orjson.dumps({"result": True, "code": 0, "message": "ok", **ids, "data": data})


@pytest.mark.parametrize(
    ("one", "two", "same"),
    [
        (envelope({"x": 1}, request_id="a1"), envelope({"x": 1}, request_id="b2"), True),
        (envelope({"x": 1}, job_request_id="a1"), envelope({"x": 1}, job_request_id="b2"), True),
        (
            envelope({"x": 1})[:-1] + b', "trace_id": "t-1"}',
            envelope({"x": 1})[:-1] + b',"trace_id":"t-2"}',
            True,
        ),
        (envelope({"x": 1}, request_id="a1"), envelope({"x": 2}, request_id="a1"), False),
        # An id inside `data` is part of the answer.
        (envelope({"request_id": "a1"}), envelope({"request_id": "b2"}), False),
        (envelope([{"trace_id": "a1"}]), envelope([{"trace_id": "b2"}]), False),
    ],
)
async def test_only_the_envelopes_own_id_is_left_out(one: bytes, two: bytes, same: bool) -> None:
    bodies = iter([one, two])

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=next(bodies))

    async with BkClient(sim_profile(gateway=False), transport=httpx.MockTransport(serve)) as c:
        data, seen = await c.call_unless(None, System.JOB, "jobv3/x/", method="POST")
        assert data == orjson.loads(one)["data"]
        again, fingerprint = await c.call_unless(seen, System.JOB, "jobv3/x/", method="POST")
    assert (again is UNCHANGED) is same and (fingerprint == seen) is same
    if not same:
        assert again == orjson.loads(two)["data"]


async def test_a_pipeline_whose_detail_is_stale_is_never_reused() -> None:
    """While the status tree shows a node the detail does not know, every poll is ordered again:
    that is where the detail is read again, once enough time has passed."""
    clock = [0.0]
    details = flow.FlowDetails(now=lambda: clock[0])
    tree = {
        "start_event": {"id": "s", "outgoing": "f1", "type": "EmptyStartEvent"},
        "end_event": {"id": "e", "incoming": ["f2"], "type": "EmptyEndEvent"},
        "activities": {
            "a": {"id": "a", "name": "A", "type": "ServiceActivity", "incoming": ["f1"], "outgoing": "f2"}
        },
        "gateways": {},
        "flows": {
            "f1": {"id": "f1", "source": "s", "target": "a"},
            "f2": {"id": "f2", "source": "a", "target": "e"},
        },
    }
    reads = []

    async def read() -> object:
        reads.append(clock[0])
        return {"pipeline_tree": tree, "name": "t"}

    def poll(**reached: str) -> None:
        task = Task("sops:2:1", System.SOPS, "t", State.RUNNING, "RUNNING", False)
        task.root = Node("root", "t", State.RUNNING, "RUNNING")
        children = {k: {"id": k, "state": v} for k, v in reached.items()}
        details.apply(task, {"id": "root", "state": "RUNNING", "children": children}, read, "test")

    poll(s="FINISHED")
    await details.settle()
    assert details.settled("sops:2:1") is None  # that poll was made before the detail was read
    poll(s="FINISHED", a="RUNNING")
    assert details.settled("sops:2:1") is not None
    poll(s="FINISHED", a="FINISHED", x="RUNNING")  # too soon after the read to read again
    assert details.settled("sops:2:1") is None and reads == [0.0]
    clock[0] = 3600.0
    poll(s="FINISHED", a="FINISHED", x="RUNNING")
    await details.settle()
    assert reads == [0.0, 3600.0]
