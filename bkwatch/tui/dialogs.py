"""Modal dialogs: add a watch, confirm removal, help."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from bkwatch.targets import Target, TargetError, parse_target
from bkwatch.tui.fmt import clean


class AddDialog(ModalScreen[tuple[Target, str | None] | None]):
    """Takes a canonical target or a pasted BlueKing URL and validates it as you type."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, exists: Callable[[str], bool] = lambda _k: False) -> None:
        super().__init__()
        self.exists = exists
        self.error = Static("", classes="error", id="add-error", markup=False)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Add a task to watch", classes="dialog-title", markup=False)
            yield Input(placeholder="job:BIZ:ID, sops:BIZ:ID, … or a BlueKing task URL", id="add-target")
            yield Input(placeholder="label (optional)", id="add-label")
            yield self.error
            yield Static(
                "Forms: job:BIZ:ID  job:biz_set:SET:ID  sops:BIZ:ID  sops:project:PROJ:ID  "
                "bkflow:SPACE:ID  nodeman:BIZ:ID  gsekit:BIZ:ID — or paste the task page URL.",
                classes="hint",
                markup=False,
            )
            with Horizontal():
                yield Button("Add", variant="primary", id="add-ok")
                yield Button("Cancel", id="add-cancel")

    def _check(self) -> Target | None:
        text = self.query_one("#add-target", Input).value
        if not text.strip():
            self.error.update(Text("Enter a target or paste a task URL."))
            return None
        try:
            target = parse_target(text)
        except TargetError as exc:
            self.error.update(Text(clean(str(exc))))
            return None
        if self.exists(str(target)):
            self.error.update(Text(f"{target} is already watched."))
            return None
        self.error.update(Text(f"OK: {target}", style="green"))
        return target

    @on(Input.Changed, "#add-target")
    def _changed(self) -> None:
        if self.query_one("#add-target", Input).value.strip():
            self._check()
        else:
            self.error.update(Text(""))

    @on(Input.Submitted)
    @on(Button.Pressed, "#add-ok")
    def _submit(self) -> None:
        target = self._check()
        if target is not None:
            label = self.query_one("#add-label", Input).value.strip() or None
            self.dismiss((target, label))

    @on(Button.Pressed, "#add-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(clean(self.question)), classes="dialog-title")
            yield Static("y: yes   n / escape: no", classes="hint", markup=False)
            with Horizontal():
                yield Button("Remove", variant="error", id="yes")
                yield Button("Keep", id="no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class HelpScreen(ModalScreen[None]):
    """Every key, generated from the app's bindings so it never goes stale."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        text = Text(end="")
        for key, what in self.keys:
            text.append(f"{key:>16}  ", style="bold")
            text.append(f"{what}\n")
        with Vertical():
            yield Static("bkwatch keys", classes="dialog-title", markup=False)
            yield Static(text, id="help-keys")
            yield Static(
                "Mouse: click a row to select it, click again to open.", classes="hint", markup=False
            )

    def action_close(self) -> None:
        self.dismiss(None)
