"""Start-up: what the monitor has imported by its first fetched row, and the garbage collector
held off until then (`docs/reliability.md`, "The fifth round: start-up to the first row")."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bkwatch import defer_gc, resume_gc
from tests.conftest import watching

REPO = Path(__file__).resolve().parent.parent

# Read only when the user asks (l, w, x, ctrl+p), never by the first rows.
NOT_BEFORE_FIRST_ROW = (
    "bkwatch.evidence.signatures",
    "bkwatch.evidence.follow",
    "bkwatch.systems.job.evidence",
    "bkwatch.systems.pipeline.evidence",
    "bkwatch.systems.nodeman.evidence",
    "bkwatch.systems.gsekit.evidence",
    "bkwatch.tui.acts.act_dialogs",
    "bkwatch.tui.dialogs.palette",
)

# The monitor as `bkwatch` wires it, on a watch list of one task, until that task's row shows
# what its first poll fetched; then the modules loaded by then.
_PROBE = """
import asyncio, sys
from bkwatch.config import data_dir, load_profile
from bkwatch.store import WatchStore
from bkwatch.cli.run import MonitorOptions, watch_app

async def main() -> None:
    store = WatchStore(data_dir())
    app, fetch = watch_app(load_profile(None), store, "default", MonitorOptions(record=False))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            for _ in range(600):
                rows = [w for w in app.poller.watches.values() if w.task is not None]
                if rows:
                    break
                await pilot.pause(0.05)
            await pilot.pause()
            print("ROW=" + (rows[0].task.name if rows else ""))
            print("LOADED=" + ",".join(sorted(m for m in sys.modules if m.startswith(("bkwatch", "httpx")))))
    finally:
        await fetch.aclose()

asyncio.run(main())
"""


@pytest.mark.timeout(120)
def test_the_first_row_comes_before_what_only_the_user_asks_for(served: Any, tmp_path: Path) -> None:
    job = next(t for t in served.world.tasks() if str(t.system) == "job")
    env = watching(served.base_url, tmp_path, job.target)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=100
    )
    assert done.returncode == 0, done.stderr[-3000:]
    row = next(line for line in done.stdout.splitlines() if line.startswith("ROW="))
    loaded = set(done.stdout.rpartition("LOADED=")[2].strip().split(","))
    # The row holds what was fetched, over httpx and the adapters: the probe measured something.
    assert row == f"ROW={job.name}"
    assert {"httpx", "bkwatch.client", "bkwatch.systems.adapters", "bkwatch.tui.app"} <= loaded
    assert loaded.isdisjoint(NOT_BEFORE_FIRST_ROW), sorted(loaded.intersection(NOT_BEFORE_FIRST_ROW))


def test_the_collector_is_held_off_until_resumed_and_only_by_defer() -> None:
    assert gc.isenabled()
    try:
        defer_gc()
        assert not gc.isenabled()
        defer_gc()  # a second call changes nothing
        resume_gc()
        assert gc.isenabled()
        # Off by someone else's choice: resume_gc leaves it so.
        gc.disable()
        resume_gc()
        assert not gc.isenabled()
        defer_gc()  # already off: not ours to turn on again
        resume_gc()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_monitor_that_ends_before_its_first_row_turns_the_collector_back_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bkwatch` with no command defers the collector until its first rows; a monitor that stops
    before them (here its CA bundle cannot be read) must not leave it off for whoever runs next
    in the process (the suite ran the rest of its tests without collections)."""
    from bkwatch import cli
    from bkwatch.config import config_path
    from tests.conftest import isolate

    isolate(tmp_path, monkeypatch)
    path = config_path()
    path.parent.mkdir(parents=True)
    missing = tmp_path / "no-such-ca.pem"
    path.write_text(
        'default_profile = "prod"\n\n[profiles.prod]\nesb_url = "https://127.0.0.1:9"\n'
        f'app_code = "b"\napp_secret = "s"\nusername = "u"\nca_bundle = "{missing}"\n'
    )
    path.chmod(0o600)
    assert gc.isenabled()
    try:
        assert cli.main([]) == 2
        assert "no-such-ca.pem" in capsys.readouterr().err
        assert gc.isenabled()
    finally:
        gc.enable()
