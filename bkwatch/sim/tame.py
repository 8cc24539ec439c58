"""The demo's world without the hostile-text fixtures (`SimConfig(hostile=False)`).

The seeded world names tasks and fills messages, tags and reasons with text made to test escaping:
terminal escape sequences, console markup, a name hundreds of characters long. `bkwatch demo`
shows a world a user would see; `bkwatch demo --hostile` and the tests keep the fixtures. The world
is built the same way either way (same random draws), then its stored text is tamed here.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from .scenario import NASTY

FRIENDLY = ["nightly backup", "清理临时文件", "sync configs", "巡检-磁盘空间", "rotate certificates"]
_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC (title, clipboard, link)
    r"|\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b.|[\x00-\x08\x0b-\x1f\x7f]"  # CSI, other escapes, controls
)
_MARKUP = re.compile(r"\[/?(?:bold|red|link|italic|dim)[^\]]*\]|\[/\]")


def tame_text(text: str) -> str:
    """`text` without escape sequences and console markup; a fixture name becomes a plain one.
    Text with neither is returned as it is."""
    if text in NASTY:
        return FRIENDLY[NASTY.index(text) % len(FRIENDLY)]
    tamed = _MARKUP.sub("", _ESCAPES.sub("", text))
    return text if tamed == text else tamed.strip() or "task"


def _tame_value(value: Any, seen: set[int]) -> Any:
    if isinstance(value, str):
        return tame_text(value)
    tame(value, seen)
    return value


def tame(obj: Any, seen: set[int] | None = None) -> None:
    """Tame every string held by `obj` (a simulated task and what it holds), in place."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, type):
        return
    seen.add(id(obj))
    if isinstance(obj, list):
        obj[:] = [_tame_value(v, seen) for v in obj]
    elif isinstance(obj, dict):
        for k, v in obj.items():
            obj[k] = _tame_value(v, seen)
    elif isinstance(obj, tuple | set | frozenset):
        for v in obj:
            if not isinstance(v, str):
                tame(v, seen)
    elif type(obj).__module__.startswith("bkwatch.sim"):  # only the simulator's own objects
        if dataclasses.is_dataclass(obj):
            names = [f.name for f in dataclasses.fields(obj)]
        else:
            names = list(vars(obj)) if hasattr(obj, "__dict__") else []
        for name in names:
            setattr(obj, name, _tame_value(getattr(obj, name), seen))
