"""Kite Connect v3 REST at the host root: session, user, instruments, quotes, orders and portfolio,
answering in Kite's envelopes (response shapes as Zerodha's kiteconnect-mocks)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from engine.events import MarketTick
from engine.instruments import Instrument, UnknownInstrument
from kite_sandbox.auth import SandboxAuth
from kite_sandbox.circuit import circuit_limits
from kite_sandbox.errors import ErrorType, KiteError, success_response, token_error
from kite_sandbox.faults import AcceptedFailure, AfterAccept, SandboxFaults
from kite_sandbox.instruments import exchanges, instruments_csv
from kite_sandbox.kite_time import KITE_TIME, kite_time
from kite_sandbox.limits import RateLimiter, limit_class
from kite_sandbox.market import SandboxMarket
from kite_sandbox.orders import OrderDesk
from kite_sandbox.portfolio import holdings
from kite_sandbox.request_log import RequestLog
from kite_sandbox.stats import SandboxStats
from kite_sandbox.ticker import TickerHub

MAX_QUOTE_INSTRUMENTS = 500
MAX_LTP_INSTRUMENTS = 1000
SEGMENTS = ("equity", "commodity")


@dataclass(frozen=True, slots=True)
class Account:
    user_id: str
    user_name: str
    redirect_url: str


class SandboxRest:
    def __init__(
        self,
        *,
        account: Account,
        auth: SandboxAuth,
        market: SandboxMarket,
        faults: SandboxFaults,
        hub: TickerHub,
        stats: SandboxStats,
        desk: OrderDesk,
        limiter: RateLimiter | None,
        requests: RequestLog,
    ) -> None:
        self._account = account
        self._auth = auth
        self._market = market
        self._faults = faults
        self._hub = hub
        self._stats = stats
        self._desk = desk
        self._limiter = limiter
        self._requests = requests

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/connect/login", self.login_page)
        r.add_post("/session/token", self.session_token)
        r.add_delete("/session/token", self.invalidate_token)
        r.add_get("/user/profile", self.profile)
        r.add_get("/user/margins", self.all_margins)
        r.add_get("/user/margins/{segment}", self.segment_margins)
        r.add_get("/instruments", self.instruments)
        r.add_get("/instruments/{exchange}", self.instruments)
        r.add_get("/quote", self.quote)
        r.add_get("/quote/ohlc", self.ohlc)
        r.add_get("/quote/ltp", self.ltp)
        r.add_get("/orders", self.orders)
        r.add_get("/orders/{order_id}", self.order_history)
        r.add_get("/orders/{order_id}/trades", self.order_trades)
        r.add_post("/orders/{variety}", self.place_order)
        r.add_put("/orders/{variety}/{order_id}", self.modify_order)
        r.add_delete("/orders/{variety}/{order_id}", self.cancel_order)
        r.add_get("/trades", self.trades)
        r.add_get("/portfolio/positions", self.positions)
        r.add_get("/portfolio/holdings", self.holdings)

    # -- what every REST call goes through (the middleware) ------------------------------------------

    async def before_call(self, request: web.Request, route: str) -> None:
        """Log and count the call, then apply an injected fault or the rate limit (raising a KiteError)."""
        form = await request.post() if request.method in ("POST", "PUT") else {}
        self._requests.record(
            request.method,
            request.path,
            route,
            dict(request.query),
            {key: value for key, value in form.items() if isinstance(value, str)},
        )
        self._stats.rest_calls[route] += 1
        status = self._faults.take_rest_failure()
        if status is not None:
            message = "Too many requests" if status == 429 else f"sandbox: injected failure (HTTP {status})"
            raise KiteError(status, message)
        if self._limiter is not None and not self._limiter.allow(limit_class(request.method, request.path)):
            raise KiteError(429, "Too many requests", ErrorType.NETWORK)

    def _require_session(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        api_key, _, access_token = credentials.partition(":")
        if scheme.lower() != "token" or not self._auth.valid(api_key.strip(), access_token.strip()):
            raise token_error()

    # -- session -------------------------------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        """Stands in for kite.zerodha.com/connect/login: an instant login, redirected with a request token."""
        if request.query.get("api_key", "") != self._auth.api_key:
            raise KiteError(400, "Invalid `api_key`.", ErrorType.INPUT)
        query = urlencode(
            {
                "action": "login",
                "type": "login",
                "status": "success",
                "request_token": self._auth.issue_request_token(),
            }
        )
        separator = "&" if "?" in self._account.redirect_url else "?"
        raise web.HTTPFound(f"{self._account.redirect_url}{separator}{query}")

    async def session_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = self._auth.exchange(
            str(form.get("api_key", "")), str(form.get("request_token", "")), str(form.get("checksum", ""))
        )
        data = {
            **self._user(),
            "api_key": self._auth.api_key,
            "access_token": grant.access_token,
            "public_token": grant.public_token,
            "enctoken": "",
            "refresh_token": "",
            "silo": "",
            "login_time": grant.login_time.strftime(KITE_TIME),
        }
        return success_response(data)

    async def invalidate_token(self, request: web.Request) -> web.Response:
        api_key = request.query.get("api_key", "")
        access_token = request.query.get("access_token", "")
        if api_key != self._auth.api_key or not self._auth.invalidate(access_token):
            raise token_error()
        self._on_invalidated()
        return success_response(True)

    def _on_invalidated(self) -> None:
        self._hub.close_unauthorised("logged out")

    # -- user ----------------------------------------------------------------------------------------

    def _user(self) -> dict[str, Any]:
        return {
            "user_id": self._account.user_id,
            "user_type": "individual",
            "email": f"{self._account.user_id.lower()}@sandbox.invalid",
            "user_name": self._account.user_name,
            "user_shortname": self._account.user_name.split()[0],
            "broker": "ZERODHA",
            "exchanges": sorted(exchanges(self._market.registry)),
            "products": ["CNC", "NRML", "MIS"],
            "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
            "avatar_url": None,
            "meta": {"demat_consent": "physical"},
        }

    async def profile(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return success_response(self._user())

    async def all_margins(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return success_response({segment: self._desk.margins(segment) for segment in SEGMENTS})

    async def segment_margins(self, request: web.Request) -> web.Response:
        self._require_session(request)
        segment = request.match_info["segment"]
        if segment not in SEGMENTS:
            raise KiteError(400, f"Invalid segment `{segment}`: use equity or commodity.", ErrorType.INPUT)
        return success_response(self._desk.margins(segment))

    # -- market --------------------------------------------------------------------------------------

    async def instruments(self, request: web.Request) -> web.Response:
        self._require_session(request)
        exchange = request.match_info.get("exchange")
        if exchange is not None and exchange.upper() not in exchanges(self._market.registry):
            raise KiteError(400, f"Invalid exchange `{exchange}`.", ErrorType.INPUT)
        return web.Response(
            text=instruments_csv(self._market.registry, exchange), content_type="text/csv", charset="utf-8"
        )

    async def quote(self, request: web.Request) -> web.Response:
        self._require_session(request)
        out = {}
        for key, inst, tick in self._requested(request, MAX_QUOTE_INSTRUMENTS):
            out[key] = self._quote_row(inst, tick)
        return success_response(out)

    async def ohlc(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return success_response(
            {
                key: {
                    "instrument_token": inst.instrument_token,
                    "last_price": tick.last_price,
                    "ohlc": _ohlc(tick),
                }
                for key, inst, tick in self._requested(request, MAX_LTP_INSTRUMENTS)
            }
        )

    async def ltp(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return success_response(
            {
                key: {"instrument_token": inst.instrument_token, "last_price": tick.last_price}
                for key, inst, tick in self._requested(request, MAX_LTP_INSTRUMENTS)
            }
        )

    def _requested(self, request: web.Request, limit: int) -> list[tuple[str, Instrument, MarketTick]]:
        """The `i` parameters (EXCHANGE:SYMBOL or a token) that name known instruments; unknown ones
        are left out of the answer, as Kite does."""
        keys = request.query.getall("i", [])
        if not keys:
            raise KiteError(400, "No instruments given: pass one or more i=EXCHANGE:SYMBOL.", ErrorType.INPUT)
        if len(keys) > limit:
            raise KiteError(400, f"Too many instruments: at most {limit} per request.", ErrorType.INPUT)
        out = []
        for key in keys:
            inst = self._resolve(key)
            if inst is None:
                continue
            tick = self._market.latest.get(inst.instrument_token)
            if tick is not None:
                out.append((key, inst, tick))
        return out

    def _resolve(self, key: str) -> Instrument | None:
        registry = self._market.registry
        if key.isdigit():
            return registry.get(int(key))
        exchange, _, symbol = key.partition(":")
        if not symbol:
            return None
        try:
            inst = registry.by_symbol(symbol)
        except UnknownInstrument:
            return None
        return inst if inst.exchange == exchange.upper() else None

    def _quote_row(self, inst: Instrument, tick: MarketTick) -> dict[str, Any]:
        lower, upper = circuit_limits(tick.close, inst.tick_size)
        stamp = kite_time(tick.exchange_ts)
        return {
            "instrument_token": inst.instrument_token,
            "timestamp": stamp,
            "last_trade_time": stamp,
            "last_price": tick.last_price,
            "last_quantity": tick.last_quantity,
            "buy_quantity": tick.buy_quantity,
            "sell_quantity": tick.sell_quantity,
            "volume": tick.volume,
            "average_price": tick.average_price,
            "oi": 0,
            "oi_day_high": 0,
            "oi_day_low": 0,
            "net_change": round(tick.last_price - tick.close, 2),
            "lower_circuit_limit": lower,
            "upper_circuit_limit": upper,
            "ohlc": _ohlc(tick),
            "depth": {
                "buy": _depth(tick.bids),
                "sell": _depth(tick.asks),
            },
        }

    # -- orders and portfolio --------------------------------------------------------------------------

    async def orders(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return success_response(self._desk.orders())

    async def order_history(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return success_response(self._desk.order_history(request.match_info["order_id"]))

    async def order_trades(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return success_response(self._desk.order_trades(request.match_info["order_id"]))

    async def place_order(self, request: web.Request) -> web.Response:
        self._require_session(request)
        form = {k: str(v) for k, v in (await request.post()).items()}
        order_id = self._desk.place(request.match_info["variety"], form)
        return await self._accepted(request, order_id)

    async def modify_order(self, request: web.Request) -> web.Response:
        self._require_session(request)
        form = {k: str(v) for k, v in (await request.post()).items()}
        info = request.match_info
        return await self._accepted(request, self._desk.modify(info["variety"], info["order_id"], form))

    async def cancel_order(self, request: web.Request) -> web.Response:
        self._require_session(request)
        info = request.match_info
        return await self._accepted(request, self._desk.cancel(info["variety"], info["order_id"]))

    async def _accepted(self, request: web.Request, order_id: str) -> web.Response:
        """The answer to an order call the desk has carried out, unless a fault spoils it."""
        failure = self._faults.take_after_accept()
        if failure is not None:
            await _spoil(request, failure)
        return success_response({"order_id": order_id})  # cannot reach a dropped connection

    async def trades(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return success_response(self._desk.trades())

    async def positions(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return success_response(self._desk.positions())

    async def holdings(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return success_response(holdings(self._market.registry, self._market.latest))


async def _spoil(request: web.Request, failure: AcceptedFailure) -> None:
    if failure.how is AfterAccept.LATE:
        await asyncio.sleep(failure.delay_s)
        return
    if failure.how is AfterAccept.DROP:
        transport = request.transport
        if transport is not None:
            transport.abort()
        return
    raise KiteError(
        failure.status, f"sandbox: injected failure after the order was accepted (HTTP {failure.status})"
    )


def _ohlc(tick: MarketTick) -> dict[str, float]:
    return {"open": tick.open, "high": tick.high, "low": tick.low, "close": tick.close}


def _depth(levels: tuple[Any, ...]) -> list[dict[str, Any]]:
    rows = [{"price": lv.price, "quantity": lv.quantity, "orders": lv.orders} for lv in levels]
    rows.extend({"price": 0, "quantity": 0, "orders": 0} for _ in range(5 - len(rows)))
    return rows
