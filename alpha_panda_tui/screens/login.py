"""Zerodha login dialog: API key, secret, and the request token (or the whole redirect URL).

Checking the fields and reading the token out of a redirect URL happen here;
creating the Kite session is the login handler's job. Until a handler is
plugged in, the dialog says so plainly instead of pretending to log in.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from viewmodels.keys import Scope
from widgets.bindings import bindings

KITE_LOGIN_URL = "https://kite.zerodha.com/connect/login?v=3&api_key={api_key}"
API_KEY_RE = re.compile(r"[A-Za-z0-9]{6,64}")
SECRET_RE = re.compile(r"[A-Za-z0-9]{8,128}")
TOKEN_RE = re.compile(r"[A-Za-z0-9]{8,128}")
TOKEN_PLACEHOLDER = "https://127.0.0.1/?request_token=...&status=success"

NOT_WIRED = (
    "Zerodha login is not wired up in this build yet: no Kite session was created and "
    "nothing was saved. The console keeps trading on paper."
)


@dataclass(frozen=True, slots=True)
class LoginRequest:
    api_key: str
    api_secret: str
    request_token: str


class LoginError(Exception):
    """The broker refused the login; the message is shown in the dialog."""


# Creates the session and returns a line to show (e.g. "logged in as AB1234").
LoginHandler = Callable[[LoginRequest], Awaitable[str]]


def parse_request_token(text: str) -> str:
    """The request token from a bare token or from Kite's redirect URL; ValueError says what is wrong."""
    value = text.strip()
    if not value:
        raise ValueError("paste the request token, or the whole URL Kite redirected you to")
    if "://" in value or "request_token=" in value or value.startswith("?"):
        query = urlparse(value).query if "://" in value else value.split("?", 1)[-1]
        params = parse_qs(query)
        status = params.get("status", [""])[0]
        if status and status != "success":
            raise ValueError(f"Kite reported the login status as {status!r}; log in again")
        tokens = params.get("request_token")
        if not tokens or not tokens[0]:
            raise ValueError("that URL has no request_token parameter")
        value = tokens[0]
    if not TOKEN_RE.fullmatch(value):
        raise ValueError("a request token is letters and digits only")
    return value


def check_api_key(text: str) -> str:
    value = text.strip()
    if not value:
        raise ValueError("the API key is required (Kite developer console, your app)")
    if not API_KEY_RE.fullmatch(value):
        raise ValueError("an API key is 6 or more letters and digits")
    return value


def check_secret(text: str) -> str:
    value = text.strip()
    if not value:
        raise ValueError("the API secret is required")
    if not SECRET_RE.fullmatch(value):
        raise ValueError("an API secret is 8 or more letters and digits")
    return value


class LoginScreen(ModalScreen[bool]):
    """Dismisses with True after a successful login, False when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.LOGIN))

    def __init__(self, *, api_key: str = "", handler: LoginHandler | None = None) -> None:
        super().__init__()
        self.initial_api_key = api_key
        self.handler = handler

    def compose(self) -> ComposeResult:
        with Vertical(id="login-dialog", classes="dialog"):
            yield Label("Zerodha login", classes="dialog-title")
            yield Static("", id="login-url", markup=False)
            yield Label("API key", classes="field-label")
            yield Input(self.initial_api_key, placeholder="api_key", id="api-key", compact=True)
            yield Label("", id="api-key-error", classes="field-error")
            yield Label("API secret", classes="field-label")
            with Horizontal(classes="secret-row"):
                yield Input(placeholder="api_secret", password=True, id="api-secret", compact=True)
                yield Button("Show", id="toggle-secret", compact=True)
            yield Label("", id="api-secret-error", classes="field-error")
            yield Label("Request token, or the redirect URL", classes="field-label")
            yield Input(placeholder=TOKEN_PLACEHOLDER, id="request-token", compact=True)
            yield Label("", id="request-token-error", classes="field-error")
            yield Static("", id="login-status", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Log in", id="login-submit", variant="primary", compact=True)
                yield Button("Cancel", id="login-cancel", compact=True)

    def on_mount(self) -> None:
        self._show_login_url(self.initial_api_key)
        self.query_one("#api-secret" if self.initial_api_key else "#api-key", Input).focus()

    @on(Input.Changed, "#api-key")
    def _api_key_changed(self, event: Input.Changed) -> None:
        self._show_login_url(event.value)

    def _show_login_url(self, api_key: str) -> None:
        key = api_key.strip()
        text = (
            f"1. Open {KITE_LOGIN_URL.format(api_key=key)} and sign in.\n"
            "2. Paste the URL Kite redirects you to (or its request_token) below."
            if key
            else "Enter your Kite Connect API key to get the login URL."
        )
        self.query_one("#login-url", Static).update(text)

    @on(Button.Pressed, "#toggle-secret")
    def action_toggle_secret(self) -> None:
        secret = self.query_one("#api-secret", Input)
        secret.password = not secret.password
        self.query_one("#toggle-secret", Button).label = "Show" if secret.password else "Hide"

    @on(Button.Pressed, "#login-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Input.Submitted)
    @on(Button.Pressed, "#login-submit")
    def submit(self) -> None:
        request = self.validate()
        if request is None:
            return
        if self.handler is None:
            self._status(NOT_WIRED, error=True)
            return
        self._status("logging in...", error=False)
        self._log_in(request)

    def validate(self) -> LoginRequest | None:
        """Check every field, show each problem under its field; the request if all are good."""
        values: dict[str, str] = {}
        first_bad: Input | None = None
        for field_id, check in (
            ("api-key", check_api_key),
            ("api-secret", check_secret),
            ("request-token", parse_request_token),
        ):
            field = self.query_one(f"#{field_id}", Input)
            error = self.query_one(f"#{field_id}-error", Label)
            try:
                values[field_id] = check(field.value)
            except ValueError as exc:
                error.update(str(exc))
                field.add_class("-invalid")
                first_bad = first_bad or field
            else:
                error.update("")
                field.remove_class("-invalid")
        if first_bad is not None:
            first_bad.focus()
            self._status("", error=False)
            return None
        return LoginRequest(values["api-key"], values["api-secret"], values["request-token"])

    def _status(self, text: str, *, error: bool) -> None:
        status = self.query_one("#login-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    @work(exclusive=True, group="login", exit_on_error=False)
    async def _log_in(self, request: LoginRequest) -> None:
        assert self.handler is not None
        try:
            message = await self.handler(request)
        except LoginError as exc:
            self._status(f"Login failed: {exc}", error=True)
            return
        except Exception as exc:  # a broker/network failure is shown, never a crash
            self._status(f"Login failed ({type(exc).__name__}): {exc}", error=True)
            return
        self.app.notify(message, title="Zerodha")
        self.dismiss(True)
