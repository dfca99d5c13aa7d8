"""`KiteSandbox`: Kite Connect v3 REST and the WebSocket ticker on one local port, over a simulated
NSE market (and NFO contracts priced from its indices), with faults on demand."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

from engine.instruments import InstrumentRegistry
from kite_sandbox.admin import SandboxAdmin
from kite_sandbox.auth import SandboxAuth
from kite_sandbox.derivatives import FREEZE_QUANTITIES
from kite_sandbox.errors import ErrorType, KiteError, error_response
from kite_sandbox.faults import SandboxFaults
from kite_sandbox.instruments import sandbox_registry
from kite_sandbox.limits import RateLimiter
from kite_sandbox.market import SandboxMarket
from kite_sandbox.matching.desk import MatchingDesk
from kite_sandbox.matching.updates import order_update
from kite_sandbox.orders import OrderDesk, Row
from kite_sandbox.portfolio import held_quantities
from kite_sandbox.request_log import RequestLog
from kite_sandbox.rest import Account, SandboxRest
from kite_sandbox.stats import SandboxStats
from kite_sandbox.ticker import TickerHub

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SandboxConfig:
    api_key: str
    api_secret: str = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 42
    instruments: InstrumentRegistry | int | None = None  # None: the sample; N: sample + N synthetic
    updates_per_instrument_s: float = 1.0
    redirect_url: str = "http://127.0.0.1:5010/"
    tick_interval_s: float = 0.1  # how often the market steps and frames go out
    heartbeat_interval_s: float = 1.0  # a 1-byte heartbeat after this long without a frame
    rate_limits: bool = True  # Kite's per-second request limits (429 beyond)
    user_id: str = "SB0001"
    user_name: str = "Sandbox Trader"
    funds: float = 1_000_000.0
    # F&O freeze quantity per underlying: an NFO order above it is refused at the call
    freeze_quantities: dict[str, int] = field(default_factory=lambda: dict(FREEZE_QUANTITIES))

    def __post_init__(self) -> None:
        if not self.api_key or not self.api_secret:
            raise ValueError("the sandbox needs an api_key and an api_secret")
        if self.tick_interval_s <= 0 or self.heartbeat_interval_s <= 0:
            raise ValueError("tick_interval_s and heartbeat_interval_s must be positive")


class KiteSandbox:
    def __init__(self, config: SandboxConfig, *, desk: OrderDesk | None = None) -> None:
        self.config = config
        self.stats = SandboxStats()
        self.auth = SandboxAuth(config.api_key, config.api_secret)
        self.market = SandboxMarket(
            sandbox_registry(config.instruments, seed=config.seed),
            seed=config.seed,
            updates_per_instrument_s=config.updates_per_instrument_s,
        )
        self.hub = TickerHub(
            self.auth, self.market, self.stats, heartbeat_interval_s=config.heartbeat_interval_s
        )
        self.faults = SandboxFaults(self.auth, self.hub)
        self.requests = RequestLog()
        self.desk: OrderDesk = desk or MatchingDesk(
            self.market,
            user_id=config.user_id,
            funds=config.funds,
            holdings=held_quantities(self.market.registry),
            freeze_quantities=config.freeze_quantities,
        )
        self.desk.on_update = self._queue_update
        self._updates: asyncio.Queue[Row] = asyncio.Queue()
        self._rest = SandboxRest(
            account=Account(config.user_id, config.user_name, config.redirect_url),
            auth=self.auth,
            market=self.market,
            faults=self.faults,
            hub=self.hub,
            stats=self.stats,
            desk=self.desk,
            limiter=RateLimiter() if config.rate_limits else None,
            requests=self.requests,
        )
        self._admin = SandboxAdmin(self.auth, self.faults, self.hub, self.stats, self.requests, self.market)
        self._runner: web.AppRunner | None = None
        self._market_task: asyncio.Task[None] | None = None
        self._updates_task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def root_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}"

    @property
    def login_url(self) -> str:
        return f"{self.root_url}/connect/login"

    def issue_request_token(self) -> str:
        """What the login page hands out: a single-use request token."""
        return self.auth.issue_request_token()

    async def send_text(self, kind: str, data: object) -> None:
        """A `{"type": kind, "data": data}` text message to every ticker socket."""
        await self.hub.send_text_to_all(kind, data)

    async def push_tick(self, instrument_token: int) -> None:
        """One tick of a pinned instrument (`market.set_book`) now: the order desk matches against it
        and the ticker sends it. With the market stepping slowly, a test decides every tick."""
        tick = self.market.pinned_tick(instrument_token)
        self.desk.on_ticks([tick])
        await self.hub.broadcast([tick])

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/", self.hub.handle)
        self._rest.add_routes(app)
        self._admin.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self.config.port
        loop = asyncio.get_running_loop()
        self._market_task = loop.create_task(self._run_market(), name="kite-sandbox")
        self._updates_task = loop.create_task(self._send_updates(), name="kite-sandbox-order-updates")

    async def stop(self) -> None:
        for task in (self._market_task, self._updates_task):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        self._market_task = self._updates_task = None
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> KiteSandbox:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _run_market(self) -> None:
        interval = self.config.tick_interval_s
        last = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            ticks = self.market.step(now - last)
            last = now
            try:
                self.desk.on_ticks(ticks)
                await self.hub.broadcast(ticks)
                await self.hub.heartbeat()
            except Exception:
                log.exception("kite sandbox: pushing ticks failed")

    def _queue_update(self, row: Row) -> None:
        if self.hub.silent:
            return  # what happens while the sockets hear nothing is never sent to them
        self._updates.put_nowait(
            order_update(row, user_id=self.config.user_id, api_secret=self.config.api_secret)
        )

    async def _send_updates(self) -> None:
        """Order updates go out one at a time, in the order they happened."""
        while True:
            update = await self._updates.get()
            try:
                await self.hub.send_order_update(update)
            except Exception:
                log.exception("kite sandbox: sending an order update failed")

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.path != "/" and not request.path.startswith("/sandbox/"):
                resource = request.match_info.route.resource
                route = resource.canonical if resource is not None else request.path
                await self._rest.before_call(request, f"{request.method} {route}")
            return await handler(request)
        except KiteError as exc:
            return error_response(exc)
        except web.HTTPNotFound:
            return error_response(KiteError(404, f"Route not found: {request.path}", ErrorType.GENERAL))
        except web.HTTPMethodNotAllowed:
            return error_response(
                KiteError(405, f"Method {request.method} not allowed on {request.path}", ErrorType.GENERAL)
            )
