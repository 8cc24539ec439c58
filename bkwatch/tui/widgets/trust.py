"""What the monitor does for trust: the insecure-TLS banner for every screen, and crash reports
with no frame variables and no secrets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from bkwatch.redact import redact

if TYPE_CHECKING:
    from rich.traceback import Stack, Trace

INSECURE_BADGE = " TLS NOT VERIFIED "
INSECURE_NOTE = "--insecure / BKWATCH_INSECURE: anyone on the network path can read and change this traffic"


def redact_trace(trace: Trace, secrets: Sequence[str]) -> None:
    for stack in trace.stacks:
        _redact_stack(stack, secrets)


def _redact_stack(stack: Stack, secrets: Sequence[str]) -> None:
    stack.exc_value = redact(stack.exc_value, secrets)
    stack.notes = [redact(n, secrets) for n in stack.notes]
    if stack.syntax_error is not None:
        stack.syntax_error.msg = redact(stack.syntax_error.msg, secrets)
        stack.syntax_error.line = redact(stack.syntax_error.line, secrets)
    for frame in stack.frames:
        frame.locals = None  # a frame's variables may hold the profile, headers or query
    for group in stack.exceptions:
        redact_trace(group, secrets)


class InsecureBanner(Static):
    """Docked on every screen but the main one (whose status line carries the badge) while TLS
    certificates are not verified: dialogs and the command palette must not hide it."""

    DEFAULT_CSS = """
    InsecureBanner { dock: top; height: 1; width: 100%; background: $error; color: $text; }
    """

    def __init__(self) -> None:
        text = Text(INSECURE_BADGE, style="bold reverse", end="")
        text.append(f" {INSECURE_NOTE}")
        super().__init__(text, markup=False)
