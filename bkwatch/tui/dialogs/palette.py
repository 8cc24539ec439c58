"""Textual's command palette without its crashes on a quick close or a quick page key."""

from __future__ import annotations

import contextlib
from typing import Any

from textual import work
from textual.command import CommandList
from textual.command import CommandPalette as TextualCommandPalette
from textual.css.query import NoMatches
from textual.theme import ThemeProvider
from textual.timer import Timer

from bkwatch.tui.widgets.once import AnswerOnce, page_ready


class CommandPalette(AnswerOnce, TextualCommandPalette):
    """Textual's (8.2.8) palette gathers commands in a worker, and shows "busy" and "no matches"
    from timers, that outlive the palette: typing and closing it within a few tenths of a second
    (ctrl+p, "re", escape) let them look up widgets already removed, and the NoMatches raised
    ended the whole app (found by the long run's keys). Closing stops them; updates that still
    arrive after the palette's widgets are gone are dropped. Like every screen of the monitor, it
    answers once (`once.py`): a command chosen by a key already queued when it closed is not run."""

    def _action_command_list(self, action: str) -> None:
        if action in ("page_up", "page_down"):  # before the list is laid out: KeyError (once.py)
            lists = self.query(CommandList)
            if not lists or not page_ready(lists.first()):
                return
        super()._action_command_list(action)

    def dismiss(self, *args: Any, **kwargs: Any) -> Any:
        self._cancel_gather_commands()
        self._stop_busy_countdown()
        self._stop_no_matches_countdown()
        return super().dismiss(*args, **kwargs)

    def set_timer(self, delay: float, callback: Any = None, **kwargs: Any) -> Timer:
        """The palette's countdowns ("busy", "no matches") do nothing once its list is gone: the
        app quitting mid-search closed the list and then the timer fired (NoMatches)."""

        def guarded() -> Any:
            if callback is not None and self.query(CommandList):
                return callback()
            return None

        return super().set_timer(delay, guarded, **kwargs)

    @work(exclusive=True, group=TextualCommandPalette._GATHER_COMMANDS_GROUP)
    async def _gather_commands(self, search_value: str) -> None:
        if not self.query(CommandList):  # started after the palette closed
            return
        await TextualCommandPalette._gather_commands.__wrapped__(self, search_value)  # type: ignore[attr-defined]

    def _refresh_command_list(self, command_list: CommandList, commands: list, clear_current: bool) -> None:
        if command_list.is_attached:
            super()._refresh_command_list(command_list, commands, clear_current)

    def _watch__list_visible(self) -> None:
        with contextlib.suppress(NoMatches):
            super()._watch__list_visible()

    async def _watch__show_busy(self) -> None:
        with contextlib.suppress(NoMatches):
            await super()._watch__show_busy()


def theme_palette() -> CommandPalette:
    """The palette's "Theme" command: Textual opens a palette of its own class for it, which
    crashed the same ways (a theme chosen by a key queued as it closed: ScreenStackError)."""
    return CommandPalette(providers=[ThemeProvider], placeholder="Search for themes…")
