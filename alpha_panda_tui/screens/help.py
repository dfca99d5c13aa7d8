"""Every key, by where it works: built from the same table as the bindings and the command palette."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from viewmodels.keys import Scope, help_sections
from widgets.bindings import bindings


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.HELP))

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                for scope, commands in help_sections():
                    if not commands:
                        continue
                    yield Label(scope.value, classes="help-section")
                    for line in commands:
                        with Horizontal(classes="help-row"):
                            yield Label(line.keys, classes="help-key", markup=False)
                            yield Static(line.help, classes="help-text", markup=False)
            yield Label("Esc closes. Ctrl+P searches every command.", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
