"""Faults injected on demand: the things a real Kite connection does to a client on a bad day."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from kite_sandbox.auth import SandboxAuth
from kite_sandbox.ticker import TickerHub

RATE_LIMIT_STATUS = 429


class AfterAccept(StrEnum):
    """How an order call fails after the desk has taken the order."""

    ERROR = "error"  # an error status in Kite's envelope
    LATE = "late"  # the success answer, but only after a delay (the client has timed out)
    DROP = "drop"  # the connection is cut, no answer at all


@dataclass(frozen=True, slots=True)
class AcceptedFailure:
    how: AfterAccept
    status: int = 504
    delay_s: float = 2.0


class SandboxFaults:
    def __init__(self, auth: SandboxAuth, hub: TickerHub) -> None:
        self._auth = auth
        self._hub = hub
        self._rest_failures: deque[int] = deque()
        self._after_accept: deque[AcceptedFailure] = deque()

    def drop_connections(self) -> int:
        """Cut every ticker socket abruptly (no close frame); how many were cut."""
        return self._hub.drop_connections()

    def go_silent(self, seconds: float | None = None) -> None:
        """Open sockets get nothing, not even heartbeats, for `seconds` (None: until `speak()`)."""
        self._hub.go_silent(seconds)

    def speak(self) -> None:
        """End a silence."""
        self._hub.speak()

    def expire_tokens(self) -> None:
        """Every access token dies now: REST answers 403 TokenException, sockets close, upgrades get 403."""
        self._auth.expire_all()
        self._hub.close_unauthorised("token expired")

    def fail_rest(self, status: int = 503, count: int = 1) -> None:
        """The next `count` REST calls fail with `status` in Kite's error envelope."""
        if not 400 <= status <= 599:
            raise ValueError(f"fail_rest needs an HTTP error status (400-599), not {status}")
        self._rest_failures.extend([status] * max(0, count))

    def rate_limit(self, count: int = 1) -> None:
        """The next `count` REST calls get 429 Too Many Requests."""
        self.fail_rest(RATE_LIMIT_STATUS, count)

    def take_rest_failure(self) -> int | None:
        """The status the current REST call must fail with, if a failure is queued."""
        return self._rest_failures.popleft() if self._rest_failures else None

    def fail_after_accept(
        self,
        count: int = 1,
        *,
        how: AfterAccept | str = AfterAccept.ERROR,
        status: int = 504,
        delay_s: float = 2.0,
    ) -> None:
        """The next `count` order calls (place, modify, cancel) that the desk accepts are carried out,
        but the caller learns nothing useful: an error `status` (how="error"), the answer after
        `delay_s` seconds (how="late") or a cut connection (how="drop")."""
        try:
            kind = AfterAccept(how)
        except ValueError:
            raise ValueError(f"how must be one of {', '.join(AfterAccept)}, not {how!r}") from None
        if not 500 <= status <= 599:
            raise ValueError(f"fail_after_accept needs a 5xx status (an ambiguous failure), not {status}")
        if delay_s < 0:
            raise ValueError(f"delay_s cannot be negative (got {delay_s})")
        self._after_accept.extend([AcceptedFailure(kind, status, delay_s)] * max(0, count))

    def take_after_accept(self) -> AcceptedFailure | None:
        """How the current, accepted order call must fail, if a failure is queued."""
        return self._after_accept.popleft() if self._after_accept else None

    def clear(self) -> None:
        """Forget queued failures and end any silence."""
        self._rest_failures.clear()
        self._after_accept.clear()
        self._hub.speak()
