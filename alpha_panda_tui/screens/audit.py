"""The audit log of live actions, newest first, read from the engine's database (as `audit` does)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from alpha_panda_tui.audit_cli import format_entry
from engine.settings import Settings
from engine.storage.audit import AuditLog
from engine.storage.database import Database
from viewmodels.keys import Scope
from widgets.bindings import bindings

SHOWN = 200
LOADING = "reading the audit log ..."


class AuditScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.AUDIT))

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        with Vertical(id="audit-dialog", classes="dialog"):
            yield Label("Audit log (newest first)", classes="dialog-title")
            with VerticalScroll(id="audit-body"):
                yield Static(LOADING, id="audit-entries", markup=False)
            yield Label("Esc closes. `alpha-panda-tui audit` prints the same.", classes="dialog-hint")

    def on_mount(self) -> None:
        self.run_worker(self._load(), exclusive=True)

    async def _load(self) -> None:
        db = Database(self.settings.database_url)
        try:
            await db.connect()
            entries = await AuditLog(db).recent(SHOWN)
        except Exception as exc:
            text = f"cannot read the audit log: {db.redact(str(exc))}"
        else:
            text = "\n".join(map(format_entry, entries)) or "no audit entries: no live action has been taken"
        finally:
            await db.close()
        self.query_one("#audit-entries", Static).update(text)

    def action_close(self) -> None:
        self.dismiss(None)
