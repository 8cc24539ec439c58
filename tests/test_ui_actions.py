"""The one table of UI actions: bindings, help and palette are all built from it."""

from __future__ import annotations

from textual.binding import Binding

from bkwatch.tui.actions import ACTIONS, EXTRA_KEYS, help_keys, palette_entries
from bkwatch.tui.app import BkWatchApp


def test_every_action_is_bound_once_and_has_its_method() -> None:
    bound = [b for b in BkWatchApp.BINDINGS if isinstance(b, Binding)]
    assert [(b.key, b.action, b.description, b.show) for b in bound] == [
        (a.key, a.action, a.description, a.show) for a in ACTIONS
    ]
    assert len({a.key for a in ACTIONS}) == len(ACTIONS)
    for a in ACTIONS:
        name = a.action.split("(")[0]
        assert callable(getattr(BkWatchApp, f"action_{name}", None)), a.action


def test_help_and_palette_list_the_table() -> None:
    rows = help_keys()
    assert rows[: len(EXTRA_KEYS)] == list(EXTRA_KEYS)
    assert rows[len(EXTRA_KEYS) :] == [
        (a.key_display or a.key, a.long or a.palette_help or a.description) for a in ACTIONS
    ]
    assert ("f", "Show only failing hosts / nodes") in rows  # not the footer's one word
    entries = palette_entries()
    assert ("Refresh now", "Poll every task now (r)", "refresh") in entries
    assert ("Copy failing CLOUD:IP", "CLOUD:IP per line to the clipboard (C)", "copy(True)") in entries
    assert {e[2] for e in entries} == {a.action for a in ACTIONS if a.palette}
