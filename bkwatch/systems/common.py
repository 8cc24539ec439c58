"""Small helpers the adapters share: times, safe numbers, untrusted text made plain."""

from __future__ import annotations

import html
import re
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from bkwatch.model import BkError, ErrorKind
from bkwatch.text import clean_text

_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li|/tr|/pre|/h\d)\b[^>]*>", re.IGNORECASE)
_DROP_BLOCK = re.compile(r"<\s*(script|style)\b.*?</\s*\1\s*>", re.IGNORECASE | re.DOTALL)
_BLANK_LINES = re.compile(r"\n\s*\n+")
_TRUE_STRINGS = frozenset({"true", "True", "TRUE", "1", "yes", "on"})


def html_to_text(text: str) -> str:
    """HTML fragment -> plain text: tags removed, line breaks kept, entities decoded."""
    if "<" not in text and "&" not in text:
        return clean_text(text).strip()
    text = _DROP_BLOCK.sub("", text)
    text = _BREAK.sub("\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = clean_text(text)
    text = _BLANK_LINES.sub("\n", text)
    return "\n".join(line.strip() for line in text.splitlines()).strip()


def readable(value: Any, limit: int = 2000) -> str:
    """Any server-supplied value (string, HTML, JSON text, dict, list) as readable plain text."""
    if value is None:
        return ""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                return readable(orjson.loads(stripped), limit)
            except orjson.JSONDecodeError:
                pass
        return clean_text(html_to_text(value), limit)
    if isinstance(value, dict):
        parts = [f"{clean_text(str(k))}: {readable(v, limit)}" for k, v in value.items()]
        return clean_text("\n".join(parts), limit)
    if isinstance(value, list | tuple):
        return clean_text("\n".join(readable(v, limit) for v in value), limit)
    return clean_text(str(value), limit)


def to_int(value: Any, default: int | None = None) -> int | None:
    """int from an int, float or numeric string; `default` for anything else."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, float):
        return int(value) if value == value and abs(value) != float("inf") else default
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                return int(float(value))
            except (ValueError, OverflowError):
                return default
    return default


def to_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def to_bool(value: Any) -> bool:
    """Server flags come as bools, 0/1 or strings ("True", "false")."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value.strip() in _TRUE_STRINGS
    return False


def ms_to_s(value: Any) -> float | None:
    """JOB epoch milliseconds -> epoch seconds."""
    if type(value) is int or type(value) is float:
        return value / 1000.0
    f = to_float(value)
    return None if f is None else f / 1000.0


@lru_cache(maxsize=8192)
def parse_time_text(text: str) -> float | None:
    s = text.strip()
    if not s:
        return None
    # "2024-05-01 10:02:03 +0800": fromisoformat refuses the space before the offset.
    if len(s) > 6 and s[-6] == " " and s[-5] in "+-":
        s = s[:-6] + s[-5:]
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    # No offset (NodeMan 1.x): the server's local time, taken as this machine's local time.
    return dt.timestamp()


def parse_time(value: Any) -> float | None:
    """Epoch seconds from the BlueKing time strings (any of the formats in docs/states.md)."""
    if isinstance(value, str):
        return parse_time_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Epoch numbers: milliseconds when they are too large to be seconds.
        return value / 1000.0 if value > 1e11 else float(value)
    return None


def need(mapping: Any, key: str, where: str) -> Any:
    """mapping[key], or BkError(BAD_RESPONSE) naming the missing field."""
    if not isinstance(mapping, dict):
        raise BkError(ErrorKind.BAD_RESPONSE, f"{where}: expected an object, got {type(mapping).__name__}")
    try:
        return mapping[key]
    except KeyError:
        raise BkError(ErrorKind.BAD_RESPONSE, f"{where}: field '{key}' is missing") from None


def need_dict(mapping: Any, key: str, where: str) -> dict[str, Any]:
    value = need(mapping, key, where)
    if not isinstance(value, dict):
        raise BkError(ErrorKind.BAD_RESPONSE, f"{where}: '{key}' should be an object")
    return value


def need_list(mapping: Any, key: str, where: str, *, allow_null: bool = True) -> list[Any]:
    value = need(mapping, key, where)
    if value is None and allow_null:
        return []
    if not isinstance(value, list):
        raise BkError(ErrorKind.BAD_RESPONSE, f"{where}: '{key}' should be a list")
    return value


def bad(where: str, what: str) -> BkError:
    return BkError(ErrorKind.BAD_RESPONSE, f"{where}: {what}")
