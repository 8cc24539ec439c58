"""The monkey: random keys, typed without waiting, over every screen and dialog of the monitor
with actions on, against the simulator with faults injected. No key sequence may crash it.

Keys are posted the way the terminal driver posts a burst it read at once (all queued before
the app handles the first), and sometimes through `Pilot.press`; between bursts the app gets a
moment or none, the poller polls on its own, and faults are switched on and off. A session ends
when its keys are spent or a key quit the monitor (a clean exit, checked; the next session
starts a new monitor). At the end the monitor must be running (or have quit cleanly) with no
exception, and no worker may have died of one.

`BKWATCH_MONKEY_KEYS=100000` scales the budget (default 2,000 keys over the screens);
`BKWATCH_MONKEY_SEED=N` replays one seed (printed with every failure). Keys are replayed
exactly; the app's timing is not, so a crash found once may need a few runs of its seed.
Every crash found is also a regression test below with its shortest sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual import events
from textual.command import CommandList
from textual.keys import _character_to_key, _get_unicode_name_from_key
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from bkwatch.cli.record_view import RecordView
from bkwatch.model import System
from bkwatch.poller import Cadence
from bkwatch.record.recorder import Recorder
from bkwatch.tui.actions import ACTIONS
from bkwatch.tui.dialogs.dialogs import ConfirmDialog, HelpScreen
from bkwatch.tui.dialogs.palette import CommandPalette
from bkwatch.tui.widgets import backdrop
from bkwatch.tui.widgets.once import AnswerOnce
from tests.harness import BAD_RAW, SimRig, frozen_sim, settle, sim_app

SIZE = (100, 30)  # narrow layout (under 120 columns); the monkey's sessions alternate with WIDE
WIDE = (140, 40)
BUDGET = int(os.environ.get("BKWATCH_MONKEY_KEYS", "2000"))
SEED = os.environ.get("BKWATCH_MONKEY_SEED")
SYSTEMS = (System.JOB, System.SOPS, System.BKFLOW, System.NODEMAN, System.GSEKIT)

# The key alphabet: every key bound on the main screen, the dialogs' and views' keys, moving,
# and a few printable characters (markup and escape look-alikes among them).
BOUND = sorted({k for a in ACTIONS for k in a.key.split(",")} - {"q"})
DIALOG = ["enter", "escape", "tab", "shift+tab", "y", "n", "Y", "F", "backspace", "space", "ctrl+p"]
MOVES = ["up", "down", "pageup", "pagedown", "home", "end", "j", "k", "left", "right"]
DIGITS = list("0123456789")
LETTERS = list("abehosuvz")
PRINTABLE = ["[", "]", ":", "-", ".", "\\", "é", "中", "!", "@"]
QUITS = ["q", "q", "q", "ctrl+q"]  # drawn for 1 key in 150: each quit ends a session (q also closes dialogs)
KEYS: tuple[str, ...] = tuple(dict.fromkeys([*BOUND, *DIALOG, *MOVES, *DIGITS, *LETTERS, *PRINTABLE]))

# Faults the simulator injects while keys are typed: every request may meet one.
FAULTS: tuple[tuple[str, dict[str, float]], ...] = (
    ("http_502", {"probability": 0.3}),
    ("malformed_json", {"probability": 0.2}),
    ("drift", {"probability": 0.3}),
    ("delay", {"probability": 0.3, "delay": 0.3}),
    ("reset", {"probability": 0.2}),
    ("rate_limit", {"probability": 0.2}),
    ("html", {"probability": 0.2}),
    ("truncated", {"probability": 0.2}),
    ("revoke_credentials", {"probability": 0.1}),
)
FAST = Cadence(
    focused=0.3, young=0.5, active=0.5, waiting=0.8, finished=0.8, unknown=0.5, backoff_max=1.0, jitter=0.1
)


@dataclass(frozen=True)
class Area:
    """Where a session types: the task selected, and the keys that open the screen (typed again
    at the start of about half the bursts, since random keys soon leave it)."""

    name: str
    system: System
    enter: tuple[str, ...]
    scope: bool = False  # a followed scope too (its header and the tasks it found, at the end)
    record: bool = False  # the record kept and read (R replays the task, H a host's past)


AREAS: tuple[Area, ...] = (
    Area("job list", System.JOB, ()),
    Area("JOB steps and hosts", System.JOB, ("enter", "enter")),
    Area("SOPS tree", System.SOPS, ("enter",)),
    Area("BKFlow tree", System.BKFLOW, ("enter",)),
    Area("NodeMan hosts", System.NODEMAN, ("enter",)),
    Area("GSEKit job tasks", System.GSEKIT, ("enter",)),
    Area("log view", System.JOB, ("enter", "enter", "n", "l")),
    Area("node log", System.SOPS, ("enter", "n", "l")),
    Area("signatures", System.JOB, ("w",)),
    Area("help", System.JOB, ("question_mark",)),
    Area("filter", System.JOB, ("slash",)),
    Area("add", System.JOB, ("a",)),
    Area("remove", System.NODEMAN, ("d",)),
    Area("actions menu", System.JOB, ("enter", "enter", "n", "x")),
    Area("confirmation", System.JOB, ("enter", "enter", "n", "x", "enter")),
    Area("SOPS actions", System.SOPS, ("enter", "n", "x", "enter")),
    Area("command palette", System.JOB, ("ctrl+p",)),
    Area("followed scope", System.SOPS, ("end",), scope=True),
    Area("replay", System.JOB, ("R",), record=True),
    Area("SOPS replay", System.SOPS, ("R",), record=True),
    Area("host's past", System.JOB, ("enter", "enter", "n", "H"), record=True),
)
SCOPE = "sops:3"  # none of its tasks is among the ones added by hand


def key_event(key: str) -> events.Key:
    """The event the terminal driver posts for `key` (as `Pilot.press` builds it)."""
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char: str | None = unicodedata.lookup(_get_unicode_name_from_key(key))
    except KeyError:
        char = key if len(key) == 1 else None
    return events.Key(key, char)


def type_burst(rig: SimRig, keys: Sequence[str]) -> None:
    """Post every key at once, as a terminal delivers keys typed faster than the app reads them."""
    driver = rig.app._driver
    assert driver is not None
    for key in keys:
        event = key_event(key)
        event.set_sender(rig.app)
        driver.send_message(event)


@dataclass
class Report:
    seed: int
    keys: int = 0
    sessions: int = 0
    quits: int = 0
    bursts: int = 0
    faults: int = 0
    worker_errors: list[str] = field(default_factory=list)
    typed: list[str] = field(default_factory=list)  # this session's keys, for the failure message

    def where(self, area: Area) -> str:
        tail = " ".join(self.typed[-60:])
        return (
            f"monkey seed {self.seed} ({area.name}), replay: "
            f"BKWATCH_MONKEY_SEED={self.seed} BKWATCH_MONKEY_KEYS={BUDGET}; "
            f"session {self.sessions}, {len(self.typed)} keys in it, the last: {tail}"
        )


def _rig(
    tmp_path: Path, system: System, *, fast: bool = True, scope: bool = False, record: bool = False
) -> SimRig:
    """Three tasks of each system, a failing one of `system` selected (NodeMan: any); `scope`:
    SCOPE followed too, discovery every half second; `record`: the record read by the screen
    (`recording` keeps it)."""
    sim = frozen_sim()
    tasks = sim.world.tasks()
    targets = [t.target for s in SYSTEMS for t in [x for x in tasks if x.system == str(s)][:3]]
    bad = [
        t
        for t in targets
        if t.startswith(f"{system}:") and any(x.target == t and x.state in BAD_RAW for x in tasks)
    ]
    select = bad[0] if bad else next(t for t in targets if t.startswith(f"{system}:"))
    rig = sim_app(
        sim,
        tmp_path,
        targets,
        select=select,
        allow_actions=True,
        start_polling=fast,
        since_last_time=False,
        scopes={SCOPE: {}} if scope else None,
        discovery_interval=0.5,
        record=RecordView(tmp_path) if record else None,
    )
    if fast:
        rig.poller.cadence = FAST
    return rig


def _hook(report: Report):  # type: ignore[no-untyped-def]
    def hook(message: object) -> None:
        if isinstance(message, Worker.StateChanged) and message.state is WorkerState.ERROR:
            worker = message.worker
            report.worker_errors.append(f"{worker.name}: {type(worker.error).__name__}: {worker.error}")

    return hook


def _check(rig: SimRig, report: Report, area: Area, *, running: bool) -> None:
    """No exception ended the monitor or any of its workers; `running`: it is still running."""
    app = rig.app
    assert app._exception is None, f"{report.where(area)}\n{app._exception!r}"
    assert app.return_code in (None, 0), report.where(area)
    assert not report.worker_errors, f"{report.where(area)}: {report.worker_errors}"
    if running:
        assert app.is_running, f"{report.where(area)}: the monitor stopped"


@contextlib.contextmanager
def recording(rig: SimRig, tmp_path: Path, on: bool) -> Iterator[None]:
    """The record kept of the rig's polls (in `tmp_path`, where `_rig`'s record reads it)."""
    if not on:
        yield
        return
    recorder = Recorder(tmp_path)
    rig.poller.observers.append(recorder.observe)
    try:
        yield
    finally:
        recorder.close()


async def session(tmp_path: Path, area: Area, rng: random.Random, keys: int, report: Report) -> int:
    """One monitor, typed at in `area` until `keys` are spent or it quits; the keys typed."""
    rig = _rig(tmp_path, area.system, scope=area.scope, record=area.record)
    app = rig.app
    report.sessions += 1
    report.typed = []
    typed = 0
    try:
        with recording(rig, tmp_path, area.record):
            size = WIDE if report.sessions % 2 else SIZE
            async with app.run_test(size=size, notifications=True, message_hook=_hook(report)) as pilot:
                await settle(rig, pilot)
                while typed < keys and app.is_running:
                    burst = list(area.enter) if rng.random() < 0.5 else []
                    n = rng.choice((1, 2, 3, 5, 8, 13, 21))
                    for _ in range(n):
                        burst.append(rng.choice(QUITS) if rng.random() < 1 / 150 else rng.choice(KEYS))
                    report.typed.extend(burst)
                    if rng.random() < 0.15:
                        await pilot.press(*burst)
                    else:
                        type_burst(rig, burst)
                    typed += len(burst)
                    report.bursts += 1
                    if rng.random() < 0.1:
                        kind, options = rng.choice(FAULTS)
                        rig.sim.faults.set(kind, **options)  # type: ignore[arg-type]
                        report.faults += 1
                    elif rng.random() < 0.05:
                        rig.sim.faults.clear()
                    pause = rng.random()
                    if pause < 0.25:
                        await pilot.pause()
                    elif pause < 0.5:
                        await asyncio.sleep(rng.choice((0.01, 0.05, 0.2)))
                    else:
                        await asyncio.sleep(0)
                    _check(rig, report, area, running=False)
                if app.is_running:
                    rig.sim.faults.clear()
                    await pilot.pause()
                    await pilot.pause()
                _check(rig, report, area, running=False)
                if not app.is_running:
                    report.quits += 1
    finally:
        await rig.client.aclose()
    _check(rig, report, area, running=False)
    return typed


async def run_monkey(tmp_path: Path, seed: int, budget: int) -> Report:
    rng = random.Random(seed)
    report = Report(seed)
    for i, area in enumerate(AREAS):
        share = max(20, -(-budget // len(AREAS)))  # rounded up: the whole budget is typed
        spent = 0
        while spent < share:
            spent += await session(tmp_path / f"s{i}-{report.sessions}", area, rng, share - spent, report)
        report.keys += spent
    return report


def _seeds() -> list[int]:
    return [int(SEED)] if SEED is not None else [20261206]


@pytest.mark.timeout(240 + BUDGET // 3)  # about 8 keys a second on a loaded 2-core machine
@pytest.mark.parametrize("seed", _seeds())
async def test_monkey_keys_never_crash_the_monitor(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the palette's "Screenshot" writes where it runs
    started = time.monotonic()
    report = await run_monkey(tmp_path, seed, BUDGET)
    took = time.monotonic() - started
    print(
        f"monkey seed {seed}: {report.keys} keys in {report.bursts} bursts, {report.sessions} sessions "
        f"({report.quits} quit), {report.faults} faults set, {took:.1f} s; "
        f"backdrop chains broken so far in this process: {backdrop.cycles_met}"
    )
    assert report.keys >= min(BUDGET, 2000)


# ---- shrinking: hypothesis finds the shortest sequence that crashes ---------------------


async def _one_sequence(tmp_path: Path, keys: list[str], area: Area) -> None:
    report = Report(0, typed=list(keys))
    rig = _rig(tmp_path, area.system, fast=False, scope=area.scope, record=area.record)
    app = rig.app
    try:
        with recording(rig, tmp_path, area.record):
            async with app.run_test(size=SIZE, message_hook=_hook(report)) as pilot:
                await settle(rig, pilot)
                rig.sim.faults.set("http_502", probability=0.3)
                type_burst(rig, [*area.enter, *keys])
                await pilot.pause()
                await pilot.pause()
                _check(rig, report, area, running=False)
    finally:
        await rig.client.aclose()
    _check(rig, report, area, running=False)


@pytest.mark.timeout(240)
@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=16),
    area=st.sampled_from([a for a in AREAS if a.enter]),
)
def test_shrunk_sequences_never_crash(tmp_path: Path, keys: list[str], area: Area) -> None:
    """Short sequences from each screen; a crash shrinks to its shortest sequence."""
    with tempfile.TemporaryDirectory(dir=tmp_path) as d, contextlib.chdir(d):  # the palette's Screenshot
        asyncio.run(_one_sequence(Path(d), keys, area))


# ---- every crash the monkey found, with its shortest sequence --------------------------


async def _typed(
    tmp_path: Path, system: System, keys: list[str], *, running: bool = True
) -> tuple[SimRig, list[str]]:
    """`keys` typed at once on a settled monitor with actions on (no faults): the rig, and the
    screens on the stack after (`running`: the monitor must still run)."""
    report = Report(0, typed=list(keys))
    area = Area("regression", system, ())
    rig = _rig(tmp_path, system, fast=False)
    app = rig.app
    try:
        async with app.run_test(size=SIZE, message_hook=_hook(report)) as pilot:
            await settle(rig, pilot)
            type_burst(rig, keys)
            await pilot.pause()
            await pilot.pause()
            _check(rig, report, area, running=running)
            stack = [type(s).__name__ for s in app.screen_stack]
    finally:
        await rig.client.aclose()
    _check(rig, report, area, running=False)
    return rig, stack


async def test_actions_menu_closed_while_its_enter_is_queued(tmp_path: Path) -> None:
    """x Enter x: the menu's option chosen, then x closed it before the choice was handled; the
    choice dismissed the menu a second time and popped the last screen (ScreenStackError)."""
    rig, stack = await _typed(tmp_path, System.JOB, ["x", "enter", "x"])
    assert stack == ["Screen"]
    assert rig.sim.world.operations.list() == []  # nothing was sent


@pytest.mark.parametrize(
    "keys",
    [["q", "l"], ["q", "w"], ["q", "x"], ["q", "a"], ["q", "d"], ["q", "question_mark"]],
    ids=["log", "signatures", "actions", "add", "remove", "help"],
)
async def test_keys_after_quit_open_nothing(tmp_path: Path, keys: list[str]) -> None:
    """q then a key that opens a screen, typed together: the screen was pushed while the app was
    closing and crashed it (NoMatches in the log view's and signatures' on_mount, MountError for
    the dialogs' banner). Quitting is final: the monitor exits cleanly, having opened nothing."""
    rig, stack = await _typed(tmp_path, System.JOB, keys, running=False)
    assert not rig.app.is_running
    assert rig.app.return_code == 0
    assert stack == ["Screen"]


@pytest.mark.parametrize("page", ["pageup", "pagedown"])
async def test_palette_page_key_before_its_list_is_shown(tmp_path: Path, page: str) -> None:
    """ctrl+p, a letter and a page key typed together: the palette's list had commands but was not
    laid out yet, and Textual's OptionList raised KeyError looking up the highlighted line. It
    depends on when the palette's search answers, so the sequence is typed ten times."""
    report = Report(0, typed=["ctrl+p", "r", page, "escape"])
    area = Area("regression", System.JOB, ())
    rig = _rig(tmp_path, System.JOB, fast=False)
    app = rig.app
    try:
        async with app.run_test(size=SIZE, message_hook=_hook(report)) as pilot:
            await settle(rig, pilot)
            for _ in range(10):
                type_burst(rig, ["ctrl+p", "r", page])
                await pilot.pause()
                _check(rig, report, area, running=True)
                assert [type(s).__name__ for s in app.screen_stack] == ["Screen", "CommandPalette"]
                type_burst(rig, ["escape"])
                await pilot.pause()
    finally:
        await rig.client.aclose()
    _check(rig, report, area, running=False)


async def _until(pilot: Pilot[None], ready: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not ready():
            await pilot.pause(0.02)


async def test_theme_palette_enter_twice(tmp_path: Path) -> None:
    """The palette's Theme command opened Textual's own palette, without the guards: Enter Enter
    on it chose a theme, then dismissed it a second time (ScreenStackError)."""
    report = Report(0, typed=["ctrl+p", *"theme", "enter", "enter", "enter"])
    area = Area("regression", System.JOB, ())
    rig = _rig(tmp_path, System.JOB, fast=False)
    app = rig.app

    def listed() -> bool:
        lists = app.screen.query(CommandList)
        return bool(lists) and lists.first().option_count > 0

    try:
        async with app.run_test(size=SIZE, message_hook=_hook(report)) as pilot:
            await settle(rig, pilot)
            type_burst(rig, ["ctrl+p", *"theme"])
            await _until(pilot, listed)
            type_burst(rig, ["enter"])  # the Theme command: a palette of themes
            # `query`, not `query_one`: the themes palette may be on the stack before its input is
            # mounted (met once under load: NoMatches from the wait itself).
            await _until(pilot, lambda: any("themes" in str(i.placeholder) for i in app.screen.query(Input)))
            await _until(pilot, listed)
            type_burst(rig, ["enter", "enter"])
            await pilot.pause()
            await pilot.pause()
            _check(rig, report, area, running=True)
            assert [type(s).__name__ for s in app.screen_stack] == ["Screen"]
    finally:
        await rig.client.aclose()
    _check(rig, report, area, running=False)


async def test_a_tick_while_quitting_does_nothing(tmp_path: Path) -> None:
    """The 5 s tick that refreshes the job list's ages fired while a quit was closing the screens
    (found after a q by the long run): NoMatches for the job list ended the monitor with a
    traceback instead of a clean exit. Here the tick comes once the screens are gone."""
    rig = _rig(tmp_path, System.JOB, fast=False)
    app = rig.app
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(rig, pilot)
            type_burst(rig, ["q"])
            await _until(pilot, lambda: not app.is_running)
    finally:
        await rig.client.aclose()
    assert app._exception is None and app.return_code == 0
    app._tick()  # as the timer would, late: nothing to refresh, nothing raised


@pytest.mark.parametrize("typed", [True, False])
async def test_a_dialog_pushed_as_the_monitor_quits_sets_nothing_up(tmp_path: Path, typed: bool) -> None:
    """Seed 1001 of the long run (actions menu, 31,060 keys in): a confirmation pushed while a
    quit was taking the screens down had its mount handled with its widgets gone, and its
    on_mount's NoMatches ended the monitor. Every screen's set-up now checks `taken_down`."""
    from bkwatch.tui.acts.act_dialogs import ActionConfirm

    rig = _rig(tmp_path, System.JOB, fast=False)
    app = rig.app
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(rig, pilot)
            dialog = ActionConfirm("Retry", ["retry the failed hosts"], type_id="42" if typed else None)
            app.push_screen(dialog)
            app.exit()
            await _until(pilot, lambda: not app.is_running)
    finally:
        await rig.client.aclose()
    assert app._exception is None and app.return_code == 0


# ---- the guard itself, on every screen ---------------------------------------------------


def test_every_screen_of_the_monitor_answers_once() -> None:
    """Every screen and dialog in bkwatch.tui is built on AnswerOnce (a new one must be too)."""
    import importlib
    import inspect
    import pkgutil

    import bkwatch.tui

    screens = []
    for info in pkgutil.walk_packages(bkwatch.tui.__path__, "bkwatch.tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == module.__name__:
                screens.append(cls)
    names = {cls.__name__ for cls in screens}
    assert {"ActionsMenu", "ActionConfirm", "AddDialog", "ConfirmDialog", "HelpScreen"} <= names
    assert {"LogScreen", "SignaturesScreen", "CommandPalette"} <= names
    assert [cls.__name__ for cls in screens if not issubclass(cls, AnswerOnce)] == []


async def test_a_dialog_answers_once_and_only_while_on_top(tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.JOB, fast=False)
    app = rig.app
    answers: list[bool | None] = []
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(rig, pilot)
            first = ConfirmDialog("Stop watching?")
            app.push_screen(first, answers.append)
            await pilot.pause()
            first.dismiss(True)
            first.dismiss(False)  # a second answer: ignored, and the main screen stays
            await pilot.pause()
            assert answers == [True] and first.answered
            assert [type(s).__name__ for s in app.screen_stack] == ["Screen"]

            second = ConfirmDialog("Stop watching?")
            app.push_screen(second, answers.append)
            app.push_screen(HelpScreen([]))
            await pilot.pause()
            second.dismiss(True)  # not on top: it would have popped the help screen instead
            await pilot.pause()
            assert answers == [True] and not second.answered
            assert [type(s).__name__ for s in app.screen_stack] == ["Screen", "ConfirmDialog", "HelpScreen"]
            await pilot.press("escape")  # the help screen closes; the question is still asked
            await pilot.press("n")
            assert answers == [True, False]
            assert [type(s).__name__ for s in app.screen_stack] == ["Screen"]
    finally:
        await rig.client.aclose()


async def test_palette_countdown_after_its_list_is_gone(tmp_path: Path) -> None:
    """ctrl+p, a search with no match, then ctrl+q: the quit closed the palette's list and its
    "No matches" countdown fired after (NoMatches, found by the long run). Here the list is
    removed as the quit removes it, while the countdown runs."""
    report = Report(0, typed=["ctrl+p", *"zzqx"])
    area = Area("regression", System.JOB, ())
    rig = _rig(tmp_path, System.JOB, fast=False)
    app = rig.app
    try:
        async with app.run_test(size=SIZE, message_hook=_hook(report)) as pilot:
            await settle(rig, pilot)
            type_burst(rig, ["ctrl+p", *"zzqx"])
            await _until(pilot, lambda: getattr(app.screen, "_no_matches_timer", None) is not None)
            await app.screen.query_one(CommandList).remove()
            await pilot.pause(0.8)  # past the countdown (0.5 s)
            _check(rig, report, area, running=True)
    finally:
        await rig.client.aclose()
    _check(rig, report, area, running=False)


async def test_palette_opened_while_the_last_one_is_closing(tmp_path: Path) -> None:
    """ctrl+p handled after an escape closed the palette but before Textual removed it: both had
    the id Textual gives its palette, and the new one raised DuplicateIds (found by the long run)."""
    rig = _rig(tmp_path, System.JOB, fast=False)
    app = rig.app
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(rig, pilot)
            app.action_command_palette()
            await pilot.pause()
            old = app.screen
            assert isinstance(old, CommandPalette)
            type_burst(rig, ["escape"])
            async with asyncio.timeout(20):
                while app.screen is old:
                    await asyncio.sleep(0)
            assert old.is_attached  # popped, still being removed
            app.action_command_palette()  # what ctrl+p runs
            await pilot.pause()
            assert isinstance(app.screen, CommandPalette) and app.screen is not old
            assert app._exception is None
    finally:
        await rig.client.aclose()
    assert app._exception is None


async def test_the_palettes_keys_panel_after_quit_opens_nothing(tmp_path: Path) -> None:
    """The palette's "Keys" command (Textual's help panel) runs after the palette has closed; with
    ctrl+q typed in the same burst the monitor was already closing, and mounting the panel on its
    detached screen raised MountError (monkey seed 20261206). Quitting is final."""
    rig = _rig(tmp_path, System.JOB, fast=False)
    app = rig.app
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(rig, pilot)
            app.exit()
            app.action_show_help_panel()  # as the palette's queued callback does
            assert not app.screen.query("HelpPanel")
            await pilot.pause()
    finally:
        await rig.client.aclose()
    assert app._exception is None and app.return_code == 0


@pytest.mark.parametrize("area", [a for a in AREAS if a.record], ids=lambda a: a.name)
async def test_the_record_areas_reach_their_screens(tmp_path: Path, area: Area) -> None:
    """The monkey's record areas type where they say: their keys open the replay or a host's
    past once the record holds the task."""
    from bkwatch.tui.replay.hosts import HostHistoryScreen
    from bkwatch.tui.replay.screen import ReplayScreen

    rig = _rig(tmp_path, area.system, fast=False, record=True)
    app = rig.app
    want = HostHistoryScreen if "H" in area.enter else ReplayScreen
    try:
        with recording(rig, tmp_path, True):
            async with app.run_test(size=SIZE) as pilot:
                await settle(rig, pilot)
                await asyncio.sleep(0.7)  # the writer's batch is written
                await pilot.press(*area.enter)
                for _ in range(40):
                    await pilot.pause(0.05)
                    if isinstance(app.screen, want):
                        break
                assert isinstance(app.screen, want), [type(s).__name__ for s in app.screen_stack]
    finally:
        await rig.client.aclose()


@pytest.mark.parametrize("key", ["R", "H"])
async def test_a_record_key_as_the_monitor_quits_leaves_no_work_unawaited(tmp_path: Path, key: str) -> None:
    """Seed 1005 of the long run: `R` typed as a quit took the monitor down; its worker was
    cancelled before it started, and the coroutine made for it was never awaited (a
    RuntimeWarning at collection: work silently not done). Workers are now handed the function,
    so a worker that never starts leaves nothing behind."""
    import gc
    import warnings

    rig = _rig(tmp_path, System.JOB, fast=False, record=True)
    app = rig.app
    try:
        with recording(rig, tmp_path, True), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with app.run_test(size=SIZE) as pilot:
                await settle(rig, pilot)
                await pilot.press("enter", "enter", "n")
                (app.action_replay if key == "R" else app.action_host_history)()
                assert app.workers._workers, "the key started no worker: nothing tested"
                app.workers.cancel_all()  # as the quit does, before the worker's first step
                app.exit()
                await _until(pilot, lambda: not app.is_running)
            gc.collect()
    finally:
        await rig.client.aclose()
    assert app._exception is None and app.return_code == 0
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []


def test_no_worker_is_handed_a_coroutine_made_before_it_starts() -> None:
    """The class of seed 1005's bug: `run_worker(self.work(...))` makes the coroutine at once, and
    a worker cancelled before it starts leaves it never awaited. Every worker of the monitor is
    handed a function (or `partial`) instead."""
    import ast

    import bkwatch

    made_early = []
    for path in Path(bkwatch.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "run_worker" and node.args:
                work = node.args[0]
                if isinstance(work, ast.Call) and getattr(work.func, "id", None) != "partial":
                    made_early.append(f"{path.name}:{node.lineno}")
    assert made_early == []


async def test_a_backdrop_chain_that_comes_back_to_itself_draws_once(tmp_path: Path) -> None:
    """Seeds 1002 and 1004 of the long run: a dialog's backdrop led, through the visuals the
    screens kept, back to a screen already being drawn, and the recursion ended the monitor
    (RecursionError in Textual's BackgroundScreen). Two dialogs are made to keep each other as
    their backdrop; the frame is drawn (that screen blank under the tint), the kept visuals are
    forgotten, and the next frame draws the stack as it is."""
    from textual.renderables.background_screen import BackgroundScreen
    from textual.visual import visualize

    rig = _rig(tmp_path, System.JOB, fast=False)
    app = rig.app
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(rig, pilot)
            lower, upper = HelpScreen([]), ConfirmDialog("Stop following?")
            await app.push_screen(lower)
            await app.push_screen(upper)
            await pilot.pause()
            for screen, beneath in ((lower, upper), (upper, lower)):
                tint = BackgroundScreen(beneath, screen.styles.background)
                screen._layout_cache["_render.visual"] = visualize(screen, tint)
                screen._set_dirty()  # drawn again from its visual, not from lines it kept
                screen._styles_cache.clear()
            before = backdrop.cycles_met
            update = upper._compositor.render_update(full=True, screen_stack=app._background_screens)
            assert update is not None
            assert backdrop.cycles_met > before
            assert "_render.visual" not in lower._layout_cache
            await pilot.pause()
            assert app._exception is None and app.is_running
            assert list(app.screen_stack[-2:]) == [lower, upper]
    finally:
        await rig.client.aclose()


@pytest.mark.timeout(30)  # without the floor, the timer's loop spins until this limit
async def test_a_timer_whose_delay_has_passed_fires_and_the_monitor_goes_on(tmp_path: Path) -> None:
    """Seed 3002 of the long run froze the monitor: a toast's timer was set to its notification's
    time left, -76 µs under load, and Textual's timer loop skipped missed ticks forever without
    yielding. Such a timer now fires at its next turn, and keys still work after it."""
    rig = _rig(tmp_path, System.JOB, fast=False)
    app = rig.app
    fired: list[bool] = []
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(rig, pilot)
            app.set_timer(-0.000076, lambda: fired.append(True))
            await _until(pilot, lambda: bool(fired))
            await pilot.press("question_mark")
            await _until(pilot, lambda: isinstance(app.screen, HelpScreen))
    finally:
        await rig.client.aclose()
    assert fired == [True] and app._exception is None
