"""Modal dialogs: add a watch, confirm removal, help.

The add dialog takes whatever is typed or pasted (garbage, huge pastes, escape sequences) and
answers with an inline error; only a valid target (or a scope to follow, with its options, when
the monitor follows scopes) and a printable label ever leave it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from bkwatch.targets import Target, TargetError, parse_target
from bkwatch.text import clean_text, display_width, one_line
from bkwatch.tui.watchlist.scope_port import ScopeRequest
from bkwatch.tui.widgets.once import AnswerOnce

# Far longer than any BlueKing task URL: such a paste is a mistake, refused rather than cut.
MAX_TARGET_CHARS = 2000
MAX_LABEL_CELLS = 100
MAX_ID = 2**63 - 1  # ids are 64-bit on every BlueKing system
DROPPED = "Control characters or escape sequences were removed from the pasted text: check it, then Enter."
ERROR_CELLS = 600  # room for the longest own message; only an echoed huge paste is cut


def label_problem(label: str) -> str | None:
    """Why `label` (already stripped) cannot be saved, or None when it can."""
    if clean_text(label) != label or any(ch in label for ch in "\t\n\r\v\f"):
        return "The label must be printable text, without control characters or escape sequences."
    if display_width(label) > MAX_LABEL_CELLS:
        return f"The label is too long ({display_width(label):,} characters, at most {MAX_LABEL_CELLS})."
    return None


class PlainInput(Input):
    """An Input that keeps only printable text. Textual's Input echoes a pasted value to the
    terminal as it is, so escape sequences in a paste (a title change, an OSC 52 clipboard write)
    would reach the terminal; here they are dropped as they arrive, and `dropped` says so."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.dropped = False
        super().__init__(*args, **kwargs)

    def validate_value(self, value: str) -> str:
        cleaned = clean_text(value).replace("\t", " ").replace("\n", " ")
        if cleaned != value:
            self.dropped = True
        return cleaned


class AddDialog(AnswerOnce, ModalScreen[tuple[Target | ScopeRequest, str | None] | None]):
    """Takes a canonical target or a pasted BlueKing URL and validates it as you type; with
    `parse_scope` (the monitor's scopes), also a scope to follow with its options."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        exists: Callable[[str], bool] = lambda _k: False,
        parse_scope: Callable[[str], ScopeRequest | None] | None = None,
        default_biz: str | None = None,
    ) -> None:
        super().__init__()
        self.exists = exists
        self.parse_scope = parse_scope
        self.default_biz = default_biz
        self.error = Static("", classes="error", id="add-error", markup=False)

    def compose(self) -> ComposeResult:
        with Vertical():
            scopes = self.parse_scope is not None
            title = "Add a task to watch, or a scope to follow" if scopes else "Add a task to watch"
            yield Static(title, classes="dialog-title", markup=False)
            hint = "job:BIZ:ID, sops:BIZ:ID, … or a BlueKing task URL"
            if scopes:
                hint += "; or job:BIZ, sops:BIZ, bkflow:SPACE [--mine] [--name TEXT] [--since 4h] [--cron]"
            yield PlainInput(placeholder=hint, id="add-target")
            yield PlainInput(placeholder="label (optional)", id="add-label")
            yield PlainInput(
                placeholder="business, for JOB api_execute links (optional; biz_set:ID for a set)",
                id="add-biz",
            )
            yield self.error
            yield Static(
                "Forms: job:BIZ:ID  job:biz_set:SET:ID  sops:BIZ:ID  sops:project:PROJ:ID  "
                "bkflow:SPACE:ID  nodeman:ID  gsekit:BIZ:ID — or paste the task page URL."
                + (
                    "\nFollow: job:BIZ  job:biz_set:SET  sops:BIZ  sops:project:PROJ  bkflow:SPACE, then "
                    "--mine --name TEXT --since 4h --cron --keep-succeeded/--keep-failed 1h --cap N"
                    if scopes
                    else ""
                ),
                classes="hint",
                markup=False,
            )
            with Horizontal():
                yield Button("Add", variant="primary", id="add-ok")
                yield Button("Cancel", id="add-cancel")

    def _fail(self, message: str) -> None:
        self.error.update(Text(one_line(message, ERROR_CELLS)))

    def _check(self) -> Target | ScopeRequest | None:
        field = self.query_one("#add-target", PlainInput)
        text = field.value.strip()
        if field.dropped:
            self._fail(DROPPED)
            return None
        if not text:
            self._fail("Enter a target or paste a task URL.")
            return None
        if len(text) > MAX_TARGET_CHARS:
            self._fail(f"Too long for a target or task URL ({len(text):,} characters); paste just the URL.")
            return None
        if self.parse_scope is not None:
            try:
                request = self.parse_scope(text)
            except ValueError as exc:  # ScopeError too: NodeMan and GSEKit say why
                self._fail(str(exc))
                return None
            if request is not None:
                if self.exists(request.scope):
                    self._fail(f"{request.scope} is already followed (d on its header stops it).")
                    return None
                extra = f" ({request.summary})" if request.summary else ""
                self.error.update(Text(f"OK: follow {request.scope}{extra}", style="green"))
                return request
        scope = self.query_one("#add-biz", PlainInput).value.strip().lower()
        biz_set = scope.removeprefix("biz_set:").strip() if scope.startswith("biz_set:") else None
        biz = None if biz_set is not None else scope.removeprefix("biz:").strip() or self.default_biz
        try:
            target = parse_target(text, default_biz=biz, default_biz_set=biz_set)
        except TargetError as exc:
            self._fail(str(exc))
            return None
        if (target.scope and int(target.scope) > MAX_ID) or int(target.id) > MAX_ID:
            self._fail(f"{target.system}: an id is larger than BlueKing allows.")
            return None
        if self.exists(str(target)):
            self._fail(f"{target} is already watched.")
            return None
        self.error.update(Text(f"OK: {target}", style="green"))
        return target

    @on(Input.Changed, "#add-target")
    @on(Input.Changed, "#add-biz")
    def _changed(self) -> None:
        if self.query_one("#add-target", Input).value.strip():
            self._check()
        else:
            self.error.update(Text(""))

    @on(Input.Submitted)
    @on(Button.Pressed, "#add-ok")
    def _submit(self) -> None:
        fields = list(self.query(PlainInput).results(PlainInput))
        if any(f.dropped for f in fields):
            # Refused once: what is left may not be what the user meant, so they look first;
            # pressing Enter again adds the cleaned text they now see.
            for f in fields:
                f.dropped = False
            self._fail(DROPPED)
            return
        target = self._check()
        if target is None:
            return
        label = self.query_one("#add-label", PlainInput).value.strip() or None
        problem = label_problem(label) if label else None
        if problem:
            self._fail(problem)
            return
        self.dismiss((target, label))

    @on(Button.Pressed, "#add-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(AnswerOnce, ModalScreen[bool]):
    """A yes/no question about removing something; Cancel is the default (focused) button."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(one_line(self.question)), classes="dialog-title")
            yield Static("y: remove   n / escape / enter: cancel", classes="hint", markup=False)
            with Horizontal():
                yield Button("Remove", variant="error", id="yes")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        if self.taken_down:  # closed before its mount was handled: no widgets to set up
            return
        self.query_one("#no", Button).focus()  # Enter keeps things as they are

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class RemoveDialog(ConfirmDialog):
    """`d` on a hand-added task: names it once (its title, and its key only when that differs)."""

    def __init__(self, title: str, key: str) -> None:
        super().__init__(f"Stop watching {title}?" if title == key else f"Stop watching {title} ({key})?")


class HelpScreen(AnswerOnce, ModalScreen[None]):
    """Every key, generated from the app's bindings so it never goes stale; it scrolls (arrows,
    pgup/pgdn, home/end) when the terminal is shorter than the list."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        text = Table.grid(padding=(0, 2))  # a long text wraps in its own column, under itself
        text.add_column(justify="right", no_wrap=True)
        text.add_column()
        for key, what in self.keys:
            text.add_row(Text(key, style="bold"), Text(what))
        with VerticalScroll(id="help-body"):
            yield Static("bkwatch keys (escape closes)", classes="dialog-title", markup=False)
            yield Static(text, id="help-keys")
            yield Static(
                "Mouse: click a row to select it, click again to open.", classes="hint", markup=False
            )

    def on_mount(self) -> None:
        if self.taken_down:  # closed before its mount was handled: no widgets to set up
            return
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
