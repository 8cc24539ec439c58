"""Baseline for startup.py: a minimal Textual app (Header, 1,000-row DataTable, Footer)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

FIRST_ROW = "baseline-row-0000"


class Minimal(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("name", "state", "progress", "elapsed")
        table.add_rows((f"baseline-row-{i:04d}", "SUCCEEDED", f"{i}/1000", f"{i % 60}s") for i in range(1000))


if __name__ == "__main__":
    Minimal().run()
