"""A screen that shows live state: the app hands it the UiState at a steady rate while it is on top."""

from __future__ import annotations

from textual.screen import Screen

from alpha_panda_tui.ui_state import UiState


class LiveScreen(Screen[None]):
    def sync(self, state: UiState) -> None:
        """Bring the visible panes up to date; cheap when nothing changed."""
        raise NotImplementedError
