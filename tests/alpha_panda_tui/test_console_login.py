"""The console's Zerodha login on a real engine, against the Kite sandbox with the real client: it asks
for a login (notification, header, health pane) without trapping the user, the `b` dialog catches
Kite's redirect or takes a pasted token, and the engine's session is valid at once; a session Kite
later refuses brings the prompt back."""

from __future__ import annotations

import socket
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from textual.pilot import Pilot
from textual.widgets import Input, Static

from alpha_panda_tui.app import AlphaPandaApp, make_app
from alpha_panda_tui.broker_login import engine_login_handler
from alpha_panda_tui.screens.login import LoginScreen
from engine.events import HealthCheckView
from engine.runtime import Engine
from engine.settings import load_settings
from engine.zerodha.broker_session import BrokerSession, SessionState
from engine.zerodha.session import SessionStore
from kite_sandbox.server import KiteSandbox
from tests.alpha_panda_tui.harness import WIDE, wait_for
from tests.sandbox import running_sandbox, sandbox_settings
from widgets.header_bar import HeaderBar

NOT_LOGGED_IN = "Not logged in to Zerodha: press b to log in (or run `alpha-panda-tui login`)."


@dataclass
class Running:
    engine: Engine
    session: BrokerSession
    app: AlphaPandaApp
    pilot: Pilot[int]
    sandbox: KiteSandbox

    def notifications(self) -> list[str]:
        return [n.message for n in self.app._notifications]

    def header(self) -> str:
        return str(self.app.screen_stack[0].query_one(HeaderBar).render())  # the dashboard's

    def broker_check(self) -> HealthCheckView | None:
        return next((c for c in self.app.state.health.checks if c.name == "broker session"), None)

    async def open_login(self) -> LoginScreen:
        await self.pilot.press("b")
        await wait_for(lambda: isinstance(self.app.screen, LoginScreen))
        screen = self.app.screen
        assert isinstance(screen, LoginScreen)
        return screen


def listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=1).close()
    except OSError:
        return False
    return True


@asynccontextmanager
async def console_on_zerodha(tmp_path: Path) -> AsyncIterator[Running]:
    async with running_sandbox() as sandbox:
        overrides = sandbox_settings(sandbox, tmp_path / "data")
        overrides["zerodha"]["redirect_url"] = "http://127.0.0.1:0/"
        engine = Engine(load_settings(**overrides, feed={"ticks_per_second": 50}), persist=False)
        assert engine.broker_session is not None
        app = make_app(engine, debounce_s=0.0, animate=False, login_handler=engine_login_handler(engine))
        await engine.start()
        try:
            async with app.run_test(size=WIDE, notifications=True) as pilot:
                await wait_for(lambda: app.state.engine.status is not None)
                yield Running(engine, engine.broker_session, app, pilot, sandbox)
        finally:
            await engine.stop()


async def test_the_console_asks_for_a_login_and_the_redirect_logs_in(tmp_path: Path) -> None:
    async with console_on_zerodha(tmp_path) as c:
        await wait_for(lambda: NOT_LOGGED_IN in c.notifications())
        assert not isinstance(c.app.screen, LoginScreen), "asked, not trapped in a dialog"
        await wait_for(lambda: "kite: LOG IN (b)" in c.header())
        await wait_for(lambda: (check := c.broker_check()) is not None and check.status == "warn")

        screen = await c.open_login()
        await wait_for(lambda: screen.catcher_url != "")
        assert screen.query_one("#api-key", Input).value == c.sandbox.config.api_key
        assert screen.query_one("#api-secret", Input).value == "", "the secret stays in the settings"
        async with aiohttp.ClientSession() as http:
            # the browser: Kite's login page, then its redirect (to the dialog's port) with the token
            login = f"{c.sandbox.login_url}?api_key={c.sandbox.config.api_key}&v=3"
            async with http.get(login, allow_redirects=False) as page:
                query = urlsplit(page.headers["Location"]).query
            async with http.get(f"{screen.catcher_url}?{query}") as redirect:
                assert redirect.status == 200
        await wait_for(lambda: not isinstance(c.app.screen, LoginScreen))
        await wait_for(lambda: not listening(screen.catcher_url))  # the dialog's port closed with it

        assert c.session.status().state is SessionState.VALID
        user = c.sandbox.config.user_id
        assert any(
            m.startswith(f"logged in as {c.sandbox.config.user_name} ({user})") for m in c.notifications()
        )
        saved = SessionStore(c.engine.settings.kite_session_file)
        assert saved.load() == c.session.session
        assert stat.S_IMODE(saved.path.stat().st_mode) == 0o600
        await wait_for(lambda: "kite ok" in c.header())
        check = c.broker_check()
        assert check is not None and check.status == "ok" and check.message.startswith("valid until 06:00")


async def test_a_pasted_token_logs_in_and_a_refused_one_keeps_the_dialog_open(tmp_path: Path) -> None:
    async with console_on_zerodha(tmp_path) as c:
        screen = await c.open_login()
        token = screen.query_one("#request-token", Input)
        token.value = "Expired0Token123"
        screen.submit()
        status = screen.query_one("#login-status", Static)
        await wait_for(lambda: "Login failed" in str(status.render()))
        assert "Kite refused the request token" in str(status.render())
        assert c.app.screen is screen and c.session.status().state is SessionState.ABSENT

        token.value = f"https://127.0.0.1/?status=success&request_token={c.sandbox.issue_request_token()}"
        screen.submit()
        await wait_for(lambda: c.app.screen is not screen)
        assert c.session.access_token() is not None


async def test_a_session_kite_refuses_brings_the_prompt_back(tmp_path: Path) -> None:
    async with console_on_zerodha(tmp_path) as c:
        screen = await c.open_login()
        screen.query_one("#request-token", Input).value = c.sandbox.issue_request_token()
        screen.submit()
        await wait_for(lambda: c.app.screen is not screen)
        await wait_for(lambda: "kite ok" in c.header())
        c.session.mark_expired("403 at the socket upgrade")  # what the live feed does when Kite says no
        expired = "The Zerodha session expired (403 at the socket upgrade): press b to log in again."
        await wait_for(lambda: expired in c.notifications(), timeout=8)
        await wait_for(lambda: "kite: LOG IN (b)" in c.header())
        assert any(
            line.endswith("Zerodha session expired: 403 at the socket upgrade")
            for line in (row.text for row in c.app.state.log.lines)
        )
