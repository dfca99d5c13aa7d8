"""The kill switch, resume, flatten and the live confirmation: dialogs, then commands on the real bus."""

from __future__ import annotations

from alpha_panda_tui.screens.confirm import ConfirmScreen
from alpha_panda_tui.screens.flatten import FlattenScreen
from alpha_panda_tui.screens.live_confirm import LiveConfirmScreen
from engine.events import CommandAction, EngineState, Namespace, StrategyStatus, TradingMode
from tests.alpha_panda_tui.harness import SMALL, console
from widgets.header_bar import HeaderBar


async def test_kill_switch_needs_confirmation_then_halts() -> None:
    async with console() as c:
        await c.press("ctrl+k")
        assert isinstance(c.app.screen, ConfirmScreen)
        assert c.probe.commands == []
        await c.press("y")
        assert [cmd.action for cmd in c.probe.commands] == [CommandAction.HALT]
        assert not isinstance(c.app.screen, ConfirmScreen)


async def test_a_live_engines_kill_switch_says_it_cancels_the_live_orders() -> None:
    async with console() as c:
        await c.press("ctrl+k")
        screen = c.app.screen
        assert isinstance(screen, ConfirmScreen) and "live order" not in screen.message
        await c.press("n")
        await c.scenario.status(mode=TradingMode.LIVE, live=True, live_confirmed=True)
        await c.settle()
        await c.press("ctrl+k")
        screen = c.app.screen
        assert isinstance(screen, ConfirmScreen)
        assert "Every open live order at Zerodha is cancelled at once." in screen.message


async def test_kill_switch_cancelled_sends_nothing() -> None:
    async with console() as c:
        await c.press("exclamation_mark")
        assert isinstance(c.app.screen, ConfirmScreen)
        await c.press("n")
        assert c.probe.commands == []


async def test_resume_is_offered_only_when_halted_and_needs_confirmation() -> None:
    async with console() as c:
        await c.press("R")
        assert not isinstance(c.app.screen, ConfirmScreen)  # not halted: nothing to resume
        await c.scenario.status(state=EngineState.HALTED, halted_reason="kill switch")
        await c.settle()
        assert c.app.halted
        assert c.app.check_action("kill_switch", ()) is False
        await c.press("R")
        assert isinstance(c.app.screen, ConfirmScreen)
        await c.press("enter")  # the safe default is No
        assert c.probe.commands == []
        await c.press("R", "y")
        assert [cmd.action for cmd in c.probe.commands] == [CommandAction.RESUME]


async def test_destructive_keys_are_debounced() -> None:
    async with console(SMALL) as c:
        c.app.debounce.window_s = 60.0
        await c.press("ctrl+k", "n", "ctrl+k")
        assert not isinstance(c.app.screen, ConfirmScreen)  # the second press came too soon


async def test_a_live_engine_asks_for_the_typed_word_and_sends_what_was_typed() -> None:
    async with console(SMALL) as c:
        await c.scenario.status(mode=TradingMode.LIVE, live_detail="live orders are not confirmed")
        await c.settle()
        assert isinstance(c.app.screen, LiveConfirmScreen)
        await c.press("y")  # a reflex key does not confirm: it is only a letter typed
        await c.press("escape")
        assert not isinstance(c.app.screen, LiveConfirmScreen)
        assert c.probe.commands == []  # kept off: nothing sent, paper trading goes on
        await c.press("ctrl+l")
        assert isinstance(c.app.screen, LiveConfirmScreen)
        await c.press("L", "I", "V", "E", "enter")
        assert [(cmd.action, cmd.target) for cmd in c.probe.commands] == [
            (CommandAction.CONFIRM_LIVE, "LIVE")
        ]


async def test_a_confirmed_or_paper_engine_does_not_ask() -> None:
    async with console(SMALL) as c:
        await c.scenario.status(mode=TradingMode.LIVE, live=True, live_confirmed=True)
        await c.settle()
        assert not isinstance(c.app.screen, LiveConfirmScreen)
        await c.press("ctrl+l")
        assert not isinstance(c.app.screen, LiveConfirmScreen)
        assert c.probe.commands == []


async def test_turning_on_a_live_strategy_asks_first() -> None:
    live = StrategyStatus(
        name="live_one",
        kind="sma_crossover",
        enabled=False,
        instruments=(738561,),
        namespaces=(Namespace.ZERODHA,),
    )
    async with console(SMALL) as c:
        await c.scenario.status(mode=TradingMode.LIVE, live=True, live_confirmed=True, strategies=(live,))
        await c.settle()
        await c.press("1")
        assert isinstance(c.app.screen, ConfirmScreen)
        assert c.probe.commands == []
        await c.press("y")
        assert [(cmd.action, cmd.target) for cmd in c.probe.commands] == [
            (CommandAction.STRATEGY_ENABLE, "live_one")
        ]


async def test_flatten_asks_which_positions_and_sends_the_choice() -> None:
    async with console() as c:
        await c.press("F")
        assert isinstance(c.app.screen, FlattenScreen)
        await c.press("escape")
        assert c.probe.commands == []
        await c.press("F", "a")
        await c.press("F", "s")  # the strategy selected in the strategies pane
        await c.press("F", "shift+tab", "i", "n", "f", "y", "enter")
        sent = [(cmd.action, cmd.target) for cmd in c.probe.commands]
        assert sent == [
            (CommandAction.FLATTEN, ""),
            (CommandAction.FLATTEN, "strategy:sma_fast"),
            (CommandAction.FLATTEN, "symbol:INFY"),
        ]


async def test_live_orders_going_off_is_said_in_red() -> None:
    async with console(SMALL) as c:
        live = {
            "mode": TradingMode.LIVE,
            "live_confirmed": True,
            "broker_session": "valid until 06:00 (AB1234)",
        }
        await c.scenario.status(live=True, **live)
        await c.settle()
        assert "LIVE" in c.app.screen.query_one(HeaderBar).render().plain
        expired = "expired: TokenException: token refused"
        detail = f"no valid Kite session ({expired}): no new live orders until you log in (b)"
        await c.scenario.status(**{**live, "broker_session": expired}, live_detail=detail)
        await c.settle()
        errors = [n.message for n in c.app._notifications if n.severity == "error"]
        assert errors == [f"LIVE orders OFF: {detail}"]
        assert "LIVE OFF: no Kite session (b)" in c.app.screen.query_one(HeaderBar).render().plain
