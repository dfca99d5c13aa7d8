"""A screen that shows live state: the app hands it the UiState at a steady rate while it is on top."""

from __future__ import annotations

from textual.screen import Screen

from alpha_panda_tui.ui_state import UiState


class LiveScreen(Screen[None]):
    def sync(self, state: UiState, *, force: bool = False) -> None:
        """Bring the visible panes up to date; cheap when nothing changed.

        `force` skips any per-pane rate limit (right after a key, the user expects to see its effect).
        """
        raise NotImplementedError
