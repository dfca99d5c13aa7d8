"""A Kite login against the sandbox, saved as `alpha-panda-tui login` would save it (for tests)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from kiteconnect import KiteConnect

from engine.market.calendar import IST
from engine.settings import Settings
from engine.zerodha.session import KiteSession, SessionStore, session_expiry
from kite_sandbox.server import KiteSandbox


async def log_in(sandbox: KiteSandbox, settings: Settings) -> KiteSession:
    kite = KiteConnect(sandbox.config.api_key, root=sandbox.root_url, timeout=5)
    data = await asyncio.to_thread(
        kite.generate_session, sandbox.issue_request_token(), sandbox.config.api_secret
    )
    login_time = data["login_time"]
    assert isinstance(login_time, datetime)
    login_time = login_time.replace(tzinfo=IST)
    session = KiteSession(
        user_id=data["user_id"],
        user_name=data["user_name"],
        api_key=data["api_key"],
        access_token=data["access_token"],
        login_time=login_time,
        expires_at=session_expiry(login_time),
    )
    SessionStore(settings.kite_session_file).save(session)
    return session
