"""Errors that help: an unreachable server's error names the address tried (never a secret, a
query or user info), a long error wraps under the task's title at 80×24 instead of being cut,
and a target or URL error quotes at most ~200 characters of what was pasted."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bkwatch.client import BkClient
from bkwatch.model import BkError, ErrorKind
from bkwatch.poller import Cadence, Poller
from bkwatch.store import WatchEntry, WatchStore
from bkwatch.systems.adapters import fetch_task
from bkwatch.targets import TargetError, parse_target
from bkwatch.text import display_width
from bkwatch.tui.app import BkWatchApp
from tests.conftest import sim_profile

SECRET = "s3cr3t-app-secret-value"


def _refused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _profile(port: int):
    base = f"http://user:{SECRET}@127.0.0.1:{port}"
    return sim_profile(base, gateway=True, app_secret=SECRET)


async def test_an_unreachable_server_names_the_address_tried_and_no_secret() -> None:
    port = _refused_port()
    async with BkClient(_profile(port)) as client:
        with pytest.raises(BkError) as caught:
            await fetch_task(client, parse_target("job:2:42"))
    err = caught.value
    assert err.kind is ErrorKind.NETWORK
    assert f"127.0.0.1:{port}/" in err.message and "get_job_instance_status" in err.message
    assert SECRET not in err.message and "user:" not in err.message and "?" not in err.message


async def test_a_long_poll_error_wraps_under_the_title_at_80x24(tmp_path: Path) -> None:
    port = _refused_port()
    client = BkClient(_profile(port))
    slow = Cadence(focused=1e6, young=1e6, active=1e6, waiting=1e6, finished=1e6, unknown=1e6, jitter=0)
    poller = Poller(lambda t: fetch_task(client, t), cadence=slow)
    store = WatchStore(tmp_path)
    key = "job:2:42"
    store.add([WatchEntry(key, "a job on a server that is down", 0.0)], "test")
    app = BkWatchApp(poller, store, "test", select=key, start_polling=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await poller.poll_all()
            await pilot.pause()
            await pilot.press("enter")  # below 120 columns the task opens full-width from the list
            await pilot.pause()
            await pilot.pause()
            error = poller.watches[key].error
            assert error is not None
            shown = app.detail.title_bar.shown.plain
            lines = shown.split("\n")[1:]
            width = app.detail.title_bar.size.width
            assert len(lines) >= 2, shown  # wrapped, not cut at the pane's edge
            assert all(display_width(line) <= width for line in lines), (width, lines)
            joined = " ".join(lines)
            assert f"127.0.0.1:{port}/" in joined.replace(" ", "") or f"127.0.0.1:{port}" in joined
            assert SECRET not in shown
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "pasted",
    [
        "https://bk.example.com/" + "garbage/" * 100,
        "job:2:" + "x" * 700,
        "nosuchsystem" * 60 + ":1:2",
        "https://job.example.com/biz/x/execute/task/" + "1" * 700,
    ],
    ids=["url", "task-id", "system", "job-page"],
)
def test_a_target_error_quotes_at_most_about_200_characters(pasted: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_target(pasted)
    message = str(caught.value)
    assert "…" in message
    # No run of the pasted text longer than the cap (plus the quote) is echoed back.
    longest = max(len(run) for run in message.replace("'", " ").split(" "))
    assert longest <= 205, message


def test_refused_addresses_name_no_query_or_user_info() -> None:
    from bkwatch.errors import shown_url

    assert shown_url(f"https://u:{SECRET}@bk.example.com:8443/api/x/?bk_app_secret={SECRET}") == (
        "https://bk.example.com:8443/api/x/"
    )
    assert shown_url("http://[::1]:80/p") == "http://[::1]:80/p"
    assert len(shown_url("http://h/" + "p" * 1000)) <= 201
