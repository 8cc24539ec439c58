"""Shared fixtures: a frozen simulator and clients talking to it in-process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bkwatch.client import BkClient
from bkwatch.config import Profile
from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME, SimConfig, Simulator

# Wall-clock text (the transitions log, NodeMan 1.x times without a zone) must not depend on
# the machine the suite runs on.
os.environ["TZ"] = "UTC"
time.tzset()


def sim_profile(base_url: str = "http://sim", *, gateway: bool = True, **overrides: object) -> Profile:
    """A profile pointing at a simulator: gateway for the systems that have one, or ESB only."""
    profile = Profile(
        name="sim",
        esb_url=base_url,
        apigw_tmpl=f"{base_url}/api/{{api_name}}" if gateway else None,
        app_code=DEMO_APP_CODE,
        app_secret=DEMO_APP_SECRET,
        username=DEMO_USERNAME,
    )
    for key, value in overrides.items():
        setattr(profile, key, value)
    return profile


# Everything of the user's environment that would change what bkwatch reads or where it writes.
ENV_VARS = (
    "BK_COMPONENT_API_URL",
    "BK_API_URL_TMPL",
    "BK_APP_CODE",
    "BK_APP_SECRET",
    "BK_USERNAME",
    "BK_TOKEN",
    "BKWATCH_PROFILE",
    "BKWATCH_INSECURE",
    "BKWATCH_MAX_RESPONSE_MB",
)


def isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No BK_*/BKWATCH_* variables, and config, data and state directories under `tmp_path`."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    return tmp_path


REPO = Path(__file__).resolve().parent.parent
T0 = 1_700_000_000.0  # the simulators' fixed clock in shape tests


@pytest.fixture
def sim() -> Simulator:
    """Seed 1 at a fixed clock: identical answers on every run."""
    return Simulator(SimConfig(seed=1, frozen=True, clock=lambda: T0))


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """A bare HTTP client on the simulator, for checking the wire format itself."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://sim") as c:
        yield c


@pytest.fixture
def frozen_sim() -> Simulator:
    """A simulator whose tasks change only when a test forces, retries or advances them."""
    return Simulator(SimConfig(seed=7, frozen=True))


@pytest.fixture
async def sim_client(frozen_sim: Simulator) -> AsyncIterator[BkClient]:
    client = BkClient(sim_profile(), transport=httpx.ASGITransport(app=frozen_sim.app))
    yield client
    await client.aclose()


@pytest.fixture(scope="module")
def served() -> Iterator[Simulator]:
    """A frozen simulator served on a loopback port (`base_url` set), for `bkwatch` processes."""
    simulator = Simulator(SimConfig(seed=3, frozen=True))
    with simulator.serve() as server:
        simulator.base_url = server.base_url
        yield simulator


def watching(base_url: str, tmp_path: Path, target: str) -> dict[str, str]:
    """The environment of a `bkwatch` on the simulator at `base_url`, in directories of its own
    under `tmp_path`, whose watch list holds `target` (added through the command line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BK_", "BKWATCH_"))}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        BK_COMPONENT_API_URL=base_url,
        BK_API_URL_TMPL=f"{base_url}/api/{{api_name}}",
        BK_APP_CODE=DEMO_APP_CODE,
        BK_APP_SECRET=DEMO_APP_SECRET,
        BK_USERNAME=DEMO_USERNAME,
    )
    add = [sys.executable, "-m", "bkwatch", "add", target]
    subprocess.run(add, cwd=REPO, env=env, check=True, capture_output=True, timeout=60)
    return env
