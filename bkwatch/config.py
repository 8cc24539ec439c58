"""Profiles: where BlueKing is and who we are, from config.toml overridden by BK_* variables.

File layout (``config_dir()/config.toml``)::

    default_profile = "prod"

    [profiles.prod]
    esb_url = "http://paas.example.com"
    apigw_tmpl = "http://bkapi.example.com/api/{api_name}"
    app_code = "bkwatch"
    app_secret = "..."
    username = "admin"

    [profiles.prod.gateways]
    bkflow = "bk-flow-engine"

Precedence: built-in defaults < the profile table < environment variables.

A value of the wrong type is a `ConfigError` naming the file, the key and what was expected; an
unknown key is only a warning (kept in `Profile.warnings`), so a config file written for a newer
bkwatch still loads, yet a misspelt key does not go unnoticed.
"""

from __future__ import annotations

import difflib
import math
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from bkwatch.model import BkError, ErrorKind, System
from bkwatch.systems.registry import ALL as ALL_SYSTEMS

if TYPE_CHECKING:
    import ssl

APP_NAME = "bkwatch"
CONFIG_FILE = "config.toml"

DEFAULT_GATEWAYS: dict[System, str] = {t.system: t.gateway for t in ALL_SYSTEMS if t.gateway is not None}
NODEMAN_APIS = ("v2", "v1")
# Largest answer read, in MiB: a JOB step of 10,000 hosts is about 5 MB, so this leaves ample room
# while a runaway or hostile server cannot make bkwatch hold gigabytes.
DEFAULT_MAX_RESPONSE_MB = 64.0
MAX_RESPONSE_ENV = "BKWATCH_MAX_RESPONSE_MB"
ALLOW_ACTIONS_ENV = "BKWATCH_ALLOW_ACTIONS"

# BlueKing's own environment conventions (what a SaaS sees at runtime).
ENV_MAP = {
    "BK_COMPONENT_API_URL": "esb_url",
    "BK_API_URL_TMPL": "apigw_tmpl",
    "BK_APP_CODE": "app_code",
    "BK_APP_SECRET": "app_secret",
    "BK_USERNAME": "username",
    "BK_TOKEN": "token",
}


class ConfigError(BkError):
    """The configuration cannot be used as it is; the message names the file and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.CONFIG, message)


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def record_dir(demo: bool = False) -> Path:
    """Where the record is kept. The demo's is apart: its simulator's tasks have ids a real
    server may also give (job:2:20002), and its hosts must never count as the user's flaky ones."""
    return data_dir() / "demo" if demo else data_dir()


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


@dataclass
class Profile:
    name: str = "default"
    esb_url: str | None = None
    apigw_tmpl: str | None = None
    app_code: str | None = None
    app_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    token: str | None = field(default=None, repr=False)
    stage: str = "prod"
    gateways: dict[System, str] = field(default_factory=lambda: dict(DEFAULT_GATEWAYS))
    nodeman_api: str = "v2"
    default_biz: str | None = None  # business for JOB api_execute links, which carry none
    verify: bool = True
    ca_bundle: str | None = None
    timeout: float = 10.0
    max_response_mb: float = DEFAULT_MAX_RESPONSE_MB
    allow_actions: bool = False  # task operations (retry, stop, …); off unless asked for
    record: bool = True  # the history in the data directory (bkwatch.record); --no-record turns it off
    record_days: float = 30.0  # what is older is pruned
    record_max_mb: float = 200.0  # the file is pruned, oldest tasks first, past this
    # Problems worth telling the user that do not stop loading (unknown keys).
    warnings: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def max_response_bytes(self) -> int:
        return int(self.max_response_mb * 1024 * 1024)

    @property
    def insecure(self) -> bool:
        """TLS verification switched off: callers should show this to the user."""
        return not self.verify

    def secrets(self) -> list[str]:
        """Values that must never be shown (used to scrub messages)."""
        return [s for s in (self.app_secret, self.token) if s]


STR_KEYS = ("esb_url", "apigw_tmpl", "app_code", "app_secret", "username", "token", "stage", "ca_bundle")
_URL_KEYS = ("esb_url", "apigw_tmpl")
PROFILE_KEYS = (
    *STR_KEYS,
    "verify",
    "timeout",
    "max_response_mb",
    "nodeman_api",
    "default_biz",
    "gateways",
    "allow_actions",
    "record",
    "record_days",
    "record_max_mb",
)
TOP_KEYS = ("default_profile", "profiles")


def read_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a config file; move it away") from None
    except NotADirectoryError:
        raise ConfigError(f"cannot read {path}: a parent of it is a file, not a directory") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; fix or remove it") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already carries "(at line N, column M)".
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix it by hand (left untouched)") from None


def _got(value: Any) -> str:
    """What a wrong value is, for the error message: its TOML type and a short view of it."""
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(type(value))
    if kind is None:
        kind = (
            "a table" if isinstance(value, Mapping) else "an array" if isinstance(value, list) else "a date"
        )
    text = repr(value)
    return f"{kind} ({text[:40]}…)" if len(text) > 40 else f"{kind} ({text})"


def positive_number(value: Any) -> float | None:
    """`value` as a positive finite float, or None when it is not one (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if number > 0 and math.isfinite(number) else None


def _unknown(key: str, known: tuple[str, ...], where: str) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known keys: {', '.join(known)})"
    return f"{where}: unknown key {key!r} ignored{hint}"


def _apply_table(profile: Profile, table: Mapping[str, Any], where: str) -> None:
    for key, value in table.items():
        if key in STR_KEYS:
            if not isinstance(value, str):
                raise ConfigError(f"{where}: {key} must be a string, got {_got(value)}")
            if key in _URL_KEYS and value and not _is_http(value):
                raise ConfigError(f"{where}: {key} must be an http:// or https:// URL, got {value[:80]!r}")
            if key == "stage":
                profile.stage = value or "prod"
            else:
                setattr(profile, key, value or None)
        elif key in ("verify", "allow_actions", "record"):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: {key} must be true or false (a boolean), got {_got(value)}")
            setattr(profile, key, value)
        elif key in ("timeout", "max_response_mb", "record_days", "record_max_mb"):
            number = positive_number(value)
            if number is None:
                unit = {"timeout": "seconds", "record_days": "days"}.get(key, "MiB")
                raise ConfigError(f"{where}: {key} must be a positive number of {unit}, got {_got(value)}")
            setattr(profile, key, number)
        elif key == "nodeman_api":
            if value not in NODEMAN_APIS:
                raise ConfigError(f'{where}: nodeman_api must be "v2" or "v1", got {_got(value)}')
            profile.nodeman_api = value
        elif key == "default_biz":
            text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
            if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) <= 0:
                raise ConfigError(f"{where}: default_biz must be a positive business id, got {_got(value)}")
            profile.default_biz = str(int(text))
        elif key == "gateways":
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"{where}: gateways must be a table, e.g. [profiles.NAME.gateways], got {_got(value)}"
                )
            for sys_name, gw in value.items():
                try:
                    system = System(sys_name)
                except ValueError:
                    raise ConfigError(f"{where}: gateways.{sys_name} is not a known system") from None
                if not isinstance(gw, str) or not gw:
                    raise ConfigError(f"{where}: gateways.{sys_name} must be a gateway name (a string)")
                profile.gateways[system] = gw
        else:
            profile.warnings.append(_unknown(key, PROFILE_KEYS, where))


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def ca_context(profile: Profile) -> ssl.SSLContext | None:
    """The TLS context trusting the profile's ca_bundle (None when it has none or does not verify);
    a CONFIG BkError when the bundle cannot be loaded. Checked before the screen takes over too."""
    if not (profile.verify and profile.ca_bundle):
        return None
    import ssl  # lazy: only a profile with a CA bundle needs it (about 10 ms)

    try:
        return ssl.create_default_context(cafile=profile.ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise BkError(ErrorKind.CONFIG, f"cannot load ca_bundle {profile.ca_bundle}: {exc}") from None


def load_profile(
    name: str | None = None, *, env: Mapping[str, str] = os.environ, path: Path | None = None
) -> Profile:
    """The profile to use: `name` > $BKWATCH_PROFILE > file's default_profile > "default"."""
    path = path or config_path()
    doc = read_file(path)
    profiles = doc.get("profiles", {})
    if not isinstance(profiles, Mapping):
        raise ConfigError(
            f"{path}: [profiles] must be a table of [profiles.NAME] tables, got {_got(profiles)}"
        )
    default = doc.get("default_profile")
    if default is not None and (not isinstance(default, str) or not default):
        raise ConfigError(f"{path}: default_profile must be a profile name (a string), got {_got(default)}")
    explicit = name or env.get("BKWATCH_PROFILE") or None
    chosen = explicit or default or "default"
    profile = Profile(name=chosen)
    profile.warnings += [_unknown(k, TOP_KEYS, str(path)) for k in doc if k not in TOP_KEYS]
    if chosen in profiles:
        table = profiles[chosen]
        if not isinstance(table, Mapping):
            raise ConfigError(f"{path}: profiles.{chosen} must be a table, got {_got(table)}")
        _apply_table(profile, table, f"{path} [profiles.{chosen}]")
    elif explicit and (profiles or chosen != "default"):
        # Without this a misspelt --profile would run silently on the environment alone.
        known = ", ".join(sorted(profiles)) or "none"
        where = path if doc else f"{path} (no such file; run 'bkwatch config init')"
        raise ConfigError(f"profile {chosen!r} is not in {where} (known: {known})")
    elif not explicit and default:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(
            f"{path}: default_profile {default!r} names no [profiles.{default}] table (known: {known})"
        )
    elif profiles:
        # Profiles, yet none chosen: running on an empty "default" would only fail later, vaguely.
        raise ConfigError(
            f"{path}: no default_profile and no [profiles.default]; set default_profile to one of "
            f"{', '.join(sorted(profiles))}, or choose one with --profile"
        )
    for var, attr in ENV_MAP.items():
        value = env.get(var)
        if value:
            if attr in _URL_KEYS and not _is_http(value):
                raise ConfigError(f"{var} must be an http:// or https:// URL, got {value[:80]!r}")
            setattr(profile, attr, value)
    if env.get("BKWATCH_INSECURE", "") in ("1", "true", "yes"):
        profile.verify = False
    if env.get(ALLOW_ACTIONS_ENV, "") in ("1", "true", "yes"):
        profile.allow_actions = True
    raw_limit = env.get(MAX_RESPONSE_ENV, "").strip()
    if raw_limit:
        try:
            limit = positive_number(float(raw_limit))
        except ValueError:
            limit = None
        if limit is None:
            raise ConfigError(f"{MAX_RESPONSE_ENV} must be a positive number of MiB, got {raw_limit[:40]!r}")
        profile.max_response_mb = limit
    return profile


def mask(profile: Profile) -> dict[str, Any]:
    """A printable view of a profile: secrets are only reported as set/unset."""
    out: dict[str, Any] = {
        "name": profile.name,
        "esb_url": profile.esb_url,
        "apigw_tmpl": profile.apigw_tmpl,
        "app_code": profile.app_code,
        "app_secret": "set" if profile.app_secret else "unset",
        "username": profile.username,
        "token": "set" if profile.token else "unset",
        "stage": profile.stage,
        "gateways": {str(k): v for k, v in profile.gateways.items()},
        "nodeman_api": profile.nodeman_api,
        "default_biz": profile.default_biz,
        "verify": profile.verify,
        "ca_bundle": profile.ca_bundle,
        "timeout": profile.timeout,
        "max_response_mb": profile.max_response_mb,
        "allow_actions": profile.allow_actions,
        "record": profile.record,
        "record_days": profile.record_days,
        "record_max_mb": profile.record_max_mb,
    }
    return out


def check_permissions(path: Path | None = None) -> str | None:
    """A warning when the config file (it holds secrets) is readable by group or others."""
    path = path or config_path()
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} is accessible by other users (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
    return None
