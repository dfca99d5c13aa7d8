"""Flatten: which positions to close with MARKET orders — all, a strategy's, or one symbol's.

Answers the command target the engine's `flatten` takes: "" (all), "strategy:<name>" or
"symbol:<tradingsymbol>"; None when closed without choosing.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from engine.trading_control import STRATEGY_PREFIX, SYMBOL_PREFIX
from viewmodels.keys import Scope
from widgets.bindings import bindings


class FlattenScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.FLATTEN))

    def __init__(self, strategy: str | None, *, live: bool) -> None:
        super().__init__(classes="-danger")
        self.strategy = strategy
        self.live = live

    def compose(self) -> ComposeResult:
        where = "in paper AND at Zerodha (REAL orders)" if self.live else "in paper trading"
        with Vertical(id="flatten-dialog", classes="dialog"):
            yield Label("FLATTEN", classes="dialog-title")
            yield Static(
                f"Close positions {where} with MARKET orders, after cancelling their open orders.",
                id="flatten-message",
                markup=False,
            )
            yield Label("Symbol (enter flattens only it)", classes="field-label")
            yield Input(placeholder="e.g. RELIANCE", id="flatten-symbol", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("All positions (a)", id="flatten-all", variant="error", compact=True)
                if self.strategy:
                    yield Button(f"{self.strategy} (s)", id="flatten-strategy", variant="error", compact=True)
                yield Button("Cancel", id="flatten-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#flatten-all", Button).focus()

    @on(Button.Pressed, "#flatten-all")
    def action_flatten_all(self) -> None:
        self.dismiss("")

    @on(Button.Pressed, "#flatten-strategy")
    def action_flatten_strategy(self) -> None:
        if self.strategy:
            self.dismiss(f"{STRATEGY_PREFIX}{self.strategy}")

    @on(Input.Submitted, "#flatten-symbol")
    def _symbol(self, event: Input.Submitted) -> None:
        symbol = event.value.strip().upper()
        if symbol:
            self.dismiss(f"{SYMBOL_PREFIX}{symbol}")

    @on(Button.Pressed, "#flatten-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
