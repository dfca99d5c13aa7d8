"""The daily Kite login: the login URL, the request token, the session it buys, and logging out.

Kite's login happens in a browser; Kite then redirects it to the app's redirect
URL with a one-time `request_token`, caught there (redirect_catcher.py) or pasted
by the user, the token or the whole redirect URL (`parse_request_token`).
`create_session` exchanges it for the day's access token through the official
client. Nothing here logs a token or the secret.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlparse

from engine.market.calendar import IST
from engine.settings import ZerodhaSettings
from engine.zerodha.session import (
    KiteSession,
    SessionFileError,
    SessionStore,
    parse_login_time,
    session_expiry,
)

if TYPE_CHECKING:  # the client library (and its Twisted ticker) loads slowly: only when a login runs
    from kiteconnect import KiteConnect

log = logging.getLogger(__name__)

KITE_TIMEOUT_S = 10.0
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{8,128}")


class LoginFailed(Exception):
    """The login could not be completed; the message says why and what to do (never a secret)."""


class CredentialsMissing(LoginFailed):
    """The API key or secret is not configured."""


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
    from kiteconnect import KiteConnect

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


def _unreadable(settings: ZerodhaSettings, exc: Exception) -> str:
    host = urlparse(settings.root_url).netloc or settings.root_url
    return f"the answer from {host} is not Kite's ({type(exc).__name__}); check zerodha.root_url"


async def create_session(
    settings: ZerodhaSettings, request_token: str, credentials: Credentials | None = None
) -> KiteSession:
    """Exchange a request token for the day's session (`generate_session`, off the event loop)."""
    from kiteconnect.exceptions import InputException, KiteException, TokenException

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
    except (KeyError, TypeError, ValueError) as exc:  # the client chokes on an answer that is not Kite's
        raise LoginFailed(_unreadable(settings, exc)) from None
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
    from kiteconnect.exceptions import KiteException, TokenException

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
    except (KeyError, TypeError, ValueError) as exc:
        warning = f"{_unreadable(settings, exc)}: token maybe not invalidated; the saved session is deleted"
    if warning:
        log.warning("logout: %s", warning)
    store.delete()
    return LogoutResult(True, session.user_id, warning)
