"""Every action of the monitor's main screen, declared once.

`BkWatchApp.BINDINGS` (and with them the footer, which keeps the lowest `rank`s when narrow), the
help screen and the command palette are all built from `ACTIONS`: adding an action is one row here and its `action_<name>` method on the app.
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
    rank: int = 50  # the footer keeps the lowest ranks when the terminal is narrow (`?` always)
    long: str = ""  # the help screen's text, when neither the footer's nor the palette's explains

    @property
    def shown_key(self) -> str:
        return self.key_display or self.key


ACTIONS: tuple[UiAction, ...] = (
    UiAction("q", "quit", "Quit", group="app", rank=9),
    UiAction("question_mark", "help", "Help", key_display="?", palette="Help", palette_help="List every key", group="app", rank=0),
    UiAction("tab", "focus_next", "Switch pane", show=False, group="move"),
    UiAction("escape", "back", "List", key_display="esc", group="move", rank=1, long="Back to the job list (below 120 columns: the list, full-width) / close the filter"),
    UiAction("n", "next_failure(1)", "Next fail", palette="Next failure", palette_help="Jump to the next failing host or node", group="move", rank=2),
    UiAction("N", "next_failure(-1)", "Previous failing host / node", show=False, key_display="N", palette="Previous failure", palette_help="Jump to the previous failing host or node", group="move"),
    UiAction("f", "failures_only", "Failures", palette="Failures only", palette_help="Show only failing hosts / nodes", group="view", rank=6),
    UiAction("slash", "filter", "Filter", key_display="/", palette="Filter", palette_help="Filter by IP, name or message", group="view", rank=5),
    UiAction("c", "copy(False)", "Copy IPs", palette="Copy failing IPs", palette_help="IP per line to the clipboard", group="view", rank=11, long="Copy the failing hosts' IPs, one per line"),
    UiAction("C", "copy(True)", "Copy CLOUD:IP", show=False, key_display="C", palette="Copy failing CLOUD:IP", palette_help="CLOUD:IP per line to the clipboard", group="view", long="Copy the failing hosts as CLOUD:IP, one per line"),
    UiAction("l", "evidence", "Log", palette="Host / node log", palette_help="Log and details of the host, node or job task under the cursor", group="view", rank=3),
    UiAction("w", "signatures", "Why", palette="Failure signatures", palette_help="Failing hosts / nodes grouped by what their logs say", group="view", rank=7),
    UiAction("a", "add", "Add", palette="Add watch", palette_help="Watch a task by target or URL", rank=8),
    UiAction("d", "remove", "Remove", palette="Remove watch", palette_help="Stop watching the selected task; dismiss a task a scope found; on a scope's header, stop following it", rank=10),
    UiAction("space", "fold", "Fold scope", show=False, palette="Fold / unfold scope", palette_help="Hide or show a followed scope's tasks under its header"),
    UiAction("x", "act", "Actions", palette="Actions…", palette_help="Retry, skip, confirm, stop… what is under the cursor (each confirmed)", rank=4),
    UiAction("p", "pause", "Pause", palette="Pause / resume polling", palette_help="Toggle polling", rank=12, long="Pause or resume polling"),
    UiAction("r", "refresh", "Refresh", palette="Refresh now", palette_help="Poll every task now", rank=13),
    UiAction("R", "replay", "Replay", show=False, key_display="R", palette="Replay the task", palette_help="The selected task as recorded, transition by transition, offline", group="view", long="Replay the selected task from the record: its panes at each transition, offline"),
    UiAction("H", "host_history", "Host's past", show=False, key_display="H", palette="Host's past failures", palette_help="Every recorded failure of the host under the cursor, across tasks", group="view", long="The host under the cursor: its recorded failures across tasks (time, system, task, signature)"),
)  # fmt: skip

# The replay screen's keys (tui/replay/screen.py): its bindings, footer and help come from here.
REPLAY_ACTIONS: tuple[UiAction, ...] = (
    UiAction("question_mark", "help", "Help", key_display="?", group="app", rank=0),
    UiAction("escape,q", "close", "Close", key_display="esc", group="app", rank=0),
    UiAction("left,comma", "step(-1)", "Prev", key_display="←", group="move", rank=1, long="The previous transition"),
    UiAction("right,period", "step(1)", "Next", key_display="→", group="move", rank=2, long="The next transition"),
    UiAction("f", "first_failure", "1st failure", group="move", rank=3, long="The first transition with something failing"),
    UiAction("space", "play", "Play ×10", group="move", rank=4, long="Play at ten times the recorded pace / pause"),
    UiAction("b", "edge(0)", "Start", group="move", rank=5, long="The first recorded transition"),
    UiAction("e", "edge(1)", "End", group="move", rank=6, long="The last recorded transition"),
)  # fmt: skip
# The panes' own keys on the replay screen, listed on its help before its actions.
REPLAY_EXTRA_KEYS: tuple[tuple[str, str], ...] = (
    ("up/down, k/j", "move the cursor"),
    ("pgup/pgdn, home/end", "move by page / to the ends"),
    ("enter", "a step's hosts; fold a host group"),
    ("tab, shift+tab", "next / previous pane"),
)
# The main screen's keys that mean nothing on the replay screen: inert there.
REPLAY_INERT = "slash,n,N,a,d,l,w,x,c,C,p,r,R,H"

# The job list's own key (enter on a task row: the footer says so while the list has the focus).
OPEN = UiAction("enter", "select", "Open", group="move", rank=1)

# Keys the list widgets and Textual handle, listed on the help screen before the actions.
EXTRA_KEYS: tuple[tuple[str, str], ...] = (
    ("up/down, k/j", "move the cursor"),
    ("pgup/pgdn, home/end", "move by page / to the ends"),
    ("enter", "open a task (below 120 columns: full-width) or step; fold a host group or a scope"),
    ("shift+tab", "previous pane"),
    ("ctrl+p", "command palette (every action below)"),
    ("log: / n N F", "in a log: search, next / previous match, follow"),
)


def bindings(actions: tuple[UiAction, ...] = ACTIONS) -> list[Binding]:
    return [Binding(a.key, a.action, a.description, show=a.show, key_display=a.key_display) for a in actions]


def help_keys(
    actions: tuple[UiAction, ...] = ACTIONS, extra: tuple[tuple[str, str], ...] = EXTRA_KEYS
) -> list[tuple[str, str]]:
    """(key, what it does) rows of the help screen."""
    return [*extra, *((a.shown_key, a.long or a.palette_help or a.description) for a in actions)]


def footer_ranks(actions: tuple[UiAction, ...] = ACTIONS) -> dict[str, int]:
    """Action -> rank: which keys the footer keeps first on a narrow terminal."""
    return {a.action: a.rank for a in (*actions, OPEN)}


def palette_entries(actions: tuple[UiAction, ...] = ACTIONS) -> list[tuple[str, str, str]]:
    """(title, help, action string) of every action the command palette offers."""
    return [(a.palette, f"{a.palette_help} ({a.shown_key})", a.action) for a in actions if a.palette]
