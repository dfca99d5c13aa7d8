"""Faults injected on demand: the things a real Kite connection does to a client on a bad day."""

from __future__ import annotations

from collections import deque

from kite_sandbox.auth import SandboxAuth
from kite_sandbox.ticker import TickerHub

RATE_LIMIT_STATUS = 429


class SandboxFaults:
    def __init__(self, auth: SandboxAuth, hub: TickerHub) -> None:
        self._auth = auth
        self._hub = hub
        self._rest_failures: deque[int] = deque()

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

    def clear(self) -> None:
        """Forget queued REST failures and end any silence."""
        self._rest_failures.clear()
        self._hub.speak()
