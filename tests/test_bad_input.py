"""Bad user input on every surface: command-line arguments, config values, unusable config and data
directories, the add dialog. Each gets a clear one-line message (or an inline error), never a
traceback, and nothing already saved changes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import Input

from bkwatch import cli
from bkwatch.config import ConfigError, load_profile
from bkwatch.tui.dialogs.dialogs import AddDialog, HelpScreen
from tests.conftest import ENV_VARS, isolate
from tests.harness import frame_text, frozen_sim, sim_app

GOOD_CONFIG = """default_profile = "prod"

[profiles.prod]
esb_url = "http://127.0.0.1:9"
app_code = "bkwatch"
app_secret = "s3cret-for-tests"
username = "admin"
"""
# C0 and C1 controls (ESC among them) except the newline that ends a message.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
LONG = "x" * 10_000
HUGE_ID = "9" * 10_000


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate(tmp_path, monkeypatch)


def config_file(home: Path) -> Path:
    return home / "xdg_config_home" / "bkwatch" / "config.toml"


def data_dir(home: Path) -> Path:
    return home / "xdg_data_home" / "bkwatch"


def snapshot(home: Path) -> dict[str, bytes]:
    """Every saved file (lock files aside: they hold nothing) with its bytes."""
    return {
        str(p.relative_to(home)): p.read_bytes()
        for p in sorted(home.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_clear_line(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[:500]
    line = lines[0]
    assert line.startswith("bkwatch: error: "), line[:200]
    assert "Traceback" not in err and "internal error" not in err
    assert not CONTROL.search(line), repr(line[:200])
    assert len(line) < 1200, f"{len(line)} characters"
    for fragment in fragments:
        assert fragment in line, (fragment, line[:300])


@pytest.fixture
def saved(home: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, bytes]:
    """A config with one profile and a watch list with two entries, as bytes on disk."""
    path = config_file(home)
    path.parent.mkdir(parents=True)
    path.write_text(GOOD_CONFIG)
    path.chmod(0o600)
    code, _, _ = run(capsys, ["add", "job:2:42", "sops:3:7", "--label", "release"])
    assert code == 0
    files = snapshot(home)
    assert any(name.endswith("lists/default.json") for name in files)
    return files


# -- command-line arguments --------------------------------------------------------------------

# (argv, fragments the one error line must hold)
BAD_ARGS: list[tuple[list[str], tuple[str, ...]]] = [
    (["frobnicate"], ("invalid choice: 'frobnicate'",)),
    (["--profile"], ("--profile: expected one argument",)),
    (["--list"], ("--list: expected one argument",)),
    (["--ascii=1"], ("--ascii: ignored explicit argument",)),
    (["--profile", "nope"], ("profile 'nope' is not in", "known: prod")),
    (["--list", "../escape"], ("invalid list name '../escape'",)),
    (["add"], ("required: TARGET|URL",)),
    (["add", ""], ("empty target",)),
    (["add", "   "], ("empty target",)),
    (["add", "job:2:x"], ("task id must be a positive integer",)),
    (["add", "job:2:0"], ("task id must be a positive integer",)),
    (["add", "job:2:42", "job:two:1"], ("scope id must be a positive integer",)),  # all or nothing
    (["add", "job"], ("does not look like a job target",)),
    (["add", "cmdb:2:42"], ("unknown system 'cmdb'",)),
    (["add", LONG], ("target too long (10,000 characters",)),
    (["add", "job:2:" + HUGE_ID], ("target too long (10,006 characters",)),
    (["add", "job:2:" + "9" * 25], ("an id is larger than BlueKing allows",)),
    (["add", "job:2:\x1b[31m42"], ("task id must be a positive integer",)),
    (["add", "job:2:4\x1b]52;c;aGk=\x072"], ("task id must be a positive integer",)),
    (["add", "job:\u202e2:42"], ("scope id must be a positive integer",)),
    (["add", "[bold red]job[/]:2:42"], ("not a valid URL '//[bold red]job[/]:2:42'",)),
    (["add", "https://bk.example.com/not/a/task"], ("unrecognised BlueKing URL",)),
    (["add", "http://paas.example.com/o/bk_job/api_execute/187"], ("--biz", "--biz-set", "default_biz")),
    (["add", "job:2:42", "--biz", "x"], ("--biz: must be a positive business id, got 'x'",)),
    (["add", "job:2:42", "--biz", "0"], ("--biz: must be a positive business id",)),
    (["add", "job:2:42", "--biz", HUGE_ID], ("--biz: must be a positive business id",)),
    (["add", "job:2:42", "--label", "a\x1b]0;pwned\x07"], ("--label: must be one line of printable text",)),
    (["add", "job:2:42", "--label", "two\nlines"], ("--label: must be one line",)),
    (["add", "job:2:42", "--label", LONG], ("--label: too long (10,000 characters, at most 100)",)),
    (["add", "job:2:42", "--label"], ("--label: expected one argument",)),
    (["add", "job:2:42", "--list", ""], ("invalid list name ''",)),
    (["add", "job:2:42", "--list", LONG], ("invalid list name",)),
    (["add", "job:2:42", "--list", "a/b"], ("invalid list name 'a/b'",)),
    (["ls", "extra"], ("unrecognized arguments: extra",)),
    (["ls", "--json=yes"], ("--json: ignored explicit argument",)),
    (["ls", "--list", "\x1b[2J"], ("invalid list name",)),
    (["rm"], ("required: TARGET|URL",)),
    (["rm", ""], ("empty target",)),
    (["rm", LONG], ("target too long",)),
    (["rm", "job:2:42", "--biz", "abc"], ("--biz: must be a positive business id",)),
    (["status", "job:2:x"], ("task id must be a positive integer",)),
    (["status", "--timeout", "3"], ("unrecognized arguments: --timeout",)),
    (["status", "job:2:1", "--biz", "1e3"], ("--biz: must be a positive business id",)),
    (["status", "--profile", "nope"], ("profile 'nope' is not in",)),
    (["status", "", "job:2:1"], ("empty target",)),
    (["wait"], ("required: TARGET|URL",)),
    (["wait", "job:2:1", "--timeout", "abc"], ("--timeout: not a number: 'abc'",)),
    (["wait", "job:2:1", "--timeout", "0"], ("--timeout: must be a positive number",)),
    (["wait", "job:2:1", "--timeout", "-5"], ("--timeout: must be a positive number: '-5'",)),
    (["wait", "job:2:1", "--timeout", "nan"], ("--timeout: must be a positive number",)),
    (["wait", "job:2:1", "--timeout", "1e400"], ("--timeout: must be a positive number",)),
    (["wait", "job:2:1", "--timeout"], ("--timeout: expected one argument",)),
    (["wait", "job:2:1", "--interval", "-1"], ("--interval: must be a positive number: '-1'",)),
    (["wait", "job:2:1", "--interval=-1"], ("--interval: must be a positive number",)),
    (["wait", "job:2:1", "--interval", ""], ("--interval: not a number",)),
    (["wait", "job:2:1", "--interval", "inf"], ("--interval: must be a positive number",)),
    (["wait", "job:2:1", "--fail-fast=1"], ("--fail-fast: ignored explicit argument",)),
    (["wait", "job:2:1", "--profile", "nope"], ("profile 'nope' is not in",)),
    (["config"], ("required: ACTION",)),
    (["config", "bogus"], ("invalid choice: 'bogus'",)),
    (["config", "show", "extra"], ("unrecognized arguments: extra",)),
    (["config", "show", "--profile", "nope"], ("profile 'nope' is not in",)),
    (["config", "path", "x"], ("unrecognized arguments: x",)),
    (["config", "init", "--force"], ("unrecognized arguments: --force",)),
    (["demo", "--seed", "x"], ("--seed: invalid int value: 'x'",)),
    (["demo", "--speed", "0"], ("--speed: must be a positive number",)),
    (["demo", "--speed", "fast"], ("--speed: not a number",)),
    (["demo", "extra"], ("unrecognized arguments: extra",)),
]


@pytest.mark.parametrize(("argv", "fragments"), BAD_ARGS, ids=[repr(a)[:60] for a, _ in BAD_ARGS])
def test_bad_arguments_exit_2_with_one_clear_line_and_save_nothing(
    argv: list[str],
    fragments: tuple[str, ...],
    home: Path,
    saved: dict[str, bytes],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screens: list[str] = []
    # Should a bad argument ever slip through to the monitor or the demo, fail instead of hanging.
    from bkwatch.cli import demo
    from bkwatch.cli import start as monitor

    monkeypatch.setattr(monitor, "run_watch", lambda *a: screens.append("watch") or 0)
    monkeypatch.setattr(demo, "run_demo", lambda *a: screens.append("demo") or 0)
    code, out, err = run(capsys, argv)
    assert (code, out, screens) == (2, "", [])
    assert_one_clear_line(err, *fragments)
    assert snapshot(home) == saved


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["sim", "--bogus"], "unrecognized arguments: --bogus"),
        (["sim", "--port", "abc"], "argument --port: invalid int value: 'abc'"),
        (["sim", "--seed"], "argument --seed: expected one argument"),
    ],
)
def test_bad_simulator_arguments(
    argv: list[str], fragment: str, saved: dict[str, bytes], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The simulator has its own parser: argparse's usage, then one error line.
    code, out, err = run(capsys, argv)
    assert code == 2 and out == ""
    assert err.strip().splitlines()[-1] == f"bkwatch sim: error: {fragment}"
    assert "Traceback" not in err
    assert snapshot(home) == saved


def test_rm_of_an_unlisted_target_is_exit_1_and_keeps_the_list(
    saved: dict[str, bytes], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, ["rm", "job:2:999"])
    assert (code, out) == (1, "")
    assert err.strip() == "bkwatch: not in list 'default': job:2:999"
    assert snapshot(home) == saved


SUBPROCESS_CASES = [
    (["add", "job:2:" + HUGE_ID], "target too long"),
    (["add", "job:2:42", "--label", "\x1b]52;c;aGk=\x07"], "--label: must be one line of printable text"),
    (["wait", "job:2:1", "--timeout", "abc"], "--timeout: not a number"),
    (["--list", "../x"], "invalid list name '../x'"),
    (["status", "--profile", "nope"], "profile 'nope' is not in"),
]


def test_bad_arguments_in_a_real_process_never_show_a_traceback(saved: dict[str, bytes], home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    for argv, fragment in SUBPROCESS_CASES:
        proc = subprocess.run(
            [sys.executable, "-m", "bkwatch", *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert (proc.returncode, proc.stdout) == (2, ""), (argv[:2], proc.stderr[-500:])
        assert_one_clear_line(proc.stderr, fragment)
    assert snapshot(home) == saved


# -- config values of the wrong type -----------------------------------------------------------

PROFILE_HEAD = 'default_profile = "prod"\n\n[profiles.prod]\nesb_url = "http://127.0.0.1:9"\napp_code = "b"\n'
# (file text, fragments the error must hold besides the file's path)
BAD_CONFIGS: list[tuple[str, tuple[str, ...]]] = [
    (
        PROFILE_HEAD + 'timeout = "abc"\n',
        ("timeout must be a positive number of seconds, got a string ('abc')",),
    ),
    (PROFILE_HEAD + "timeout = -3\n", ("timeout must be a positive number", "got an integer (-3)")),
    (PROFILE_HEAD + "timeout = 0\n", ("timeout must be a positive number",)),
    (PROFILE_HEAD + "timeout = nan\n", ("timeout must be a positive number", "got a number (nan)")),
    (PROFILE_HEAD + "timeout = inf\n", ("timeout must be a positive number",)),
    (PROFILE_HEAD + "timeout = true\n", ("timeout must be a positive number", "got a boolean")),
    (PROFILE_HEAD + "timeout = 1979-05-27\n", ("timeout must be a positive number", "got a date")),
    (PROFILE_HEAD + 'verify = "yes"\n', ("verify must be true or false (a boolean), got a string ('yes')",)),
    (PROFILE_HEAD + "verify = 1\n", ("verify must be true or false",)),
    (PROFILE_HEAD.replace('"http://127.0.0.1:9"', "5"), ("esb_url must be a string, got an integer (5)",)),
    (PROFILE_HEAD.replace('"http://127.0.0.1:9"', '"paas.example.com"'), ("esb_url must be an http://",)),
    (PROFILE_HEAD + 'apigw_tmpl = ["x"]\n', ("apigw_tmpl must be a string, got an array",)),
    (PROFILE_HEAD + "app_secret = 123\n", ("app_secret must be a string",)),
    (PROFILE_HEAD + "stage = 1\n", ("stage must be a string",)),
    (PROFILE_HEAD + "ca_bundle = false\n", ("ca_bundle must be a string",)),
    (PROFILE_HEAD + 'gateways = "x"\n', ("gateways must be a table", "got a string ('x')")),
    (PROFILE_HEAD + "\n[profiles.prod.gateways]\njob = 5\n", ("gateways.job must be a gateway name",)),
    (PROFILE_HEAD + '\n[profiles.prod.gateways]\ncmdb = "x"\n', ("gateways.cmdb is not a known system",)),
    (PROFILE_HEAD + 'nodeman_api = "v3"\n', ('nodeman_api must be "v2" or "v1"',)),
    (PROFILE_HEAD + "max_response_mb = 0\n", ("max_response_mb must be a positive number of MiB",)),
    (PROFILE_HEAD + 'max_response_mb = "big"\n', ("max_response_mb must be a positive number of MiB",)),
    (PROFILE_HEAD + "max_response_mb = -1.5\n", ("max_response_mb must be a positive number of MiB",)),
    ("profiles = 3\n", ("[profiles] must be a table", "got an integer (3)")),
    ('default_profile = "prod"\n[profiles]\nprod = 3\n', ("profiles.prod must be a table",)),
    (
        '[profiles.prod]\nesb_url = "http://x"\n',
        ("no default_profile and no [profiles.default]", "one of prod"),
    ),
    (
        'default_profile = "missing"\n\n[profiles.prod]\n',
        ("default_profile 'missing' names no", "known: prod"),
    ),
    ('default_profile = "missing"\n', ("default_profile 'missing' names no", "known: none")),
    ("default_profile = 5\n", ("default_profile must be a profile name",)),
    ('default_profile = "prod"\n[profiles.prod\n', ("is not valid TOML", "line 2")),
]


@pytest.mark.parametrize(
    ("text", "fragments"), BAD_CONFIGS, ids=[f"config{i}" for i in range(len(BAD_CONFIGS))]
)
def test_wrong_config_values_name_file_key_and_type_and_write_nothing(
    text: str,
    fragments: tuple[str, ...],
    home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = config_file(home)
    path.parent.mkdir(parents=True)
    path.write_text(text)
    assert run(capsys, ["add", "job:2:42"])[0] == 0  # list editing needs no config
    before = snapshot(home)
    with pytest.raises(ConfigError) as err:
        load_profile()
    assert str(path) in err.value.message
    for argv in (["config", "show"], ["status"], ["status", "job:2:42"], ["wait", "job:2:42"], []):
        code, out, errout = run(capsys, argv)
        assert (code, out) == (2, ""), (argv, out)
        assert_one_clear_line(errout, str(path), *fragments)
    assert snapshot(home) == before


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        (
            {"BKWATCH_MAX_RESPONSE_MB": "abc"},
            "BKWATCH_MAX_RESPONSE_MB must be a positive number of MiB, got 'abc'",
        ),
        ({"BKWATCH_MAX_RESPONSE_MB": "-1"}, "BKWATCH_MAX_RESPONSE_MB must be a positive number"),
        ({"BKWATCH_MAX_RESPONSE_MB": "nan"}, "BKWATCH_MAX_RESPONSE_MB must be a positive number"),
        ({"BK_COMPONENT_API_URL": "ftp://paas"}, "BK_COMPONENT_API_URL must be an http:// or https:// URL"),
        ({"BKWATCH_PROFILE": "nope"}, "profile 'nope' is not in"),
    ],
)
def test_bad_environment_values(
    env: dict[str, str],
    fragment: str,
    saved: dict[str, bytes],
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for argv in (["config", "show"], ["status"]):
        code, out, err = run(capsys, argv)
        assert (code, out) == (2, "")
        assert_one_clear_line(err, fragment)
    assert snapshot(home) == saved


def test_unknown_keys_warn_with_a_suggestion_and_still_load(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(home)
    path.parent.mkdir(parents=True)
    path.write_text('defualt_profile = "x"\n' + PROFILE_HEAD + "timeot = 3\nfuture_option = true\n")
    path.chmod(0o600)
    before = snapshot(home)
    code, out, err = run(capsys, ["config", "show"])
    assert code == 0 and "esb_url          http://127.0.0.1:9" in out
    warnings = err.strip().splitlines()
    assert warnings == [
        f"bkwatch: warning: {path}: unknown key 'defualt_profile' ignored; did you mean 'default_profile'?",
        f"bkwatch: warning: {path} [profiles.prod]: unknown key 'timeot' ignored; did you mean 'timeout'?",
        f"bkwatch: warning: {path} [profiles.prod]: unknown key 'future_option' ignored (known keys: "
        "esb_url, apigw_tmpl, app_code, app_secret, username, token, stage, ca_bundle, verify, timeout, "
        "max_response_mb, nodeman_api, default_biz, gateways, allow_actions, record, record_days, "
        "record_max_mb)",
    ]
    assert snapshot(home) == before


# -- unusable config and data directories ------------------------------------------------------


def _config_is_a_directory(home: Path) -> str:
    config_file(home).mkdir(parents=True)
    return "is a directory, not a config file"


def _config_not_utf8(home: Path) -> str:
    config_file(home).parent.mkdir(parents=True)
    config_file(home).write_bytes(b'default_profile = "pr\xff\xfeod"\n')
    return "is not UTF-8 text"


def _config_parent_is_a_file(home: Path) -> str:
    (home / "xdg_config_home").mkdir()
    (home / "xdg_config_home" / "bkwatch").write_text("not a directory")
    return "a parent of it is a file, not a directory"


def _data_dir_is_a_file(home: Path) -> str:
    data_dir(home).parent.mkdir(parents=True)
    data_dir(home).write_text("not a directory")
    return "is a file, not a directory"


def _data_parent_is_a_file(home: Path) -> str:
    (home / "xdg_data_home").write_text("not a directory")
    return "is a file, not a directory"


CONFIG_DIR_CASES = [_config_is_a_directory, _config_not_utf8, _config_parent_is_a_file]
DATA_DIR_CASES = [_data_dir_is_a_file, _data_parent_is_a_file]


def _server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BK_COMPONENT_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("BK_APP_CODE", "bkwatch")
    monkeypatch.setenv("BK_APP_SECRET", "s3cret-for-tests")
    monkeypatch.setenv("BK_USERNAME", "admin")


@pytest.mark.parametrize("breakage", CONFIG_DIR_CASES + DATA_DIR_CASES, ids=lambda f: f.__name__[1:])
def test_unusable_directories_are_one_clear_line_on_every_command_and_the_monitor(
    breakage: Any, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fragment = breakage(home)
    if breakage in DATA_DIR_CASES:
        _server_env(monkeypatch)  # so the commands reach the data directory
    from bkwatch.cli import run as launch

    started: list[str] = []
    monkeypatch.setattr(launch.BkWatchApp, "run_async", lambda *a, **k: started.append("screen"))
    before = snapshot(home)
    commands = [["config", "show"], ["status", "job:2:1"], ["wait", "job:2:1"], []]
    if breakage in DATA_DIR_CASES:
        commands = [["add", "job:2:1"], ["ls"], ["rm", "job:2:1"], ["status"], []]
    for argv in commands:
        code, out, err = run(capsys, argv)
        assert (code, out) == (2, ""), (argv, err)
        assert_one_clear_line(err, fragment)
    assert started == []  # the monitor refused before its screen took over
    assert snapshot(home) == before


def test_config_init_where_it_cannot_write(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _config_parent_is_a_file(home)
    before = snapshot(home)
    code, out, err = run(capsys, ["config", "init"])
    assert (code, out) == (2, "")
    assert_one_clear_line(err, "cannot create", "a parent of it is a file, not a directory")
    assert snapshot(home) == before


def test_config_init_never_replaces_a_directory(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _config_is_a_directory(home)
    code, out, err = run(capsys, ["config", "init"])
    assert (code, out) == (1, "")  # the documented "already exists" code
    assert_one_clear_line(err, "already exists; not overwritten")
    assert config_file(home).is_dir()


def test_monitor_entry_in_a_real_process_with_a_bad_config(home: Path) -> None:
    _config_not_utf8(home)
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    proc = subprocess.run(
        [sys.executable, "-m", "bkwatch"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert_one_clear_line(proc.stderr, "is not UTF-8 text")


# -- the add dialog ------------------------------------------------------------------------------

# (pasted target text, what the inline error must say)
BAD_DIALOG_TARGETS: list[tuple[str, str]] = [
    ("", "Enter a target or paste a task URL."),
    ("    ", "Enter a target or paste a task URL."),
    ("garbage!!", "unknown system 'garbage!!'"),
    (LONG, "Too long for a target or task URL (10,000 characters)"),
    ("job:2:" + HUGE_ID, "Too long for a target or task URL (10,006 characters)"),
    ("job:2:" + "9" * 25, "job: an id is larger than BlueKing allows."),
    ("job:2:0", "the task id must be a positive integer"),
    ("[bold red]job[/]:2:42", "not a valid URL '//[bold red]job[/]:2:42'"),
    ("[link=http://evil]job:2:42[/link]", "unrecognised BlueKing URL '[link=http://evil]job:2:42[/link]'"),
    ("https://bk.example.com/not/a/task", "unrecognised BlueKing URL"),
    ("http://paas.example.com/o/bk_job/api_execute/187", "fill in the business in the add dialog"),
    ("javascript:alert(1)", "unknown system 'javascript'"),
    ("file:///etc/passwd", "unrecognised BlueKing URL"),
]
# Pastes holding escape sequences or controls: refused once with a notice, the rest kept visible.
HOSTILE_PASTES = [
    "\x1b]52;c;aGVsbG8=\x07job:2:77",
    "\x1b]0;pwned\x07\x1b[5;31mjob:2:78\x1b[0m",
    "job:2:7\u202e9",
    "\x9b31mjob:2:80",
]


def _error(app: Any) -> str:
    return str(app.screen.error.render())


async def _paste(pilot: Any, widget: Input, text: str) -> None:
    widget.value = ""
    widget.focus()
    widget.post_message(events.Paste(text))
    await pilot.pause()


def _no_escape_from_the_paste(frame: str) -> None:
    # Textual itself writes only CSI sequences (cursor moves, colours); OSC, BEL and C1 come from
    # nowhere but the paste.
    assert "\x1b]" not in frame and "\x07" not in frame and "\x9b" not in frame
    assert "\x1b[5;31m" not in frame and "pwned" not in frame


async def test_add_dialog_refuses_bad_input_inline_and_saves_nothing(tmp_path: Path) -> None:
    sim = frozen_sim()
    targets = [t.target for t in sim.world.tasks()][:3]
    rig = sim_app(sim, tmp_path, targets)
    app = rig.app
    list_file = rig.store.path("test")
    before = list_file.read_bytes()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, AddDialog)
        field = dialog.query_one("#add-target", Input)
        label = dialog.query_one("#add-label", Input)
        tried = 0
        for text, expected in [*BAD_DIALOG_TARGETS, (targets[0], f"{targets[0]} is already watched.")]:
            await _paste(pilot, field, text)
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is dialog, text[:40]
            assert expected in _error(app), (text[:40], _error(app)[:200])
            tried += 1
        # A good target with a label too long to keep: refused as well.
        await _paste(pilot, field, "job:2:42")
        await _paste(pilot, label, LONG)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
        assert "The label is too long (10,000 characters, at most 100)." in _error(app)
        tried += 1
        await _paste(pilot, label, "")

        for text in HOSTILE_PASTES:
            await _paste(pilot, field, text)
            _no_escape_from_the_paste(frame_text(app))
            assert not CONTROL.search(field.value) and "\u202e" not in field.value
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is dialog  # the first Enter only shows what was removed
            assert "escape sequences were removed" in _error(app)
            tried += 1
        await _paste(pilot, label, "\x1b]0;pwned\x07ops")
        _no_escape_from_the_paste(frame_text(app))
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and "escape sequences were removed" in _error(app)
        tried += 1

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AddDialog) and app.is_running
        assert list(rig.poller.watches) == targets
        assert list_file.read_bytes() == before
        await pilot.press("question_mark")  # still answering keys
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
    print(f"\nadd dialog: {tried} bad inputs tried")
    assert tried == len(BAD_DIALOG_TARGETS) + 1 + 1 + len(HOSTILE_PASTES) + 1


async def test_a_cleaned_paste_is_added_only_after_a_second_enter(tmp_path: Path) -> None:
    sim = frozen_sim()
    rig = sim_app(sim, tmp_path, [])
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        field = dialog.query_one("#add-target", Input)
        await _paste(pilot, field, "\x1b]52;c;aGVsbG8=\x07job:2:\x1b[8m77\x1b[0m")
        assert field.value == "job:2:77"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and list(rig.poller.watches) == []
        dialog.query_one("#add-label", Input).focus()
        await pilot.press(*"nightly", "enter")
        await pilot.pause()
        assert app.screen is not dialog
    assert [(e.target, e.label) for e in rig.store.load("test")] == [("job:2:77", "nightly")]
    assert b"\x1b" not in rig.store.path("test").read_bytes()


async def test_add_dialog_gives_a_business_to_a_job_link_that_has_none(tmp_path: Path) -> None:
    sim = frozen_sim()
    rig = sim_app(sim, tmp_path, [])
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, AddDialog)
        await _paste(
            pilot, dialog.query_one("#add-target", Input), "https://job.example.com/api_execute_step/42/7"
        )
        await pilot.pause()
        assert "add dialog" in _error(app)
        await _paste(pilot, dialog.query_one("#add-biz", Input), "biz_set:9991")
        await pilot.pause()
        assert "OK: job:biz_set:9991:42" in _error(app)
        await _paste(pilot, dialog.query_one("#add-biz", Input), "3")
        await pilot.pause()
        assert "OK: job:3:42" in _error(app)
        await pilot.press("enter")
        await pilot.pause()
        assert "job:3:42" in app.poller.watches
        assert [e.target for e in rig.store.load("test")] == ["job:3:42"]
