"""One key table drives bindings, help and palette; every palette command has a key and a handler."""

from __future__ import annotations

from textual.app import App

from alpha_panda_tui.app import AlphaPandaApp
from alpha_panda_tui.screens.audit import AuditScreen
from alpha_panda_tui.screens.confirm import ConfirmScreen
from alpha_panda_tui.screens.dashboard import DashboardScreen
from alpha_panda_tui.screens.flatten import FlattenScreen
from alpha_panda_tui.screens.help import HelpScreen
from alpha_panda_tui.screens.live_confirm import LiveConfirmScreen
from alpha_panda_tui.screens.login import LoginScreen
from alpha_panda_tui.screens.order_trace import OrderTraceScreen
from alpha_panda_tui.screens.replay import ReplayScreen
from alpha_panda_tui.screens.strategy_detail import StrategyDetailScreen
from engine.events import CommandAction
from tests.alpha_panda_tui.harness import console
from viewmodels.keys import KEYMAP, Debounce, Scope, palette_commands
from widgets.bindings import bindings
from widgets.order_list import OrderList
from widgets.row_table import RowTable
from widgets.strategy_list import StrategyList

HANDLERS: dict[Scope, tuple[type[object], ...]] = {
    Scope.GLOBAL: (AlphaPandaApp,),
    Scope.DASHBOARD: (DashboardScreen,),
    Scope.PANE: (RowTable,),
    Scope.STRATEGIES: (StrategyList,),
    Scope.ORDERS: (OrderList,),
    Scope.DETAIL: (StrategyDetailScreen, OrderTraceScreen),
    Scope.STRATEGY_DETAIL: (StrategyDetailScreen,),
    Scope.CONFIRM: (ConfirmScreen,),
    Scope.LIVE_CONFIRM: (LiveConfirmScreen,),
    Scope.FLATTEN: (FlattenScreen,),
    Scope.LOGIN: (LoginScreen,),
    Scope.REPLAY: (ReplayScreen,),
    Scope.AUDIT: (AuditScreen,),
    Scope.HELP: (HelpScreen,),
}


def test_every_bound_action_has_a_handler_where_it_is_bound() -> None:
    for scope, owners in HANDLERS.items():
        for binding in bindings(scope):
            name = binding.action.split("(")[0]
            for owner in owners:
                assert hasattr(owner, f"action_{name}"), f"{owner.__name__} has no action_{name} ({scope})"


def test_every_scope_is_bound_somewhere() -> None:
    assert set(HANDLERS) == set(Scope)


def test_every_palette_command_has_a_key_and_runs_an_app_action() -> None:
    commands = palette_commands()
    assert {c.action for c in commands} >= {"kill_switch", "resume_trading", "pause_feed", "resume_feed"}
    for command in commands:
        assert command.keys and command.scope is Scope.GLOBAL
        assert hasattr(AlphaPandaApp, f"action_{command.action}")


def test_destructive_commands_are_confirmed_or_debounced_app_actions() -> None:
    destructive = {c.action for c in KEYMAP if c.destructive}
    assert destructive == {
        "kill_switch",
        "resume_trading",
        "reset_latches",
        "acknowledge_mismatch",
        "cancel_order",
        "flatten",
        "stop_engine",
    }
    kill = next(c for c in KEYMAP if c.action == "kill_switch")
    assert kill.priority  # works even while a dialog or an input has focus


def test_the_app_binds_the_command_palette_from_the_table() -> None:
    keys = {
        b.key for b in AlphaPandaApp.BINDINGS if not isinstance(b, tuple) and b.action == "command_palette"
    }
    assert keys == {App.COMMAND_PALETTE_BINDING}


def test_debounce_ignores_a_repeat_within_its_window() -> None:
    now = [100.0]
    debounce = Debounce(0.5, clock=lambda: now[0])
    assert debounce.allow("halt")
    now[0] += 0.2
    assert not debounce.allow("halt")
    assert debounce.allow("resume")
    now[0] += 0.6
    assert debounce.allow("halt")


async def test_the_palette_turns_a_strategy_off() -> None:
    async with console() as c:
        names = [entry.name for entry in c.app.palette_entries()]
        assert "Disable strategy sma_fast" in names and "Enable strategy momentum_nifty" in names
        assert "Resume trading after a halt (asks to confirm)" not in names  # not halted
        await c.press("ctrl+p")
        await c.pilot.press(*"disable strategy sma")
        await c.pilot.pause(0.3)
        await c.press("enter")
        assert [(cmd.action, cmd.target) for cmd in c.probe.commands] == [
            (CommandAction.STRATEGY_DISABLE, "sma_fast")
        ]
