"""Screens that answer once: the one guard every dialog and view of the monitor is built on.

Textual (8.2.8) queues keys and widget messages; a user typing fast (`x` `enter` `x`) gets a
dialog's Enter (an option chosen, a button pressed) handled after an `x` or `escape` already
closed it. `Screen.dismiss` then pops whatever screen is on top — the one underneath, or the
last one, which ended the monitor with `ScreenStackError` — and hands the result to nobody.

`AnswerOnce` makes `dismiss` answer once, and only while the screen is the one on top; after
that, keys, clicks and the messages its own widgets post (an Enter that was already on its way)
are dropped when they reach it, instead of acting on a screen that is going away.

Keys can also come too early: `OptionList` (every list of choices here, and the palette's)
ignores a page key typed before its options were laid out (`page_ready`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import events
from textual.await_complete import AwaitComplete
from textual.message import Message
from textual.widget import Widget
from textual.widgets import OptionList as TextualOptionList

if TYPE_CHECKING:
    from textual.screen import Screen

    _Base = Screen[Any]
else:
    _Base = object

# What a user does to a screen; Textual's own housekeeping (textual.messages: layout, refresh,
# removal) and lifecycle events still reach it.
_INPUT = (events.Key, events.Paste, events.MouseEvent)


class AnswerOnce(_Base):
    """Mixed in before a Textual `Screen` / `ModalScreen` (`class X(AnswerOnce, ModalScreen[T])`)."""

    _answered = False

    @property
    def answered(self) -> bool:
        """Dismissed already: what reaches this screen now is ignored."""
        return self._answered

    @property
    def taken_down(self) -> bool:
        """Its widgets are gone: answered, or removed (the monitor quit) before its mount was
        handled. An `on_mount` that sets its widgets up has nothing to do then."""
        return self._answered or not self.children

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if self._answered or not self.is_active:
            # A second answer, or one for a screen no longer on top: popping now would close
            # another screen (or the last one). Nothing happens.
            return AwaitComplete.nothing()
        self._answered = True
        return super().dismiss(result)

    def check_message_enabled(self, message: Message) -> bool:
        if self._answered and _from_user(self, message):
            return False
        return super().check_message_enabled(message)


def _from_user(screen: object, message: Message) -> bool:
    if isinstance(message, _INPUT):
        return True
    if isinstance(message, events.Event) or type(message).__module__ == "textual.messages":
        return False
    # A widget's message bubbling up: an option chosen, a button pressed, text submitted.
    sender = message._sender
    return message.bubble and isinstance(sender, Widget) and sender is not screen


def page_ready(options: TextualOptionList) -> bool:
    """Whether a page key can move `options`: Textual (8.2.8) finds the highlighted option's line
    only once the list has been laid out, and a page key before that (typed right after ctrl+p
    and a letter, while the palette's list is still hidden) raised KeyError and ended the monitor."""
    highlighted = options.highlighted
    return highlighted is None or highlighted in options._index_to_line


class OptionList(TextualOptionList):
    """Textual's OptionList without the page-key crash (`page_ready`): such a key does nothing."""

    def _move_page(self, direction: Any) -> None:
        if page_ready(self):
            super()._move_page(direction)
