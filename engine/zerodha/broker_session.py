"""The engine's view of its Kite session: absent, valid until a time, or expired.

One `BrokerSession` per engine. The live feed and the live order path ask it
for the access token and tell it when Kite refuses one (`mark_expired`). A login
— in the console, or `alpha-panda-tui login` in another terminal — saves a new
session file; `wait_valid` notices it (the file's stamp is polled, cheaply, only
while someone is waiting) and wakes whoever waits, so the feed reconnects with
the new token without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from engine.market.calendar import IST
from engine.zerodha.session import KiteSession, SessionFileError, SessionStore

log = logging.getLogger(__name__)

STORE_POLL_S = 1.0


class SessionState(StrEnum):
    ABSENT = "absent"
    VALID = "valid"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class SessionStatus:
    state: SessionState
    user_id: str = ""
    expires_at: datetime | None = None
    reason: str = ""  # why it is absent or expired, in words

    def describe(self) -> str:
        """ "absent", "valid until 06:00 (AB1234)", "expired: <why>"."""
        if self.state is SessionState.VALID and self.expires_at is not None:
            until = self.expires_at.astimezone(IST).strftime("%H:%M")
            return f"valid until {until}" + (f" ({self.user_id})" if self.user_id else "")
        if self.reason:
            return f"{self.state.value}: {self.reason}"
        return self.state.value


def now_ist() -> datetime:
    return datetime.now(IST)


class BrokerSession:
    def __init__(self, store: SessionStore, api_key: str, *, now: Callable[[], datetime] = now_ist) -> None:
        self.store = store
        self.api_key = api_key
        self._now = now
        self._session: KiteSession | None = None
        self._stamp: int | None = None
        self._revoked_reason = ""
        self._changed = asyncio.Event()
        self.reload()

    # -- reading ----------------------------------------------------------------
    def status(self) -> SessionStatus:
        session = self._session
        if session is None:
            return SessionStatus(SessionState.ABSENT, reason=self._revoked_reason)
        if self._revoked_reason:
            return SessionStatus(
                SessionState.EXPIRED, session.user_id, session.expires_at, self._revoked_reason
            )
        if session.expired(self._now()):
            return SessionStatus(SessionState.EXPIRED, session.user_id, session.expires_at, "past 06:00 IST")
        return SessionStatus(SessionState.VALID, session.user_id, session.expires_at)

    def access_token(self) -> str | None:
        """The token to use now, or None when there is no valid one."""
        if self.status().state is SessionState.VALID and self._session is not None:
            return self._session.access_token
        return None

    @property
    def session(self) -> KiteSession | None:
        return self._session

    # -- changes ----------------------------------------------------------------
    def reload(self) -> bool:
        """Re-read the session file if it changed; True if the session changed."""
        stamp = self.store.stamp()
        if stamp == self._stamp and (stamp is not None or self._session is None):
            return False
        self._stamp = stamp
        try:
            session = self.store.load()
        except SessionFileError as exc:
            log.warning("%s", exc)
            session = None
        if session is not None and session.api_key != self.api_key:
            log.warning("the saved Kite session is for another API key: log in again")
            session = None
        self._set(session)
        return True

    def install(self, session: KiteSession) -> None:
        """A new session from a login in this process (already saved by the login)."""
        self._stamp = self.store.stamp()
        self._set(session)

    def mark_expired(self, reason: str) -> None:
        """Kite refused the token (TokenException, 403 at the socket): it is dead, whatever the clock says."""
        if self._session is not None and not self._revoked_reason:
            log.warning("the Kite session ended: %s", reason)
        self._revoked_reason = reason or "refused by Kite"

    def clear(self) -> None:
        """After a logout."""
        self._stamp = self.store.stamp()
        self._set(None)

    def _set(self, session: KiteSession | None) -> None:
        self._session = session
        self._revoked_reason = ""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_valid(self) -> str:
        """Wait until there is a valid token (a login here or elsewhere) and return it."""
        while True:
            token = self.access_token()
            if token is not None:
                return token
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), STORE_POLL_S)
            except TimeoutError:
                self.reload()
