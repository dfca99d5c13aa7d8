"""The "Replay a file" dialog: a tick file, and optionally a strategy and its params."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from alpha_panda_tui.screens.replay import display_path
from engine.research.params_grid import ParamArgError, is_sweep, parse_param_args


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """What the "Replay a file" dialog asks for."""

    path: Path
    strategy: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


def parse_params_text(text: str) -> dict[str, str]:
    """`fast=5 slow=20` -> {"fast": "5", "slow": "20"}; ParamArgError for anything else."""
    grid = parse_param_args(text.split())
    if is_sweep(grid):
        raise ParamArgError(
            "one value per param here; a sweep runs from the shell "
            "(alpha-panda-tui replay FILE --param k=v1,v2)"
        )
    return {name: values[0] for name, values in grid.items()}


class ReplayFileDialog(ModalScreen[ReplayRequest | None]):
    """Asks for a tick file (and optionally a strategy and its params); the file must exist."""

    CSS_PATH = "replay.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="replay-dialog-cancel"),
    ]

    def __init__(self, path: str = "", strategy: str = "", *, note: str = "") -> None:
        super().__init__()
        self.initial_path = path
        self.initial_strategy = strategy
        self.note = note  # e.g. an attached console's: the replay runs here, not in the engine

    def compose(self) -> ComposeResult:
        with Vertical(id="replay-dialog", classes="dialog"):
            yield Label("Replay a file", classes="dialog-title")
            if self.note:
                yield Static(self.note, id="replay-note", classes="dialog-note", markup=False)
            yield Label("Tick file (.csv or .parquet)", classes="field-label")
            yield Input(self.initial_path, placeholder="path/to/ticks.csv", id="replay-path")
            yield Static("", id="replay-path-error", classes="field-error")
            yield Label("Strategy: a name or a kind (blank: every enabled one)", classes="field-label")
            yield Input(self.initial_strategy, placeholder="ema_5_20", id="replay-strategy")
            yield Label("Params (blank: the strategy's own)", classes="field-label")
            yield Input(placeholder="fast=5 slow=20", id="replay-params")
            yield Static("", id="replay-params-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Replay", id="replay-go", variant="primary")
                yield Button("Cancel", id="replay-cancel")

    def on_mount(self) -> None:
        self.query_one("#replay-path", Input).focus()

    def _field(self, name: str) -> str:
        return self.query_one(f"#replay-{name}", Input).value.strip()

    def _show_error(self, name: str, error: str) -> None:
        self.query_one(f"#replay-{name}-error", Static).update(error)
        self.query_one(f"#replay-{name}", Input).set_class(bool(error), "-invalid")

    def request(self) -> ReplayRequest | None:
        """The request as typed, or None (with the problems shown under their fields)."""
        path_error = params_error = ""
        path = Path(self._field("path")).expanduser()
        if not self._field("path"):
            path_error = "Type the path of a tick file."
        elif not path.is_file():
            path_error = f"{display_path(path)} is not a file."
        params: dict[str, str] = {}
        try:
            params = parse_params_text(self._field("params"))
        except ParamArgError as exc:
            params_error = str(exc).replace("--param ", "")
        strategy = self._field("strategy") or None
        if params and strategy is None:
            params_error = "Params need a strategy."
        self._show_error("path", path_error)
        self._show_error("params", params_error)
        if path_error or params_error:
            return None
        return ReplayRequest(path, strategy, params)

    @on(Input.Submitted)
    @on(Button.Pressed, "#replay-go")
    def action_submit(self) -> None:
        request = self.request()
        if request is not None:
            self.dismiss(request)

    @on(Button.Pressed, "#replay-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
