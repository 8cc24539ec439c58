"""No secret on any output: screens, crash reports, logs, CLI output, files, a real terminal.

The known secrets are the simulator's demo credentials (accepted, so every screen has data) and
canaries (rejected: they drive the auth error paths and a server that echoes credentials back).
Each is searched in every spelling it could leak in (as is, JSON-escaped, URL-encoded, repr,
HTML-escaped, base64 at each alignment, any fragment of a canary) and so are the exact gateway
header values the client put on the wire, and their base64.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import logging
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus

import httpx
import pytest
from textual.pilot import Pilot

from bkwatch import cli
from bkwatch.cli.demo import demo_profile
from bkwatch.cli.run import LazyFetch, MonitorOptions, watch_app
from bkwatch.client import BkClient
from bkwatch.config import Profile
from bkwatch.logfile import HTTP_LOGGERS, log_to_file
from bkwatch.model import System
from bkwatch.poller import Cadence, Poller
from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_TOKEN, DEMO_USERNAME, FAULT_KINDS
from bkwatch.sim.server import serve
from bkwatch.store import WatchEntry, WatchStore
from bkwatch.systems.adapters import ADAPTERS
from bkwatch.tui.app import BkWatchApp
from tests.conftest import isolate
from tests.harness import BAD_RAW, FIXED_NOW, frozen_sim, notifications

REPO = Path(__file__).resolve().parent.parent
SIZE = (160, 48)
CANARY_SECRET = f'leak-canary-{secrets.token_hex(6)} "q"&+/=\'x'  # every character an encoding changes
CANARY_TOKEN = f"leak-canary-tok-{secrets.token_hex(6)}"
_ESCAPES = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
TOTALS: Counter[str] = Counter()  # what was searched, for the counts (printed with -s)


# -- searching ---------------------------------------------------------------------------------


def spellings(secret: str) -> set[bytes]:
    raw = secret.encode()
    forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote(secret), quote_plus(secret)}
    forms |= {repr(secret)[1:-1], html.escape(secret)}
    out = {f.encode() for f in forms}
    for shift in range(3):  # base64 of a value holding the secret: the chars only it decides
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + raw)
            out.add(encoded[-(-8 * shift // 6) : 8 * (shift + len(raw)) // 6])
    if secret.startswith("leak-canary"):
        out.add(b"leak-canary")  # any piece of a canary: a truncated secret leaks too
    return out


@dataclass
class Search:
    needles: dict[bytes, str] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)

    def secret(self, label: str, value: str) -> Search:
        for form in spellings(value):
            self.needles.setdefault(form, label)
        TOTALS["spellings"] = max(TOTALS["spellings"], len(self.needles))
        return self

    def wire(self, values: set[str]) -> None:
        """Header values the client sent, as sent and in base64."""
        for value in values:
            for form in (value.encode(), base64.b64encode(value.encode())):
                self.needles.setdefault(form, "the X-Bkapi-Authorization header")

    def scan(self, where: str, data: str | bytes, *, kind: str = "text") -> None:
        blob = data.encode() if isinstance(data, str) else data
        TOTALS[f"{kind} outputs"] += 1
        TOTALS[f"{kind} bytes"] += len(blob)
        plain = _ESCAPES.sub(b"", blob)
        for needle, label in self.needles.items():
            if needle in blob or needle in plain:
                self.found.append(f"{label} as {needle[:40]!r} in {where}")

    def scan_files(self, root: Path) -> None:
        """Every file under `root` but config.toml, where the user put the secret themselves."""
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "config.toml"):
            self.scan(str(path.relative_to(root)), path.read_bytes(), kind="file")

    def scan_screen(self, app: BkWatchApp, where: str) -> None:
        svg = app.export_screenshot()
        self.scan(where, svg, kind="screen")
        self.scan(where, screen_text(svg), kind="screen text")
        for note in notifications(app):
            self.scan(f"{where}: toast", f"{note.title}\n{note.message}", kind="toast")
        self.scan(f"{where}: title and desktop notices", "\n".join([app.signals.title, *app.signals.sent]))

    def assert_clean(self) -> None:
        assert not self.found, "\n".join(sorted(set(self.found)))


def screen_text(svg: str) -> str:
    """The characters of an exported screen, row by row (runs of one row joined)."""
    rows: dict[float, list[str]] = {}
    for y, content in re.findall(r'<text[^>]*\by="([\d.]+)"[^>]*>(.*?)</text>', svg, re.S):
        rows.setdefault(float(y), []).append(html.unescape(content))
    return "\n".join("".join(parts) for _, parts in sorted(rows.items())).replace("\xa0", " ")


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    print("\nsecrets search:", ", ".join(f"{k}: {v}" for k, v in sorted(TOTALS.items())))


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate(tmp_path, monkeypatch)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    names = ("", "bkwatch", *HTTP_LOGGERS)
    loggers = {name: logging.getLogger(name) for name in names}
    saved = {n: (lg.handlers[:], lg.filters[:], lg.level, lg.propagate) for n, lg in loggers.items()}
    yield
    for name, (handlers, filters, level, propagate) in saved.items():
        logger = loggers[name]
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers[:], logger.filters[:] = handlers, filters
        logger.setLevel(level)
        logger.propagate = propagate


# -- servers -------------------------------------------------------------------------------------


def recording(asgi: Any, wire: set[str]) -> Any:
    """`asgi`, noting every X-Bkapi-Authorization header value it receives."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            wire.update(v.decode() for k, v in scope["headers"] if k == b"x-bkapi-authorization")
        await asgi(scope, receive, send)

    return app


def echoing(pad: int = 0) -> Any:
    """A server that rejects every call and quotes the credentials it got in its error: the
    secret decoded, the query string as sent (URL-encoded) or the gateway header (JSON). `pad`
    characters first put the secret where the client cuts long messages."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        query = scope["query_string"].decode()
        header = dict(scope["headers"]).get(b"x-bkapi-authorization", b"").decode()
        body = b""
        while (event := await receive())["type"] == "http.request":
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        if header:
            sent, echoed = json.loads(header), f"header {header}"
        elif b"bk_app_secret" in body:  # an ESB POST: credentials in the JSON body
            sent, echoed = json.loads(body), f"body {body.decode()}"
        else:
            sent, echoed = {k: v[0] for k, v in parse_qs(query).items()}, f"query {query}"
        message = "-" * pad + f"APP Secret [{sent.get('bk_app_secret', '')}] verification failed; {echoed}"
        answer = json.dumps({"result": False, "code": 1306000, "message": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    return app


def profile_for(base_url: str, secret: str = DEMO_APP_SECRET, token: str = DEMO_TOKEN, **kw: Any) -> Profile:
    """The demo's profile (gateway for JOB/SOPS/BKFlow, ESB for NodeMan/GSEKit: both ways
    credentials travel) with the secrets under test."""
    return dataclasses.replace(demo_profile(base_url), name="leakcheck", app_secret=secret, token=token, **kw)


# -- the app ------------------------------------------------------------------------------------

SLOW = Cadence(focused=1e6, young=1e6, active=1e6, waiting=1e6, finished=1e6, unknown=1e6, jitter=0)


@dataclass
class Rig:
    app: BkWatchApp
    fetch: LazyFetch
    targets: list[str]

    async def poll(self, pilot: Pilot[None]) -> None:
        await self.app.poller.poll_all()
        await pilot.pause()
        await pilot.pause()


def make_rig(profile: Profile, targets: list[str], **options: Any) -> Rig:
    """The monitor as `run_watch` wires it (real client, real sockets), polling only on demand."""
    from bkwatch.config import data_dir

    store = WatchStore(data_dir())
    store.add([WatchEntry(t, None, FIXED_NOW) for t in targets], "leaks")
    app, fetch = watch_app(
        profile,
        store,
        "leaks",
        MonitorOptions(desktop_notify=True, **options),
        poller=lambda f: Poller(f, cadence=SLOW, clock=lambda: FIXED_NOW),
        clock=lambda: FIXED_NOW,
        start_polling=False,
    )
    app.theme = "textual-dark"
    return Rig(app, fetch, targets)


Step = Callable[[Pilot[None]], Awaitable[None]]


def keys(*pressed: str) -> Step:
    async def step(pilot: Pilot[None]) -> None:
        for key in pressed:
            await pilot.press(key)
        await pilot.pause()
        await pilot.pause()  # a second frame: a pane whose height changed is laid out again

    return step


async def _screens(rig: Rig, pilot: Pilot[None], search: Search, where: str, *, dialogs: bool = True) -> None:
    """The overview, each system's pane, and every dialog, searched."""
    app = rig.app
    search.scan_screen(app, f"{where}: overview")
    for system in System:
        bad = [t for t in rig.targets if t.startswith(f"{system}:")]
        app.select(bad[0])
        await keys("n")(pilot)
        search.scan_screen(app, f"{where}: {system} pane")
    if not dialogs:
        return
    for name, step in (
        ("help", keys("question_mark")),
        ("add dialog", keys("a", *"job:2")),
        ("remove dialog", keys("d")),
        ("command palette", keys("ctrl+p", *"Re")),
        ("filter", keys("slash", *"10")),
    ):
        await step(pilot)
        search.scan_screen(app, f"{where}: {name}")
        await keys("escape", "escape")(pilot)


def sim_targets(sim: Any, per_system: int = 2) -> list[str]:
    """A few tasks of each system, failing ones first: each pane then has failures to walk."""
    tasks = sorted(sim.world.tasks(), key=lambda t: t.state not in BAD_RAW)
    return [t.target for s in System for t in [t for t in tasks if t.system == str(s)][:per_system]]


async def test_screens_hold_no_secret_in_any_state_or_fault(restore_logging: None, isolated: Path) -> None:
    sim = frozen_sim()
    wire: set[str] = set()
    search = Search().secret("app secret", DEMO_APP_SECRET).secret("token", DEMO_TOKEN)
    with serve(recording(sim.app, wire)) as server:
        profile = profile_for(server.base_url, timeout=0.5)
        rig = make_rig(profile, sim_targets(sim))
        log_to_file(profile.secrets(), debug=True)
        async with aclosing(rig.fetch), rig.app.run_test(size=SIZE, notifications=True) as pilot:
            await rig.poll(pilot)
            assert all(w.task is not None and w.error is None for w in rig.app.poller.watches.values())
            await _screens(rig, pilot, search, "ok")
            for info in sim.world.tasks():  # a JOB task fails: a toast, a desktop notice, a new title
                if info.target in rig.targets and info.system == "job" and info.state not in BAD_RAW:
                    sim.world.force(info.target, 4)
            await rig.poll(pilot)
            assert rig.app.signals.sent, "desktop notices were sent"
            search.scan_screen(rig.app, "after transitions")
            systems = list(System)
            for start in range(0, len(FAULT_KINDS), len(systems)):  # one fault per system a round
                round_kinds = FAULT_KINDS[start : start + len(systems)]
                for system, kind in zip(systems, round_kinds, strict=False):
                    sim.faults.set(kind, route=str(system), delay=1.0, size=200_000)
                    TOTALS[f"fault {kind}"] += 1
                await rig.poll(pilot)
                errors = {str(w.error.kind) for w in rig.app.poller.watches.values() if w.error}
                assert errors, round_kinds
                search.scan_screen(rig.app, f"faults {', '.join(round_kinds)} ({', '.join(sorted(errors))})")
                sim.faults.clear()
            for what, change in (
                ("ESB only", {"apigw_tmpl": None}),  # ESB calls carry the header too
                (
                    "network error",
                    {"esb_url": "http://127.0.0.1:9", "apigw_tmpl": "http://127.0.0.1:9/{api_name}"},
                ),
                ("config error", {"apigw_tmpl": None, "app_code": None}),
            ):
                saved = {k: getattr(profile, k) for k in change}
                for key, value in change.items():
                    setattr(profile, key, value)
                await rig.poll(pilot)
                errors = {str(w.error.kind) for w in rig.app.poller.watches.values() if w.error}
                assert what.split()[0] in errors or what == "ESB only"
                search.scan_screen(rig.app, what)
                for key, value in saved.items():
                    setattr(profile, key, value)
    assert wire, "the gateway header was sent"
    search.wire(wire)
    for handler in logging.getLogger("bkwatch").handlers:
        handler.flush()
    log_text = (isolated / "xdg_state_home" / "bkwatch" / "log" / "bkwatch.log").read_text()
    assert "HTTP Request: GET" in log_text  # URLs were logged, and none carries a credential
    assert "bk_app_secret=" not in log_text and "bk_token=" not in log_text
    search.scan_files(isolated)
    search.assert_clean()


async def test_rejected_and_echoed_credentials_never_reach_screen_or_log(
    restore_logging: None, isolated: Path
) -> None:
    """A wrong secret (auth errors), then a server quoting the credentials it got back in its
    error message: as decoded, URL-encoded (ESB query) and JSON-escaped (gateway header)."""
    sim = frozen_sim()
    wire: set[str] = set()
    search = Search().secret("canary secret", CANARY_SECRET).secret("canary token", CANARY_TOKEN)
    with serve(recording(sim.app, wire)) as real, serve(recording(echoing(), wire)) as echo:
        profile = profile_for(real.base_url, CANARY_SECRET, CANARY_TOKEN)
        rig = make_rig(profile, sim_targets(sim, per_system=1))
        log_to_file(profile.secrets(), debug=True)
        async with aclosing(rig.fetch), rig.app.run_test(size=SIZE, notifications=True) as pilot:
            await rig.poll(pilot)
            kinds = {str(w.error.kind) for w in rig.app.poller.watches.values() if w.error}
            assert kinds == {"auth"}
            await _screens(rig, pilot, search, "rejected", dialogs=False)  # they show no poll errors
            for transport, changes in (
                ("gateway", {"esb_url": echo.base_url, "apigw_tmpl": echo.apigw_tmpl}),
                ("ESB", {"esb_url": echo.base_url, "apigw_tmpl": None}),
            ):
                for key, value in changes.items():
                    setattr(profile, key, value)
                await rig.poll(pilot)
                messages = [w.error.message for w in rig.app.poller.watches.values() if w.error]
                assert any("verification failed" in m for m in messages), messages
                assert any("****" in m for m in messages), "something was echoed and masked"
                for key in rig.targets:
                    rig.app.select(key)
                    await pilot.pause()
                    search.scan_screen(rig.app, f"echoed over the {transport}: {key}")
                search.scan("poll errors", "\n".join(messages))
    search.wire(wire)
    for handler in logging.getLogger("bkwatch").handlers:
        handler.flush()
    search.scan_files(isolated)
    search.assert_clean()


# -- the command line ---------------------------------------------------------------------------


@dataclass
class Cli:
    capsys: pytest.CaptureFixture[str]
    search: Search
    codes: dict[str, int] = field(default_factory=dict)

    def __call__(self, *argv: str, where: str = "") -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out, err = self.capsys.readouterr()
        label = f"bkwatch {' '.join(argv)} {where}".strip()
        self.codes[label] = code
        self.search.scan(f"{label}: stdout", out, kind="cli")
        self.search.scan(f"{label}: stderr", err, kind="cli")
        return code, out, err


def write_config(path: Path, **values: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())  # JSON strings are TOML strings
    path.write_text(f'default_profile = "prod"\n\n[profiles.prod]\n{body}')
    path.chmod(0o600)


def set_env(monkeypatch: pytest.MonkeyPatch, base_url: str | None, **values: str) -> None:
    if base_url is not None:
        monkeypatch.setenv("BK_COMPONENT_API_URL", base_url)
        monkeypatch.setenv("BK_API_URL_TMPL", base_url + "/api/{api_name}")
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def test_cli_output_and_errors_hold_no_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    from bkwatch.config import config_path

    sim = frozen_sim()
    search = Search().secret("app secret", DEMO_APP_SECRET).secret("token", DEMO_TOKEN)
    search.secret("canary secret", CANARY_SECRET).secret("canary token", CANARY_TOKEN)
    run = Cli(capsys, search)
    # The secrets in the config file, the addresses in the environment.
    write_config(config_path(), app_code=DEMO_APP_CODE, app_secret=DEMO_APP_SECRET, token=DEMO_TOKEN)
    targets = sim_targets(sim, per_system=1)
    finished = next(t.target for t in sim.world.tasks() if t.state in BAD_RAW)
    running = next(t.target for t in sim.world.tasks() if t.system == "job" and t.state == "2")
    with serve(sim.app) as server:
        set_env(monkeypatch, server.base_url)
        assert run("add", *targets)[0] == 0
        for argv in (["ls"], ["ls", "--json"], ["status"], ["status", "--json"], ["config", "show"]):
            assert run(*argv)[0] in (0, 1)
        assert "sim-" not in run("status", "--json")[1]
        run("wait", finished, "--json")
        run("wait", running, "--json", "--timeout", "0.3", "--interval", "0.1")
        run("--insecure", "status", finished)
        run("config", "path")
        # Rejected credentials from the environment, over the configured ones.
        set_env(monkeypatch, None, BK_APP_SECRET=CANARY_SECRET, BK_TOKEN=CANARY_TOKEN)
        code, out, _ = run("status", "--json", where="(rejected)")
        assert code == 2 and {t["error"]["kind"] for t in json.loads(out)["tasks"]} == {"auth"}
        run("status", where="(rejected)")
        run("wait", running, "--json", "--timeout", "1", where="(rejected)")
        run("config", "show", where="(rejected)")
    set_env(monkeypatch, "http://127.0.0.1:9")
    code, out, _ = run("status", "--json", where="(no server)")
    assert {t["error"]["kind"] for t in json.loads(out)["tasks"]} == {"network"}
    config_path().write_text(config_path().read_text() + "timeout = 'soon'\n")
    assert run("status", where="(bad config)")[0] == 2
    run("rm", targets[0])
    run("config", "init", where="(exists)")
    assert set(run.codes.values()) <= {0, 1, 2}
    search.scan_files(isolated)
    search.assert_clean()


@pytest.mark.timeout(60)
def test_cli_processes_hold_no_secret(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    """Real processes: `bkwatch status --json` and `bkwatch sim`, with the user's (rejected)
    credentials in the environment. The simulator prints its own demo credentials by design."""
    import signal
    import subprocess

    from benchmarks.tuiproc import bkwatch_argv
    from tests.procs import spawned

    sim = frozen_sim()
    search = Search().secret("canary secret", CANARY_SECRET).secret("canary token", CANARY_TOKEN)
    set_env(monkeypatch, None, BK_APP_CODE=DEMO_APP_CODE, BK_APP_SECRET=CANARY_SECRET, BK_TOKEN=CANARY_TOKEN)
    with serve(sim.app) as server:
        set_env(monkeypatch, server.base_url)
        done = subprocess.run(
            [*bkwatch_argv(), "status", "--json", *sim_targets(sim, per_system=1)],
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2 and b'"auth"' in done.stdout
    search.scan("bkwatch status --json (process): stdout", done.stdout, kind="process")
    search.scan("bkwatch status --json (process): stderr", done.stderr, kind="process")
    # SIGTERM, not SIGINT: a background shell starts its children with SIGINT ignored.
    argv = [*bkwatch_argv(), "sim", "--port", "0", "--frozen"]
    with spawned(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err  # stopped cleanly, not killed by the signal
    assert lines[-1].startswith(b"Ctrl-C to stop") and DEMO_APP_SECRET.encode() in b"".join(lines)
    search.scan("bkwatch sim (process)", b"".join(lines) + out + err, kind="process")
    search.scan_files(isolated)
    search.assert_clean()


def test_cli_errors_quoting_credentials_hold_no_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server echoing the credentials, over the gateway and the ESB, and at the cut."""
    search = Search().secret("canary secret", CANARY_SECRET).secret("canary token", CANARY_TOKEN)
    run = Cli(capsys, search)
    set_env(monkeypatch, None, BK_APP_CODE=DEMO_APP_CODE, BK_APP_SECRET=CANARY_SECRET, BK_TOKEN=CANARY_TOKEN)
    targets = ("job:2:1", "sops:2:1", "nodeman:2:1", "gsekit:2:1")
    with serve(echoing()) as echo, serve(echoing(pad=274)) as cut:
        for server, where in ((echo, "echo"), (cut, "echo at the cut")):
            set_env(monkeypatch, server.base_url)
            code, out, _ = run("status", "--json", *targets, where=f"({where})")
            assert code == 2 and out.count("APP Secret [") == len(targets)
            monkeypatch.delenv("BK_API_URL_TMPL")
            code, out, _ = run("status", *targets[:2], where=f"({where}, ESB)")
            assert code == 2 and out.count("APP Secret [") == 2
    search.assert_clean()


def test_cli_unexpected_errors_hold_no_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An adapter bug, and a crash of a command, whose messages carry a request URL."""
    import bkwatch.cli.query

    search = Search().secret("canary secret", CANARY_SECRET)
    run = Cli(capsys, search)
    set_env(monkeypatch, "http://127.0.0.1:9", BK_APP_CODE=DEMO_APP_CODE, BK_APP_SECRET=CANARY_SECRET)
    monkeypatch.setenv("BK_USERNAME", DEMO_USERNAME)
    url = f"http://127.0.0.1:9/api/c/compapi/v2/jobv3/x/?bk_app_secret={quote_plus(CANARY_SECRET)}"

    async def broken_adapter(client: BkClient, target: Any) -> Any:
        raise ValueError(f"cannot parse the answer of {url} for {client.profile.app_secret}")

    for system in System:
        monkeypatch.setitem(ADAPTERS, system, replace(ADAPTERS[system], fetch=broken_adapter))
    code, out, _ = run("status", "--json", "job:2:1")
    assert code == 2 and "unexpected ValueError" in out

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"request to {url} failed")

    monkeypatch.setattr(bkwatch.cli.query, "fetch_many", crash)
    for debug in ([], ["--debug"]):
        code, _, err = run(*debug, "status", "job:2:1")
        assert code == 2 and "RuntimeError" in err
    search.assert_clean()


# -- crash reports and logs ---------------------------------------------------------------------


async def test_crash_report_shows_no_variables_and_no_secret(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    """Textual's own report shows every frame's variables (a request's headers and query here);
    the app's shows the trace and a redacted message only."""
    sim = frozen_sim()
    search = Search().secret("app secret", DEMO_APP_SECRET).secret("token", DEMO_TOKEN)
    with serve(sim.app) as server:
        profile = profile_for(server.base_url)
        rig = make_rig(profile, sim_targets(sim, per_system=1))

        def refresh_holding_credentials() -> None:
            client = rig.fetch.client
            assert client is not None
            headers = client._auth()[1]  # the gateway header the client sends
            query = {"bk_app_code": profile.app_code, "bk_app_secret": profile.app_secret}
            request = httpx.Request(
                "GET", server.base_url + "/api/c/compapi/v2/x/", params=query, headers=headers
            )
            raise RuntimeError(f"cannot refresh {request.url} as {profile.token}")

        rig.app.action_refresh = refresh_holding_credentials  # type: ignore[method-assign]
        with pytest.raises(RuntimeError, match="cannot refresh"):
            async with aclosing(rig.fetch), rig.app.run_test(size=SIZE) as pilot:
                await rig.poll(pilot)
                await pilot.press("r")
                await pilot.pause()
    report = capsys.readouterr().err
    assert "refresh_holding_credentials" in report and "RuntimeError: cannot refresh" in report
    assert rig.app.return_code == 1
    search.scan("crash report", report)
    search.scan("crash report, unwrapped", re.sub(r"[\s│╭╮╰╯─]+", "", report))  # a value split over lines
    search.assert_clean()


async def test_logs_are_redacted_at_debug_and_after_adapter_bugs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, restore_logging: None, isolated: Path
) -> None:
    """httpx logs every request URL at INFO, and an ESB GET has bk_app_secret in its query:
    whatever handler the records reach (a program's own DEBUG logging, our log file) gets them
    redacted. An adapter bug quoting a request URL is logged and shown redacted too."""
    from bkwatch.model import BkError
    from bkwatch.targets import parse_target

    sim = frozen_sim()
    search = Search().secret("canary secret", CANARY_SECRET).secret("canary token", CANARY_TOKEN)
    caplog.set_level(logging.DEBUG)
    with serve(sim.app) as server:
        profile = profile_for(server.base_url, CANARY_SECRET, CANARY_TOKEN)
        profile.apigw_tmpl = None  # ESB only: credentials in the header, never in the query
        rig = make_rig(profile, sim_targets(sim, per_system=1))
        try:
            log_to_file(profile.secrets())  # as run_watch does: it also guards the HTTP loggers
            for target in rig.targets[:2]:
                with pytest.raises(BkError, match="verification failed"):
                    await rig.fetch(parse_target(target))
            log_to_file(profile.secrets(), debug=True)  # --debug: HTTP records into the log file too
            for target in rig.targets:
                with pytest.raises(BkError):
                    await rig.fetch(parse_target(target))
            url = httpx.URL(
                server.base_url, params={"bk_app_secret": CANARY_SECRET, "bk_token": CANARY_TOKEN}
            )

            async def adapter_bug(client: BkClient, target: Any) -> Any:
                raise ValueError(f"cannot read the answer of {url} ({client.profile.app_secret!r})")

            for system in System:
                monkeypatch.setitem(ADAPTERS, system, replace(ADAPTERS[system], fetch=adapter_bug))
            with pytest.raises(BkError, match="unexpected ValueError") as bug:
                await rig.fetch(parse_target(rig.targets[0]))
            search.scan("adapter bug as shown", bug.value.message)
        finally:
            await rig.fetch.aclose()
    for handler in logging.getLogger("bkwatch").handlers:
        handler.flush()
    log_text = (isolated / "xdg_state_home" / "bkwatch" / "log" / "bkwatch.log").read_text()
    search.scan("the program's DEBUG log", caplog.text)
    search.scan_files(isolated)
    search.assert_clean()
    requests = [line for line in caplog.text.splitlines() if "HTTP Request:" in line]
    assert any("HTTP Request: GET" in line for line in requests)  # the URLs were logged,
    assert not any("bk_app_secret" in line or "bk_token" in line for line in requests)  # clean
    assert "bk_app_secret=****" in log_text  # the adapter bug's URL, redacted
    assert "ValueError: cannot read the answer" in log_text  # the bug's traceback, redacted


# -- a real terminal ----------------------------------------------------------------------------


def _pty_run(env: dict[str, str], argv: list[str], marker: bytes, keys: list[bytes]) -> bytes:
    from benchmarks.ptyrun import PtySession
    from benchmarks.tuiproc import bkwatch_argv

    with PtySession([*bkwatch_argv(), *argv], env=env) as session:
        assert session.wait_for(marker, timeout=60), bytes(session.output[-2000:])
        for key in keys:
            session.send(key)
            # A lone escape is read as Escape only after the terminal's escape delay; a key sent
            # sooner joins it (alt+q instead of q on a busy machine).
            session.read_for(0.5 if key == b"\x1b" else 0.15)
        session.send(b"q")
        deadline = time.monotonic() + 20
        while not session.exited and time.monotonic() < deadline:
            session.read_for(0.2)
        assert session.exited, "q quits"
        return bytes(session.output)


def test_real_terminal_runs_write_no_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    """`bkwatch` in a pseudo-terminal with the secret in the environment and the config file;
    then with rejected ones and --debug. Every byte written, and every file left, searched."""
    from bkwatch.config import config_path
    from bkwatch.sim import SimConfig, Simulator

    sim = Simulator(SimConfig(seed=1, frozen=True))
    search = Search().secret("app secret", DEMO_APP_SECRET).secret("token", DEMO_TOKEN)
    search.secret("canary secret", CANARY_SECRET).secret("canary token", CANARY_TOKEN)
    write_config(config_path(), app_code=DEMO_APP_CODE, app_secret=DEMO_APP_SECRET, token=DEMO_TOKEN)
    dialogs = [b"?", b"\x1b", b"a", b"job", b"\x1b", b"\x10", b"\x1b", b"n", b"\t"]
    with serve(sim.app) as server:
        set_env(monkeypatch, server.base_url, BK_APP_SECRET=DEMO_APP_SECRET, BK_TOKEN=DEMO_TOKEN)
        assert cli.main(["add", *sim_targets(sim, per_system=1)]) == 0
        env = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "BK_"))}
        accepted = _pty_run(env, [], b"failed", dialogs)  # in the status line once polled
        search.scan("terminal (accepted)", accepted, kind="terminal")
        env |= {"BK_APP_SECRET": CANARY_SECRET, "BK_TOKEN": CANARY_TOKEN}
        rejected = _pty_run(env, ["--debug"], b"auth", dialogs)
        search.scan("terminal (rejected, --debug)", rejected, kind="terminal")
    capsys.readouterr()
    log_file = isolated / "xdg_state_home" / "bkwatch" / "log" / "bkwatch.log"
    assert "HTTP Request" in log_file.read_text()  # --debug logged every request
    search.scan_files(isolated)
    search.assert_clean()


def test_snapshots_and_screenshots_hold_no_secret() -> None:
    search = Search().secret("app secret", DEMO_APP_SECRET).secret("token", DEMO_TOKEN)
    for folder in (REPO / "tests" / "__snapshots__", REPO / "screenshots"):
        files = [p for p in folder.rglob("*") if p.is_file()]
        assert files, folder
        for path in files:
            search.scan(str(path.relative_to(REPO)), path.read_bytes(), kind="repo file")
    search.assert_clean()


# -- the record ----------------------------------------------------------------------------------


def as_502(asgi: Any) -> Any:
    """`asgi` with every answer turned into a 502 page quoting it: a SERVER outage whose text holds
    the credentials (the record keeps outages with their message)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def send_502(event: dict[str, Any]) -> None:
            if event["type"] == "http.response.start":
                event = {**event, "status": 502, "headers": [(b"content-type", b"text/plain")]}
            elif event["type"] == "http.response.body":
                event = {**event, "body": b"Bad gateway: upstream said " + event.get("body", b"")}
            await send(event)

        await asgi(scope, receive, send_502)

    return app


async def test_the_record_and_its_reports_hold_no_secret(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bkwatch.config import data_dir
    from bkwatch.record.recorder import Recorder
    from bkwatch.record.render import html_page, markdown
    from bkwatch.record.story import load
    from bkwatch.systems.adapters import fetch_task
    from bkwatch.targets import parse_target

    sim = frozen_sim()
    wire: set[str] = set()
    search = (
        Search()
        .secret("app secret", DEMO_APP_SECRET)
        .secret("token", DEMO_TOKEN)
        .secret("canary secret", CANARY_SECRET)
        .secret("canary token", CANARY_TOKEN)
    )
    targets = sim_targets(sim)
    with serve(recording(sim.app, wire)) as real, serve(as_502(echoing())) as echo:
        profile = profile_for(real.base_url, timeout=0.5)
        client = BkClient(profile)
        poller = Poller(lambda t: fetch_task(client, t), cadence=SLOW, clock=lambda: FIXED_NOW)
        recorder = Recorder(data_dir(), secrets=[*profile.secrets(), CANARY_SECRET, CANARY_TOKEN])
        poller.observers.append(recorder.observe)
        for t in targets:
            poller.add(parse_target(t))
        try:
            await poller.poll_all()
            for info in sim.world.tasks():  # failures with their texts and codes
                if info.target in targets and info.system == "job" and info.state not in BAD_RAW:
                    sim.world.force(info.target, 4)
            await poller.poll_all()
            for kind in ("http_500", "http_502", "html", "truncated"):
                sim.faults.set(kind, size=200_000)
                await poller.poll_all()
                sim.faults.clear()
                await poller.poll_all()
            canary = profile_for(echo.base_url, secret=CANARY_SECRET, token=CANARY_TOKEN, timeout=0.5)
            await client.aclose()
            client = BkClient(canary)
            updates = await poller.poll_all()
            kinds = {str(u.error.kind) if u.error else None for u in updates}
            assert "server" in kinds and None not in kinds, kinds
        finally:
            await client.aclose()
            recorder.flush()
            recorder.close()
    import sqlite3

    from bkwatch.record.db import db_path

    conn = sqlite3.connect(db_path(data_dir()))
    try:
        outages = conn.execute("SELECT count(*) FROM outages").fetchone()[0]
        failures = conn.execute("SELECT count(*) FROM failures").fetchone()[0]
        assert outages >= len(targets) and failures > 0
        for target in targets:
            story = load(conn, target)
            assert story is not None
            search.scan(f"report of {target}", markdown(story))
            search.scan(f"html report of {target}", html_page(story))
        # The replay's whole snapshots are compressed in the file (its deltas are JSON): searched
        # as they are read back.
        import zlib

        snapshots = conn.execute("SELECT target, data FROM snapshots").fetchall()
        assert len(snapshots) >= len(targets)
        for target, data in snapshots:
            text = data if data[:1] == b"{" else zlib.decompress(data)
            search.scan(f"snapshot of {target}", text.decode())
    finally:
        conn.close()
    files = list(data_dir().glob("record.sqlite3*"))
    assert files
    for path in files:
        search.scan(path.name, path.read_bytes(), kind="file")
    search.assert_clean()
