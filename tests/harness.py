"""The monitor wired to a frozen simulator, for the TUI tests and the screenshots.

`sim_app()` builds the real app, poller, client and adapters, talking to the simulator in-process
through `httpx.ASGITransport`, with a fixed clock. Tests reach the app through its public names;
what only Textual's private attributes hold (the toasts up, a frame as written) is read here alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from textual.app import App
from textual.notifications import Notification
from textual.pilot import Pilot

from bkwatch.cli.acting import MonitorActions
from bkwatch.cli.demo import demo_profile
from bkwatch.cli.run import ClientEvidence, LazyFetch
from bkwatch.cli.scope_wiring import FollowedScopes
from bkwatch.client import BkClient
from bkwatch.discovery import Discovery
from bkwatch.model import System
from bkwatch.poller import Cadence, Poller
from bkwatch.scope_store import ScopeEntry, ScopeStore
from bkwatch.sim import SimConfig, Simulator
from bkwatch.store import WatchEntry, WatchStore
from bkwatch.systems.adapters import fetch_task
from bkwatch.tui.app import BkWatchApp

FIXED_NOW = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC: screenshots never show today's date
BASE = "http://sim.invalid"
BAD_RAW = {"4", "FAILED", "PART_FAILED", "failed"}


@dataclass
class SimRig:
    sim: Simulator
    app: BkWatchApp
    poller: Poller
    store: WatchStore
    client: BkClient
    scopes: FollowedScopes | None = None

    @property
    def discovery(self) -> Discovery:
        assert self.scopes is not None
        return self.scopes.discovery

    def target(self, system: System, *, bad: bool | None = None, index: int = 0) -> str:
        """A simulator task of `system` (failing ones when bad=True)."""
        found = [
            t.target
            for t in self.sim.world.tasks()
            if t.system == str(system) and (bad is None or (t.state in BAD_RAW) == bad)
        ]
        return found[index]


def frozen_sim(**config: Any) -> Simulator:
    config.setdefault("seed", 1)
    config.setdefault("frozen", True)
    config.setdefault("clock", lambda: FIXED_NOW)
    return Simulator(SimConfig(**config))


def sim_app(
    sim: Simulator,
    data_dir: Path,
    targets: list[str] | None = None,
    *,
    select: str | None = None,
    list_name: str = "test",
    clock: Callable[[], float] = lambda: FIXED_NOW,
    scopes: dict[str, dict[str, Any]] | None = None,
    discovery_interval: float = 15.0,
    allow_actions: bool | None = None,
    **app_options: Any,
) -> SimRig:
    """The real app wired to `sim` in-process; nothing polls until the test says so.

    `allow_actions` (True or False) hands the app the actions wiring the monitor gets, on this
    client, with the profile's actions on or off; None leaves it out."""
    profile = demo_profile(BASE)
    client = BkClient(profile, transport=httpx.ASGITransport(app=sim.app))
    if allow_actions is not None:
        profile.allow_actions = allow_actions

        async def get_client() -> BkClient:
            return client

        app_options.setdefault(
            "acting", MonitorActions(profile, get_client, data_dir=data_dir, interval=2.0, clock=clock)
        )
    # A huge cadence: the background loop never polls on its own during a test.
    slow = Cadence(focused=1e6, young=1e6, active=1e6, waiting=1e6, finished=1e6, unknown=1e6, jitter=0)
    # As the monitor's (`cli.run.slim_poller`): a scope's finished tasks off screen are slim.
    poller = Poller(lambda t: fetch_task(client, t), cadence=slow, clock=clock, slim_found=True)
    store = WatchStore(data_dir)
    if targets is None:
        targets = [t.target for t in sim.world.tasks()]
    store.add([WatchEntry(t, None, clock()) for t in targets], list_name)
    app_options.setdefault("start_polling", False)
    followed = None
    if scopes is not None:
        # Followed scopes (scope -> saved options), discovery on the simulator's own clock.
        followed = FollowedScopes(
            Discovery(
                client, poller, user=profile.username, interval=discovery_interval, clock=sim.world.now
            ),
            store,
            list_name,
        )
        ScopeStore(store).add([ScopeEntry(k, v, None, clock()) for k, v in scopes.items()], list_name)

    async def same_client() -> BkClient:
        return client

    app_options.setdefault("evidence", ClientEvidence(LazyFetch(same_client)))
    app = BkWatchApp(poller, store, list_name, clock=clock, select=select, scopes=followed, **app_options)
    app.theme = "textual-dark"
    return SimRig(sim, app, poller, store, client, followed)


async def settle(rig: SimRig, pilot: Pilot[None]) -> None:
    """One round of every followed scope, poll every watch once and let the screen apply it
    (polled again once the pipelines' flow order, read beside the first poll, has arrived)."""
    from bkwatch.systems.adapters import settle

    if rig.scopes is not None:
        saved = {e.scope for e in ScopeStore(rig.store).load(rig.app.list_name)}
        for _ in range(200):  # the saved scopes are followed once the screen has painted
            await pilot.pause()
            if saved <= set(rig.discovery.scopes):
                break
        for key in list(rig.discovery.scopes):
            await rig.discovery.discover(key)
    await rig.poller.poll_all()
    if await settle(rig.client):
        await rig.poller.poll_all()
    await pilot.pause()
    await pilot.pause()


def notifications(app: App[Any]) -> list[Notification]:
    """The toasts the app has up now (Textual keeps them in a private attribute: read only here)."""
    return list(app._notifications)


def frame_text(app: App[Any]) -> str:
    """What the app would write to the terminal for a full repaint right now (Textual's own
    compositor and screen stack, reached only here)."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return str(update.render_segments(app.console)).replace("\r\n", "\n")


def count_frames(app: App[Any]) -> list[object]:
    """From now on, every screen update the app hands to the terminal writer (Textual's private
    `_display`, wrapped only here; a headless app then writes nothing)."""
    frames: list[object] = []
    original = app._display

    def display(screen: Any, renderable: Any) -> None:
        if renderable is not None and not app._batch_count:
            frames.append(renderable)
        original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    return frames
