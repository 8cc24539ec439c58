"""The screens of acting: the actions menu (allowed ones first and selectable, the others folded
into one line that says why, listed greyed with their reasons when chosen), the confirmation (No
is the default; terminate and revoke need the task id typed) and the marker shown on every dialog
while actions are on."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Static
from textual.widgets.option_list import Option

from bkwatch.actions.catalog import Offer
from bkwatch.text import one_line
from bkwatch.tui.dialogs.dialogs import PlainInput
from bkwatch.tui.widgets.once import AnswerOnce, OptionList


class ActionsBanner(Widget):
    """Docked on every dialog while actions are on (the main screen's status line has the badge).
    Its sentence is shortened, never cut, when the terminal is narrow (80 columns)."""

    DEFAULT_CSS = """
    ActionsBanner { dock: bottom; height: 1; width: 100%; background: $warning; color: $text; }
    """
    SAYS = (
        " task operations are enabled: what you confirm is sent to BlueKing",
        " what you confirm is sent to BlueKing",
    )

    def __init__(self, badge: str) -> None:
        super().__init__()
        self.badge = badge

    def render(self) -> Text:
        width = self.size.width
        says = next((s for s in self.SAYS if cell_len(self.badge + s) <= width), self.SAYS[-1])
        return Text.assemble((self.badge, "bold reverse"), says, end="")


MORE = "act-more"  # the one line the actions not possible now are folded into


def _option(offer: Offer, blocked: bool) -> Option:
    prompt = Text(offer.spec.label, end="")
    if offer.reason is not None:
        prompt.append(f"  — not now: {one_line(offer.reason)}", style="dim italic")
    elif not blocked:
        prompt.append(f"  — {offer.spec.effect}", style="dim")
    return Option(prompt, id=offer.spec.id, disabled=blocked or not offer.allowed)


def folded_line(unavailable: list[Offer]) -> Text:
    """One line for the actions not possible now, with why (each distinct reason once)."""
    # Reasons share clauses ("node is failed; skip needs …"): each clause once.
    clauses = [c.strip() for o in unavailable for c in one_line(o.reason or "").split(";")]
    why = "; ".join(dict.fromkeys(c for c in clauses if c))
    if len(why) > 90:
        why = why[:89] + "…"
    n = len(unavailable)
    out = Text(f"▸ {n} more not possible now", style="dim", end="")
    if why:
        out.append(f": {why}", style="dim italic")
    out.append("  (enter: list them)", style="dim")
    return out


class ActionsMenu(AnswerOnce, ModalScreen[Offer | None]):
    """The actions for what is under the cursor: what can be done now first, most specific
    first; the others folded into one line that says why (enter on it lists them, greyed)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,x", "close", "Close")]

    def __init__(
        self,
        heading: Text,
        offers: list[Offer],
        *,
        blocked: str | None = None,
        away: str | None = None,
        unfolded: bool = False,
    ) -> None:
        super().__init__()
        self.heading = heading
        self.offers = {o.spec.id: o for o in offers}
        self.blocked = blocked  # why nothing can be sent (actions off)
        self.away = away  # why this system has no actions here (NodeMan, GSEKit)
        self.unfolded = unfolded  # the actions not possible now listed one by one

    def _options(self) -> list[Option]:
        allowed = [o for o in self.offers.values() if o.allowed]
        others = [o for o in self.offers.values() if not o.allowed]
        options = [_option(o, self.blocked is not None) for o in allowed]
        if others and self.unfolded:
            options += [_option(o, self.blocked is not None) for o in others]
        elif others:
            options.append(Option(folded_line(others), id=MORE))
        return options

    def compose(self) -> ComposeResult:
        with Vertical():
            title = Text("Actions for ", style="bold", end="")
            title.append_text(self.heading)
            yield Static(title, classes="dialog-title")
            if self.away:
                yield Static(Text(one_line(self.away)), classes="act-note", id="act-away")
            if self.blocked:
                yield Static(Text(one_line(self.blocked)), classes="act-note", id="act-blocked")
            if self.offers:
                if not any(o.allowed for o in self.offers.values()):
                    yield Static("Nothing can be done here now.", classes="hint", markup=False)
                yield OptionList(*self._options(), id="act-options")
            elif not self.away:
                yield Static("No action applies here.", classes="hint", markup=False)
            hint = "enter: choose (then confirm)   escape: close"
            if self.blocked or self.away or not any(o.allowed for o in self.offers.values()):
                hint = "escape: close"
            yield Static(hint, classes="hint", markup=False)

    def on_mount(self) -> None:
        if self.taken_down:  # closed before its mount was handled: no widgets to set up
            return
        options = self.query(OptionList)
        if options:
            options.first().focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == MORE:
            self.unfold()
            return
        offer = self.offers.get(event.option.id or "")
        if offer is not None and offer.allowed and self.blocked is None:
            self.dismiss(offer)

    def unfold(self) -> None:
        """List the actions not possible now, greyed with their reasons, in place of the line."""
        if self.unfolded:
            return
        self.unfolded = True
        ol = self.query_one(OptionList)
        at = ol.highlighted
        ol.clear_options()
        ol.add_options(self._options())
        if at is not None and at < ol.option_count:
            ol.highlighted = at

    def action_close(self) -> None:
        self.dismiss(None)


class ActionConfirm(AnswerOnce, ModalScreen[bool]):
    """Exactly what will happen; No unless Yes is chosen (y, or tab to Yes and enter), or for
    terminate / revoke, unless the task id is typed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n,escape", "answer(False)", "No"),
        Binding("y", "answer(True)", "Yes"),
    ]

    def __init__(self, label: str, summary: list[str], *, type_id: str | None = None) -> None:
        super().__init__()
        self.label = label
        self.summary = summary
        self.type_id = type_id

    def compose(self) -> ComposeResult:
        # Plan.summary() made every server string one plain line already; Text keeps it literal.
        body = Text("\n".join(self.summary), end="")
        with Vertical():
            yield Static(Text(f"Confirm: {self.label}?"), classes="dialog-title")
            yield Static(body, id="act-summary")
            if self.type_id is not None:
                yield Static(
                    Text(f"This cannot be undone. Type the task id {self.type_id} to confirm:"),
                    classes="act-note",
                )
                yield PlainInput(placeholder=self.type_id, id="act-type-id")
                yield Static("", classes="error", id="act-type-error", markup=False)
                hint = "enter with the id typed: yes   escape: no"
            else:
                hint = "enter: No (the default)   y, or tab to Yes and enter: send it   n / escape: no"
            yield Static(hint, classes="hint", markup=False)
            with Horizontal():
                yield Button("No", variant="primary", id="act-no")
                yield Button(f"Yes: {self.label.lower()}", variant="error", id="act-yes")

    def on_mount(self) -> None:
        if self.taken_down:  # closed before its mount was handled: no widgets to set up
            return
        if self.type_id is not None:
            self.query_one("#act-yes", Button).disabled = True
            self.query_one("#act-type-id", Input).focus()
        else:
            self.query_one("#act-no", Button).focus()

    def _typed(self) -> bool:
        if self.type_id is None:
            return True
        return self.query_one("#act-type-id", Input).value.strip() == self.type_id

    @on(Input.Changed, "#act-type-id")
    def _changed(self) -> None:
        self.query_one("#act-yes", Button).disabled = not self._typed()
        self.query_one("#act-type-error", Static).update("")

    @on(Input.Submitted, "#act-type-id")
    def _submitted(self) -> None:
        if self._typed():
            self.action_answer(True)
        else:
            self.query_one("#act-type-error", Static).update(
                Text(f"Type the task id {self.type_id} exactly, or escape for No.")
            )

    def action_answer(self, yes: bool) -> None:
        if yes and not self._typed():
            return
        self.dismiss(yes)  # once: a second press is ignored (AnswerOnce)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "act-yes")
