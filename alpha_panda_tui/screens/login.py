"""Zerodha login dialog: the login URL, then the request token, caught or pasted.

While the dialog is open it listens on the redirect URL (when that is a
127.0.0.1 one) and logs in by itself when the browser comes back from Kite;
the token, or the whole redirect URL, can be pasted instead. The API key and
secret come from the settings when they are there. Creating the Kite session is
the login handler's job; without one (Zerodha off) the dialog says so plainly.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from alpha_panda_tui.browser import open_in_browser
from engine.settings import ZerodhaSettings
from engine.zerodha.login import LoginFailed, login_url, parse_request_token
from engine.zerodha.redirect_catcher import RedirectCatcher, RedirectCatcherError
from viewmodels.keys import Scope
from widgets.bindings import bindings

API_KEY_RE = re.compile(r"[A-Za-z0-9_-]{6,64}")
SECRET_RE = re.compile(r"[A-Za-z0-9]{8,128}")
TOKEN_PLACEHOLDER = "https://127.0.0.1/?request_token=...&status=success"
SECRET_FROM_SETTINGS = "set in the settings"

ZERODHA_OFF = (
    "Zerodha is off in the settings (zerodha.enabled, api_key, api_secret): "
    "no Kite login here; the console trades on paper."
)

NO_BROWSER = (
    "No browser to open here (SSH, or no display): open the URL above yourself, "
    "then paste the URL Kite sends you to."
)

__all__ = ["LoginFailed", "LoginHandler", "LoginRequest", "LoginScreen", "parse_request_token"]


@dataclass(frozen=True, slots=True)
class LoginRequest:
    api_key: str
    api_secret: str
    request_token: str


# Creates and saves the session and returns a line to show (e.g. "logged in as AB1234");
# raises LoginFailed with the reason. An empty api_secret means "the one in the settings".
LoginHandler = Callable[[LoginRequest], Awaitable[str]]


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

    def __init__(
        self, *, handler: LoginHandler | None = None, zerodha: ZerodhaSettings | None = None
    ) -> None:
        super().__init__()
        self.catches_redirect = zerodha is not None  # only on the URL the settings name
        self.zerodha = zerodha or ZerodhaSettings()
        self.initial_api_key = self.zerodha.api_key.get_secret_value() if self.zerodha.api_key else ""
        secret = self.zerodha.api_secret
        self.secret_configured = secret is not None and bool(secret.get_secret_value())
        self.handler = handler
        self.catcher_url = ""  # where the redirect is being caught, once it is

    def compose(self) -> ComposeResult:
        with Vertical(id="login-dialog", classes="dialog"):
            yield Label("Zerodha login", classes="dialog-title")
            yield Static("", id="login-url", markup=False)
            yield Label("API key", classes="field-label")
            yield Input(self.initial_api_key, placeholder="api_key", id="api-key", compact=True)
            yield Label("", id="api-key-error", classes="field-error")
            yield Label("API secret", classes="field-label")
            with Horizontal(classes="secret-row"):
                placeholder = SECRET_FROM_SETTINGS if self.secret_configured else "api_secret"
                yield Input(placeholder=placeholder, password=True, id="api-secret", compact=True)
                yield Button("Show", id="toggle-secret", compact=True)
            yield Label("", id="api-secret-error", classes="field-error")
            yield Label("Request token, or the redirect URL", classes="field-label")
            yield Input(placeholder=TOKEN_PLACEHOLDER, id="request-token", compact=True)
            yield Label("", id="request-token-error", classes="field-error")
            yield Static("", id="login-status", markup=False)
            with Horizontal(classes="dialog-buttons"):
                if self.handler is not None:
                    yield Button("Open in browser", id="login-browser", compact=True)
                yield Button("Log in", id="login-submit", variant="primary", compact=True)
                yield Button("Cancel", id="login-cancel", compact=True)

    def on_mount(self) -> None:
        self._show_login_url(self.initial_api_key)
        if self.handler is None:
            self._status(ZERODHA_OFF, error=True)
        elif self.catches_redirect:
            self._catch_redirect()
        if not self.initial_api_key:
            first = "#api-key"
        elif not self.secret_configured:
            first = "#api-secret"
        else:
            first = "#request-token"
        self.query_one(first, Input).focus()

    @on(Input.Changed, "#api-key")
    def _api_key_changed(self, event: Input.Changed) -> None:
        self._show_login_url(event.value)

    def _show_login_url(self, api_key: str) -> None:
        key = api_key.strip()
        text = (
            f"1. Open {login_url(self.zerodha, key)} and sign in.\n"
            "2. Paste the URL Kite redirects you to (or its request_token) below."
            if key
            else "Enter your Kite Connect API key to get the login URL."
        )
        self.query_one("#login-url", Static).update(text)

    @work(exclusive=True, group="redirect", exit_on_error=False)
    async def _catch_redirect(self) -> None:
        """Listen on the redirect URL while the dialog is open; log in each time the browser comes back."""
        try:
            catcher = RedirectCatcher(self.zerodha.redirect_url)
            await catcher.start()
        except RedirectCatcherError as exc:
            why = str(exc)
            self._status(why[:1].upper() + why[1:] + ".", error=False)
            return
        self.catcher_url = catcher.url
        try:
            self._status(f"Waiting for Kite's redirect to {catcher.url} ...", error=False)
            while True:
                token = await catcher.request_token()
                self.query_one("#request-token", Input).value = token
                self.submit()
        finally:
            await catcher.close()

    @on(Button.Pressed, "#login-browser")
    @work(exclusive=True, group="browser", exit_on_error=False)
    async def open_browser(self) -> None:
        url = login_url(self.zerodha, self.query_one("#api-key", Input).value.strip())
        if not await open_in_browser(url):
            self._status(NO_BROWSER, error=False)

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
            self._status(ZERODHA_OFF, error=True)
            return
        self._status("logging in...", error=False)
        self._log_in(request)

    def _check_secret(self, text: str) -> str:
        if self.secret_configured and not text.strip():
            return ""  # the handler uses the one in the settings
        return check_secret(text)

    def validate(self) -> LoginRequest | None:
        """Check every field, show each problem under its field; the request if all are good."""
        values: dict[str, str] = {}
        first_bad: Input | None = None
        for field_id, check in (
            ("api-key", check_api_key),
            ("api-secret", self._check_secret),
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
        except LoginFailed as exc:
            self._status(f"Login failed: {exc}", error=True)
            return
        except Exception as exc:  # a broker/network failure is shown, never a crash
            self._status(f"Login failed ({type(exc).__name__}): {exc}", error=True)
            return
        self.app.notify(message, title="Zerodha", markup=False)
        self.dismiss(True)
