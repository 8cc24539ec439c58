"""Trust: config files only their owner can read, a warning when others can, TLS verified by
default (a self-signed server is refused), and the insecure switch on every screen while on."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bkwatch import cli
from bkwatch.client import BkClient, TrustOnFirstHandshake
from bkwatch.config import Profile, config_path, load_profile
from bkwatch.model import BkError, ErrorKind
from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_TOKEN
from bkwatch.sim.server import serve
from bkwatch.systems.adapters import fetch_task
from bkwatch.targets import parse_target
from bkwatch.tui.app import BkWatchApp
from bkwatch.tui.widgets.trust import INSECURE_BADGE
from tests.harness import frozen_sim, notifications
from tests.test_secrets import (  # noqa: F401  (fixtures: isolated is autouse, restore_logging)
    SIZE,
    _pty_run,
    isolated,
    keys,
    make_rig,
    profile_for,
    restore_logging,
    screen_text,
    set_env,
    sim_targets,
    write_config,
)

BADGE = INSECURE_BADGE.strip()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


# -- config files -------------------------------------------------------------------------------


def test_config_files_are_owner_only_whatever_the_umask(capsys: pytest.CaptureFixture[str]) -> None:
    path = config_path()
    with umask(0):  # a umask that would leave new files world-writable
        assert cli.main(["config", "init"]) == 0
        assert "mode 600" in capsys.readouterr().out
        assert (mode(path), mode(path.parent)) == (0o600, 0o700)


@pytest.mark.usefixtures("restore_logging")
def test_the_log_file_is_owner_only_whatever_the_umask() -> None:
    import logging

    from bkwatch.config import log_dir
    from bkwatch.logfile import log_to_file

    with umask(0):
        log_dir().mkdir(parents=True)
        (log_dir() / "bkwatch.log").write_text("from an older version\n")
        (log_dir() / "bkwatch.log").chmod(0o644)
        log_to_file(["s3cr3t"])
        logging.getLogger("bkwatch.test").warning("a line")
    assert mode(log_dir() / "bkwatch.log") == 0o600
    assert "a line" in (log_dir() / "bkwatch.log").read_text()


def _warned(app: BkWatchApp) -> bool:
    toasts = any("chmod 600" in n.message and n.severity == "warning" for n in notifications(app))
    logged = any("chmod 600" in line for line in app.log_view.entries)
    return toasts and logged


@pytest.mark.usefixtures("restore_logging")
async def test_config_readable_by_others_is_warned_in_the_monitor() -> None:
    sim = frozen_sim()
    write_config(config_path(), app_code=DEMO_APP_CODE, app_secret=DEMO_APP_SECRET)
    with serve(sim.app) as server:
        for file_mode, expected in ((0o640, True), (0o604, True), (0o600, False)):
            config_path().chmod(file_mode)
            rig = make_rig(profile_for(server.base_url), sim_targets(sim, per_system=1))
            async with aclosing(rig.fetch), rig.app.run_test(size=SIZE, notifications=True) as pilot:
                await pilot.pause()
                assert _warned(rig.app) is expected, oct(file_mode)
                text = screen_text(rig.app.export_screenshot())
                assert ("chmod 600" in text) is expected  # the toast and the log line are on screen


def test_config_readable_by_others_is_warned_by_config_show(capsys: pytest.CaptureFixture[str]) -> None:
    write_config(config_path(), app_code=DEMO_APP_CODE, app_secret=DEMO_APP_SECRET)
    config_path().chmod(0o644)
    assert cli.main(["config", "show"]) == 0
    assert "chmod 600" in capsys.readouterr().err


def test_config_readable_by_others_is_warned_by_every_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(config_path(), app_code=DEMO_APP_CODE, app_secret=DEMO_APP_SECRET, username="admin")
    config_path().chmod(0o644)
    set_env(monkeypatch, "http://127.0.0.1:9")
    assert cli.main(["status", "job:2:1"]) == 2
    assert "chmod 600" in capsys.readouterr().err


# -- TLS ----------------------------------------------------------------------------------------


@dataclass
class TlsServer:
    base_url: str
    cert: Path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-keyout", str(key), "-out", str(cert), "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@contextmanager
def serve_tls(app: Any, cert: Path, key: Path) -> Iterator[TlsServer]:
    """`app` over HTTPS on a free loopback port, in a thread."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        log_config=None,
        log_level="critical",
        lifespan="off",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the TLS server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield TlsServer(f"https://127.0.0.1:{port}", cert)
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture
def tls_sim(certificate: tuple[Path, Path]) -> Iterator[tuple[Any, TlsServer]]:
    sim = frozen_sim()
    with serve_tls(sim.app, *certificate) as server:
        yield sim, server


def test_verification_is_on_unless_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Profile().verify and not Profile().insecure
    write_config(config_path(), app_code="a")
    assert load_profile().verify
    monkeypatch.setenv("BKWATCH_INSECURE", "1")
    assert load_profile().insecure
    monkeypatch.delenv("BKWATCH_INSECURE")
    config_path().write_text(config_path().read_text() + "verify = false\n")
    assert load_profile().insecure


async def test_a_self_signed_server_is_refused_by_default(tls_sim: tuple[Any, TlsServer]) -> None:
    sim, server = tls_sim
    target = parse_target(sim_targets(sim, per_system=1)[0])
    async with aclosing(BkClient(profile_for(server.base_url))) as refused:
        with pytest.raises(BkError) as caught:
            await fetch_task(refused, target)
    assert caught.value.kind is ErrorKind.NETWORK
    assert "certificate verify failed" in caught.value.message.lower()
    # Trusting that certificate (ca_bundle), or not verifying at all, reaches the same server.
    for profile in (
        profile_for(server.base_url, ca_bundle=str(server.cert)),
        profile_for(server.base_url, verify=False),
    ):
        async with BkClient(profile) as client:
            assert (await fetch_task(client, target)).name


async def test_the_ca_bundle_is_read_at_the_first_handshake_and_trusted_from_the_environment(
    tls_sim: tuple[Any, TlsServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default context reads its bundle on the first TLS handshake (a plain-http profile
    never spends the time), and from SSL_CERT_FILE when it is set, as httpx does."""
    sim, server = tls_sim
    target = parse_target(sim_targets(sim, per_system=1)[0])
    plain = BkClient(profile_for("http://127.0.0.1:9"))
    tls = plain._http._transport._pool._ssl_context
    assert isinstance(tls, TrustOnFirstHandshake) and not tls._loaded
    await plain.aclose()
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))
    async with BkClient(profile_for(server.base_url)) as client:
        tls = client._http._transport._pool._ssl_context
        assert not tls._loaded
        assert (await fetch_task(client, target)).name  # the server's own certificate, trusted
        assert tls._loaded


def test_cli_refuses_a_self_signed_server_unless_insecure(
    tls_sim: tuple[Any, TlsServer], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    sim, server = tls_sim
    target = sim_targets(sim, per_system=1)[0]
    set_env(monkeypatch, server.base_url, BK_APP_CODE=DEMO_APP_CODE, BK_APP_SECRET=DEMO_APP_SECRET)
    monkeypatch.setenv("BK_TOKEN", DEMO_TOKEN)
    assert cli.main(["status", "--json", target]) == 2
    out, err = capsys.readouterr()
    error = json.loads(out)["tasks"][0]["error"]
    assert error["kind"] == "network" and "certificate" in error["message"].lower()
    assert "verification is OFF" not in err
    assert cli.main(["--insecure", "status", "--json", target]) in (0, 1)
    out, err = capsys.readouterr()
    assert json.loads(out)["tasks"][0]["error"] is None and "verification is OFF" in err


@pytest.mark.usefixtures("restore_logging")
async def test_the_monitor_shows_a_refused_certificate(tls_sim: tuple[Any, TlsServer]) -> None:
    sim, server = tls_sim
    rig = make_rig(profile_for(server.base_url), sim_targets(sim, per_system=1))
    async with aclosing(rig.fetch), rig.app.run_test(size=SIZE) as pilot:
        await rig.poll(pilot)
        watches = rig.app.poller.watches.values()
        assert {str(w.error.kind) for w in watches if w.error} == {"network"}
        assert all(w.task is None for w in watches)
        key = rig.targets[0]
        rig.app.select(key)
        await pilot.pause()
        await pilot.pause()  # the title grows a line: a layout pass
        assert "network" in rig.app.joblist.plain(key)
        shown = screen_text(rig.app.export_screenshot())
        assert "CERTIFICATE_VERIFY_FAILED" in shown and BADGE not in shown


# -- the insecure switch on screen --------------------------------------------------------------


async def _every_screen(app: BkWatchApp, pilot: Any) -> dict[str, str]:
    shown = {"main": screen_text(app.export_screenshot())}
    for name, step in (
        ("help", keys("question_mark")),
        ("add dialog", keys("a")),
        ("remove dialog", keys("d")),
        ("command palette", keys("ctrl+p")),
        ("filter", keys("slash")),
    ):
        await step(pilot)
        shown[name] = screen_text(app.export_screenshot())
        await keys("escape", "escape")(pilot)
    return shown


@pytest.mark.usefixtures("restore_logging")
async def test_insecure_is_on_every_screen_and_only_then(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked on a small terminal, where a dialog covers most of the main screen."""
    sim = frozen_sim()
    with serve(sim.app) as server:
        for insecure in (False, True):
            if insecure:
                monkeypatch.setenv("BKWATCH_INSECURE", "1")  # the environment's switch
            write_config(config_path(), esb_url=server.base_url, apigw_tmpl=server.apigw_tmpl)
            profile = load_profile()
            assert profile.insecure is insecure
            profile.app_code, profile.app_secret, profile.token = DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_TOKEN
            rig = make_rig(profile, sim_targets(sim, per_system=1))
            async with aclosing(rig.fetch), rig.app.run_test(size=(80, 24)) as pilot:
                await rig.poll(pilot)
                shown = await _every_screen(rig.app, pilot)
                title = rig.app.signals.title
            for name, text in shown.items():
                assert (BADGE in text) is insecure, (name, insecure)
            assert shown["main"].lstrip().startswith(BADGE) is insecure  # first on the status line
            assert (BADGE in title) is insecure


def test_insecure_flag_is_shown_in_a_real_terminal(
    tls_sim: tuple[Any, TlsServer], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bkwatch --insecure` on a self-signed server: the warning is printed before the screen
    takes over, tasks load, and the badge reaches the terminal."""
    sim, server = tls_sim
    set_env(monkeypatch, server.base_url, BK_APP_CODE=DEMO_APP_CODE, BK_APP_SECRET=DEMO_APP_SECRET)
    monkeypatch.setenv("BK_TOKEN", DEMO_TOKEN)
    assert cli.main(["add", *sim_targets(sim, per_system=1)]) == 0
    capsys.readouterr()
    env = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "BK_"))}
    output = _pty_run(env, ["--insecure"], b"failed", [b"?", b"\x1b"])  # "failed": polled over TLS
    warning, screen = output.find(b"verification is OFF"), output.find(b"\x1b[?1049h")
    assert 0 <= warning < screen
    assert BADGE.encode() in output[screen:] and b"bkwatch keys" in output
