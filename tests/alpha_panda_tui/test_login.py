"""The broker login dialog: inline validation that keeps it open, honesty when Zerodha is off, a handler's
answer shown or the dialog closed."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label, Static

from alpha_panda_tui.screens.login import NO_BROWSER, ZERODHA_OFF, LoginRequest, LoginScreen
from engine.zerodha.login import LoginFailed
from tests.alpha_panda_tui.harness import SMALL, console

TOKEN = "Xy12AbCdEf34GhIjKl56MnOpQr78StUv"


def errors(screen: LoginScreen) -> dict[str, str]:
    return {
        field: str(screen.query_one(f"#{field}-error", Label).render())
        for field in ("api-key", "api-secret", "request-token")
    }


async def test_submitting_empty_fields_keeps_the_dialog_open_with_every_error() -> None:
    async with console(SMALL, session=False) as c:
        await c.press("b")
        screen = c.app.screen
        assert isinstance(screen, LoginScreen)
        await c.press("enter")
        assert c.app.screen is screen, "the dialog stays open"
        assert isinstance(screen, LoginScreen)
        shown = errors(screen)
        assert "API key is required" in shown["api-key"]
        assert "secret is required" in shown["api-secret"]
        assert "request token" in shown["request-token"]
        assert c.app.focused is screen.query_one("#api-key", Input)


async def test_without_zerodha_the_dialog_says_plainly_that_it_cannot_log_in() -> None:
    async with console(SMALL, session=False) as c:
        await c.press("b")
        screen = c.app.screen
        assert isinstance(screen, LoginScreen)
        screen.query_one("#api-key", Input).value = "kiteapikey01"
        screen.query_one("#api-secret", Input).value = "s3cretvalue99"
        screen.query_one("#request-token", Input).value = f"https://x/?request_token={TOKEN}&status=success"
        screen.submit()
        await c.settle()
        assert errors(screen) == {"api-key": "", "api-secret": "", "request-token": ""}
        assert str(screen.query_one("#login-status", Static).render()) == ZERODHA_OFF
        assert c.app.screen is screen  # still open, nothing pretended


async def test_the_secret_can_be_shown_and_hidden() -> None:
    async with console(SMALL, session=False) as c:
        await c.press("b")
        secret = c.app.screen.query_one("#api-secret", Input)
        assert secret.password
        await c.press("ctrl+r")
        assert not secret.password
        await c.press("ctrl+r")
        assert secret.password


async def test_a_plugged_in_handler_logs_in_or_shows_why_not() -> None:
    seen: list[LoginRequest] = []

    async def handler(request: LoginRequest) -> str:
        seen.append(request)
        if request.request_token != TOKEN:
            raise LoginFailed("token expired")
        return "logged in as AB1234"

    async with console(SMALL, session=False) as c:
        c.app.login_handler = handler
        await c.press("b")
        screen = c.app.screen
        assert isinstance(screen, LoginScreen)
        screen.query_one("#api-key", Input).value = "kiteapikey01"
        screen.query_one("#api-secret", Input).value = "s3cretvalue99"
        screen.query_one("#request-token", Input).value = "Expired0Token123"
        screen.submit()
        await c.pilot.app.workers.wait_for_complete()
        await c.settle()
        assert "token expired" in str(screen.query_one("#login-status", Static).render())
        assert c.app.screen is screen
        assert isinstance(screen, LoginScreen)
        screen.query_one("#request-token", Input).value = TOKEN
        screen.submit()
        await c.pilot.app.workers.wait_for_complete()
        await c.settle()
        assert c.app.screen is not screen
        assert [r.request_token for r in seen] == ["Expired0Token123", TOKEN]


async def test_without_a_browser_here_the_dialog_says_to_open_the_url_yourself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")  # logged in over SSH

    async def handler(request: LoginRequest) -> str:
        raise AssertionError("nobody logs in here")

    async with console(SMALL, session=False) as c:
        c.app.login_handler = handler
        await c.press("b")
        screen = c.app.screen
        assert isinstance(screen, LoginScreen)
        await c.pilot.click("#login-browser")
        await c.pilot.app.workers.wait_for_complete()
        await c.settle()
        assert str(screen.query_one("#login-status", Static).render()) == NO_BROWSER


async def test_without_zerodha_there_is_no_browser_button() -> None:
    async with console(SMALL, session=False) as c:
        await c.press("b")
        assert not c.app.screen.query("#login-browser")
