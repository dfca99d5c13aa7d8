"""The console's Zerodha login: create the session, save it, hand it to the running engine.

The dialog (screens/login.py) collects the request token; this does the rest,
so the feed that waits for a login (BrokerSession.wait_valid) carries on with
the new token and the header and health pane say so at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from alpha_panda_tui.screens.login import LoginHandler, LoginRequest
from engine.market.calendar import IST
from engine.settings import Settings
from engine.zerodha.broker_session import BrokerSession
from engine.zerodha.login import Credentials, LoginFailed, create_session
from engine.zerodha.session import KiteSession, SessionStore

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger(__name__)


def logged_in_line(session: KiteSession) -> str:
    """ "logged in as Name (AB1234), valid until 06:00 IST on Thu 03 Dec"."""
    who = f"{session.user_name} ({session.user_id})" if session.user_name else session.user_id
    until = session.expires_at.astimezone(IST).strftime("%H:%M IST on %a %d %b")
    return f"logged in as {who}, valid until {until}"


def console_login_handler(
    settings: Settings,
    broker_session: BrokerSession | None,
    on_login: Callable[[KiteSession], Awaitable[None]] | None = None,
) -> LoginHandler | None:
    """The dialog's handler, or None when Zerodha is off (the dialog then says so)."""
    if not settings.zerodha.enabled or broker_session is None:
        return None
    zerodha = settings.zerodha
    store = SessionStore(settings.kite_session_file)

    async def log_in(request: LoginRequest) -> str:
        if request.api_key != broker_session.api_key:
            raise LoginFailed(
                f"this engine uses the API key in zerodha.api_key ({broker_session.api_key or 'not set'}); "
                "change the setting to log in with another"
            )
        secret = request.api_secret or Credentials.from_settings(zerodha).api_secret
        session = await create_session(zerodha, request.request_token, Credentials(request.api_key, secret))
        store.save(session)
        broker_session.install(session)
        if on_login is not None:
            try:
                await on_login(session)
            except Exception:  # the login stands; the next regular status will show it
                log.exception("could not audit the login or publish the engine's status after it")
        return logged_in_line(session)

    return log_in


def engine_login_handler(engine: Engine) -> LoginHandler | None:
    """The handler for a console on this engine: after a login its status and health show it at once."""

    async def logged_in(session: KiteSession) -> None:
        if engine.audit is not None:
            await engine.audit.record("console", "logged_in", subject=session.user_id)
        await engine.check_health()
        await engine.publish_status()

    return console_login_handler(engine.settings, engine.broker_session, logged_in)
