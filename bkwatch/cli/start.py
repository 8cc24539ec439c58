"""The monitor's start before the screen exists: its options, the poller's fetch, and
`run_watch`, which sends the first polls before Textual is imported.

Nothing here imports Textual. `run_watch` makes the HTTP client and sends the first tasks'
requests, then imports the screen's modules (`run.py`, Textual) in a worker thread while this
thread's event loop keeps those requests going. The server answers while the screen loads, and
the first rows come with the first frame that has room for them. A slow server makes this matter
more: TLS, the round trips and the server's own time all overlap the import. The client (httpx)
and the adapters are imported in this thread before the worker starts, so the two threads do not
import the same modules at once.

The first poll of each early task takes its answer, or its error, in place of a request: one
request per task, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bkwatch.model import BkError
from bkwatch.redact import redact
from bkwatch.targets import TargetError, parse_target

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.config import Profile
    from bkwatch.evidence.follow import LogSource
    from bkwatch.evidence.signatures import Signatures
    from bkwatch.model import Task
    from bkwatch.store import WatchStore
    from bkwatch.targets import Target

# Tasks polled before the screen is up: a tall terminal's rows. A longer list's other tasks are
# polled by the poller, spread over its first interval.
EARLY_TASKS = 60


@dataclass(frozen=True)
class MonitorOptions:
    """The command line's choices for the monitor and the demo."""

    ascii: bool = False
    bell: bool = False
    desktop_notify: bool = False
    no_mouse: bool = False
    insecure: bool = False
    debug: bool = False
    seed: int = 1  # the demo's simulator
    speed: float = 1.0
    hostile: bool = False  # the demo's simulator with its text made to test escaping
    allow_actions: bool = False  # --allow-actions (the profile and BKWATCH_ALLOW_ACTIONS=1 also can)
    record: bool = True  # the history (bkwatch.record); --no-record or the profile's `record = false`
    record_days: float = 30.0
    record_max_mb: float = 200.0
    demo: bool = False  # `bkwatch demo`: its record kept apart from the user's (config.record_dir)

    def app_kwargs(self) -> dict[str, Any]:
        return {"ascii": self.ascii, "bell": self.bell, "desktop_notify": self.desktop_notify}


class LazyFetch:
    """The poller's fetch callable; the HTTP client is made by the first call and reused.

    Errors leave it redacted: `systems.fetch_task` classifies and masks whatever an adapter raises,
    and the error of making the client is masked here.
    """

    def __init__(self, make_client: Callable[[], Awaitable[BkClient]], secrets: Sequence[str] = ()) -> None:
        self._make = make_client
        self._lock = asyncio.Lock()
        self.client: BkClient | None = None
        self.secrets = [s for s in secrets if s]
        # Called with a task's key when its pipeline detail (flow order, names) has been read,
        # beside a poll that did not wait for it: the monitor polls that task again at once
        # rather than at its next turn (a minute away for a finished one).
        self.on_detail: Callable[[str], None] | None = None
        self._early: dict[str, asyncio.Task[Task]] = {}  # target -> its first poll, sent early
        self._detail_before: set[str] = set()  # details read before anyone listened

    def start_early(self, targets: Iterable[Target]) -> None:
        """Poll `targets` now (in this thread's running loop): each one's first call takes the
        answer instead of asking again."""
        import bkwatch.systems.adapters  # noqa: F401  # imported here, before another thread imports

        for target in targets:
            key = str(target)
            if key not in self._early:
                self._early[key] = asyncio.ensure_future(self._fetch(target))

    async def __call__(self, target: Target) -> Task:
        early = self._early.pop(str(target), None)
        if early is None:
            return await self._fetch(target)
        try:
            return await early
        finally:
            self._detail_read_early(str(target))

    async def _fetch(self, target: Target) -> Task:
        # lazy: httpx and the adapters (`run_watch` has them loaded before the screen's import)
        from bkwatch.systems.adapters import fetch_task

        client = self.client if self.client is not None else await self.open()
        return await fetch_task(client, target)

    def _detail_read(self, key: str) -> None:
        if self.on_detail is not None:
            self.on_detail(key)
        elif key in self._early:  # read beside an early poll, before the monitor could poll again
            self._detail_before.add(key)

    def _detail_read_early(self, key: str) -> None:
        """Once the first poll has taken an early answer, the detail read beside it is asked for
        by polling again, as it would have been had the monitor been listening."""
        if key in self._detail_before and self.on_detail is not None:
            self._detail_before.discard(key)
            asyncio.get_running_loop().call_soon(self.on_detail, key)

    async def open(self) -> BkClient:
        """The client, made now if no poll made it yet (followed scopes list through it too)."""
        if self.client is not None:
            return self.client
        try:
            return await self._open()
        except BkError as exc:
            safe = redact(exc.message, self.secrets)
            if safe != exc.message:
                exc.message, exc.args = safe, (safe,)
            raise

    async def _open(self) -> BkClient:
        async with self._lock:  # every first-round poll arrives at once: make one client
            if self.client is None:
                self.client = await self._make()
                from bkwatch.systems.adapters import on_background_read  # lazy: httpx

                on_background_read(self.client, self._detail_read)
            return self.client

    async def aclose(self) -> None:
        early, self._early = list(self._early.values()), {}
        for task in early:  # polled early, never asked for (the task left the list): an answer
            task.cancel()  # still coming is dropped, an error that came is not reported unread
        await asyncio.gather(*early, return_exceptions=True)
        async with self._lock:
            client, self.client = self.client, None
        if client is not None:
            await client.aclose()


class ClientEvidence:
    """The screen's `EvidenceSource`: logs and signatures fetched with the poller's client
    (made by `LazyFetch` when first needed), only when the user asks."""

    def __init__(self, fetch: LazyFetch) -> None:
        self.fetch = fetch

    async def _client(self) -> BkClient:
        return self.fetch.client if self.fetch.client is not None else await self.fetch._open()

    async def log(
        self, task: Task, *, step: str | None = None, host: str | None = None, node: str | None = None
    ) -> LogSource:
        from bkwatch.systems.adapters import open_log  # lazy: httpx

        return open_log(await self._client(), task, step=step, host=host, node=node)

    async def signatures(self, task: Task, step_id: str | None = None) -> Signatures:
        from bkwatch.systems.adapters import task_signatures  # lazy: httpx

        return await task_signatures(await self._client(), parse_target(task.target), task, step_id=step_id)


def run_watch(profile: Profile, list_name: str, options: MonitorOptions) -> int:
    """Watch a saved list with the profile the command line loaded. Returns an exit status."""
    from bkwatch.config import ca_context, data_dir
    from bkwatch.logfile import log_to_file
    from bkwatch.store import StoreError, WatchStore

    try:
        ca_context(profile)  # the error BkClient would raise, found before the screen takes over
    except BkError as exc:
        print(f"bkwatch: {exc.message}", file=sys.stderr)
        return 2
    try:
        store = WatchStore(data_dir())
        store.path(list_name)  # validates the list name before the screen takes over
        store.check(list_name)  # a corrupt list is refused (moved aside), not watched as empty
    except StoreError as exc:
        print(f"bkwatch: {exc}", file=sys.stderr)
        return 2
    log_to_file(profile.secrets(), debug=options.debug)
    return asyncio.run(_watch(profile, store, list_name, options))


async def _watch(profile: Profile, store: WatchStore, list_name: str, options: MonitorOptions) -> int:
    from bkwatch.cli.common import new_client, no_screen

    async def make() -> BkClient:
        return new_client(profile)

    fetch = LazyFetch(make, profile.secrets())
    try:
        with contextlib.suppress(BkError):  # else each poll says why the client cannot be made
            await fetch.open()  # httpx imported here, before the screen's import begins
        fetch.start_early(_targets(store, list_name)[:EARLY_TASKS])
        try:  # the screen's modules, imported while the first requests are answered
            run = await asyncio.to_thread(importlib.import_module, "bkwatch.cli.run")
        except ImportError as exc:
            raise no_screen(exc) from None
        options = run.with_record_config(options, profile)
        app, fetch = run.watch_app(profile, store, list_name, options, fetch=fetch)
        await run.run_app(app, fetch, options)
    finally:
        await fetch.aclose()
    return int(app.return_code or 0)


def _targets(store: WatchStore, list_name: str) -> list[Target]:
    """The list's tasks, in its order (an entry that does not parse is left to the screen to
    report)."""
    out = []
    for entry in store.load(list_name):
        try:
            out.append(parse_target(entry.target))
        except TargetError:
            continue
    return out
