"""The typed confirmation that arms live orders: LIVE (or the Zerodha user id), typed, then Enter.

A y/n press is too easy to give by reflex; typing the word is not. Escape (or an empty Enter)
leaves live orders off: paper trading goes on, and ctrl+l asks again later.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from engine.zerodha.live_gate import CONFIRM_WORD
from viewmodels.keys import Scope
from widgets.bindings import bindings


class LiveConfirmScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.LIVE_CONFIRM))

    def __init__(self, strategies: tuple[str, ...], user_id: str = "") -> None:
        super().__init__(classes="-danger")
        self.strategies = strategies
        self.user_id = user_id

    def compose(self) -> ComposeResult:
        routed = ", ".join(self.strategies) or "none yet"
        who = f" or your Zerodha user id ({self.user_id})" if self.user_id else " or your Zerodha user id"
        with Vertical(id="live-confirm-dialog", classes="dialog"):
            yield Label("LIVE ORDERS", classes="dialog-title")
            yield Static(
                "This engine can send REAL orders to Zerodha for the strategies routed to zerodha: "
                f"{routed}.\n\nType {CONFIRM_WORD}{who} and press Enter to let them through. "
                "Escape keeps live orders off; paper trading goes on.",
                id="live-confirm-message",
                markup=False,
            )
            yield Input(placeholder=CONFIRM_WORD, id="live-confirm-input", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Send live orders", id="live-confirm-yes", variant="error", compact=True)
                yield Button("Keep them off", id="live-confirm-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#live-confirm-input", Input).focus()

    @on(Input.Submitted, "#live-confirm-input")
    @on(Button.Pressed, "#live-confirm-yes")
    def _submit(self) -> None:
        typed = self.query_one("#live-confirm-input", Input).value.strip()
        self.dismiss(typed or None)

    @on(Button.Pressed, "#live-confirm-no")
    def action_cancel(self) -> None:
        self.dismiss(None)
