"""The daily Kite login: the login URL, the request token, the session it buys, and logging out.

Kite's login happens in a browser; Kite then redirects it to the app's redirect
URL with a one-time `request_token`. `RedirectCatcher` listens on that URL when
it is a 127.0.0.1 one, so the token arrives by itself; otherwise the user pastes
the token (or the whole redirect URL) and `parse_request_token` reads it.
`create_session` exchanges the token for the day's access token through the
official client. Nothing here logs a token or the secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from kiteconnect import KiteConnect
from kiteconnect.exceptions import InputException, KiteException, TokenException

from engine.market.calendar import IST
from engine.settings import ZerodhaSettings
from engine.zerodha.session import (
    KiteSession,
    SessionFileError,
    SessionStore,
    parse_login_time,
    session_expiry,
)

log = logging.getLogger(__name__)

KITE_TIMEOUT_S = 10.0
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{8,128}")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
MAX_REQUEST_BYTES = 8192
REQUEST_READ_TIMEOUT_S = 5.0


class LoginFailed(Exception):
    """The login could not be completed; the message says why and what to do (never a secret)."""


class CredentialsMissing(LoginFailed):
    """The API key or secret is not configured."""


class RedirectCatcherError(Exception):
    """The redirect cannot be caught here (not a local URL, or its port is taken); paste the token instead."""


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str
    api_secret: str

    @classmethod
    def from_settings(cls, settings: ZerodhaSettings) -> Credentials:
        key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
        secret = settings.api_secret.get_secret_value() if settings.api_secret is not None else ""
        missing = [name for name, value in (("api_key", key), ("api_secret", secret)) if not value]
        if missing:
            fields = " and ".join(f"zerodha.{name}" for name in missing)
            envs = " and ".join(f"ALPHA_PANDA_ZERODHA__{name.upper()}" for name in missing)
            raise CredentialsMissing(
                f"{fields} {'is' if len(missing) == 1 else 'are'} needed to log in: set {envs} "
                "(or [zerodha] in config.toml) from your app in the Kite developer console"
            )
        return cls(key, secret)


def login_url(settings: ZerodhaSettings, api_key: str | None = None) -> str:
    """Kite's login page for this app (`login_url?api_key=..&v=3`)."""
    if api_key is None:
        api_key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    return f"{settings.login_url}?{urlencode({'api_key': api_key, 'v': '3'})}"


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


def _client(settings: ZerodhaSettings, api_key: str) -> KiteConnect:
    return KiteConnect(api_key, root=settings.root_url, timeout=KITE_TIMEOUT_S)


def _login_time(value: object) -> datetime:
    if isinstance(value, datetime):  # the client parses Kite's IST text into a naive datetime
        return value if value.tzinfo is not None else value.replace(tzinfo=IST)
    if isinstance(value, str):
        return parse_login_time(value)
    raise ValueError("no login_time")


def _unreachable(settings: ZerodhaSettings, exc: OSError) -> str:
    # only the exception's type: a requests error's text can carry the URL, and a DELETE's URL the token
    host = urlparse(settings.root_url).netloc or settings.root_url
    return f"cannot reach Kite at {host} ({type(exc).__name__})"


async def create_session(
    settings: ZerodhaSettings, request_token: str, credentials: Credentials | None = None
) -> KiteSession:
    """Exchange a request token for the day's session (`generate_session`, off the event loop)."""
    creds = credentials or Credentials.from_settings(settings)
    kite = _client(settings, creds.api_key)
    try:
        data: Any = await asyncio.to_thread(kite.generate_session, request_token, api_secret=creds.api_secret)
    except TokenException as exc:
        if "checksum" in str(exc) or "api_key" in str(exc):
            raise LoginFailed(
                f"Kite refused the login ({exc}); check zerodha.api_key and zerodha.api_secret"
            ) from None
        raise LoginFailed(
            f"Kite refused the request token ({exc}); a token works once and only for a few minutes: "
            "log in again"
        ) from None
    except InputException as exc:
        raise LoginFailed(
            f"Kite refused the login ({exc}); check zerodha.api_key and zerodha.api_secret"
        ) from None
    except KiteException as exc:
        raise LoginFailed(f"Kite could not create the session: {exc}") from None
    except OSError as exc:
        raise LoginFailed(_unreachable(settings, exc)) from None
    try:
        login_time = _login_time(data.get("login_time"))
        session = KiteSession(
            user_id=str(data["user_id"]),
            user_name=str(data.get("user_name") or ""),
            api_key=creds.api_key,
            access_token=str(data["access_token"]),
            login_time=login_time,
            expires_at=session_expiry(login_time),
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        raise LoginFailed(
            "Kite's answer to the login has no usable session (user_id, access_token, login_time)"
        ) from None
    if not session.user_id or not session.access_token:
        raise LoginFailed("Kite's answer to the login has an empty user_id or access_token")
    return session


@dataclass(frozen=True, slots=True)
class LogoutResult:
    had_session: bool
    user_id: str = ""
    warning: str = ""  # why Kite was not told; the local session is gone all the same

    def describe(self) -> str:
        if not self.had_session:
            return "no saved Kite session: nothing to log out"
        who = f" {self.user_id}" if self.user_id else ""
        if self.warning:
            return f"logged out{who} here; {self.warning}"
        return f"logged out{who}: Kite invalidated the access token and the saved session is deleted"


async def logout(settings: ZerodhaSettings, store: SessionStore) -> LogoutResult:
    """Invalidate the saved access token with Kite and delete the file; offline, delete it anyway."""
    try:
        session = store.load()
    except SessionFileError:
        store.delete()
        return LogoutResult(True, warning="the saved session was unreadable and has been deleted")
    if session is None:
        return LogoutResult(False)
    warning = ""
    kite = _client(settings, session.api_key)
    try:
        await asyncio.to_thread(kite.invalidate_access_token, session.access_token)
    except TokenException:
        pass  # already dead at Kite's end: what logging out wants
    except KiteException as exc:
        warning = f"Kite did not confirm the logout ({exc}); the saved session is deleted"
    except OSError as exc:
        warning = f"{_unreachable(settings, exc)}: token not invalidated; the saved session is deleted"
    if warning:
        log.warning("logout: %s", warning)
    store.delete()
    return LogoutResult(True, session.user_id, warning)


CLOSE_TAB_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Alpha Panda</title>"
    "<p>Logged in to Kite: Alpha Panda has the request token. You can close this tab.</p>"
)


class RedirectCatcher:
    """A tiny HTTP listener on the (127.0.0.1) redirect URL that catches Kite's `request_token`.

    Use as `async with RedirectCatcher(url) as catcher: token = await catcher.request_token()`.
    The browser gets a plain "you can close this tab" page; a failed login gets the reason, and
    the catcher keeps listening for the next try.
    """

    def __init__(self, redirect_url: str) -> None:
        parsed = urlparse(redirect_url)
        if parsed.scheme != "http" or parsed.hostname not in LOOPBACK_HOSTS:
            raise RedirectCatcherError(
                f"the redirect URL {redirect_url} is not an http://127.0.0.1 one, so it cannot be caught "
                "here: paste the URL Kite redirects to"
            )
        try:
            self.port = parsed.port or 80
        except ValueError:
            raise RedirectCatcherError(f"the redirect URL {redirect_url} has an invalid port") from None
        self.host = "127.0.0.1"
        self.path = parsed.path or "/"
        self._server: asyncio.Server | None = None
        self._tokens: asyncio.Queue[str] = asyncio.Queue()

    @property
    def url(self) -> str:
        """The URL it listens on (the bound port, when the redirect URL said port 0)."""
        return f"http://{self.host}:{self.port}{self.path}"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            raise RedirectCatcherError(
                f"cannot listen on {self.host}:{self.port} for Kite's redirect ({exc.strerror or exc}): "
                "paste the URL Kite redirects to"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> RedirectCatcher:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def request_token(self) -> str:
        """The next request token a browser brings (a retried login brings another)."""
        return await self._tokens.get()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_READ_TIMEOUT_S)
            status, page = self._answer(head[:MAX_REQUEST_BYTES].decode("latin-1"))
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            status, page = "400 Bad Request", "<p>Bad request.</p>"
        body = page.encode("utf-8")
        headers = (
            f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(headers.encode("latin-1") + body)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    def _answer(self, head: str) -> tuple[str, str]:
        parts = head.split("\r\n", 1)[0].split(" ")
        if len(parts) != 3 or parts[0] != "GET":
            return "405 Method Not Allowed", "<p>Only the browser's redirect is served here.</p>"
        target = urlparse(parts[1])
        params = parse_qs(target.query)
        if "request_token" not in params and "status" not in params:
            return "404 Not Found", "<p>Not found.</p>"
        try:
            token = parse_request_token("?" + target.query)
        except ValueError as exc:
            return "400 Bad Request", f"<p>The login did not complete: {_html(str(exc))}.</p>"
        self._tokens.put_nowait(token)
        return "200 OK", CLOSE_TAB_PAGE


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
