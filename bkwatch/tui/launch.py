"""Start the monitor: on a saved watch list with a real profile, or on the built-in simulator.

No HTTP client exists while the app is built: the client (and with it httpx and the adapters)
is created by the poller's first fetch, which the app starts once mounted. That first fetch is
deliberately not held back until Textual's first paint: its requests then overlap the paint, and
the fetched rows appear sooner. The demo's simulator starts listening in its own thread while the
app is being built.

Secrets stay off every output: poll errors are redacted before the poller keeps them, the log
file's formatter and a filter on the HTTP libraries' loggers redact every record, and the app
gets the profile's secrets for its crash report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from logging.handlers import RotatingFileHandler
from typing import TYPE_CHECKING, Any

from bkwatch.model import BkError, ErrorKind, System
from bkwatch.redact import redact
from bkwatch.store import StoreError, WatchEntry, WatchStore
from bkwatch.tui.app import BkWatchApp

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from bkwatch.client import BkClient
    from bkwatch.config import Profile
    from bkwatch.model import Task
    from bkwatch.poller import Poller
    from bkwatch.sim import Served
    from bkwatch.targets import Target

# Raw states that mean "look at me" in the simulator's task list (JOB 4 = failed).
_BAD_RAW = {"4", "FAILED", "PART_FAILED", "failed"}
_DEMO_PER_SYSTEM = 3
# httpx imports its own command line when click is installed — and uvicorn, which the simulator
# needs, installs it: ~30 ms of start-up for a module bkwatch never uses.
_UNUSED_MODULES = ("httpx._main",)
# Loggers of the HTTP stack: httpx logs every request URL (an ESB GET carries bk_app_secret in
# its query), httpcore its connection steps at DEBUG.
HTTP_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy")
log = logging.getLogger(__name__)


@contextlib.contextmanager
def _hidden(names: tuple[str, ...]) -> Iterator[None]:
    """Make `import name` fail for the duration (a None entry in sys.modules), then restore."""
    added = [n for n in names if n not in sys.modules]
    for n in added:
        sys.modules[n] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for n in added:
            if n in sys.modules and sys.modules[n] is None:
                del sys.modules[n]


def new_client(profile: Profile) -> BkClient:
    """A BkClient, importing httpx without the optional parts bkwatch does not use."""
    with _hidden(_UNUSED_MODULES):
        from bkwatch.client import BkClient

        client = BkClient(profile)
        import httpcore  # noqa: F401  (httpx imports it on first use; keep that inside the guard)
    return client


class LazyFetch:
    """The poller's fetch callable; the HTTP client is made by the first call and reused.

    Errors leave it redacted: the poller shows and keeps their messages, and a server may echo
    a credential back in any spelling (the gateway header's JSON, the ESB query's URL encoding).
    """

    def __init__(self, make_client: Callable[[], Awaitable[BkClient]], secrets: Sequence[str] = ()) -> None:
        self._make = make_client
        self._lock = asyncio.Lock()
        self.client: BkClient | None = None
        self.secrets = [s for s in secrets if s]

    async def __call__(self, target: Target) -> Task:
        from bkwatch.systems import fetch_task

        try:
            client = self.client if self.client is not None else await self._open()
            return await fetch_task(client, target)
        except BkError as exc:
            safe = redact(exc.message, self.secrets)
            if safe != exc.message:
                exc.message, exc.args = safe, (safe,)
            raise
        except Exception as exc:  # an adapter bug: logged here, where its text can be redacted
            log.exception("poll of %s failed unexpectedly", target)
            message = redact(f"unexpected {type(exc).__name__}: {exc}", self.secrets)
            raise BkError(ErrorKind.BAD_RESPONSE, message) from None

    async def _open(self) -> BkClient:
        async with self._lock:  # every first-round poll arrives at once: make one client
            if self.client is None:
                self.client = await self._make()
            return self.client

    async def aclose(self) -> None:
        async with self._lock:
            client, self.client = self.client, None
        if client is not None:
            await client.aclose()


def _app_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "ascii": bool(options.get("ascii")),
        "bell": bool(options.get("bell")),
        "desktop_notify": bool(options.get("desktop_notify")),
    }


async def _run(app: BkWatchApp, fetch: LazyFetch, options: Mapping[str, Any]) -> None:
    # SIGTERM (a service manager, `kill`) and a SIGINT sent from outside quit like `q`: the
    # terminal is restored and the client closed. An ignored SIGINT (nohup) stays ignored.
    loop = asyncio.get_running_loop()
    stops = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        stops.append(signal.SIGINT)
    for sig in stops:
        loop.add_signal_handler(sig, app.exit)
    try:
        await app.run_async(mouse=not options.get("no_mouse"))
    finally:
        for sig in stops:
            loop.remove_signal_handler(sig)
        await fetch.aclose()


def check_ca_bundle(profile: Profile) -> None:
    """The ca_bundle error BkClient would raise, found now, before the screen takes over."""
    if not (profile.verify and profile.ca_bundle):
        return
    import ssl

    try:
        ssl.create_default_context(cafile=profile.ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise BkError(ErrorKind.CONFIG, f"cannot load ca_bundle {profile.ca_bundle}: {exc}") from None


class _ScrubbingFormatter(logging.Formatter):
    """Log lines with every secret of the profile masked, tracebacks included."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


class RedactingFilter(logging.Filter):
    """Redacts a library logger's records before any handler sees them: ours, or one that a
    program embedding bkwatch (or `logging.basicConfig(level=DEBUG)`) has set up."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        safe = redact(message, self.secrets)
        if safe != message:
            record.msg, record.args = safe, None
        return True


def guard_http_logs(secrets: Iterable[str]) -> None:
    """Install (or replace) the redacting filter on the HTTP stack's loggers."""
    redacting = RedactingFilter(secrets)
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(old)
        logger.addFilter(redacting)


class _PrivateLogFile(RotatingFileHandler):
    """Log files (and their rotations) made readable by their owner only, whatever the umask:
    they hold server messages and task URLs."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)  # a file an older version left readable by all
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def log_to_file(secrets: list[str], *, debug: bool = False) -> None:
    """Send bkwatch's log records to `log_dir()/bkwatch.log` while the screen runs: stderr *is*
    the screen, and a stray traceback there would tear the display. With `debug`, DEBUG records
    and the HTTP stack's records (every request URL) go there too, redacted like the rest."""
    from bkwatch.config import log_dir

    handler: logging.Handler
    try:
        directory = log_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = _PrivateLogFile(
            directory / "bkwatch.log", maxBytes=1_000_000, backupCount=2, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(_ScrubbingFormatter(secrets))
    logger = logging.getLogger("bkwatch")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False
    guard_http_logs(secrets)
    if debug:
        for name in HTTP_LOGGERS:
            http_logger = logging.getLogger(name)
            http_logger.handlers[:] = [handler]
            http_logger.setLevel(logging.DEBUG)
            http_logger.propagate = False


def watch_app(
    profile: Profile,
    store: WatchStore,
    list_name: str,
    options: Mapping[str, Any],
    make_client: Callable[[], Awaitable[BkClient]] | None = None,
    *,
    poller: Callable[[LazyFetch], Poller] | None = None,
    **app_options: Any,
) -> tuple[BkWatchApp, LazyFetch]:
    """The monitor wired to `profile`: what `run_watch` runs, and what tests drive.

    `make_client` defaults to a real client for the profile; `poller` to a default Poller.
    """
    from bkwatch.config import check_permissions, config_path

    async def make() -> BkClient:
        return new_client(profile)

    secrets = profile.secrets()
    fetch = LazyFetch(make_client or make, secrets)
    if poller is None:
        from bkwatch.poller import Poller

        poller = Poller
    notices = [w for w in (check_permissions(config_path()),) if w]
    app = BkWatchApp(
        poller(fetch),
        store,
        list_name,
        insecure=profile.insecure,
        secrets=secrets,
        notices=notices,
        **_app_kwargs(options),
        **app_options,
    )
    return app, fetch


def run_watch(profile_name: str | None, list_name: str, options: dict[str, Any]) -> int:
    """Watch a saved list with the real configuration. Returns an exit status."""
    from bkwatch.config import data_dir, load_profile

    try:
        profile = load_profile(profile_name)
        if options.get("insecure"):
            profile.verify = False
        check_ca_bundle(profile)
    except BkError as exc:
        print(f"bkwatch: {exc.message}", file=sys.stderr)
        return 2
    try:
        store = WatchStore(data_dir())
        store.path(list_name)  # validates the list name before the screen takes over
    except StoreError as exc:
        print(f"bkwatch: {exc}", file=sys.stderr)
        return 2
    app, fetch = watch_app(profile, store, list_name, options)
    log_to_file(profile.secrets(), debug=bool(options.get("debug")))
    asyncio.run(_run(app, fetch, options))
    return app.return_code or 0


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
        # Gateway for JOB/SOPS/BKFlow, ESB for NodeMan/GSEKit: both transports in one demo.
        gateways={s: g for s, g in Profile().gateways.items() if s is not System.NODEMAN},
    )


def run_demo(options: dict[str, Any]) -> int:
    """Run against the built-in simulator on loopback; a failing JOB task is shown first."""
    import tempfile
    from pathlib import Path

    from bkwatch.config import data_dir
    from bkwatch.poller import Poller
    from bkwatch.sim import SimConfig, Simulator

    # An older GSEKit (every job_tasks row without ids) so the demo shows per-task reasons and
    # solutions; against a current GSEKit the pane shows its status counts instead.
    sim = Simulator(
        SimConfig(
            seed=int(options.get("seed") or 1),
            speed=float(options.get("speed") or 1.0),
            gsekit_rows_without_ids=True,
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

        async def make() -> BkClient:
            try:
                served = await asyncio.to_thread(serving.served)
            except OSError as exc:
                raise BkError(ErrorKind.NETWORK, f"the built-in simulator did not start: {exc}") from None
            return new_client(demo_profile(served.base_url))

        fetch = LazyFetch(make)
        app = BkWatchApp(Poller(fetch), store, "demo", select=select, **_app_kwargs(options))
        log_to_file([], debug=bool(options.get("debug")))  # the simulator's credentials are public
        asyncio.run(_run(app, fetch, options))
        code = app.return_code or 0  # 1 after a crash
    finally:
        serving.close()
    return code
