"""Asking Kite, when the engine starts, whether the saved session still stands.

A token can die before its 06:00 IST expiry (a logout elsewhere, a flush at Kite),
so the clock is not trusted alone: the engine asks for the profile. Refused ->
the session is marked expired with Kite's reason and the console asks for a login.
Kite unreachable -> the session is kept, logged as unverified; the feed will find
out soon enough. Nothing here raises.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from engine.zerodha.errors import BrokerError, SessionExpired

if TYPE_CHECKING:
    from engine.zerodha.rest import KiteRest

log = logging.getLogger(__name__)


class Verdict(StrEnum):
    VERIFIED = "verified"
    EXPIRED = "expired"
    UNVERIFIED = "unverified"  # Kite could not be asked
    NO_SESSION = "no session"


@dataclass(frozen=True, slots=True)
class Verification:
    verdict: Verdict
    detail: str  # who is logged in, or why not


async def verify_session(rest: KiteRest, *, timeout_s: float) -> Verification:
    session = rest.broker_session
    if session is None or session.access_token() is None:
        state = session.status().describe() if session is not None else "Zerodha is off"
        log.info("Kite session: %s; log in with `alpha-panda-tui login` or the console's `b` key", state)
        return Verification(Verdict.NO_SESSION, state)
    try:
        profile = await asyncio.wait_for(rest.profile(), timeout_s)
    except SessionExpired as exc:
        log.warning("Kite session expired: %s; log in again", exc.message)
        return Verification(Verdict.EXPIRED, exc.message)
    except TimeoutError:
        detail = f"Kite did not confirm it within {timeout_s:.0f} s"
    except BrokerError as exc:
        detail = exc.message
    else:
        who = str(profile.get("user_id") or "")
        name = str(profile.get("user_name") or "")
        detail = f"{name} ({who})" if name and who else (who or name or "unknown user")
        log.info("Kite session verified: logged in as %s", detail)
        return Verification(Verdict.VERIFIED, detail)
    log.warning("Kite session unverified (%s); keeping it until Kite refuses it", detail)
    return Verification(Verdict.UNVERIFIED, detail)
