"""Hostile server text, end to end: every text field a server sends, tried with markup, escape
sequences, control, bidi and combining characters and very long lines (catalogue in
tests/hostile.py), is shown literally with the layout intact, and nothing from the server
reaches the terminal as an escape.

Two layers: the real app in-process (Pilot) against the simulator behind the rewriting
middleware, checking every screen it draws; and the real `bkwatch` executable in a
pseudo-terminal against the same middleware served on loopback, checking the bytes it writes.
"""

from __future__ import annotations

import base64
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from textual.pilot import Pilot

from benchmarks.ptyrun import PtySession
from benchmarks.tuiproc import isolated_watch
from bkwatch.cli.demo import demo_profile
from bkwatch.client import BkClient
from bkwatch.model import ErrorKind, Host, JobTask, State
from bkwatch.poller import Cadence, Poller
from bkwatch.sim import Simulator
from bkwatch.sim.server import serve
from bkwatch.store import WatchEntry, WatchStore
from bkwatch.systems.adapters import fetch_task
from bkwatch.text import clean_text, display_width, one_line
from bkwatch.tui.app import BkWatchApp
from bkwatch.tui.drilldown.kinds import HostKind, JobTaskKind
from tests.harness import BAD_RAW, FIXED_NOW
from tests.hostile import (
    CLIP_PAYLOAD,
    ERROR_BODIES,
    ERROR_KEY,
    ESCAPES,
    HOSTILE,
    MARKUP,
    NAMES,
    NODEMAN_V1_ONLY,
    NODEMAN_V2_ONLY,
    TEXT_KEYS,
    HostileServer,
    hostile_sim,
)

SIZE = (160, 48)
BASE = "http://sim.invalid"
SYSTEMS = ("job", "sops", "bkflow", "nodeman", "gsekit")


@dataclass
class Rig:
    sim: Simulator
    app: BkWatchApp
    poller: Poller
    server: HostileServer
    client: BkClient


def _rig(tmp_path: Path, nodeman_api: str) -> Rig:
    """The real app, poller, client and adapters; the simulator behind the hostile middleware.
    Nothing polls until the test says so."""
    sim = hostile_sim()
    server = HostileServer(sim.app)
    profile = demo_profile(BASE)
    profile.nodeman_api = nodeman_api
    client = BkClient(profile, transport=httpx.ASGITransport(app=server))
    never = Cadence(focused=1e6, young=1e6, active=1e6, waiting=1e6, finished=1e6, unknown=1e6, jitter=0)
    poller = Poller(lambda t: fetch_task(client, t), cadence=never, clock=lambda: FIXED_NOW)
    store = WatchStore(tmp_path)
    targets = [t.target for t in sim.world.tasks() if nodeman_api == "v2" or t.system == "nodeman"]
    store.add([WatchEntry(t, None, FIXED_NOW) for t in targets], "hostile")
    app = BkWatchApp(
        poller, store, "hostile", clock=lambda: FIXED_NOW, start_polling=False, since_last_time=False
    )
    return Rig(sim, app, poller, server, client)


def _fewest_tasks(rig: Rig) -> int:
    """Tasks of the system with the fewest watched (of those watched at all)."""
    counts = [sum(1 for k in rig.poller.watches if k.startswith(s + ":")) for s in SYSTEMS]
    return min(n for n in counts if n)


def _bad_chars(text: str) -> set[str]:
    """Characters that must never be drawn: controls, format (bidi, zero-width) characters,
    surrogates and line separators."""
    return {ch for ch in text if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")}


def _clean_ip(ip: str) -> bool:
    """A copied host id: one printable word a shell reads as nothing but a word."""
    return ip == one_line(ip) and not _bad_chars(ip) and not set(ip) & set(" ;$`()|&<>\"'\\*?[]{}!#~")


def _tallest_stack(text: str) -> int:
    """The most combining marks on one character (taller stacks draw over neighbouring lines)."""
    tallest = run = 0
    for ch in text:
        run = run + 1 if unicodedata.combining(ch) else 0
        tallest = max(tallest, run)
    return tallest


# ---- the sanitiser itself -----------------------------------------------------------------------

ZALGO_MARKS = st.characters(min_codepoint=0x300, max_codepoint=0x36F)
TERMINAL_TEXT = st.text(
    st.one_of(
        # Anything but lone surrogates (orjson refuses them) and combining marks: stacks are cut
        # for the diacritical blocks "Zalgo" text is made of, drawn from ZALGO_MARKS below.
        st.characters(codec="utf-8", exclude_categories=("Mn", "Me")),
        st.sampled_from("\x1b\x9b[]\x07\\;\n\r\t\u202e\u200d"),
        ZALGO_MARKS,
    ),
    max_size=60,
)


SHORT_HOSTILE = [text for _, text in HOSTILE if len(text) < 1000]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(TERMINAL_TEXT, st.sampled_from(SHORT_HOSTILE)), max_size=4))
def test_sanitised_text_holds_nothing_a_terminal_acts_on(parts: list[str]) -> None:
    text = "".join(parts)
    out = clean_text(text)
    assert clean_text(out) == out  # idempotent: adapters clean, the screen cleans again
    assert not {ch for ch in _bad_chars(out) if ch not in "\n\t"}, repr(out)
    assert _tallest_stack(out) <= 3
    line = one_line(text)
    assert not _bad_chars(line) and line == line.strip() and "  " not in line
    assert display_width(one_line(text, 12)) <= 12


def test_catalogue_strings_keep_their_visible_text() -> None:
    shown = {name: one_line(text) for name, text in HOSTILE}
    for name, literal in MARKUP.items():
        assert shown[name] == literal
    visible = {  # the escape sequences and their payloads gone, the words around them kept
        "csi-colour": "RED-MK",
        "csi-clear": "CLEAR-MK",
        "csi-cursor": "MOVE-MK",
        "csi-private": "ALT-MK",
        "csi-8bit": "C1CSI-MK",
        "osc-title-bel": "TITLE-MK",
        "osc-title-st": "TITLE2-MK",
        "osc-52": "CLIP-MK",
        "osc-8-link": "LINK-MK",
        "dcs": "DCS-MK",
        "apc": "APC-MK",
        "c0": "nulbelbscrvtffsoC0-MK",
        "c1": "c1C1-MK",
        "bidi-override": "txt.exe RLO-MK",
        "mixed": "[bold]蓝鲸[/]",
    }
    for name, text in visible.items():
        assert shown[name] == text, name
    assert shown["cjk-wide"] == "蓝鲸作业平台执行失败" and display_width(shown["cjk-wide"]) == 20
    assert shown["newlines"] == "after-newlines" and shown["long-line"] == "long:" + "x" * 100_000
    assert shown["zero-width"] == "family👨👩👧 ZW-MK"
    assert clean_text("a\u2028b\u2029c") == "a\nb\nc"
    assert clean_text("lone\ud800 surrogate") == "lone surrogate"  # it could not be written out


def test_only_address_like_ips_reach_the_clipboard() -> None:
    hosts, tasks = HostKind(), JobTaskKind()
    for ip in ("10.0.0.1", "fe80::1%eth0", "host-42", "db-01.example.com", "10.0.0.1,10.0.0.2"):
        host = Host(f"0:{ip}", ip, 0, State.FAILED, "11", "failed")
        assert hosts.copy_id(host, False) == ip and hosts.copy_id(host, True) == f"0:{ip}"
        assert tasks.copy_id(JobTask("1", State.FAILED, "failed", ip=ip, cloud_id=0), True) == f"0:{ip}"
    for ip in ("10.0.0.1; rm -rf ~", "$(reboot)", "`id`", "a b", "蓝鲸", "", "x" * 300, "[bold]x[/]"):
        assert hosts.copy_id(Host(f"0:{ip}", ip, 0, State.FAILED, "11", "failed"), False) is None
        assert tasks.copy_id(JobTask("1", State.FAILED, "failed", ip=ip), False) is None


# ---- the app in-process ------------------------------------------------------------------------


class ScreenCheck:
    """Reads every screen the app composes: each line exactly the screen's width, nothing
    unprintable in it; keeps the text of all screens seen."""

    def __init__(self, app: BkWatchApp) -> None:
        self.app = app
        self.seen: list[str] = []
        self.screens = 0

    def __call__(self, where: str) -> str:
        width, height = self.app.size
        strips = self.app.screen._compositor.render_strips()
        assert len(strips) == height, where
        lines = []
        for y, strip in enumerate(strips):
            text = "".join(seg.text for seg in strip if not seg.control)
            assert cell_len(text) == width, f"{where}: line {y} is {cell_len(text)} cells wide: {text[:80]!r}"
            bad = _bad_chars(text)
            assert not bad, f"{where}: line {y} draws {sorted(map(hex, map(ord, bad)))}: {text[:80]!r}"
            assert _tallest_stack(text) <= 3, f"{where}: line {y} stacks combining marks: {text[:80]!r}"
            lines.append(text)
        screen = "\n".join(lines)
        self.seen.append(screen)
        self.screens += 1
        return screen


async def _walk_list(rig: Rig, pilot: Pilot[None], check: ScreenCheck, label: str) -> None:
    """Every task in job-list order: its title, error and default view (hosts, tree, rows)."""
    await pilot.press("home")
    for _ in range(len(rig.poller.watches)):
        await pilot.pause()
        check(f"{label} {rig.app.joblist.cursor_key}")
        await pilot.press("j")
    assert rig.app.is_running, label


async def _open_failing(rig: Rig, pilot: Pilot[None], check: ScreenCheck) -> None:
    """One failing task of each system opened: its failures visited with n, the rows below, the
    info line of each."""
    firsts: dict[str, str] = {}
    for key, watch in rig.poller.watches.items():
        if watch.task is not None and watch.task.state is State.FAILED:
            firsts.setdefault(key.split(":", 1)[0], key)
    assert firsts
    for key in firsts.values():
        rig.app.select(key)
        await pilot.press("enter", "n")
        await pilot.pause()
        check(f"{key} first failure")
        await pilot.press("n", "j", "j")
        await pilot.pause()
        check(f"{key} rows below")
        await pilot.press("escape")
        if not key.startswith(("sops", "bkflow")):  # the failing hosts' IPs to the clipboard
            rig.app.copy_to_clipboard("")
            await pilot.press("c")
            copied = rig.app.clipboard.split("\n")
            assert copied[-1] == "" and copied[:-1], f"{key}: {rig.app.clipboard[:200]!r}"
            assert all(map(_clean_ip, copied[:-1])), f"{key}: {rig.app.clipboard[:200]!r}"
    assert rig.app.is_running


# Running tasks of each system driven to failure: log lines, toasts, desktop notifications.
TO_FAIL = {"job:3:20003": 4, "sops:2:104": "FAILED", "nodeman:2:303": "FAILED", "gsekit:2:803": "failed"}


async def _transitions(rig: Rig, pilot: Pilot[None], check: ScreenCheck) -> None:
    app = rig.app
    app.signals.desktop_enabled = True
    logged = len(app.log_view.entries)
    for target, state in TO_FAIL.items():
        if target in rig.poller.watches:
            rig.sim.world.force(target, state)
    await rig.poller.poll_all()
    await pilot.pause()
    check("transitions")
    app.alerts.flush()
    await pilot.pause()
    check("toasts")
    new = app.log_view.entries[logged:]
    assert new and app.signals.sent
    for line in new + app.signals.sent:
        assert line == one_line(line) and not _bad_chars(line), line[:80]
    for note in app.signals.sent:  # OSC 777 fields are split on ";"
        assert note.count(";") == 0, note[:80]


@pytest.mark.parametrize("nodeman_api", ["v2", "v1"])
async def test_every_text_field_shown_literally_and_layout_intact(tmp_path: Path, nodeman_api: str) -> None:
    rig = _rig(tmp_path, nodeman_api)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE) as pilot:
        check = ScreenCheck(app)
        await rig.poller.poll_all()
        await pilot.pause()
        errors = {k: w.error for k, w in rig.poller.watches.items() if w.error is not None}
        # The only task that fails in data mode is the BKFlow space owned by another app (403).
        assert set(errors) <= {"bkflow:7:506"}, errors
        await _walk_list(rig, pilot, check, "data")
        await _open_failing(rig, pilot, check)
        await pilot.press("question_mark")
        await pilot.pause()
        check("help")
        await pilot.press("escape", "home", "d")  # the removal question names the task
        await pilot.pause()
        check("remove dialog")
        await pilot.press("n")
        assert len(rig.poller.watches) == len(rig.app.joblist.lines)
        if nodeman_api == "v2":  # a forced NodeMan job state leaves 1.x host rows as they were
            await _transitions(rig, pilot, check)

        # Every answer an error now: envelope messages, text and HTML bodies, a lone surrogate.
        rig.server.mode = "error"
        # Three error answers in four carry a catalogue string: enough rounds for each system to
        # meet every string.
        rounds = -(-len(HOSTILE) * 4 // (3 * _fewest_tasks(rig))) + 1
        kinds: Counter[ErrorKind] = Counter()
        for _ in range(rounds):
            for update in await rig.poller.poll_all():
                assert update.error is not None, update.key
                kinds[update.error.kind] += 1
                message = update.error.message
                assert not _bad_chars(message.replace("\n", "")), f"{update.key}: {message[:80]!r}"
        await pilot.pause()
        # Envelopes and HTML pages with status 200 and lone surrogates are bad answers, the 502s
        # server errors: each a classified error, never an exception.
        assert kinds[ErrorKind.BAD_RESPONSE] and kinds[ErrorKind.SERVER], kinds
        assert all(w.error is not None for w in rig.poller.watches.values())
        await _walk_list(rig, pilot, check, "errors")

    seen = "\n".join(check.seen)
    if nodeman_api == "v2":
        for name, literal in MARKUP.items():
            assert literal in seen, f"{name}: {literal!r} is not shown literally"
        for word in ("RED-MK", "CLEAR-MK", "TITLE-MK", "CLIP-MK", "蓝鲸作业平台执行失败", "after-newlines"):
            assert word in seen, f"{word!r} never shown"
    else:  # five NodeMan tasks: not every string reaches the screen, but markup and markers do
        assert any(literal in seen for literal in MARKUP.values()) and "-MK" in seen

    placed = rig.server.placements
    systems = SYSTEMS if nodeman_api == "v2" else ("nodeman",)
    for system in systems:
        keys = TEXT_KEYS[system]
        if system == "nodeman":
            keys = keys - (NODEMAN_V1_ONLY if nodeman_api == "v2" else NODEMAN_V2_ONLY)
        for key in (*keys, ERROR_KEY, *ERROR_BODIES):
            assert placed[(system, key)], f"{system}: no hostile text was sent in {key!r}"
        if nodeman_api == "v2":
            missing = [n for n in NAMES if (system, n) not in rig.server.met]
            assert not missing, f"{system} never met {missing}"


# ---- terminal bytes ----------------------------------------------------------------------------

CSI = re.compile(r"\x1b\[([0-?]*)([ -/]*)([@-~])")
OSC = re.compile(r"\x1b\](\d*);([^\x07\x1b]*)(?:\x07|\x1b\\)")
# What Textual itself writes: colours (m), cursor positions (H), DEC private modes set / reset /
# queried (h, l, $p) and the keyboard protocol (u). Server text could add erases (J, K), relative
# cursor moves (A-D) and others: none of those may appear.
# Textual's own, and C: the cells a repaint skips (tui/widgets/wire.py moves the cursor forward).
TEXTUAL_CSI_FINALS = frozenset("mHhlpuC")
# The writer's scroll of lines that moved (tui/widgets/wire.py), whole: a region over them, the
# cursor to its edge, line feeds (the pty adds a CR to each) or reverse indexes, the region
# dropped. A region or a reverse index anywhere else is not ours.
SCROLL = re.compile(r"\x1b\[\d+;\d+r\x1b\[\d+;1H(?:(?:\r?\n)+|(?:\x1bM)+)\x1b\[r")
TITLE = re.compile(r"bkwatch — (nothing watched|\d+ [a-z ]+(, \d+ [a-z ]+)*)")
# Words of hostile payloads that live only inside escape sequences: seen anywhere means one passed.
PAYLOAD_WORDS = (b"PWNED", b"evil.invalid", CLIP_PAYLOAD.encode(), b"Gf=100", b"+q544e")


def _read_until(term: PtySession, done: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        term.read_for(0.2)


def _drive(term: PtySession, server: HostileServer) -> int:
    """Walk the app with keys as a user would; returns the output offset where `c` was pressed."""
    assert term.wait_for(b"-MK", timeout=15), "no server text ever reached the screen"
    term.read_for(1.0)
    for _ in range(8):  # tasks of every system, each with its default view
        term.send("j")
        term.read_for(0.2)
    term.send("\x1b[H")  # home: a failing JOB task is first (the test watches it first)
    term.read_for(0.3)
    for key in ("\r", "n", "n", "j", "\t"):  # its failing hosts, the info line, the steps
        term.send(key)
        term.read_for(0.3)
    for key in ("\x1b[Z", "\x1b"):  # shift+tab back to the hosts, escape to the job list
        term.send(key)
        term.read_for(0.3)
    copy_at = len(term.output)
    term.send("c")  # the step's failing IPs to the clipboard: the app's own OSC 52
    assert term.wait_for(b"\x1b]52;", timeout=10), "c wrote nothing to the clipboard"
    for key in ("?", "\x1b"):  # help, back
        term.send(key)
        term.read_for(0.5)
    server.mode = "error"
    term.send("r")  # poll everything now: every answer an error with hostile text
    _read_until(term, lambda: all(server.placements[(s, ERROR_KEY)] for s in SYSTEMS))
    term.read_for(1.0)
    for _ in range(6):
        term.send("j")
        term.read_for(0.2)
    term.send("q")
    _read_until(term, lambda: term.exited)
    return copy_at


def test_no_server_byte_reaches_the_terminal_as_an_escape() -> None:
    sim = hostile_sim()
    server = HostileServer(sim.app)
    tasks = sim.world.tasks()
    # A failing JOB task first: the list keeps its order while every row fits, and `c` copies
    # the failing hosts of the task at the top.
    failing_job = next(t.target for t in tasks if t.system == "job" and t.state in BAD_RAW)
    targets = sorted((t.target for t in tasks), key=lambda target: target != failing_job)
    with (
        serve(server, "127.0.0.1", 0) as served,
        isolated_watch(served.base_url, targets) as iso,
        PtySession(iso.argv, env=iso.env) as term,
    ):
        copy_at = _drive(term, server)
        exited = term.exited
    out = bytes(term.output)
    assert exited, "the app did not quit on q"
    assert server.placements[("job", "name")] and server.placements[("job", ERROR_KEY)]

    for seq in ESCAPES:
        assert seq not in out, f"server escape written verbatim: {seq[:40]!r}"
    for word in PAYLOAD_WORDS:
        assert word not in out, f"payload of a server escape reached the terminal: {word!r}"
    text = out.decode("utf-8")  # strict: nothing but valid UTF-8 is written
    c1 = {hex(ord(ch)) for ch in text if 0x80 <= ord(ch) < 0xA0}
    assert not c1, f"C1 control characters written: {sorted(c1)}"
    assert b"\x1b]52;" not in out[:copy_at], "a clipboard write before the user asked for one"

    oscs = OSC.findall(text)
    assert {num for num, _ in oscs} <= {"2", "22", "52"}, {num for num, _ in oscs}
    titles = [payload for num, payload in oscs if num == "2"]
    assert titles and all(TITLE.fullmatch(t) for t in titles), [t for t in titles if not TITLE.fullmatch(t)]
    clips = [payload for num, payload in oscs if num == "52"]
    assert len(clips) == 1, f"{len(clips)} clipboard writes for one c"
    copied = base64.b64decode(clips[0].removeprefix("c;")).decode().split("\n")
    assert copied[-1] == "" and copied[:-1], copied[:5]
    assert all(map(_clean_ip, copied[:-1])), copied[:5]

    text = SCROLL.sub("", text)
    finals = {m.group(3) for m in CSI.finditer(text)}
    assert finals <= TEXTUAL_CSI_FINALS, f"unexpected CSI sequences: {finals - TEXTUAL_CSI_FINALS}"
    rest = OSC.sub("", CSI.sub("", text))
    controls = {hex(ord(ch)) for ch in rest if unicodedata.category(ch) == "Cc" and ch not in "\r\n"}
    assert not controls, f"control characters written outside Textual's own sequences: {controls}"
