"""The monitor is one app made of parts that own their state: no mixins, and no module of the
screen reaching into another's private names (read from the source, as the linters read it)."""

from __future__ import annotations

import ast
from pathlib import Path

import bkwatch.tui
from bkwatch.tui.app import BkWatchApp
from tests.harness import frozen_sim, settle, sim_app

TUI = Path(bkwatch.tui.__file__).parent
# palette.py and once.py subclass Textual's palette, screens and option list to fix them: they
# override Textual's own hooks and read the fields those hooks use; wire.py replaces how
# Textual's compositor updates become terminal text and reads the strips and styles they hold;
# backdrop.py draws a screen's backdrop from its compositor and forgets the visuals screens keep;
# timer_floor.py gives Textual's timers a floor.
TEXTUAL_PATCHES = {"palette.py", "once.py", "wire.py", "backdrop.py", "timer_floor.py"}


def _modules() -> list[Path]:
    found = sorted(TUI.rglob("*.py"))
    assert len(found) > 20  # the screen's modules, not an empty folder
    return found


def _foreign_private(tree: ast.AST) -> list[str]:
    """`x._name` where `x` is not the object itself (`self`, `cls`, `super()`)."""
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__") and node.attr.endswith("__"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
            continue
        out.append(f"line {node.lineno}: {ast.unparse(node)}")
    return out


def _annotated_self(tree: ast.AST) -> list[str]:
    """`def f(self: SomeOtherClass)`: a function written to live inside another class."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.args.args:
            first = node.args.args[0]
            if first.arg == "self" and first.annotation is not None:
                out.append(f"line {node.lineno}: {node.name}(self: {ast.unparse(first.annotation)})")
    return out


def test_no_module_of_the_screen_reaches_into_another_s_private_names() -> None:
    found = {}
    for path in _modules():
        if path.name in TEXTUAL_PATCHES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bad = _foreign_private(tree) + _annotated_self(tree)
        if bad:
            found[path.name] = bad
    assert found == {}


def test_the_checks_catch_what_they_name() -> None:
    sample = ast.parse("def f(self: App) -> None:\n    self.app._select(None)\n    super()._ok()\n")
    assert _foreign_private(sample) == ["line 2: self.app._select"]
    assert _annotated_self(sample) == ["line 1: f(self: App)"]


def test_the_app_is_assembled_from_parts_it_holds_not_from_mixins() -> None:
    ours = [c for c in BkWatchApp.__mro__ if c.__module__.startswith("bkwatch.")]
    assert ours == [BkWatchApp]


async def test_the_watch_list_owns_the_filter_the_status_line_shows(tmp_path: Path) -> None:
    sim = frozen_sim()
    failed = next(t.target for t in sim.world.tasks() if t.system == "job" and t.state == "4")
    rig = sim_app(sim, tmp_path, [failed], select=failed)
    app = rig.app
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(rig, pilot)
        await pilot.press("slash", "1", "0", ".")
        await pilot.pause()
        assert app.watchlist.filter_text == "10."
        assert "filter: 10." in _status(app)
        await pilot.press("enter", "f")
        await pilot.pause()
        assert app.watchlist.failures_only and "failures only" in _status(app)
        await pilot.press("escape")  # the filter box is kept (enter), so escape only moves
        await pilot.press("slash", "escape")  # open again, then escape clears and closes it
        await pilot.pause()
        assert app.watchlist.filter_text == "" and "filter:" not in _status(app)
        assert app.watchlist.failures_only  # a separate switch: still on


def _status(app: BkWatchApp) -> str:
    return str(app.query_one("#status").render())
