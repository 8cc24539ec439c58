"""Textual's Footer without its leak, keeping the keys that matter when the terminal is narrow."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.cells import cell_len
from textual.widget import Widget
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

PALETTE_CELLS = 13  # the command palette's key, docked at the right: "▏^p palette "
ALWAYS = {"help": 0}  # `?` is shown at every width: it lists every key


class Footer(TextualFooter):
    """The key bar. Textual's (8.2.8) recomposes on every focus change and binds each new key's
    `compact` to the footer; the old keys' bindings are dropped only when `compact` changes, which
    it never does here, so every key ever drawn stayed alive (~400 widgets a minute while
    browsing, hundreds of MiB over a day). After each recompose the bindings of keys no longer
    on screen are dropped.

    Textual's footer cuts what does not fit at the right. This one drops keys instead: the
    lowest `ranks` (action -> rank, lower kept first; `?` always) fill the width, the others
    (ranked after, in their order) while room is left; the kept keys keep their order."""

    def __init__(self, ranks: Mapping[str, int] | None = None) -> None:
        super().__init__()
        self.ranks = {**ALWAYS, **(ranks or {})}
        self._width = 0
        self._drawn: object = None  # what the keys drawn were made from (`_inputs`)

    def _inputs(self) -> object:
        """Everything the keys are made from: the screen's active bindings, the widths, the
        footer's switches."""
        if not self._bindings_ready:
            return None
        shown = tuple(
            (key, binding.action, binding.description, binding.show, enabled, tooltip, binding.group)
            for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
        )
        return (shown, self.size.width, self.app.size.width, self.compact, self.show_command_palette)

    def compose(self) -> Iterable[Widget]:
        self._drawn = self._inputs()
        items = list(super().compose())
        keys = [w for w in items if isinstance(w, FooterKey) and not w.has_class("-command-palette")]
        for key in keys:
            # A key starts `compact` (True) and is bound to the footer's (False): on mount its
            # watcher adds the class, then the binding removes it, each restyling the key. The
            # footer is recomposed on every focus change, so that was ~40 restyles each time, a
            # tenth of start-up's CPU. Starting with the footer's value restyles nothing.
            key.set_reactive(FooterKey.compact, self.compact)
        for w in items:
            if w.has_class("-command-palette"):  # not bound: compact, as Textual draws it
                w.add_class("-compact", update=False)
        room = (self.size.width or self.app.size.width) - (PALETTE_CELLS if len(keys) < len(items) else 0)
        order = sorted(range(len(keys)), key=lambda i: (self.ranks.get(keys[i].action, 100), i))
        dropped: set[int] = set()
        for i in order:
            cells = cell_len(keys[i].key_display) + cell_len(keys[i].description) + 3
            if cells <= room:
                room -= cells
            else:
                dropped.add(id(keys[i]))
        return [w for w in items if id(w) not in dropped]

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self._width = self.size.width
            self.call_after_refresh(self.recompose)

    async def recompose(self) -> None:
        # Textual asks again on every focus and binding change, several times a refresh at
        # start-up (9 in the first seconds): keys made from the same bindings at the same width
        # are the keys drawn, so they are not made, mounted and styled again.
        if not self.is_attached or self._pruning:  # its screen is gone (Textual's own check)
            return
        if self._drawn is not None and self._inputs() == self._drawn:
            return
        await super().recompose()
        # Textual keeps these on the object under this attribute name (reactive._watch).
        for bindings in getattr(self, "__watchers", {}).values():
            bindings[:] = [(node, callback) for node, callback in bindings if node.is_attached]
