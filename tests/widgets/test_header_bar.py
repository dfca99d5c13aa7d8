"""The header line: mode, state (HALTED with its reason), feed, market, rate and the IST clock."""

from __future__ import annotations

from textual.app import App, ComposeResult

from engine.events import EngineState, EngineStatus, TradingMode
from widgets.header_bar import HeaderBar

TS = 1_765_341_300.0  # 10:05:00 IST


class HeaderApp(App[None]):
    def compose(self) -> ComposeResult:
        yield HeaderBar()


async def test_before_any_status_the_header_says_it_waits() -> None:
    app = HeaderApp()
    async with app.run_test(size=(100, 3)):
        text = app.query_one(HeaderBar).render().plain
        assert "STARTING" in text and "waiting for the engine" in text


async def test_a_halted_live_engine_is_unmistakable() -> None:
    app = HeaderApp()
    async with app.run_test(size=(120, 3)) as pilot:
        header = app.query_one(HeaderBar)
        status = EngineStatus(
            state=EngineState.HALTED,
            mode=TradingMode.LIVE,
            halted_reason="daily loss limit",
            feed_paused=True,
            feed_source="zerodha",
            tick_rate=1234.0,
            market_status="open",
            session_ts=TS,
        )
        header.show_status(status, TS)
        await pilot.pause()
        text = header.render().plain
        for part in ("LIVE", "HALTED: daily loss limit", "feed zerodha PAUSED", "market open", "1,234 t/s"):
            assert part in text
        assert text.rstrip().endswith("10:05:00 IST")


async def test_a_latch_is_shown_distinctly_and_survives_a_halt() -> None:
    app = HeaderApp()
    async with app.run_test(size=(140, 3)) as pilot:
        header = app.query_one(HeaderBar)
        latched = EngineStatus(state=EngineState.LATCHED, loss_latches=("paper:ema_5_20",), session_ts=TS)
        header.show_status(latched, TS)
        await pilot.pause()
        text = header.render().plain
        assert "LATCHED: paper:ema_5_20" in text and "RUNNING" not in text
        halted = EngineStatus(
            state=EngineState.HALTED,
            halted_reason="kill switch",
            loss_latches=("paper:global",),
            session_ts=TS,
        )
        header.show_status(halted, TS)
        await pilot.pause()
        text = header.render().plain
        assert "HALTED: kill switch" in text and "latched: paper:global" in text
