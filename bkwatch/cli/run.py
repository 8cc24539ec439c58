"""The monitor's screen wired to a real profile (`bkwatch`): the app, the poller and the record;
imported by `start.py` (which sends the first polls first) once the screen is wanted. The demo's
wiring is in `demo.py`, the log file in `bkwatch.logfile`.

The HTTP client (and with it httpx and the adapters) is made by the first fetch: `start.py`'s
early polls when the monitor starts from the command line, else the poller's first poll, which
is deliberately not held back until Textual's first paint: its requests then overlap the paint.

Secrets stay off every output: poll errors are redacted before the poller keeps them, the log
file's formatter and a filter on the HTTP libraries' loggers redact every record, and the app
gets the profile's secrets for its crash report.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from bkwatch import resume_gc
from bkwatch.cli.acting import MonitorActions
from bkwatch.cli.common import new_client
from bkwatch.cli.scope_wiring import followed_scopes
from bkwatch.cli.start import ClientEvidence, LazyFetch, MonitorOptions
from bkwatch.config import check_permissions, config_path, data_dir, record_dir
from bkwatch.poller import Poller
from bkwatch.store import WatchStore
from bkwatch.tui.app import BkWatchApp

if TYPE_CHECKING:
    from bkwatch.cli.record_view import RecordView
    from bkwatch.client import BkClient
    from bkwatch.config import Profile
    from bkwatch.model import Task
    from bkwatch.poller import PollUpdate
    from bkwatch.record.recorder import Recorder

log = logging.getLogger(__name__)

RECORD_OPEN_DELAY = 1.0  # seconds after start: the first rows are drawn by then


async def run_app(app: BkWatchApp, fetch: LazyFetch, options: MonitorOptions) -> None:
    # SIGTERM (a service manager, `kill`) and a SIGINT sent from outside quit like `q`: the
    # terminal is restored and the client closed. An ignored SIGINT (nohup) stays ignored.
    loop = asyncio.get_running_loop()
    stops = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        stops.append(signal.SIGINT)
    for sig in stops:
        loop.add_signal_handler(sig, app.exit)
    held = HeldUpdates()
    if options.record:
        app.poller.observers.append(held)
    opening = asyncio.create_task(open_record_later(app, held, options, fetch.secrets))
    try:
        await app.run_async(mouse=not options.no_mouse)
    finally:
        for sig in stops:
            loop.remove_signal_handler(sig)
        opening.cancel()
        resume_gc()  # quit within the first second
        await fetch.aclose()
        if options.record and held.recorder is None and held.updates:  # quit before it opened
            held.hand_to(open_record(options, fetch.secrets)[0])
        if held.recorder is not None:
            held.recorder.close()


class HeldUpdates:
    """The poller's observer for the record: the updates polled before the record is open, kept
    with their time, task and label, then handed to the recorder, which gets every later one."""

    def __init__(self) -> None:
        self.updates: list[tuple[float, PollUpdate, Task | None, str | None]] = []
        self.recorder: Recorder | None = None

    def __call__(self, update: PollUpdate) -> None:
        if self.recorder is not None:
            self.recorder.observe(update)
        else:
            self.updates.append((time.time(), update, update.watch.task, update.watch.label))

    def hand_to(self, recorder: Recorder | None) -> None:
        if recorder is None:  # the record cannot be kept: nothing to keep them for
            self.updates.clear()
            return
        for at, update, task, label in self.updates:
            recorder.observe_as_of(at, update, task, label)
        self.updates.clear()
        self.recorder = recorder


async def open_record_later(
    app: BkWatchApp, held: HeldUpdates, options: MonitorOptions, secrets: Sequence[str]
) -> None:
    """Open the record once the first rows are on the screen: its import and the opening of its
    file (tens of ms) are not in the way of the first poll and paint. The garbage collector,
    off since the screen's import (`bkwatch.defer_gc`), is turned back on then too."""
    await asyncio.sleep(RECORD_OPEN_DELAY)
    resume_gc()
    if not options.record:
        return
    recorder, notice = open_record(options, secrets)
    held.hand_to(recorder)
    if recorder is not None:  # from now on the record observes the poller itself
        observers = app.poller.observers
        observers[observers.index(held)] = recorder.observe
    if notice and app.is_running:
        app.warn(notice)
    elif notice:  # not mounted yet: shown with the start-up warnings
        app.notices.append(notice)


def open_record(options: MonitorOptions, secrets: Sequence[str] = ()) -> tuple[Recorder | None, str | None]:
    """The record kept of every poll (unless turned off), and a one-line notice when it had to
    start afresh or cannot be kept: the monitor runs either way."""
    if not options.record:
        return None, None
    import sqlite3  # lazy: only when recording

    from bkwatch.record.db import Limits, RecordError  # lazy: as sqlite3
    from bkwatch.record.recorder import Recorder  # lazy: as sqlite3

    limits = Limits(options.record_days, int(options.record_max_mb * 1024 * 1024))
    try:
        recorder = Recorder(record_dir(options.demo), limits, secrets=secrets)
    except (RecordError, OSError, sqlite3.Error) as exc:
        return None, f"history not kept: {exc}"
    return recorder, recorder.notice


def record_view(options: MonitorOptions) -> RecordView | None:
    """What the screen reads of the record (R replay, H a host's past, a failing host's note)."""
    if not options.record:
        return None
    from bkwatch.cli.record_view import RecordView  # lazy: sqlite3, only when recording

    return RecordView(record_dir(options.demo))


def with_record_config(options: MonitorOptions, profile: Profile | None = None) -> MonitorOptions:
    """The options with the profile's record settings (the demo reads the default profile, and
    a configuration it cannot read changes nothing)."""
    if profile is None:
        from bkwatch.config import load_profile  # lazy: only the demo reads it here

        with contextlib.suppress(Exception):
            profile = load_profile(None)
    if profile is None:
        return options
    return dataclasses.replace(
        options,
        record=options.record and profile.record,
        record_days=profile.record_days,
        record_max_mb=profile.record_max_mb,
    )


def repoll(poller: Poller) -> Callable[[str], None]:
    """Poll one watched task soon (a key no longer watched is ignored): woken, so a paused
    monitor stays paused."""

    def poll_now(key: str) -> None:
        if key in poller.watches:
            poller.wake(key)

    return poll_now


def watch_app(
    profile: Profile,
    store: WatchStore,
    list_name: str,
    options: MonitorOptions,
    make_client: Callable[[], Awaitable[BkClient]] | None = None,
    *,
    poller: Callable[[LazyFetch], Poller] | None = None,
    fetch: LazyFetch | None = None,
    **app_options: Any,
) -> tuple[BkWatchApp, LazyFetch]:
    """The monitor wired to `profile`: what `run_watch` runs, and what tests drive.

    `make_client` defaults to a real client for the profile; `poller` to a default Poller;
    `fetch` to a new one (`run_watch` hands over the one its early polls went through).
    """

    async def make() -> BkClient:
        return new_client(profile)

    secrets = profile.secrets()
    if fetch is None:
        fetch = LazyFetch(make_client or make, secrets)
    if poller is None:
        poller = slim_poller
    notices = [w for w in (check_permissions(config_path()),) if w]
    if options.allow_actions:
        profile.allow_actions = True
    polls = poller(fetch)
    fetch.on_detail = repoll(polls)
    acting = MonitorActions(profile, fetch.open, data_dir=data_dir(), interval=polls.cadence.focused)
    app_options.setdefault("acting", acting)
    app_options.setdefault("record", record_view(options))
    app = BkWatchApp(
        polls,
        store,
        list_name,
        insecure=profile.insecure,
        secrets=secrets,
        notices=notices,
        default_biz=profile.default_biz,
        scopes=followed_scopes(fetch, polls, store, list_name, profile.username),
        evidence=ClientEvidence(fetch),
        **options.app_kwargs(),
        **app_options,
    )
    return app, fetch


def slim_poller(fetch: LazyFetch) -> Poller:
    """The monitor's poller: a followed scope's finished tasks off screen hold their summary."""
    return Poller(fetch, slim_found=True)
