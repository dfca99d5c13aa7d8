"""Whether a live order may go to Kite now: the typed confirmation, then a valid session.

Live orders need three things: `zerodha.live_orders = true`, an engine launched with `--live`
(without both the zerodha namespace does not exist: see `live_requested`) and, per run, a
person typing the confirmation — LIVE, or their Zerodha user id — in the console (or with
`alpha-panda-tui confirm-live`). The confirmation is never stored: a restarted engine asks
again. Once confirmed, a Kite session that is absent, expired or refused closes the gate until
the next login: no new live order, open ones left alone, and the reason said in words.
"""

from __future__ import annotations

import logging

from engine.settings import ConfigError, Settings
from engine.zerodha.broker_session import BrokerSession, SessionState

log = logging.getLogger(__name__)

CONFIRM_WORD = "LIVE"
NOT_CONFIRMED = (
    f"live orders are not confirmed: type {CONFIRM_WORD} (or your Zerodha user id) in the console "
    "or run `alpha-panda-tui confirm-live`"
)


def live_requested(settings: Settings, launch_live: bool) -> bool:
    """True when both the setting and `launch --live` ask for live orders; ConfigError when only
    the flag does (the setting alone is allowed: the engine then runs paper only)."""
    if not launch_live:
        return False
    z = settings.zerodha
    if not z.live_orders:
        raise ConfigError(
            "Invalid configuration: `launch --live` needs zerodha.live_orders = true\n"
            "    fix: set [zerodha] enabled = true and live_orders = true in "
            f"{settings.config_file}, or launch without --live to paper-trade"
        )
    if z.api_key is None:
        raise ConfigError(
            "Invalid configuration: `launch --live` needs zerodha.api_key\n"
            f"    fix: set [zerodha] api_key in {settings.config_file} or ALPHA_PANDA_ZERODHA__API_KEY"
        )
    return True


class LiveGate:
    """Held by the engine and read by the zerodha risk manager for every live signal."""

    def __init__(self, session: BrokerSession | None) -> None:
        """`session`: the engine's Kite session; None (Zerodha not enabled) keeps the gate shut."""
        self.session = session
        self.confirmed_by = ""  # who typed the confirmation; "" until someone did

    @property
    def confirmed(self) -> bool:
        return bool(self.confirmed_by)

    def confirm(self, typed: str, actor: str) -> tuple[bool, str]:
        """Accept the typed word (LIVE, or the session's user id); (ok, what happened)."""
        text = typed.strip()
        user_id = self.session.status().user_id if self.session is not None else ""
        if text != CONFIRM_WORD and not (user_id and text.upper() == user_id.upper()):
            return False, f"not confirmed: {text!r} is neither {CONFIRM_WORD} nor the Zerodha user id"
        if self.confirmed:
            return True, f"live orders were already confirmed (by {self.confirmed_by})"
        self.confirmed_by = actor or "unknown"
        log.warning("live orders confirmed by %s", self.confirmed_by)
        return True, "live orders confirmed: signals of strategies routed to zerodha now go to Kite"

    def blocking_reason(self) -> str | None:
        """Why no live order may be sent now; None when one may."""
        if not self.confirmed:
            return NOT_CONFIRMED
        if self.session is None:
            return "Zerodha is not enabled: no Kite session to send live orders with"
        status = self.session.status()
        if status.state is not SessionState.VALID:
            return f"no valid Kite session ({status.describe()}): no new live orders until you log in (b)"
        return None
