"""The kill switch and resume: a confirmation, then HALT / RESUME on the real bus; debounced keys."""

from __future__ import annotations

from alpha_panda_tui.screens.confirm import ConfirmScreen
from engine.events import CommandAction, EngineState, Namespace, StrategyStatus, TradingMode
from tests.alpha_panda_tui.harness import SMALL, console


async def test_kill_switch_needs_confirmation_then_halts() -> None:
    async with console() as c:
        await c.press("ctrl+k")
        assert isinstance(c.app.screen, ConfirmScreen)
        assert c.probe.commands == []
        await c.press("y")
        assert [cmd.action for cmd in c.probe.commands] == [CommandAction.HALT]
        assert not isinstance(c.app.screen, ConfirmScreen)


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


async def test_a_live_engine_asks_to_continue_and_no_halts_it() -> None:
    async with console(SMALL) as c:
        await c.scenario.status(mode=TradingMode.LIVE)
        await c.settle()
        screen = c.app.screen
        assert isinstance(screen, ConfirmScreen) and screen.title_text == "LIVE MODE"
        await c.press("n")
        assert [cmd.action for cmd in c.probe.commands] == [CommandAction.HALT]


async def test_turning_on_a_live_strategy_asks_first() -> None:
    live = StrategyStatus(
        name="live_one",
        kind="sma_crossover",
        enabled=False,
        instruments=(738561,),
        namespaces=(Namespace.ZERODHA,),
    )
    async with console(SMALL) as c:
        await c.scenario.status(mode=TradingMode.LIVE, strategies=(live,))
        await c.settle()
        await c.press("y")  # continue live: nothing is sent
        assert c.probe.commands == []
        await c.press("1")
        assert isinstance(c.app.screen, ConfirmScreen)
        assert c.probe.commands == []
        await c.press("y")
        assert [(cmd.action, cmd.target) for cmd in c.probe.commands] == [
            (CommandAction.STRATEGY_ENABLE, "live_one")
        ]
