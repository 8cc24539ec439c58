"""Textual's command palette without its crash on a quick close."""

from __future__ import annotations

import contextlib
from typing import Any

from textual import work
from textual.command import CommandList
from textual.command import CommandPalette as TextualCommandPalette
from textual.css.query import NoMatches


class CommandPalette(TextualCommandPalette):
    """Textual's (8.2.8) palette gathers commands in a worker, and shows "busy" and "no matches"
    from timers, that outlive the palette: typing and closing it within a few tenths of a second
    (ctrl+p, "re", escape) let them look up widgets already removed, and the NoMatches raised
    ended the whole app (found by the long run's keys). Closing stops them; updates that still
    arrive after the palette's widgets are gone are dropped."""

    _closed = False

    def dismiss(self, *args: Any, **kwargs: Any) -> Any:
        self._closed = True
        self._cancel_gather_commands()
        self._stop_busy_countdown()
        self._stop_no_matches_countdown()
        return super().dismiss(*args, **kwargs)

    @work(exclusive=True, group=TextualCommandPalette._GATHER_COMMANDS_GROUP)
    async def _gather_commands(self, search_value: str) -> None:
        if not self.query(CommandList):  # started after the palette closed
            return
        await TextualCommandPalette._gather_commands.__wrapped__(self, search_value)  # type: ignore[attr-defined]

    def _start_no_matches_countdown(self, search_value: str) -> None:
        # A search that ends after the close (its worker cancelled too late) would start the
        # timer anew; under load it fired on a removed list and ended the app (the long run's CI
        # form, load 9 on 2 cores).
        if not self._closed:
            super()._start_no_matches_countdown(search_value)

    def _refresh_command_list(self, command_list: CommandList, commands: list, clear_current: bool) -> None:
        if command_list.is_attached:
            super()._refresh_command_list(command_list, commands, clear_current)

    def _watch__list_visible(self) -> None:
        with contextlib.suppress(NoMatches):
            super()._watch__list_visible()

    async def _watch__show_busy(self) -> None:
        with contextlib.suppress(NoMatches):
            await super()._watch__show_busy()
