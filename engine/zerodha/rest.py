"""Kite REST for the engine: the official `kiteconnect` client, off the event loop, limited and retried.

Every call runs in a worker thread (the client is blocking `requests`), bounded by
a time-out, after taking its turn from the engine's one `KiteRateLimiter`.

What a failure becomes:
- 429 (rate limited), 5xx, NetworkException, DataException, a time-out or a
  connection error: retried with backoff (`zerodha.rest_retries`, `rest_backoff_s`,
  doubling up to `rest_backoff_cap_s`), then `BrokerUnavailable`. A call that
  changes something at Kite (an order, a session) is retried on 429 only: Kite
  refused it unseen; after any other failure it may have been done, and doing it
  twice is worse than a clear error.
- TokenException: the session is marked expired and `SessionExpired` raised.
- anything else Kite refuses (InputException, PermissionException, ...): `BrokerError`
  with Kite's message, never retried.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from engine.backoff import Backoff
from engine.settings import ZerodhaSettings
from engine.zerodha.broker_session import BrokerSession
from engine.zerodha.errors import BrokerError, BrokerUnavailable, SendBlocked, SessionExpired
from engine.zerodha.rate_limit import KiteRateLimiter

log = logging.getLogger(__name__)

RETRY_JITTER = 0.1
HTTP_TOO_MANY_REQUESTS = 429
MAX_DETAIL_CHARS = 200

# Calls that only read: safe to repeat whatever happened to the first attempt.
READ_CALLS = frozenset(
    {
        "profile",
        "margins",
        "orders",
        "order_history",
        "trades",
        "order_trades",
        "positions",
        "holdings",
        "instruments",
        "quote",
        "ohlc",
        "ltp",
        "historical_data",
        "trigger_range",
        "get_gtts",
        "get_gtt",
        "order_margins",
        "basket_order_margins",
        "get_virtual_contract_note",
        "get_auction_instruments",
        "mf_orders",
        "mf_sips",
        "mf_holdings",
        "mf_instruments",
    }
)
# Calls Kite answers without an access token.
TOKENLESS_CALLS = frozenset({"instruments", "mf_instruments", "generate_session"})
# Client methods that are not Kite calls.
NOT_CALLS = frozenset({"set_session_expiry_hook", "set_access_token", "login_url"})


@dataclass(frozen=True, slots=True)
class _Failure:
    text: str  # what went wrong, in words (Kite's message when it sent one)
    transient: bool  # worth another attempt
    rate_limited: bool = False
    token: bool = False
    status: int | None = None
    error_type: str = ""


_TOKEN_IN_URL = re.compile(r"((?:access|request|refresh)_token=)[^&\s)'\"]+")


def _detail(exc: BaseException) -> str:
    """The error in one line; a token in a URL it quotes (DELETE /session/token?access_token=..) masked."""
    first = _TOKEN_IN_URL.sub(r"\1***", str(exc).splitlines()[0]) if str(exc) else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text[:MAX_DETAIL_CHARS]


class KiteRest:
    def __init__(
        self,
        settings: ZerodhaSettings,
        broker_session: BrokerSession | None,
        *,
        limiter: KiteRateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.broker_session = broker_session
        self.api_key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
        self.limiter = limiter or KiteRateLimiter(settings)
        self._client: KiteConnect | None = None
        self._client_token: str | None = None
        self.calls = 0  # attempts sent to Kite
        self.retries = 0  # attempts that were retries

    # -- the calls ----------------------------------------------------------------
    async def profile(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.call("profile")
        return data

    async def margins(self, segment: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = await self.call("margins", segment) if segment else await self.call("margins")
        return data

    async def quote(self, *instruments: str) -> dict[str, Any]:
        """Full quotes by "EXCHANGE:SYMBOL"."""
        data: dict[str, Any] = await self.call("quote", *instruments)
        return data

    async def ltp(self, *instruments: str) -> dict[str, Any]:
        data: dict[str, Any] = await self.call("ltp", *instruments)
        return data

    async def ohlc(self, *instruments: str) -> dict[str, Any]:
        data: dict[str, Any] = await self.call("ohlc", *instruments)
        return data

    async def instruments_csv(self, exchange: str) -> str:
        """One exchange's instruments dump, as the CSV text Kite sends."""

        def fetch(kite: KiteConnect) -> Any:
            # the client's instruments() parses the CSV into dicts; the dump is cached as sent
            return kite._get("market.instruments", url_args={"exchange": exchange})

        body = await self._run("instruments", fetch, timeout=self.settings.instruments_timeout_s)
        if isinstance(body, bytes):
            return body.decode("utf-8", errors="replace")
        raise BrokerError(f"Kite sent the {exchange} instruments dump as JSON, not CSV")

    async def call(
        self, name: str, *args: Any, guard: Callable[[], str | None] | None = None, **kwargs: Any
    ) -> Any:
        """Any `KiteConnect` method by name, e.g. `call("order_history", order_id)`.

        `guard`, asked after the rate limiter's wait and before each attempt, returns why the call
        must not go out now (`SendBlocked`), or None: an order queued behind the limit when the
        kill switch is pressed is never sent."""
        if name.startswith("_") or name in NOT_CALLS or not callable(getattr(KiteConnect, name, None)):
            raise ValueError(f"{name!r} is not a Kite Connect call")

        def invoke(kite: KiteConnect) -> Any:
            return getattr(kite, name)(*args, **kwargs)

        return await self._run(name, invoke, timeout=self.settings.rest_timeout_s * 2, guard=guard)

    # -- one call, its attempts and what a failure means ----------------------------
    async def _run(
        self,
        name: str,
        fn: Callable[[KiteConnect], Any],
        *,
        timeout: float,
        guard: Callable[[], str | None] | None = None,
    ) -> Any:
        s = self.settings
        backoff = Backoff(s.rest_backoff_s, cap=s.rest_backoff_cap_s, jitter=RETRY_JITTER)
        attempts = 1 + s.rest_retries
        for attempt in range(1, attempts + 1):
            kite = self._kite(name)  # the token is read each time: a login meanwhile is used at once
            await self.limiter.acquire(name)
            if guard is not None and (blocked := guard()) is not None:
                raise SendBlocked(f"{name} not sent: {blocked}")
            self.calls += 1
            try:
                return await asyncio.wait_for(asyncio.to_thread(fn, kite), timeout)
            except Exception as exc:
                failure = self._failure(name, exc, timeout)
            if failure.token and kite.access_token is None:
                raise SessionExpired(f"Kite wants a login for {name}: log in with `alpha-panda-tui login`")
            if failure.token:
                raise self._expired(failure, kite.access_token)
            retry = failure.rate_limited or (failure.transient and name in READ_CALLS)
            if not retry:
                raise BrokerError(failure.text, status=failure.status, error_type=failure.error_type)
            if attempt == attempts:
                raise BrokerUnavailable(
                    f"{failure.text} (gave up after {attempts} attempt{'s' if attempts > 1 else ''})",
                    status=failure.status,
                    error_type=failure.error_type,
                )
            delay = backoff.next_delay()
            self.retries += 1
            log.warning(
                "Kite %s failed (%s); retry %d of %d in %.1f s",
                name,
                failure.text,
                attempt,
                s.rest_retries,
                delay,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _failure(self, name: str, exc: Exception, timeout: float) -> _Failure:
        if isinstance(exc, kite_errors.KiteException):
            status = int(exc.code) if isinstance(exc.code, int) else None
            kind = type(exc).__name__
            text = f"Kite {name}: {exc} ({kind}, HTTP {status})"
            if isinstance(exc, kite_errors.TokenException):
                return _Failure(text, False, token=True, status=status, error_type=kind)
            if status == HTTP_TOO_MANY_REQUESTS:
                return _Failure(text, True, rate_limited=True, status=status, error_type=kind)
            transient = isinstance(exc, kite_errors.NetworkException | kite_errors.DataException) or (
                status is not None and status >= 500
            )
            return _Failure(text, transient, status=status, error_type=kind)
        if isinstance(exc, TimeoutError):
            return _Failure(f"Kite did not answer {name} within {timeout:.0f} s", True)
        if isinstance(exc, requests.RequestException):
            return _Failure(f"Kite unreachable at {self.settings.root_url}: {_detail(exc)}", True)
        # the client trips over a malformed answer (no Content-Type, an error without error_type)
        return _Failure(f"Kite {name}: unexpected answer ({_detail(exc)})", False)

    def _expired(self, failure: _Failure, token: str) -> SessionExpired:
        reason = f"Kite refused the access token ({failure.text})"
        session = self.broker_session
        # a login may have replaced the token while this call was out: only the refused one dies
        if session is not None and session.session is not None and session.session.access_token == token:
            session.mark_expired(reason)
        return SessionExpired(reason, status=failure.status, error_type=failure.error_type)

    def _kite(self, name: str) -> KiteConnect:
        """The client carrying the current access token (none for the calls that need none)."""
        token = self.broker_session.access_token() if self.broker_session is not None else None
        if token is None and name not in TOKENLESS_CALLS:
            state = self.broker_session.status().describe() if self.broker_session else "Zerodha is off"
            raise SessionExpired(
                f"no valid Kite session for {name} ({state}): log in with `alpha-panda-tui login`"
            )
        if self._client is None or token != self._client_token:
            self._client = KiteConnect(
                api_key=self.api_key,
                access_token=token,
                root=self.settings.root_url,
                timeout=self.settings.rest_timeout_s,
            )
            self._client_token = token
        return self._client
