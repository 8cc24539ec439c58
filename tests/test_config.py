from __future__ import annotations

import os
from pathlib import Path

import pytest

from bkwatch.config import (
    ConfigError,
    Profile,
    check_permissions,
    config_dir,
    data_dir,
    load_profile,
    log_dir,
    mask,
)
from bkwatch.model import ErrorKind, System

FILE = """
default_profile = "prod"

[profiles.prod]
esb_url = "http://paas.example.com"
apigw_tmpl = "http://bkapi.example.com/api/{api_name}"
app_code = "bkwatch"
app_secret = "file-secret-123"
username = "alice"
timeout = 4

[profiles.prod.gateways]
bkflow = "my-flow"

[profiles.test]
esb_url = "http://paas-test.example.com"
app_code = "bkwatch-test"
nodeman_api = "v1"
verify = false
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(FILE, encoding="utf-8")
    return path


def test_paths_follow_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "d"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    assert config_dir() == tmp_path / "c" / "bkwatch"
    assert data_dir() == tmp_path / "d" / "bkwatch"
    assert str(log_dir()).startswith(str(tmp_path / "s"))


def test_default_profile_from_file(cfg: Path) -> None:
    p = load_profile(env={}, path=cfg)
    assert p.name == "prod"
    assert p.esb_url == "http://paas.example.com"
    assert p.app_secret == "file-secret-123"
    assert p.timeout == 4.0
    assert p.gateways[System.BKFLOW] == "my-flow"
    assert p.gateways[System.JOB] == "bk-job"  # defaults kept for the rest
    assert p.verify is True and p.nodeman_api == "v2"


def test_named_profile_and_env_selection(cfg: Path) -> None:
    p = load_profile("test", env={}, path=cfg)
    assert (p.name, p.app_code, p.nodeman_api, p.verify, p.insecure) == (
        "test",
        "bkwatch-test",
        "v1",
        False,
        True,
    )
    assert load_profile(env={"BKWATCH_PROFILE": "test"}, path=cfg).name == "test"
    # An explicit name beats the environment.
    assert load_profile("prod", env={"BKWATCH_PROFILE": "test"}, path=cfg).name == "prod"


def test_unknown_profile_is_an_error(cfg: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_profile("nope", env={}, path=cfg)
    assert "nope" in err.value.message and "prod" in err.value.message
    assert err.value.kind is ErrorKind.CONFIG


def test_env_overrides_file(cfg: Path) -> None:
    env = {
        "BK_COMPONENT_API_URL": "http://esb.env",
        "BK_API_URL_TMPL": "http://gw.env/api/{api_name}",
        "BK_APP_CODE": "env-app",
        "BK_APP_SECRET": "env-secret",
        "BK_USERNAME": "bob",
        "BK_TOKEN": "tok",
        "BKWATCH_INSECURE": "1",
    }
    p = load_profile(env=env, path=cfg)
    assert (p.esb_url, p.apigw_tmpl, p.app_code, p.app_secret, p.username, p.token) == (
        "http://esb.env",
        "http://gw.env/api/{api_name}",
        "env-app",
        "env-secret",
        "bob",
        "tok",
    )
    assert p.verify is False
    assert p.timeout == 4.0  # untouched file values stay


def test_no_file_env_only(tmp_path: Path) -> None:
    p = load_profile(env={"BK_COMPONENT_API_URL": "http://x"}, path=tmp_path / "missing.toml")
    assert p.name == "default" and p.esb_url == "http://x" and p.apigw_tmpl is None


def test_corrupt_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    bad = 'default_profile = "prod"\n[profiles.prod\nesb_url = "x"\n'
    path.write_text(bad)
    with pytest.raises(ConfigError) as err:
        load_profile(env={}, path=path)
    assert str(path) in err.value.message and "line 2" in err.value.message


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ('[profiles.p]\ntimeout = "ten"\n', "timeout"),
        ('[profiles.p]\nverify = "no"\n', "verify"),
        ('[profiles.p]\nnodeman_api = "v3"\n', "nodeman_api"),
        ("[profiles.p]\nesb_url = 5\n", "esb_url"),
        ('[profiles.p.gateways]\nfoo = "x"\n', "foo"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, word: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=word):
        load_profile("p", env={}, path=path)


def test_permission_warning(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("")
    os.chmod(path, 0o644)
    warning = check_permissions(path)
    assert warning is not None and "chmod 600" in warning and str(path) in warning
    os.chmod(path, 0o600)
    assert check_permissions(path) is None


def test_mask_and_repr_hide_secrets(cfg: Path) -> None:
    p = load_profile(env={"BK_TOKEN": "token-xyz-789"}, path=cfg)
    shown = mask(p)
    assert shown["app_secret"] == "set" and shown["token"] == "set"
    text = repr(p) + str(shown)
    assert "file-secret-123" not in text and "token-xyz-789" not in text
    assert mask(Profile())["app_secret"] == "unset"
