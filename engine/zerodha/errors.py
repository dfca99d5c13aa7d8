"""What a Kite call can end in, besides an answer."""

from __future__ import annotations


class BrokerError(Exception):
    """Kite refused or failed a call; the message says which call and Kite's own words."""

    def __init__(self, message: str, *, status: int | None = None, error_type: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status  # Kite's HTTP status, when there was an answer
        self.error_type = error_type  # Kite's error_type ("InputException", ...), when it sent one


class BrokerUnavailable(BrokerError):
    """Kite could not be reached, or kept failing (5xx, 429, time-outs) through every retry."""


class SessionExpired(BrokerError):
    """Kite refused the access token (or there is none): a new login is needed."""


class SendBlocked(BrokerError):
    """A call we chose not to send (the kill switch, the live gate): Kite never saw it."""
