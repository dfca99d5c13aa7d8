"""Trading controls from the keyboard: each publishes the command the engine acts on, on the real bus."""

from __future__ import annotations

import msgspec

from engine.events import CommandAction
from tests.alpha_panda_tui.harness import console
from tests.alpha_panda_tui.scenario import STRATEGIES
from widgets.order_list import OrderList
from widgets.strategy_list import StrategyList


async def test_digit_disables_the_first_strategy_and_shows_it_pending() -> None:
    async with console() as c:
        await c.press("1")
        assert [(cmd.action, cmd.target) for cmd in c.probe.commands] == [
            (CommandAction.STRATEGY_DISABLE, "sma_fast")
        ]
        assert c.probe.commands[0].issued_by == "tui"
        row = c.app.state.strategies.find("sma_fast")
        assert row is not None and row.pending is False
        # the engine applies it and says so in its next status: no longer pending
        flipped = tuple(
            msgspec.structs.replace(s, enabled=False) if s.name == "sma_fast" else s for s in STRATEGIES
        )
        await c.scenario.status(strategies=flipped)
        await c.settle()
        row = c.app.state.strategies.find("sma_fast")
        assert row is not None and row.pending is None and not row.status.enabled


async def test_space_on_the_strategies_pane_enables_a_disabled_strategy() -> None:
    async with console() as c:
        strategies = c.app.screen.query_one(StrategyList)
        strategies.focus()
        await c.press("down", "down", "space")
        assert [(cmd.action, cmd.target) for cmd in c.probe.commands] == [
            (CommandAction.STRATEGY_ENABLE, "momentum_nifty")
        ]


async def test_a_digit_without_a_strategy_sends_nothing() -> None:
    async with console() as c:
        await c.press("9")
        assert c.probe.commands == []


async def test_p_pauses_then_resumes_the_feed() -> None:
    async with console() as c:
        await c.press("p")
        assert [cmd.action for cmd in c.probe.commands] == [CommandAction.FEED_PAUSE]
        await c.scenario.status(feed_paused=True)
        await c.settle()
        assert c.app.check_action("pause_feed", ()) is False
        await c.press("p")
        assert [cmd.action for cmd in c.probe.commands] == [
            CommandAction.FEED_PAUSE,
            CommandAction.FEED_RESUME,
        ]


async def test_c_cancels_the_selected_open_order_only() -> None:
    async with console() as c:
        await c.scenario.open_order(738561, "sma_fast", "PAPER-000009")
        await c.settle()
        orders = c.app.screen.query_one(OrderList)
        orders.focus()
        await c.press("down")  # the second row: a filled order
        await c.press("c")
        assert c.probe.commands == []
        await c.press("up", "c")  # the open one, newest, on top
        assert [(cmd.action, cmd.target) for cmd in c.probe.commands] == [
            (CommandAction.CANCEL_ORDER, "PAPER-000009")
        ]
