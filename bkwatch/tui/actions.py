"""Every action of the monitor's main screen, declared once.

`BkWatchApp.BINDINGS` (and with them the footer), the help screen and the command palette are all
built from `ACTIONS`: adding an action is one row here and its `action_<name>` method on the app.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class UiAction:
    key: str  # Textual key name(s), comma-separated
    action: str  # Textual action string: "refresh", "copy(True)"
    description: str  # the footer's and the help screen's text
    show: bool = True  # in the footer
    key_display: str | None = None
    palette: str | None = None  # the command palette's title; None: not in the palette
    palette_help: str = ""  # the palette's line under the title (the key is added to it)
    group: str = "watch"

    @property
    def shown_key(self) -> str:
        return self.key_display or self.key


ACTIONS: tuple[UiAction, ...] = (
    UiAction("q", "quit", "Quit", group="app"),
    UiAction("question_mark", "help", "Help", key_display="?", palette="Help", palette_help="List every key", group="app"),
    UiAction("tab", "focus_next", "Switch pane", show=False, group="move"),
    UiAction("escape", "back", "Back to the job list / close the filter", show=False, group="move"),
    UiAction("n", "next_failure(1)", "Next fail", palette="Next failure", palette_help="Jump to the next failing host or node", group="move"),
    UiAction("N", "next_failure(-1)", "Previous failing host / node", show=False, key_display="N", palette="Previous failure", palette_help="Jump to the previous failing host or node", group="move"),
    UiAction("f", "failures_only", "Failures", palette="Failures only", palette_help="Show only failing hosts / nodes", group="view"),
    UiAction("slash", "filter", "Filter", key_display="/", palette="Filter", palette_help="Filter by IP, name or message", group="view"),
    UiAction("c", "copy(False)", "Copy IPs", palette="Copy failing IPs", palette_help="IP per line to the clipboard", group="view"),
    UiAction("C", "copy(True)", "Copy CLOUD:IP", show=False, key_display="C", palette="Copy failing CLOUD:IP", palette_help="CLOUD:IP per line to the clipboard", group="view"),
    UiAction("l", "evidence", "Log", palette="Host / node log", palette_help="Log and details of the host, node or job task under the cursor", group="view"),
    UiAction("w", "signatures", "Why", palette="Failure signatures", palette_help="Failing hosts / nodes grouped by what their logs say", group="view"),
    UiAction("a", "add", "Add", palette="Add watch", palette_help="Watch a task by target or URL"),
    UiAction("d", "remove", "Remove", palette="Remove watch", palette_help="Stop watching the selected task; dismiss a task a scope found; on a scope's header, stop following it"),
    UiAction("space", "fold", "Fold scope", show=False, palette="Fold / unfold scope", palette_help="Hide or show a followed scope's tasks under its header"),
    UiAction("x", "act", "Actions", palette="Actions…", palette_help="Retry, skip, confirm, stop… what is under the cursor (each confirmed)"),
    UiAction("p", "pause", "Pause", palette="Pause / resume polling", palette_help="Toggle polling"),
    UiAction("r", "refresh", "Refresh", palette="Refresh now", palette_help="Poll every task now"),
)  # fmt: skip

# Keys the list widgets and Textual handle, listed on the help screen before the actions.
EXTRA_KEYS: tuple[tuple[str, str], ...] = (
    ("up/down, k/j", "move the cursor"),
    ("pgup/pgdn, home/end", "move by page / to the ends"),
    ("enter", "open a task or step; fold a host group or a scope"),
    ("shift+tab", "previous pane"),
    ("ctrl+p", "command palette (every action below)"),
    ("log: / n N F", "in a log: search, next / previous match, follow"),
)


def bindings(actions: tuple[UiAction, ...] = ACTIONS) -> list[Binding]:
    return [Binding(a.key, a.action, a.description, show=a.show, key_display=a.key_display) for a in actions]


def help_keys(actions: tuple[UiAction, ...] = ACTIONS) -> list[tuple[str, str]]:
    """(key, what it does) rows of the help screen."""
    return [*EXTRA_KEYS, *((a.shown_key, a.description) for a in actions)]


def palette_entries(actions: tuple[UiAction, ...] = ACTIONS) -> list[tuple[str, str, str]]:
    """(title, help, action string) of every action the command palette offers."""
    return [(a.palette, f"{a.palette_help} ({a.shown_key})", a.action) for a in actions if a.palette]
