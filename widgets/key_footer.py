"""Textual's footer, rebuilt only when the keys it shows change.

The stock footer rebuilds its keys whenever the focused widget changes, and
a rebuild costs a layout and a repaint of the whole screen; moving between
panes that show the same keys then costs nothing.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

Shown = tuple[tuple[str, str, str, bool], ...]


class KeyFooter(Footer):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._shown: Shown | None = None

    @staticmethod
    def shown_keys(screen: Screen[object]) -> Shown:
        return tuple(
            (key, binding.description, binding.action, enabled)
            for key, (_, binding, enabled, _) in screen.active_bindings.items()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        shown = self.shown_keys(screen)
        if shown == self._shown and self._bindings_ready:
            return
        self._shown = shown
        super().bindings_changed(screen)
