"""The import rules of docs/architecture.md, as the contracts in pyproject.toml state them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_RUN = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"


def test_import_contracts_are_kept() -> None:
    done = subprocess.run([sys.executable, "-c", _RUN], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_every_top_level_module_is_in_the_layers() -> None:
    """A new module or package must be placed: the first contract names every one of them."""
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    placed = {name.strip() for layer in contracts[0]["layers"] for name in layer.split("|")}
    package = REPO / "bkwatch"
    present = {f"bkwatch.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    present |= {f"bkwatch.{p.parent.name}" for p in package.glob("*/__init__.py")}
    assert present - placed == set(), "place these in the layers contract of pyproject.toml"
    assert placed - present == set(), "these layers name modules that no longer exist"
