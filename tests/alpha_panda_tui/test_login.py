"""The broker login dialog: token parsing, inline validation that keeps it open, and honesty about wiring."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label, Static

from alpha_panda_tui.screens.login import (
    NOT_WIRED,
    LoginError,
    LoginRequest,
    LoginScreen,
    parse_request_token,
)
from tests.alpha_panda_tui.harness import SMALL, console

TOKEN = "Xy12AbCdEf34GhIjKl56MnOpQr78StUv"


def test_a_bare_token_is_accepted() -> None:
    assert parse_request_token(f"  {TOKEN} ") == TOKEN


def test_the_token_is_read_from_kites_redirect_url() -> None:
    url = f"https://127.0.0.1:5000/callback?action=login&type=login&status=success&request_token={TOKEN}"
    assert parse_request_token(url) == TOKEN
    assert parse_request_token(f"?request_token={TOKEN}&status=success") == TOKEN


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "paste the request token"),
        ("https://127.0.0.1/callback?status=success", "no request_token"),
        (f"https://127.0.0.1/?status=cancelled&request_token={TOKEN}", "'cancelled'"),
        ("not a token!", "letters and digits"),
    ],
)
def test_bad_tokens_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_request_token(text)


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


async def test_valid_fields_say_plainly_that_login_is_not_wired() -> None:
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
        assert str(screen.query_one("#login-status", Static).render()) == NOT_WIRED
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
            raise LoginError("token expired")
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
