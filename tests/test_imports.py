"""The import rules of docs/architecture.md, as the contracts in pyproject.toml state them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_RUN = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"


def test_import_contracts_are_kept() -> None:
    done = subprocess.run([sys.executable, "-c", _RUN], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
