"""`bkwatch demo`: the monitor against the built-in simulator on loopback.

The simulator starts listening in its own thread while the app is being built; the client is
made by the poller's first fetch, once the simulator listens. A failing JOB task is shown first.
The demo list also follows a SOPS business, and the simulator starts a few new tasks every
DEMO_BURST_EVERY simulated seconds, so tasks appear there by themselves.
Actions are on (the simulator is a toy server), and the status line says they go to it.
The simulator's text made to test escaping (task names, messages, log lines) is left out unless
`--hostile`; and no "since last time" summary, since every demo starts a fresh simulator.
The simulator, the poller and the monitor are imported inside the functions: `bkwatch --help`
and every other command start without them.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from bkwatch.cli.acting import MonitorActions
from bkwatch.cli.common import new_client
from bkwatch.cli.run import ClientEvidence, LazyFetch, MonitorOptions, record_view, repoll, run_app
from bkwatch.cli.scope_wiring import followed_scopes
from bkwatch.logfile import log_to_file
from bkwatch.model import BkError, ErrorKind, System
from bkwatch.store import StoreError, WatchEntry, WatchStore
from bkwatch.systems.registry import traits
from bkwatch.systems.traits import View
from bkwatch.tui.app import BkWatchApp

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from pathlib import Path

    from bkwatch.client import BkClient
    from bkwatch.config import Profile
    from bkwatch.poller import Poller
    from bkwatch.sim import Served

# Raw states that mean "look at me" in the simulator's task list (JOB 4 = failed).
_BAD_RAW = {"4", "FAILED", "PART_FAILED", "failed"}
_CONFIRM_RAW = {"7"}  # JOB waiting for a person to confirm: something to try `x` on
_DEMO_PER_SYSTEM = 3
DEMO_SCOPE = "sops:2"  # followed in the demo: new SOPS tasks of business 2 appear under it
DEMO_BURST_EVERY = 45.0  # simulated seconds between bursts of new SOPS / BKFlow / JOB tasks
DEMO_BURST_SIZE = 3
DEMO_ACTIONS_NOTE = "demo simulator"


def demo_entries(tasks: list[Any]) -> tuple[list[WatchEntry], str | None]:
    """An interesting mix from the simulator: failures first, then a JOB job waiting for
    confirmation, a few of each system (one more JOB job, so the rolling one stays in)."""
    picked: list[WatchEntry] = []
    first_bad_job: str | None = None
    for system in System:
        mine = [t for t in tasks if t.system == str(system)]
        mine.sort(key=lambda t: (t.state not in _BAD_RAW, t.state not in _CONFIRM_RAW))  # stable
        steps = traits(system).view is View.STEPS
        for t in mine[: _DEMO_PER_SYSTEM + steps]:
            picked.append(WatchEntry(t.target, None))
            if steps and first_bad_job is None and t.state in _BAD_RAW:
                first_bad_job = t.target
    return picked, first_bad_job


class Serving:
    """A server context (the simulator's `serve()`) entered on its own thread, so the app is
    built while it starts; `served()` waits until it listens, `close()` stops it."""

    def __init__(self, cm: AbstractContextManager[Served]) -> None:
        self._cm = cm
        self._ready = threading.Event()
        self._served: Served | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._enter, name="bkwatch-sim-start", daemon=True)
        self._thread.start()

    def _enter(self) -> None:
        try:
            self._served = self._cm.__enter__()
        except BaseException as exc:  # handed to whoever waits for the server
            self._error = exc
        finally:
            self._ready.set()

    def served(self, timeout: float = 30.0) -> Served:
        if not self._ready.wait(timeout):
            raise OSError("the simulator did not start listening")
        if self._error is not None:
            raise self._error
        assert self._served is not None
        return self._served

    def close(self) -> None:
        self._thread.join()  # serve() gives up by itself after a few seconds
        if self._served is not None:
            self._served = None
            self._cm.__exit__(None, None, None)


def follow_demo_scope(store: WatchStore) -> None:
    """The demo list follows DEMO_SCOPE whenever it follows no scope."""
    from bkwatch.scope_store import ScopeEntry, ScopeStore

    scopes = ScopeStore(store)
    try:
        if not scopes.load("demo"):
            scopes.add([ScopeEntry(DEMO_SCOPE, {}, "releases")], "demo")
        # Every demo starts a new simulator: what its scopes found last time is not there any
        # more, so they start afresh rather than restore tasks that no longer exist.
        scopes.state_path("demo").unlink(missing_ok=True)
    except (OSError, StoreError):
        pass  # the demo runs without it


def demo_profile(base_url: str) -> Profile:
    from bkwatch.config import Profile
    from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_TOKEN, DEMO_USERNAME

    return Profile(
        name="demo",
        esb_url=base_url,
        apigw_tmpl=base_url + "/api/{api_name}",
        app_code=DEMO_APP_CODE,
        app_secret=DEMO_APP_SECRET,
        username=DEMO_USERNAME,
        token=DEMO_TOKEN,
        # The gateway for the systems with a list API (JOB, SOPS, BKFlow), the ESB for the others
        # (NodeMan, GSEKit): both transports in one demo.
        gateways={s: g for s, g in Profile().gateways.items() if traits(s).follow_kinds},
    )


def demo_actions(fetch: LazyFetch, data_dir: Path, poller: Poller) -> MonitorActions:
    """Actions on, against the simulator only: the profile here names who acts (for the audit
    file) and allows it; the client the polls use carries the simulator's address."""
    profile = demo_profile("")
    profile.allow_actions = True

    def paas() -> str | None:
        return fetch.client.profile.esb_url if fetch.client is not None else None

    return MonitorActions(
        profile,
        fetch.open,
        data_dir=data_dir,
        interval=poller.cadence.focused,
        paas=paas,
        note=DEMO_ACTIONS_NOTE,
    )


def run_demo(options: MonitorOptions) -> int:
    """Run against the built-in simulator on loopback; a failing JOB task is shown first."""
    import tempfile
    from pathlib import Path

    from bkwatch.config import data_dir
    from bkwatch.poller import Poller
    from bkwatch.sim import DEMO_USERNAME, SimConfig, Simulator

    # An older GSEKit (every job_tasks row without ids) so the demo shows per-task reasons and
    # solutions; against a current GSEKit the pane shows its status counts instead.
    sim = Simulator(
        SimConfig(
            seed=options.seed,
            speed=options.speed,
            gsekit_rows_without_ids=True,
            burst_every=DEMO_BURST_EVERY,
            burst_size=DEMO_BURST_SIZE,
            hostile=options.hostile,  # names and messages made to test escaping: --hostile only
        )
    )
    serving = Serving(sim.serve())
    try:
        try:
            store = WatchStore(data_dir())
            store.load("demo")
        except (OSError, StoreError):
            # A read-only home must not stop the demo: keep its list in a throwaway directory.
            store = WatchStore(Path(tempfile.mkdtemp(prefix="bkwatch-demo-")))
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
        follow_demo_scope(store)

        async def make() -> BkClient:
            try:
                served = await asyncio.to_thread(serving.served)
            except OSError as exc:
                raise BkError(ErrorKind.NETWORK, f"the built-in simulator did not start: {exc}") from None
            return new_client(demo_profile(served.base_url))

        fetch = LazyFetch(make)
        poller = Poller(fetch)
        fetch.on_detail = repoll(poller)
        scopes = followed_scopes(fetch, poller, store, "demo", DEMO_USERNAME)
        acting = demo_actions(fetch, store.data_dir, poller)
        app = BkWatchApp(
            poller,
            store,
            "demo",
            select=select,
            scopes=scopes,
            evidence=ClientEvidence(fetch),
            acting=acting,
            record=record_view(options),
            # Every demo starts a new simulator: what the last one showed is another world.
            since_last_time=False,
            **options.app_kwargs(),
        )
        log_to_file([], debug=options.debug)  # the simulator's credentials are public
        asyncio.run(run_app(app, fetch, options))
        code = app.return_code or 0  # 1 after a crash
    finally:
        serving.close()
    return code
