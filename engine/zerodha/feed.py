"""The Zerodha feed: Kite's live ticks onto MARKET_TICKS, as every other feed publishes them.

Ticks are published batch by batch as the ticker decodes them. While the feed
is paused (the FEED_PAUSE command) the connections stay open and the ticks are
dropped, so a resume streams again at once. `detail` says why the feed is not
streaming: waiting for a login, reconnecting and why.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.bus.base import Bus
from engine.events import MarketTick
from engine.instruments import InstrumentRegistry
from engine.market.feed_service import FeedService
from engine.settings import ZerodhaSettings
from engine.zerodha.broker_session import BrokerSession
from engine.zerodha.ticker import KiteTicker, OrderHandler, TickMode


def feed_subscriptions(
    strategy_tokens: Iterable[int], watchlist_tokens: Iterable[int], *, strategy_mode: TickMode
) -> dict[int, TickMode]:
    """Token -> mode: the watchlist in full mode (its depth is shown), the strategies' in `strategy_mode`."""
    subscriptions = dict.fromkeys(strategy_tokens, strategy_mode)
    subscriptions.update(dict.fromkeys(watchlist_tokens, TickMode.FULL))
    return subscriptions


class ZerodhaFeed(FeedService):
    def __init__(
        self,
        bus: Bus,
        settings: ZerodhaSettings,
        session: BrokerSession,
        subscriptions: dict[int, TickMode],
        *,
        instruments: InstrumentRegistry | None = None,
        on_order: OrderHandler | None = None,
    ) -> None:
        super().__init__(bus, instruments=instruments, source_name="zerodha")
        self.subscriptions = subscriptions
        self.dropped_while_paused = 0
        self._message = ""
        self.ticker = KiteTicker(
            settings.ws_url,
            session.api_key,
            session,
            subscriptions,
            self._on_ticks,
            on_message=self._on_message,
            on_order=on_order,
            silence_timeout_s=settings.silence_timeout_s,
            reconnect_initial_s=settings.reconnect_initial_s,
            reconnect_max_s=settings.reconnect_max_s,
        )

    async def start(self) -> None:
        self._sample()
        await self.ticker.start()

    async def stop(self) -> None:
        await self.ticker.stop()

    @property
    def detail(self) -> str:
        return self.ticker.detail

    @property
    def message(self) -> str:
        return self._message

    async def _on_ticks(self, ticks: list[MarketTick]) -> None:
        if self._paused:
            self.dropped_while_paused += len(ticks)
            return
        await self.publish_ticks(ticks)

    def _on_message(self, kind: str, text: str) -> None:
        self._message = f"{kind}: {text}"
