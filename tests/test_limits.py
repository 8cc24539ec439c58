"""Answers larger than the profile's max_response_mb are refused, and refusing one holds memory
bounded by the limit, not by the answer: in-process, over loopback, and from a declared length."""

from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest

from bkwatch import cli
from bkwatch.client import BkClient
from bkwatch.config import DEFAULT_MAX_RESPONSE_MB
from bkwatch.model import BkError, ErrorKind, System
from bkwatch.sim import SimConfig, Simulator
from bkwatch.sim.server import serve
from bkwatch.systems.adapters import fetch_task
from bkwatch.systems.job.poll import request_params
from bkwatch.targets import parse_target
from tests.conftest import sim_profile

MiB = 1024 * 1024
JOB_STATUS = "api/v3/get_job_instance_status"  # JOB's gateway path, as the adapter calls it


def _job_target(sim: Simulator) -> str:
    return next(t.target for t in sim.world.tasks() if t.system == "job")


async def _status_call(client: BkClient, target: str) -> Any:
    return await client.call(System.JOB, JOB_STATUS, params=request_params(parse_target(target)))


def _refusal(limit_mb: float) -> str:
    return f"job: answer larger than {limit_mb:g} MiB (limit max_response_mb in the profile)"


# -- in-process (httpx's ASGITransport buffers the answer, so sizes stay small here) -------------


async def test_streamed_answer_over_the_limit_is_refused_in_process(frozen_sim: Simulator) -> None:
    frozen_sim.faults.set("oversize", size=3 * MiB)  # no Content-Length: only counting can stop it
    profile = sim_profile(max_response_mb=1)
    async with BkClient(profile, transport=httpx.ASGITransport(app=frozen_sim.app)) as client:
        target = parse_target(_job_target(frozen_sim))
        with pytest.raises(BkError) as err:
            await fetch_task(client, target)
    assert err.value.kind is ErrorKind.BAD_RESPONSE
    assert err.value.message == _refusal(1)


async def test_the_limit_is_exact_to_the_byte(frozen_sim: Simulator) -> None:
    size = 2 * MiB + 12_345
    frozen_sim.faults.set("oversize", size=size)  # a valid answer of exactly `size` bytes
    target = _job_target(frozen_sim)
    transport = httpx.ASGITransport(app=frozen_sim.app)
    # MiB values that are whole byte counts: dividing by a power of two is exact in binary floats.
    async with BkClient(sim_profile(max_response_mb=size / MiB), transport=transport) as client:
        data = await _status_call(client, target)
    assert len(data["padding"]) > size - 100  # the whole answer, read and decoded
    async with BkClient(sim_profile(max_response_mb=(size - 1) / MiB), transport=transport) as client:
        with pytest.raises(BkError) as err:
            await _status_call(client, target)
    assert err.value.kind is ErrorKind.BAD_RESPONSE and "answer larger than" in err.value.message


async def test_a_real_large_answer_under_the_limit_still_works() -> None:
    # JOB with 10,000 hosts per step: the largest answer a poll normally meets (about 5 MB).
    sim = Simulator(SimConfig(seed=5, frozen=True, tasks_per_system=1, job_hosts=10_000))
    target = parse_target(_job_target(sim))
    transport = httpx.ASGITransport(app=sim.app)
    async with BkClient(sim_profile(), transport=transport) as client:
        raw = await client._http.get(  # the wire size, to show the limit is what decides
            client.url_for(System.JOB, "apigw", JOB_STATUS),
            params=request_params(target),
            headers=client._auth()[1],
        )
        task = await fetch_task(client, target)
    size = len(raw.content)
    assert 2 * MiB < size < DEFAULT_MAX_RESPONSE_MB * MiB
    assert sum(len(s.hosts) for s in task.steps) >= 10_000
    async with BkClient(sim_profile(max_response_mb=1), transport=transport) as client:
        with pytest.raises(BkError) as err:
            await fetch_task(client, target)
    assert err.value.message == _refusal(1)


async def test_a_compressed_answer_is_limited_by_its_unpacked_size() -> None:
    """A gzip body of a few KB that unpacks to 8 MiB: the small Content-Length passes, the count
    of unpacked bytes does not (what is held in memory is what the limit bounds)."""
    unpacked = b'{"result":true,"code":0,"message":"","data":{"padding":"' + b"0" * (8 * MiB) + b'"}}'
    packed = gzip.compress(unpacked, compresslevel=9)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-encoding", b"gzip"),
            (b"content-length", str(len(packed)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": packed})

    assert len(packed) < 100_000
    transport = httpx.ASGITransport(app=app)
    async with BkClient(sim_profile(max_response_mb=1), transport=transport) as client:
        with pytest.raises(BkError) as err:
            await client.call(System.JOB, JOB_STATUS)
    assert err.value.message == _refusal(1)
    async with BkClient(sim_profile(max_response_mb=9), transport=transport) as client:
        assert len((await client.call(System.JOB, JOB_STATUS))["padding"]) == 8 * MiB


# -- over real loopback sockets --------------------------------------------------------------


def test_huge_streamed_answer_is_refused_with_memory_bounded_by_the_limit() -> None:
    """256 MiB streamed without a Content-Length against the default 64 MiB limit. Memory is the
    tracemalloc peak over every thread (the simulator's too) above what was allocated before."""
    sim = Simulator(SimConfig(seed=7, frozen=True))
    sim.faults.set("oversize", size=256 * MiB)
    limit = DEFAULT_MAX_RESPONSE_MB * MiB
    with sim.serve() as served:
        profile = sim_profile(served.base_url, timeout=30.0)
        assert profile.max_response_mb == DEFAULT_MAX_RESPONSE_MB

        async def poll() -> BkError:
            async with BkClient(profile) as client:
                try:
                    await fetch_task(client, parse_target(_job_target(sim)))
                except BkError as exc:
                    return exc
            raise AssertionError("a 256 MiB answer was accepted")

        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            started = time.monotonic()
            error = asyncio.run(poll())
            elapsed = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    growth = peak - before
    print(f"\n256 MiB answer refused in {elapsed:.2f} s; traced peak growth {growth / MiB:.1f} MiB")
    assert error.kind is ErrorKind.BAD_RESPONSE and error.message == _refusal(64)
    # What was read up to the limit is held once (no join, no decode); a little more for buffers.
    assert growth < 1.25 * limit, f"peak grew by {growth / MiB:.1f} MiB"


def _declares_a_huge_length(seen: dict[str, Any]) -> Any:
    """An ASGI app that announces a 1 TiB body, sends none of it, and waits for the client to leave."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(2**40).encode())],
            }
        )
        message = await receive()  # only the client hanging up ends this
        seen["after_headers"] = message["type"]

    return app


def test_declared_content_length_over_the_limit_is_refused_before_reading() -> None:
    seen: dict[str, Any] = {}
    with serve(_declares_a_huge_length(seen)) as served:
        # No body ever comes: reading it would end in a timeout, not in the size refusal.
        profile = sim_profile(served.base_url, timeout=10.0)

        async def call() -> tuple[BkError, float]:
            async with BkClient(profile) as client:
                started = time.monotonic()
                try:
                    await client.call(System.JOB, JOB_STATUS, params={"bk_biz_id": 1})
                except BkError as exc:
                    return exc, time.monotonic() - started
            raise AssertionError("a 1 TiB Content-Length was accepted")

        error, elapsed = asyncio.run(call())
        deadline = time.monotonic() + 5
        while "after_headers" not in seen and time.monotonic() < deadline:
            time.sleep(0.01)
    assert error.kind is ErrorKind.BAD_RESPONSE and error.message == _refusal(64)
    assert elapsed < 5.0
    assert seen["after_headers"] == "http.disconnect"  # the connection was closed, not drained


def test_status_command_shows_the_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME

    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    for var in ("BKWATCH_PROFILE", "BKWATCH_INSECURE", "BK_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    sim = Simulator(SimConfig(seed=7, frozen=True))
    sim.faults.set("oversize", size=3 * MiB)
    with sim.serve() as served:
        monkeypatch.setenv("BK_COMPONENT_API_URL", served.base_url)
        monkeypatch.setenv("BK_API_URL_TMPL", served.apigw_tmpl)
        monkeypatch.setenv("BK_APP_CODE", DEMO_APP_CODE)
        monkeypatch.setenv("BK_APP_SECRET", DEMO_APP_SECRET)
        monkeypatch.setenv("BK_USERNAME", DEMO_USERNAME)
        monkeypatch.setenv("BKWATCH_MAX_RESPONSE_MB", "1.5")
        target = _job_target(sim)
        code = cli.main(["status", target])
        table_out, _ = capsys.readouterr()
        json_code = cli.main(["status", "--json", target])
        json_out, _ = capsys.readouterr()
        shown_code = cli.main(["config", "show"])
        shown, _ = capsys.readouterr()
    assert code == 2 and json_code == 2
    assert f"bad_response: {_refusal(1.5)}" in table_out
    assert f'"kind": "bad_response", "message": "{_refusal(1.5)}"' in json_out
    assert shown_code == 0 and "max_response_mb  1.5" in shown and "BKWATCH_MAX_RESPONSE_MB" in shown
