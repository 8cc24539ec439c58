"""Start the monitor: on a saved watch list with a real profile, or on the built-in simulator."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import Any

from bkwatch.model import BkError, System
from bkwatch.poller import Poller
from bkwatch.store import StoreError, WatchEntry, WatchStore
from bkwatch.tui.app import BkWatchApp

# Raw states that mean "look at me" in the simulator's task list (JOB 4 = failed).
_BAD_RAW = {"4", "FAILED", "PART_FAILED", "failed"}
_DEMO_PER_SYSTEM = 3


def _app_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "ascii": bool(options.get("ascii")),
        "bell": bool(options.get("bell")),
        "desktop_notify": bool(options.get("desktop_notify")),
    }


async def _run(app: BkWatchApp, client: Any, options: Mapping[str, Any]) -> None:
    try:
        await app.run_async(mouse=not options.get("no_mouse"))
    finally:
        await client.aclose()


def run_watch(profile_name: str | None, list_name: str, options: dict[str, Any]) -> int:
    """Watch a saved list with the real configuration. Returns an exit status."""
    from bkwatch.client import BkClient
    from bkwatch.config import data_dir, load_profile
    from bkwatch.systems import fetch_task

    try:
        profile = load_profile(profile_name)
    except BkError as exc:
        print(f"bkwatch: {exc.message}", file=sys.stderr)
        return 2
    try:
        store = WatchStore(data_dir())
        store.path(list_name)  # validates the list name before the screen takes over
    except StoreError as exc:
        print(f"bkwatch: {exc}", file=sys.stderr)
        return 2
    client = BkClient(profile)
    poller = Poller(lambda t: fetch_task(client, t))
    app = BkWatchApp(poller, store, list_name, **_app_kwargs(options))
    asyncio.run(_run(app, client, options))
    return 0


def demo_entries(tasks: list[Any]) -> tuple[list[WatchEntry], str | None]:
    """An interesting mix from the simulator: failures first, a few of each system."""
    picked: list[WatchEntry] = []
    first_bad_job: str | None = None
    for system in System:
        mine = [t for t in tasks if t.system == str(system)]
        mine.sort(key=lambda t: t.state not in _BAD_RAW)  # stable: failures first
        for t in mine[:_DEMO_PER_SYSTEM]:
            picked.append(WatchEntry(t.target, None))
            if system is System.JOB and first_bad_job is None and t.state in _BAD_RAW:
                first_bad_job = t.target
    return picked, first_bad_job


def run_demo(options: dict[str, Any]) -> int:
    """Run against the built-in simulator on loopback; a failing JOB task is shown first."""
    import tempfile
    from pathlib import Path

    from bkwatch.client import BkClient
    from bkwatch.config import Profile, data_dir
    from bkwatch.sim import (
        DEMO_APP_CODE,
        DEMO_APP_SECRET,
        DEMO_TOKEN,
        DEMO_USERNAME,
        SimConfig,
        Simulator,
    )
    from bkwatch.systems import fetch_task

    # An older GSEKit (every job_tasks row without ids) so the demo shows per-task reasons and
    # solutions; against a current GSEKit the pane shows its status counts instead.
    sim = Simulator(
        SimConfig(
            seed=int(options.get("seed") or 1),
            speed=float(options.get("speed") or 1.0),
            gsekit_rows_without_ids=True,
        )
    )
    try:
        store = WatchStore(data_dir())
        store.load("demo")
    except (OSError, StoreError):
        # A read-only home must not stop the demo: keep its list in a throwaway directory.
        store = WatchStore(Path(tempfile.mkdtemp(prefix="bkwatch-demo-")))
    with sim.serve() as server:
        profile = Profile(
            name="demo",
            esb_url=server.base_url,
            apigw_tmpl=server.base_url + "/api/{api_name}",
            app_code=DEMO_APP_CODE,
            app_secret=DEMO_APP_SECRET,
            username=DEMO_USERNAME,
            token=DEMO_TOKEN,
            # Gateway for JOB/SOPS/BKFlow, ESB for NodeMan/GSEKit: both transports in one demo.
            gateways={s: g for s, g in Profile().gateways.items() if s is not System.NODEMAN},
        )
        entries, bad_job = demo_entries(sim.world.tasks())
        known = {t.target for t in sim.world.tasks()}
        saved = store.load("demo")
        stale = [e.target for e in saved if e.target not in known]  # from another seed
        if stale:
            store.remove(stale, "demo")
        listed = [e for e in saved if e.target in known]
        if not listed:
            store.add(entries, "demo")
            listed = entries
        select = bad_job if bad_job in {e.target for e in listed} else None
        client = BkClient(profile)
        poller = Poller(lambda t: fetch_task(client, t))
        app = BkWatchApp(poller, store, "demo", select=select, **_app_kwargs(options))
        asyncio.run(_run(app, client, options))
    return 0
