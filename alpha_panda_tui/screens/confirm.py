"""A yes/no dialog for destructive actions (kill switch, resume, reset latches, live orders)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from viewmodels.keys import Scope
from widgets.bindings import bindings


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.CONFIRM))

    def __init__(
        self,
        title: str,
        message: str,
        *,
        confirm_label: str = "Yes",
        cancel_label: str = "No",
        danger: bool = False,
        default_confirm: bool = False,
    ) -> None:
        super().__init__(classes="-danger" if danger else "")
        self.title_text = title
        self.message = message
        self.confirm_label = confirm_label
        self.cancel_label = cancel_label
        self.default_confirm = default_confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Label(self.title_text, id="confirm-title", classes="dialog-title")
            yield Static(self.message, id="confirm-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", id="confirm-yes", variant="error")
                yield Button(f"{self.cancel_label} (n)", id="confirm-no", variant="default")

    def on_mount(self) -> None:
        self.query_one("#confirm-yes" if self.default_confirm else "#confirm-no", Button).focus()

    @on(Button.Pressed, "#confirm-yes")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def action_cancel(self) -> None:
        self.dismiss(False)
