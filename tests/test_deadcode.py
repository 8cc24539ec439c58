"""No dead code in bkwatch: vulture at confidence 60, with tests/vulture_whitelist.py.

Code used only by tests is dead here (only bkwatch/ and the whitelist are scanned), unless the
whitelist names the test rig that uses it.
"""

from __future__ import annotations

from pathlib import Path

from vulture import Vulture

ROOT = Path(__file__).resolve().parent.parent
WHITELIST = ROOT / "tests" / "vulture_whitelist.py"
MIN_CONFIDENCE = 60
# Called by name: Textual's handlers and hooks, the command line's `cmd_<command>` (looked up by
# `cli._dispatch`), a module's lazy `__getattr__`.
IGNORE_NAMES = [
    "action_*",
    "on_*",
    "_on_*",
    "watch_*",
    "validate_*",
    "compute_*",
    "compose",
    "render",
    "render_line",
    "render_lines",
    "get_content_width",
    "get_content_height",
    "DEFAULT_CSS",
    "CSS",
    "BINDINGS",
    "COMPONENT_CLASSES",
    "COMMANDS",
    "cmd_*",
    "__getattr__",
]
IGNORE_DECORATORS = ["@on", "@work"]
# Being moved elsewhere right now: findings there are not reported yet (uses there still count).
# Empty this once those moves have landed.
NOT_YET: tuple[str, ...] = ()


def dead_code(paths: list[Path], not_yet: tuple[str, ...] = (), root: Path = ROOT) -> list[str]:
    v = Vulture(ignore_names=IGNORE_NAMES, ignore_decorators=IGNORE_DECORATORS)
    v.scavenge([str(p) for p in paths])
    out = []
    for item in v.get_unused_code(min_confidence=MIN_CONFIDENCE):
        rel = Path(item.filename).resolve().relative_to(root).as_posix()
        if not rel.startswith(not_yet):
            out.append(f"{rel}:{item.first_lineno}: {item.message} ({item.confidence}% confidence)")
    return out


def test_finds_an_unused_function(tmp_path: Path) -> None:
    probe = tmp_path / "pkg" / "probe.py"
    probe.parent.mkdir()
    probe.write_text(
        "def used() -> int:\n    return 1\n\n\ndef unused() -> int:\n    return used()\n\n\n"
        "def on_key(event: object) -> object:\n    return event\n"
    )
    assert dead_code([probe], root=tmp_path) == ["pkg/probe.py:5: unused function 'unused' (60% confidence)"]
    assert dead_code([probe], not_yet=("pkg/",), root=tmp_path) == []


def test_no_dead_code() -> None:
    found = dead_code([ROOT / "bkwatch", WHITELIST], NOT_YET)
    assert not found, "dead code (remove it, or name its user in tests/vulture_whitelist.py):\n" + "\n".join(
        found
    )
