"""Small helpers the adapters share: times, safe numbers, untrusted text made plain."""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from bkwatch.model import BkError, ErrorKind, Task
from bkwatch.text import clean_text, html_to_text, one_line

_TRUE_STRINGS = frozenset({"true", "True", "TRUE", "1", "yes", "on"})
_MAX_DEPTH = 16  # nesting `readable` spells out; deeper values are cut (a 1,000-level list recursed)
_MAX_TIME_TEXT = 64  # longer strings are never times, and must not fill the parse cache
MAX_IP = 100  # longer "addresses" are cut: they are row keys and table cells
_SCAN_FACTOR = 8  # characters read per character kept, for text that markup or escapes shrink
# Answers with more host rows than this are made a Task in a worker thread (`build_task`).
OFF_LOOP_ROWS = 5_000
_SWEEP_AT = 256  # `Answers` looks for the entries of tasks nothing holds past this many


def plain_text(text: str, limit: int = 2000) -> str:
    """Server text or HTML as plain text of at most `limit` characters. Only the start of a huge
    string is read: cleaning costs per character, and a response may hold thousands of them."""
    return clean_text(html_to_text(text[: limit * _SCAN_FACTOR + 1024]), limit)


def readable(value: Any, limit: int = 2000, _depth: int = 0) -> str:
    """Any server-supplied value (string, HTML, JSON text, dict, list) as readable plain text."""
    if value is None:
        return ""
    if _depth > _MAX_DEPTH:
        return "…"
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                return readable(orjson.loads(stripped), limit, _depth + 1)
            except orjson.JSONDecodeError:
                pass
        return plain_text(value, limit)
    if isinstance(value, dict):
        items = (f"{clean_text(str(k)[:limit])}: {readable(v, limit, _depth + 1)}" for k, v in value.items())
        return clean_text(_join_upto(items, limit), limit)
    if isinstance(value, list | tuple):
        return clean_text(_join_upto((readable(v, limit, _depth + 1) for v in value), limit), limit)
    return clean_text(str(value), limit)


def _join_upto(parts: Iterable[str], limit: int) -> str:
    """Lines joined until there are more than `limit` characters: a 100,000-item list is not
    spelled out to show its first 200 characters."""
    out: list[str] = []
    size = 0
    for part in parts:
        out.append(part)
        size += len(part) + 1
        if size > limit:
            break
    return "\n".join(out)


def raw_text(value: Any, limit: int = 200) -> str:
    """A raw server value (a status, a code, an id) as one short plain line; containers spelled
    out by `readable`. Unchanged when it already is a short printable string."""
    if type(value) is str:
        if len(value) <= limit and value.isprintable():
            return value
        return one_line(value[: limit * _SCAN_FACTOR], limit)
    if value is None or isinstance(value, bool | int | float):
        return str(value)
    return one_line(readable(value, limit), limit)


def host_ip(*candidates: Any, fallback: Any) -> str:
    """The first usable address among `candidates` as plain text, or "host-<fallback>"."""
    for value in candidates:
        if value and isinstance(value, str):
            text = raw_text(value, MAX_IP)
            if text:
                return text
    return f"host-{raw_text(fallback, MAX_IP)}"


def span(start: float | None, end: float | None) -> float | None:
    """end - start, or None when either is unknown (or the difference of extremes overflows)."""
    if start is None or end is None:
        return None
    out = end - start
    return out if math.isfinite(out) else None


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
    """A finite float, or None: "nan" and "inf" strings would crash every duration format."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return out if math.isfinite(out) else None


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


def parse_time_text(text: str) -> float | None:
    return _parse_time_text(text) if len(text) <= _MAX_TIME_TEXT else None


@lru_cache(maxsize=8192)
def _parse_time_text(text: str) -> float | None:
    s = text.strip()
    if not s:
        return None
    # "2024-05-01 10:02:03 +0800": fromisoformat refuses the space before the offset.
    if len(s) > 6 and s[-6] == " " and s[-5] in "+-":
        s = s[:-6] + s[-5:]
    try:
        # No offset (NodeMan 1.x): the server's local time, taken as this machine's local time.
        # Years 1 and 9999 fall outside the local calendar east or west of UTC: ValueError.
        return datetime.fromisoformat(s).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


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
    # `what` may quote a server value: the message is shown on screen like any server text.
    return BkError(ErrorKind.BAD_RESPONSE, clean_text(f"{where}: {what}", 500))


async def build_task(rows: int, parse: Callable[..., Task], *args: Any, **kwargs: Any) -> Task:
    """`parse(*args, **kwargs)`, in a worker thread when the answer holds more than
    `OFF_LOOP_ROWS` rows. Made on the event loop, a 20,000-host JOB answer held it ~40 ms past
    its JSON decode, and every other poll and the screen waited; in a thread the loop runs
    between the interpreter's switches (every 5 ms). The decode itself stays where it is: orjson
    holds the GIL throughout, so a thread would not let the loop run during it. `parse` must be
    pure (it reads only its arguments)."""
    if rows > OFF_LOOP_ROWS:
        return await asyncio.to_thread(parse, *args, **kwargs)
    return parse(*args, **kwargs)


class Answers:
    """One client's last answer of each task, by fingerprint (`BkClient.call_unless`), and the
    Task made of it while anything still holds it (the poller does, until it slims it): a poll
    answered with those very bytes again is that Task, neither decoded nor parsed. A task that
    waits, or is finished, answers the same bytes poll after poll.

    Only for a poll of one request whose Task is made from that answer alone (and, for a
    pipeline, the flow `context` it was ordered with, compared by identity). Owned by the client
    (`BkClient.adapter_state`), so it goes with it; used on the event loop only."""

    __slots__ = ("_last", "_sweep_at")

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, object, weakref.ref[Task]]] = {}
        self._sweep_at = _SWEEP_AT

    @classmethod
    def of(cls, client: Any) -> Answers:
        answers = client.adapter_state.get("answers")
        if answers is None:
            answers = client.adapter_state["answers"] = cls()
        return answers

    def held(self, key: str, context: object = None) -> tuple[int | None, Task | None]:
        """The fingerprint of the answer `key`'s last Task was made of, and that Task, when it is
        still held and was made in this `context`; else (None, None)."""
        last = self._last.get(key)
        if last is None or last[1] is not context:
            return None, None
        task = last[2]()
        return (None, None) if task is None else (last[0], task)

    def keep(self, key: str, fingerprint: int, task: Task, context: object = None) -> None:
        """`task` was made of the answer with this fingerprint (in this `context`)."""
        self._last[key] = (fingerprint, context, weakref.ref(task))
        if len(self._last) > self._sweep_at:  # watches removed since: their tasks are gone
            self._last = {k: v for k, v in self._last.items() if v[2]() is not None}
            self._sweep_at = max(_SWEEP_AT, 2 * len(self._last))
