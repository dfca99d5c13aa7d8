"""Keeps one Portfolio per strategy of a namespace, from its fills, marked by the feed.

A fill publishes a P&L snapshot at once (a child of the fill, so the order
trace reaches it) unless that portfolio already published one within
`snapshot_interval_s` of feed time; then, as for moving marks, the next
periodic snapshot carries it. So a quiet book reports every fill, and a
busy one at most once per interval per strategy, whatever the fill rate.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.bus.base import Bus
from engine.clock import Clock
from engine.dedup import RecentIds
from engine.events import Event, MarketTick, Namespace, OrderFilled, make_event
from engine.portfolio.portfolio import Portfolio, PortfolioTotals, portfolio_id_for
from engine.service import Service
from engine.topics import MARKET_TICKS, TopicMap


class PortfolioManager(Service):
    namespace: Namespace

    def __init__(
        self,
        bus: Bus,
        namespace: Namespace,
        starting_cash: float,
        clock: Clock,
        snapshot_interval_s: float = 1.0,
    ) -> None:
        super().__init__(bus)
        self.topics = TopicMap(namespace)  # refuses SHARED
        self.namespace = namespace
        self.name = f"portfolio.{namespace.value}"
        self.group = self.name
        self.starting_cash = starting_cash
        self.clock = clock
        self.snapshot_interval_s = snapshot_interval_s
        self.portfolios: dict[str, Portfolio] = {}
        self._snapshot_topic = self.topics.pnl_snapshots
        self._trade_ids = RecentIds()  # a redelivered fill is applied once
        self._holders: dict[int, list[Portfolio]] = {}  # instrument -> portfolios with an open position
        self._marked: dict[str, Portfolio] = {}  # changed since their last snapshot
        self._last_snapshot: dict[str, float] = {}  # portfolio id -> feed time of its last snapshot
        self._next_mark_snapshot = 0.0

    def wire(self) -> None:
        self.bus.subscribe([self.topics.orders_filled, MARKET_TICKS], self.group, self._on_event)

    async def restore(self, fills: Sequence[OrderFilled]) -> None:
        """Rebuild every portfolio from this namespace's stored fills, in fill order."""
        for fill in fills:
            self._apply(fill)

    # -- lookups -----------------------------------------------------------------
    def portfolio(self, strategy_id: str) -> Portfolio:
        """The strategy's portfolio, created empty on first use."""
        portfolio_id = portfolio_id_for(self.namespace, strategy_id)
        portfolio = self.portfolios.get(portfolio_id)
        if portfolio is None:
            portfolio = Portfolio(portfolio_id, self.namespace, strategy_id, self.starting_cash)
            self.portfolios[portfolio_id] = portfolio
        return portfolio

    def totals(self) -> PortfolioTotals:
        books = list(self.portfolios.values())
        return PortfolioTotals(
            portfolios=len(books),
            starting_cash=sum(p.starting_cash for p in books),
            cash=sum(p.cash for p in books),
            realized_pnl=sum(p.realized_pnl for p in books),
            unrealized_pnl=sum(p.unrealized_pnl for p in books),
            charges=sum(p.charges for p in books),
            equity=sum(p.equity for p in books),
            open_positions=sum(p.open_positions for p in books),
        )

    # -- handlers ------------------------------------------------------------------
    async def _on_event(self, event: Event) -> None:
        payload = event.payload
        if type(payload) is MarketTick:
            holders = self._holders.get(payload.instrument_token)
            if holders is not None:
                for portfolio in holders:
                    if portfolio.mark(payload.instrument_token, payload.last_price):
                        self._marked[portfolio.portfolio_id] = portfolio
            if self._marked and payload.exchange_ts >= self._next_mark_snapshot:
                await self._publish_marks(payload.exchange_ts)
            return
        if isinstance(payload, OrderFilled):
            book = self._apply(payload)
            if book is None:
                return  # redelivered fill
            ts = payload.fill_ts or self.clock.now()
            if ts - self._last_snapshot.get(book.portfolio_id, -1e18) < self.snapshot_interval_s:
                self._marked[book.portfolio_id] = book
                return
            self._marked.pop(book.portfolio_id, None)
            self._last_snapshot[book.portfolio_id] = ts
            snapshot = book.snapshot(ts)
            await self.bus.publish(
                self._snapshot_topic, event.child(snapshot, source=self.name, key=book.portfolio_id)
            )

    def _apply(self, fill: OrderFilled) -> Portfolio | None:
        if self._trade_ids.seen(fill.trade_id):
            return None
        portfolio = self.portfolio(fill.strategy_id)
        position = portfolio.apply_fill(fill)
        token = fill.instrument_token
        holders = self._holders.get(token)
        if position.quantity:
            if holders is None:
                self._holders[token] = [portfolio]
            elif portfolio not in holders:
                holders.append(portfolio)
        elif holders is not None and portfolio in holders:
            holders.remove(portfolio)
            if not holders:
                del self._holders[token]
        return portfolio

    async def publish_pending(self) -> int:
        """Publish the portfolios that changed since their last snapshot and have waited an interval
        for the next tick to carry them (the feed paused, a quiet instrument): without it the console
        would show a fill's P&L only once ticks came again. Returns how many were published."""
        now = self.clock.now()
        due = [
            p
            for p in self._marked.values()
            if now - self._last_snapshot.get(p.portfolio_id, -1e18) >= self.snapshot_interval_s
        ]
        for portfolio in due:
            self._marked.pop(portfolio.portfolio_id, None)
            self._last_snapshot[portfolio.portfolio_id] = now
            event = make_event(
                portfolio.snapshot(now),
                namespace=self.namespace,
                source=self.name,
                key=portfolio.portfolio_id,
            )
            await self.bus.publish(self._snapshot_topic, event)
        return len(due)

    async def _publish_marks(self, ts: float) -> None:
        marked = list(self._marked.values())
        self._marked.clear()
        self._next_mark_snapshot = ts + self.snapshot_interval_s
        for portfolio in marked:
            self._last_snapshot[portfolio.portfolio_id] = ts
            event = make_event(
                portfolio.snapshot(ts),
                namespace=self.namespace,
                source=self.name,
                key=portfolio.portfolio_id,
            )
            await self.bus.publish(self._snapshot_topic, event)
