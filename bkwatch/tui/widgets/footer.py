"""Textual's Footer without its leak."""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """The key bar. Textual's (8.2.8) recomposes on every focus change and binds each new key's
    `compact` to the footer; the old keys' bindings are dropped only when `compact` changes, which
    it never does here, so every key ever drawn stayed alive (~400 widgets a minute while
    browsing, hundreds of MiB over a day). After each recompose the bindings of keys no longer
    on screen are dropped."""

    async def recompose(self) -> None:
        await super().recompose()
        # Textual keeps these on the object under this attribute name (reactive._watch).
        for bindings in getattr(self, "__watchers", {}).values():
            bindings[:] = [(node, callback) for node, callback in bindings if node.is_attached]
