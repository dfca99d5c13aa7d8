"""The control surface: POST /sandbox/faults/<name> injects a fault, GET /sandbox/stats reads the
counters, GET /sandbox/requests the REST calls received, POST /sandbox/message pushes a text message
to every ticker socket, POST /sandbox/book pins an instrument's price and depth. Every call must
carry the sandbox's api_secret in the X-Sandbox-Secret header (the CLI reads it from sandbox.json)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.instruments import UnknownInstrument
from kite_sandbox.auth import SandboxAuth
from kite_sandbox.errors import ErrorType, KiteError, success_response
from kite_sandbox.faults import SandboxFaults
from kite_sandbox.market import SandboxMarket
from kite_sandbox.request_log import RequestLog
from kite_sandbox.stats import SandboxStats
from kite_sandbox.ticker import TickerHub

SECRET_HEADER = "X-Sandbox-Secret"
FAULTS = (
    "drop_connections",
    "go_silent",
    "speak",
    "expire_tokens",
    "fail_rest",
    "rate_limit",
    "fail_after_accept",
    "clear",
)
MESSAGE_KINDS = ("message", "error")


class SandboxAdmin:
    def __init__(
        self,
        auth: SandboxAuth,
        faults: SandboxFaults,
        hub: TickerHub,
        stats: SandboxStats,
        requests: RequestLog,
        market: SandboxMarket,
    ) -> None:
        self._auth = auth
        self._faults = faults
        self._hub = hub
        self._stats = stats
        self._requests = requests
        self._market = market

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/sandbox/faults/{name}", self.fault)
        app.router.add_get("/sandbox/stats", self.stats)
        app.router.add_get("/sandbox/requests", self.requests)
        app.router.add_post("/sandbox/message", self.message)
        app.router.add_post("/sandbox/book", self.book)

    def _authorise(self, request: web.Request) -> None:
        if not self._auth.secret_matches(request.headers.get(SECRET_HEADER, "")):
            raise KiteError(403, f"The sandbox control surface needs the api_secret in {SECRET_HEADER}.")

    async def fault(self, request: web.Request) -> web.Response:
        self._authorise(request)
        name = request.match_info["name"].replace("-", "_")
        params = await _params(request)
        if name == "drop_connections":
            return success_response({"dropped": self._faults.drop_connections()})
        if name == "go_silent":
            seconds = params.get("seconds")
            self._faults.go_silent(None if seconds is None else _number(seconds, "seconds"))
        elif name == "speak":
            self._faults.speak()
        elif name == "expire_tokens":
            self._faults.expire_tokens()
        elif name == "fail_rest":
            status = int(_number(params.get("status", 503), "status"))
            try:
                self._faults.fail_rest(status, int(_number(params.get("count", 1), "count")))
            except ValueError as exc:
                raise KiteError(400, str(exc), ErrorType.INPUT) from None
        elif name == "rate_limit":
            self._faults.rate_limit(int(_number(params.get("count", 1), "count")))
        elif name == "fail_after_accept":
            try:
                self._faults.fail_after_accept(
                    int(_number(params.get("count", 1), "count")),
                    how=str(params.get("how", "error")),
                    status=int(_number(params.get("status", 504), "status")),
                    delay_s=_number(params.get("delay_s", 2.0), "delay_s"),
                )
            except ValueError as exc:
                raise KiteError(400, str(exc), ErrorType.INPUT) from None
        elif name == "clear":
            self._faults.clear()
        else:
            raise KiteError(404, f"No fault named {name!r}; faults: {', '.join(FAULTS)}.", ErrorType.INPUT)
        return success_response(True)

    async def stats(self, request: web.Request) -> web.Response:
        self._authorise(request)
        return success_response(self._stats.snapshot())

    async def requests(self, request: web.Request) -> web.Response:
        self._authorise(request)
        return success_response([entry.as_dict() for entry in self._requests.entries])

    async def book(self, request: web.Request) -> web.Response:
        """`{"instrument": "NSE:INFY" or a token, "last_price": p, "bids": [[p, q], ...], "asks": [...]}`
        pins the book; `{"instrument": ..., "unpin": true}` lets the price walk again."""
        self._authorise(request)
        params = await _params(request)
        key = str(params.get("instrument", ""))
        registry = self._market.registry
        try:
            inst = registry.get(int(key)) if key.isdigit() else registry.by_symbol(key)
        except UnknownInstrument:
            inst = None
        if inst is None:
            raise KiteError(400, f"No instrument {key!r} in the sandbox's market.", ErrorType.INPUT)
        if params.get("unpin"):
            self._market.unpin(inst.instrument_token)
            return success_response(True)
        try:
            bids = [(float(p), int(q)) for p, q in params.get("bids", [])]
            asks = [(float(p), int(q)) for p, q in params.get("asks", [])]
            last_price = _number(params.get("last_price"), "last_price")
        except (TypeError, ValueError):
            raise KiteError(400, "bids and asks are lists of [price, quantity].", ErrorType.INPUT) from None
        self._market.set_book(inst.instrument_token, last_price, bids, asks)
        return success_response(True)

    async def message(self, request: web.Request) -> web.Response:
        self._authorise(request)
        params = await _params(request)
        kind = str(params.get("type", "message"))
        if kind not in MESSAGE_KINDS:
            raise KiteError(400, f"type must be one of {', '.join(MESSAGE_KINDS)}", ErrorType.INPUT)
        await self._hub.send_text_to_all(kind, params.get("data", ""))
        return success_response(True)


async def _params(request: web.Request) -> dict[str, Any]:
    """A JSON body, or form fields, or query parameters."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise KiteError(400, "The body is not valid JSON.", ErrorType.INPUT) from None
        if not isinstance(body, dict):
            raise KiteError(400, "The body must be a JSON object.", ErrorType.INPUT)
        return body
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return params


def _number(value: object, name: str) -> float:
    try:
        return float(str(value))
    except ValueError:
        raise KiteError(400, f"{name} must be a number, not {value!r}", ErrorType.INPUT) from None
