"""The header line: LIVE or PAPER, state (HALTED with its reason), feed, market, rate and the IST clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.style import Style
from textual.app import App, ComposeResult

import alpha_panda_tui
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
    async with app.run_test(size=(150, 3)) as pilot:
        header = app.query_one(HeaderBar)
        status = EngineStatus(
            state=EngineState.HALTED,
            mode=TradingMode.LIVE,
            live_confirmed=True,
            live_detail="halted: daily loss limit",
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
        parts = (
            "PAPER",
            "LIVE OFF: halted: daily loss limit",
            "HALTED: daily loss limit",
            "feed zerodha PAUSED",
        )
        for part in (*parts, "market open", "1,234 t/s"):
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


class StyledHeaderApp(HeaderApp):
    CSS_PATH = str(Path(alpha_panda_tui.__file__).parent / "app.tcss")  # the console's real colours


def _segments(header: HeaderBar) -> dict[str, Style]:
    rendered = header.render()
    return {rendered.plain[span.start : span.end].strip(): span.style for span in rendered.spans}  # type: ignore[misc]


LIVE_CASES = {
    "paper engine": (EngineStatus(state=EngineState.RUNNING, session_ts=TS), "PAPER", ""),
    "launched live, not confirmed": (
        EngineStatus(
            state=EngineState.RUNNING,
            mode=TradingMode.LIVE,
            live_detail="live orders are not confirmed",
            broker_session="valid until 06:00 (AB1234)",
            session_ts=TS,
        ),
        "PAPER",
        "LIVE OFF: not confirmed (ctrl+l)",
    ),
    "confirmed, session expired": (
        EngineStatus(
            state=EngineState.RUNNING,
            mode=TradingMode.LIVE,
            live_confirmed=True,
            live_detail="no valid Kite session (expired: token refused)",
            broker_session="expired: token refused",
            session_ts=TS,
        ),
        "PAPER",
        "LIVE OFF: no Kite session (b)",
    ),
    "orders reach Kite": (
        EngineStatus(
            state=EngineState.RUNNING,
            mode=TradingMode.LIVE,
            live=True,
            live_confirmed=True,
            broker_session="valid until 06:00 (AB1234)",
            session_ts=TS,
        ),
        "LIVE",
        "",
    ),
}


@pytest.mark.parametrize("case", list(LIVE_CASES))
async def test_live_in_red_only_when_orders_can_reach_the_broker(case: str) -> None:
    status, badge, off = LIVE_CASES[case]
    app = StyledHeaderApp()
    async with app.run_test(size=(160, 3)) as pilot:
        header = app.query_one(HeaderBar)
        header.show_status(status, TS)
        await pilot.pause()
        segments = _segments(header)
        red = header.get_component_rich_style("header-bar--live", partial=True)
        assert badge in segments
        assert (segments[badge] == red) is (badge == "LIVE")
        assert ("LIVE" in segments) is status.live
        if off:
            assert segments[off] == red  # a live engine that cannot trade says so in red
        else:
            assert not any(text.startswith("LIVE OFF") for text in segments)


async def test_a_live_engine_shows_its_open_orders_and_the_rate_limit_queue() -> None:
    app = StyledHeaderApp()
    async with app.run_test(size=(200, 3)) as pilot:
        header = app.query_one(HeaderBar)
        status = EngineStatus(
            state=EngineState.RUNNING,
            mode=TradingMode.LIVE,
            live=True,
            live_confirmed=True,
            live_open_orders=7,
            live_orders_queued=12,
            session_ts=TS,
        )
        header.show_status(status, TS)
        await pilot.pause()
        segments = _segments(header)
        assert segments["kite orders 7 open, 12 queued"] == header.get_component_rich_style(
            "header-bar--paused", partial=True
        )
        header.show_status(EngineStatus(state=EngineState.RUNNING, session_ts=TS), TS)
        await pilot.pause()
        assert "kite orders" not in header.render().plain  # paper: no broker orders to count
