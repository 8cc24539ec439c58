"""Writing a profile into config.toml: a minimal TOML writer for the keys bkwatch reads, 0600 and
atomic, and a corrupt file is never replaced (what `config.py` reads, this writes back)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bkwatch.atomic import write_private
from bkwatch.config import (
    DEFAULT_GATEWAYS,
    DEFAULT_MAX_RESPONSE_MB,
    STR_KEYS,
    Profile,
    config_path,
    read_file,
)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    escaped = "".join(
        ch if ch not in '"\\' and ord(ch) >= 0x20 and ch != "\x7f" else f"\\u{ord(ch):04x}" for ch in text
    )
    return f'"{escaped}"'


def _toml_key(key: str) -> str:
    bare = key.replace("-", "").replace("_", "")
    return key if bare.isascii() and bare.isalnum() else _toml_value(key)


def _dump(doc: Mapping[str, Any]) -> str:
    lines: list[str] = []
    if "default_profile" in doc:
        lines.append(f"default_profile = {_toml_value(doc['default_profile'])}")
    for key, value in doc.items():
        if key not in ("default_profile", "profiles") and not isinstance(value, Mapping):
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for pname, table in doc.get("profiles", {}).items():
        lines += ["", f"[profiles.{_toml_key(pname)}]"]
        subtables = []
        for key, value in table.items():
            if isinstance(value, Mapping):
                subtables.append((key, value))
            elif value is not None:
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        for key, sub in subtables:
            lines += ["", f"[profiles.{_toml_key(pname)}.{_toml_key(key)}]"]
            lines += [f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in sub.items()]
    return "\n".join(lines) + "\n"


def _profile_table(profile: Profile) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key in STR_KEYS:
        value = getattr(profile, key)
        if value is not None and not (key == "stage" and value == "prod"):
            table[key] = value
    if profile.nodeman_api != "v2":
        table["nodeman_api"] = profile.nodeman_api
    if profile.default_biz:
        table["default_biz"] = int(profile.default_biz)
    if not profile.verify:
        table["verify"] = False
    if profile.timeout != 10.0:
        table["timeout"] = profile.timeout
    if profile.max_response_mb != DEFAULT_MAX_RESPONSE_MB:
        table["max_response_mb"] = profile.max_response_mb
    if profile.allow_actions:
        table["allow_actions"] = True
    changed = {str(k): v for k, v in profile.gateways.items() if DEFAULT_GATEWAYS.get(k) != v}
    if changed:
        table["gateways"] = changed
    return table


def save_profile(profile: Profile, *, path: Path | None = None, make_default: bool = False) -> Path:
    """Write `profile` into the config file (0600, atomic). A corrupt file is never replaced."""
    path = path or config_path()
    doc = dict(read_file(path))  # raises ConfigError on a corrupt file: nothing gets overwritten
    profiles = dict(doc.get("profiles", {}))
    profiles[profile.name] = _profile_table(profile)
    doc["profiles"] = profiles
    if make_default or "default_profile" not in doc:
        doc["default_profile"] = profile.name
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, _dump(doc).encode("utf-8"))
    return path
