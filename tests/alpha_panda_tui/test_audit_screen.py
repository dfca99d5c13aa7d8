"""`A` in the console: the audit log from the engine's real database, newest first."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Static

from alpha_panda_tui.app import make_app
from alpha_panda_tui.screens.audit import LOADING, AuditScreen
from engine.bus import InProcessBus
from engine.settings import load_settings
from tests.alpha_panda_tui.harness import INSTRUMENTS, wait_for
from tests.alpha_panda_tui.test_audit_cli import _record


async def test_a_shows_the_audit_log_newest_first_and_escape_closes_it(isolated_dirs: Path) -> None:
    await _record(
        [
            ("cli", "logged_in", "AB1234", ""),
            ("console", "halted", "", "kill switch in the console"),
        ]
    )
    bus = InProcessBus()
    app = make_app(bus=bus, instruments=INSTRUMENTS, settings=load_settings(), debounce_s=0.0, animate=False)
    await bus.start()
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("A")
            screen = app.screen
            assert isinstance(screen, AuditScreen)
            entries = screen.query_one("#audit-entries", Static)
            await wait_for(lambda: str(entries.render()) != LOADING)
            lines = str(entries.render()).splitlines()
            await pilot.press("escape")
            await asyncio.sleep(0)
            assert not isinstance(app.screen, AuditScreen)
    finally:
        await bus.stop()
    assert len(lines) == 2
    assert lines[0].endswith("console              halted  kill switch in the console")
    assert lines[1].endswith("cli                  logged_in AB1234")
