"""A Kite login as the login flow makes one: a request token from the sandbox's login page,
`generate_session` with the official client, the session saved where the engine looks for it."""

from __future__ import annotations

import asyncio
from datetime import datetime

from kiteconnect import KiteConnect

from engine.market.calendar import IST
from engine.zerodha.session import KiteSession, SessionStore, session_expiry
from kite_sandbox.server import KiteSandbox


async def log_in(sandbox: KiteSandbox, store: SessionStore) -> KiteSession:
    api_key, api_secret = sandbox.config.api_key, sandbox.config.api_secret
    kite = KiteConnect(api_key=api_key, root=sandbox.root_url)
    request_token = sandbox.issue_request_token()
    data = await asyncio.to_thread(kite.generate_session, request_token, api_secret=api_secret)
    login_time = data["login_time"]
    if isinstance(login_time, datetime):  # the client parses it (naive, IST)
        login_time = login_time.replace(tzinfo=IST)
    session = KiteSession(
        user_id=data["user_id"],
        user_name=data.get("user_name") or "",
        api_key=api_key,
        access_token=data["access_token"],
        login_time=login_time,
        expires_at=session_expiry(login_time),
    )
    store.save(session)
    return session
