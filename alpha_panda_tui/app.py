"""The trading console: a Textual app that sees the engine only through the bus.

`make_app` builds it for the CLI and the tests alike; `run_console` is
`alpha-panda-tui launch`: the engine and the app on one event loop, the
engine stopped and flushed however the app ends (quit, SIGTERM, SIGHUP when
the SSH session or terminal goes away).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, ClassVar, Protocol

from textual import events
from textual.app import App
from textual.binding import BindingType
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from alpha_panda_tui.bridge import UiBridge
from alpha_panda_tui.broker_login import engine_login_handler
from alpha_panda_tui.engine_link import EmbeddedLink, EngineLink, EngineLinkError
from alpha_panda_tui.screens.audit import AuditScreen
from alpha_panda_tui.screens.confirm import ConfirmScreen
from alpha_panda_tui.screens.dashboard import DashboardScreen
from alpha_panda_tui.screens.flatten import FlattenScreen
from alpha_panda_tui.screens.help import HelpScreen
from alpha_panda_tui.screens.live import LiveScreen
from alpha_panda_tui.screens.live_confirm import LiveConfirmScreen
from alpha_panda_tui.screens.login import LoginHandler, LoginScreen
from alpha_panda_tui.screens.order_trace import OrderTraceScreen
from alpha_panda_tui.screens.palette import ConsoleCommands, PaletteEntry
from alpha_panda_tui.screens.replay import replay_screen_for
from alpha_panda_tui.screens.replay_dialog import ReplayFileDialog, ReplayRequest
from alpha_panda_tui.screens.strategy_detail import StrategyDetailScreen
from alpha_panda_tui.ui_state import UiState
from engine.bus.base import Bus
from engine.events import CommandAction, Namespace, TradingMode
from engine.instruments import InstrumentRegistry
from engine.settings import Settings
from viewmodels.keys import KEYMAP, Debounce, KeyCommand, Scope, palette_commands
from viewmodels.link import BadgePart, link_badge
from viewmodels.rows import LogLevel
from widgets.bindings import bindings
from widgets.header_bar import HeaderBar
from widgets.messages import OrderTraceRequested, StrategyToggleRequested

if TYPE_CHECKING:
    from alpha_panda_tui.host import EngineHost

log = logging.getLogger(__name__)

DEFAULT_REFRESH_HZ = 10.0
GC_FREEZE_AFTER_S = 1.5
NEW_RUN_SNAPSHOT_WAIT_S = 10.0  # a restarted engine's day snapshot; then its live events are shown anyway

# What a read-only console may not do: the actions, and the keys that run them anywhere.
ACTING_ACTIONS = frozenset(c.action.split("(")[0] for c in KEYMAP if c.acts)
ACTING_KEYS: dict[str, KeyCommand] = {
    key: c for c in KEYMAP if c.acts and c.scope is Scope.GLOBAL for key in c.keys.split(",")
}
READ_ONLY = "read-only console: it watches, it does not act (attach without --read-only to act)"

# Keys whose command has nothing to act on now (hidden from footer and palette): what the key says instead.
NOTHING_TO_DO: dict[str, str] = {
    "reset_latches": "No daily-loss latch is set: nothing to reset.",
    "acknowledge_mismatch": "No live position mismatch to acknowledge.",
}
IDLE_KEYS: dict[str, KeyCommand] = {
    key: c for c in KEYMAP if c.action in NOTHING_TO_DO for key in c.keys.split(",")
}

SEVERITY: dict[LogLevel, SeverityLevel] = {
    LogLevel.INFO: "information",
    LogLevel.WARNING: "warning",
    LogLevel.ERROR: "error",
}


class EngineHandle(Protocol):
    """What the console needs from an engine running in this process."""

    settings: Settings
    bus: Bus
    instruments: InstrumentRegistry
    active_namespaces: tuple[Namespace, ...]

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class AlphaPandaApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "Alpha Panda"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.GLOBAL))
    # ours only: Textual's own (Quit again, Theme, Maximize, Screenshot, Keys) are not a trader's commands
    COMMANDS = {ConsoleCommands}

    halted = reactive(False, bindings=True)
    feed_paused = reactive(False, bindings=True)
    has_latches = reactive(False, bindings=True)
    has_mismatch = reactive(False, bindings=True)

    def __init__(
        self,
        bridge: UiBridge,
        *,
        settings: Settings | None = None,
        refresh_hz: float = DEFAULT_REFRESH_HZ,
        login_handler: LoginHandler | None = None,
        exit_after: float | None = None,
        debounce_s: float | None = None,
        freeze_gc: bool = False,
        link: EngineLink | None = None,
    ) -> None:
        super().__init__()
        self.link = link  # None: a console on a bare bus (tests, tools): no detach, no stop
        self.detached = False  # closed with `D`: the engine keeps running
        self.engine_stopping = False  # closed after `X`: the engine was asked to stop, and agreed
        self.freeze_gc = freeze_gc
        self.bridge = bridge
        self.state: UiState = bridge.state
        self.settings = settings
        self.refresh_interval = 1.0 / refresh_hz
        self.login_handler = login_handler
        self.exit_after = exit_after
        self.debounce = Debounce() if debounce_s is None else Debounce(debounce_s)
        self.pulls = 0
        self.pull_seconds = 0.0
        self._no_more_frames = contextlib.ExitStack()
        self._live_prompted = False
        self._badge_shown: tuple[object, tuple[BadgePart, ...]] | None = None
        self._next_state: UiState | None = None  # a restarted engine's picture, until its snapshot is in
        self._next_state_since = 0.0

    def get_default_screen(self) -> Screen[None]:
        return DashboardScreen()

    @property
    def read_only(self) -> bool:
        return self.link is not None and self.link.read_only

    @property
    def attached(self) -> bool:
        return self.link is not None and self.link.attached

    async def on_mount(self) -> None:
        await self.bridge.request_day_snapshot()
        self.call_after_refresh(self._pull)
        if self.exit_after is not None:
            self.set_timer(self.exit_after, partial(self.exit, 0))
        if self.freeze_gc:
            self.set_timer(GC_FREEZE_AFTER_S, self._freeze_gc)

    def stop_drawing(self) -> None:
        """The terminal is gone: draw nothing more (a frame written to it would fail or block)."""
        self._no_more_frames.enter_context(self.batch_update())

    @staticmethod
    def _freeze_gc() -> None:
        """Move what start-up built (widgets, styles, engine tables) out of the collector's way.

        A full collection walks every tracked object and stalls the loop; with the session's
        long-lived objects frozen it drops from ~95 ms to ~13 ms, which keypresses would feel.
        """
        gc.collect()
        gc.freeze()

    # -- the steady pull from UiState -----------------------------------------------
    def _pull(self) -> None:
        if not self.screen_stack:  # the app is closing: its screens are gone, nothing to bring up to date
            return
        try:
            self.pull_now()
        finally:
            self.set_timer(self.refresh_interval, self._pull)

    def pull_now(self, *, force: bool = False) -> None:
        """Bring the app and the screen on top up to date with the UiState (`force`: every pane, now)."""
        started = perf_counter()
        if self._next_state is not None:
            self._take_next_state()
        state = self.state
        self.halted = state.halted
        self.feed_paused = state.feed_paused
        self.has_latches = state.latched
        self.has_mismatch = bool(state.mismatch)
        while state.notices:
            notice = state.notices.popleft()
            self.notify(notice.text, severity=SEVERITY[notice.level])
        screen = self._top()
        if isinstance(screen, LiveScreen) and screen.is_mounted:
            screen.sync(state, force=force)
            if self.link is not None:
                self._show_link(screen)
        if self._needs_live_confirmation() and not self._live_prompted:
            self._live_prompted = True  # asked once (over a screen brought up to date); ctrl+l asks again
            self.action_confirm_live()
        self.pull_seconds += perf_counter() - started
        self.pulls += 1

    def _show_link(self, screen: LiveScreen) -> None:
        assert self.link is not None
        badge = link_badge(self.link.view(), time.monotonic())
        if self._badge_shown == (screen, badge):
            return
        self._badge_shown = (screen, badge)
        for header in screen.query(HeaderBar):
            header.show_link(badge)

    # -- an attached console's engine comes and goes ------------------------------------
    async def engine_attached(self, restarted: bool) -> None:
        """The link is up again. The day so far is asked for anew; after an engine restart the
        picture is rebuilt from the new engine's snapshot, the last one shown until it is in."""
        if restarted:
            self._next_state = UiState(self.bridge.instruments)
            self._next_state_since = time.monotonic()
            self.bridge.state = self._next_state  # events fold in there; the screen still shows the old one
        await self.bridge.request_day_snapshot()

    def _take_next_state(self) -> None:
        fresh = self._next_state
        assert fresh is not None
        waited = time.monotonic() - self._next_state_since
        if not fresh.trading_day and waited < NEW_RUN_SNAPSHOT_WAIT_S:
            return
        self._next_state = None
        self.state = fresh
        while len(self.screen_stack) > 1:  # screens and dialogs about the old run
            self.pop_screen()
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.forget_painted()
        self.notify("The engine restarted: showing its new run.", severity="warning")

    # -- what the footer shows ------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ACTING_ACTIONS and self.read_only:
            return False  # hidden from the footer and the palette; the key says why (on_key)
        if action in ("detach", "stop_engine"):
            return self.link is not None
        if action == "kill_switch":
            return not self.halted
        if action == "resume_trading":
            return self.halted
        if action == "pause_feed":
            return not self.feed_paused
        if action == "resume_feed":
            return self.feed_paused
        if action == "confirm_live":
            return self._needs_live_confirmation()
        if action == "reset_latches":
            return self.has_latches  # in the footer and the palette only while a latch is set
        if action == "acknowledge_mismatch":
            return self.has_mismatch
        if action in ("next_view", "previous_view"):
            dashboard = self._dashboard()
            return dashboard is not None and dashboard.compact
        if action in ("strategy_detail", "order_trace", "cancel_order"):
            return self._dashboard() is not None  # they act on the dashboard's selection
        return True

    def _top(self) -> Screen[object] | None:
        """The screen on top, or None while the app starts or shuts down."""
        return self.screen_stack[-1] if self.screen_stack else None

    def _dashboard(self) -> DashboardScreen | None:
        screen = self._top()
        return screen if isinstance(screen, DashboardScreen) else None

    def _dialog_open(self) -> bool:
        return isinstance(self._top(), ConfirmScreen | LoginScreen | LiveConfirmScreen | FlattenScreen)

    # -- trading controls -----------------------------------------------------------
    def on_key(self, event: events.Key) -> None:
        """A key that would act, pressed in a read-only console: say so (no binding ran: nothing is sent)."""
        command = ACTING_KEYS.get(event.key)
        if command is not None and self.read_only:
            event.stop()
            self.notify(f"{READ_ONLY}.", title=command.label, severity="warning")
            return
        idle = IDLE_KEYS.get(event.key)
        if idle is not None and self.check_action(idle.action, ()) is False and not self._dialog_open():
            event.stop()
            self.notify(NOTHING_TO_DO[idle.action], title=idle.label, severity="information")

    def _refused_read_only(self) -> bool:
        if self.read_only:
            self.notify(f"{READ_ONLY}.", severity="warning")
        return self.read_only

    async def send(self, action: CommandAction, target: str = "", reason: str = "") -> None:
        if self._refused_read_only():
            return
        await self.bridge.send(action, target=target, reason=reason)
        self.pull_now(force=True)

    def action_kill_switch(self) -> None:
        if self.halted or not self.debounce.allow("kill_switch") or isinstance(self._top(), ConfirmScreen):
            return

        async def confirmed(ok: bool | None) -> None:
            if ok:
                await self.send(CommandAction.HALT, reason="kill switch in the console")

        status = self.state.status
        live = (
            "\nEvery open live order at Zerodha is cancelled at once."
            if status is not None and status.mode is TradingMode.LIVE
            else ""
        )
        self.push_screen(
            ConfirmScreen(
                "KILL SWITCH",
                f"Halt all trading now?\n\nEvery new signal is rejected until you resume.{live}",
                confirm_label="Halt",
                danger=True,
                default_confirm=True,
            ),
            confirmed,
        )

    def action_resume_trading(self) -> None:
        if not self.debounce.allow("resume_trading") or self._dialog_open():
            return

        async def confirmed(ok: bool | None) -> None:
            if ok:
                await self.send(CommandAction.RESUME, reason="resumed in the console")

        reason = self.state.status.halted_reason if self.state.status else ""
        self.push_screen(
            ConfirmScreen(
                "Resume trading",
                f"Lift the halt{f' ({reason})' if reason else ''} and let signals through again?",
                confirm_label="Resume",
            ),
            confirmed,
        )

    def action_reset_latches(self) -> None:
        if not self.debounce.allow("reset_latches") or self._dialog_open():
            return
        latches = self.state.status.loss_latches if self.state.status else ()

        async def confirmed(ok: bool | None) -> None:
            if ok:
                await self.send(CommandAction.RESET_LOSS_LATCH, reason="reset in the console")

        self.push_screen(
            ConfirmScreen(
                "Reset daily-loss latches",
                f"Reset {', '.join(latches) or 'every latch'} and let those strategies trade again today?",
                confirm_label="Reset",
            ),
            confirmed,
        )

    def action_acknowledge_mismatch(self) -> None:
        if not self.debounce.allow("acknowledge_mismatch") or self._dialog_open():
            return
        mismatch = self.state.mismatch

        async def confirmed(ok: bool | None) -> None:
            if ok:
                await self.send(CommandAction.ACKNOWLEDGE_MISMATCH, reason="acknowledged in the console")

        self.push_screen(
            ConfirmScreen(
                "Acknowledge position mismatch",
                f"{mismatch or 'No live position mismatch is reported.'}\n\n"
                "Accept Kite's positions as they are and let the held strategies trade live again?",
                confirm_label="Acknowledge",
            ),
            confirmed,
        )

    async def action_pause_feed(self) -> None:
        await self.send(CommandAction.FEED_PAUSE)

    async def action_resume_feed(self) -> None:
        await self.send(CommandAction.FEED_RESUME)

    async def action_toggle_strategy(self, number: int) -> None:
        rows = self.state.strategies.rows
        if not 1 <= number <= len(rows):
            self.notify(f"There is no strategy {number}.", severity="warning")
            return
        row = rows[number - 1]
        enabled = row.pending if row.pending is not None else row.status.enabled
        await self.request_toggle(row.status.name, not enabled)

    async def on_strategy_toggle_requested(self, message: StrategyToggleRequested) -> None:
        await self.request_toggle(message.name, message.enable)

    async def request_toggle(self, name: str, enable: bool) -> None:
        if self._refused_read_only() or not self.debounce.allow(f"toggle:{name}"):
            return
        row = self.state.strategies.find(name)
        status = self.state.status
        live = (
            enable
            and status is not None
            and status.mode is TradingMode.LIVE
            and row is not None
            and Namespace.ZERODHA in row.status.namespaces
        )
        if not live:
            await self.bridge.set_strategy_enabled(name, enable)
            self.pull_now(force=True)
            return

        async def confirmed(ok: bool | None) -> None:
            if ok:
                await self.bridge.set_strategy_enabled(name, True)
                self.pull_now(force=True)

        self.push_screen(
            ConfirmScreen(
                "LIVE orders",
                f"Turn on {name}? It routes to Zerodha: its signals become REAL orders.",
                confirm_label="Turn on",
                danger=True,
            ),
            confirmed,
        )

    def _needs_live_confirmation(self) -> bool:
        status = self.state.status
        return status is not None and status.mode is TradingMode.LIVE and not status.live_confirmed

    def action_confirm_live(self) -> None:
        """Ask for the typed word that lets live orders reach Kite (the engine checks it)."""
        if self._dialog_open():
            return
        if not self._needs_live_confirmation():
            self.notify(
                "Nothing to confirm: live orders are already confirmed, or this engine was not "
                "launched live (zerodha.live_orders = true and `launch --live`).",
                severity="warning",
            )
            return
        status = self.state.status
        routed = tuple(
            s.name for s in (status.strategies if status else ()) if Namespace.ZERODHA in s.namespaces
        )

        async def typed(text: str | None) -> None:
            if text is None:
                self.notify("Live orders stay OFF (ctrl+l to confirm later).", severity="warning")
                return
            await self.send(CommandAction.CONFIRM_LIVE, target=text, reason="typed in the console")

        self.push_screen(LiveConfirmScreen(routed), typed)

    def action_flatten(self) -> None:
        if not self.debounce.allow("flatten") or self._dialog_open():
            return
        dashboard = self._dashboard()
        strategy = dashboard.selected_strategy() if dashboard else None
        status = self.state.status
        live = status is not None and status.mode is TradingMode.LIVE

        async def chosen(target: str | None) -> None:
            if target is not None:
                await self.send(CommandAction.FLATTEN, target=target, reason="flatten in the console")

        self.push_screen(FlattenScreen(strategy, live=live), chosen)

    async def action_cancel_order(self) -> None:
        dashboard = self._dashboard()
        order_id = dashboard.selected_order() if dashboard else None
        row = self.state.orders.get(order_id) if order_id else None
        if row is None:
            self.notify("Select an order in the orders pane first.", severity="warning")
            return
        if not row.is_open:
            self.notify(f"Order {row.order_id} is {row.status.value}; nothing to cancel.", severity="warning")
            return
        if self.debounce.allow(f"cancel:{row.order_id}"):
            await self.send(CommandAction.CANCEL_ORDER, target=row.order_id, reason="console")

    # -- screens ------------------------------------------------------------------
    def open_live_screen(self, screen: LiveScreen) -> None:
        self.push_screen(screen)
        self.call_after_refresh(partial(self.pull_now, force=True))

    def action_strategy_detail(self) -> None:
        dashboard = self._dashboard()
        name = dashboard.selected_strategy() if dashboard else None
        if name is None and self.state.strategies.rows:
            name = self.state.strategies.rows[0].status.name
        if name is None:
            self.notify("The engine has not reported any strategies yet.", severity="warning")
            return
        self.open_live_screen(StrategyDetailScreen(name))

    def action_order_trace(self) -> None:
        dashboard = self._dashboard()
        order_id = dashboard.selected_order() if dashboard else None
        if order_id is None:
            self.notify("Select an order in the orders pane first.", severity="warning")
            return
        self.open_live_screen(OrderTraceScreen(order_id))

    def on_order_trace_requested(self, message: OrderTraceRequested) -> None:
        self.open_live_screen(OrderTraceScreen(message.order_id))

    def action_broker_login(self) -> None:
        if self._dialog_open():
            return
        if self.attached:
            self.notify(
                "The Zerodha login runs where the engine runs: `alpha-panda-tui login` on its machine.",
                severity="warning",
            )
            return
        zerodha = self.settings.zerodha if self.settings is not None else None
        self.push_screen(LoginScreen(handler=self.login_handler, zerodha=zerodha))

    def action_audit_log(self) -> None:
        if self._dialog_open() or isinstance(self._top(), AuditScreen):
            return
        if self.settings is None:
            self.notify(
                "The audit log needs the engine's settings (run `alpha-panda-tui audit`).", severity="warning"
            )
            return
        self.push_screen(AuditScreen(self.settings))

    def action_replay_file(self) -> None:
        if self._dialog_open():
            return
        settings = self.settings
        if settings is None:
            self.notify(
                "Replay needs the engine's settings (not available when attached).", severity="warning"
            )
            return

        def chosen(request: ReplayRequest | None) -> None:
            if request is not None:
                self.push_screen(replay_screen_for(request.path, settings, request.strategy, request.params))

        note = (
            "Runs here, in this console, with this machine's settings and files: "
            "the engine you are attached to is not involved and keeps trading."
            if self.attached
            else ""
        )
        self.push_screen(ReplayFileDialog(note=note), chosen)

    def action_help(self) -> None:
        if not isinstance(self._top(), HelpScreen):
            self.push_screen(HelpScreen())

    def action_next_view(self) -> None:
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.cycle_view(1)
            self.pull_now(force=True)

    def action_previous_view(self) -> None:
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.cycle_view(-1)
            self.pull_now(force=True)

    async def action_quit(self) -> None:
        """Close the console. An attached console leaves its engine as it is; `launch` stops its own,
        so with positions open or orders working it asks first."""
        if self._dialog_open():
            return
        at_stake = self._left_open() if self.link is not None and not self.attached else ""
        if not at_stake:
            self.exit(0)
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.exit(0)

        self.push_screen(
            ConfirmScreen(
                "QUIT AND STOP THE ENGINE",
                f"{at_stake}.\n\nQuitting stops this engine: nothing watches them until it runs again. "
                "To close only the console and keep the engine trading, press D instead.",
                confirm_label="Quit",
                danger=True,
            ),
            confirmed,
        )

    def _left_open(self) -> str:
        """ "2 open positions and 1 working order", or "" when there are none."""
        positions = sum(
            1 for p in self.state.pnl.portfolios.values() for pos in p.positions if pos.quantity != 0
        )
        orders = sum(1 for row in self.state.orders.by_id.values() if row.is_open)
        parts = [
            f"{n} {noun}{'' if n == 1 else 's'}"
            for n, noun in ((positions, "open position"), (orders, "working order"))
            if n
        ]
        return " and ".join(parts)

    def action_detach(self) -> None:
        """Close the console, leave the engine running (`launch` goes on as a headless engine)."""
        if self.link is None:
            return
        self.detached = True
        self.exit(0)

    def action_stop_engine(self) -> None:
        link = self.link
        if link is None or self._refused_read_only():
            return
        if not self.debounce.allow("stop_engine") or self._dialog_open():
            return
        if link.stop_unavailable:
            self.notify(link.stop_unavailable, severity="warning")
            return
        engine = link.view().engine_name

        async def confirmed(ok: bool | None) -> None:
            if not ok:
                return
            try:
                await link.stop_engine("stopped from the console")
            except EngineLinkError as exc:
                self.notify(str(exc), severity="error")
                return
            self.engine_stopping = True
            self.exit(0)  # the engine is stopping: nothing more to show or control

        self.push_screen(
            ConfirmScreen(
                "STOP THE ENGINE",
                f"Stop the engine ({engine})?\n\nIt stops trading, writes everything to storage and exits. "
                "To close only this console and leave the engine running, press D instead.",
                confirm_label="Stop engine",
                danger=True,
            ),
            confirmed,
        )

    # -- command palette ------------------------------------------------------------
    def palette_entries(self) -> list[PaletteEntry]:
        entries: list[PaletteEntry] = []
        for command in palette_commands():
            if self.check_action(command.action, ()) is False:
                continue
            run = partial(self.run_action, command.action)
            entries.append(PaletteEntry(command.help, f"key: {command.shown_keys}", run))
        for row in self.state.strategies.rows:
            name = row.status.name
            enabled = row.pending if row.pending is not None else row.status.enabled
            key = f"key: {row.index}" if row.index <= 9 else "strategies pane, space"
            verb = "Disable" if enabled else "Enable"
            toggle = partial(self.request_toggle, name, not enabled)
            if not self.read_only:
                entries.append(PaletteEntry(f"{verb} strategy {name}", key, toggle))
            entries.append(
                PaletteEntry(
                    f"Open strategy {name}",
                    "strategies pane, s",
                    partial(self.open_live_screen, StrategyDetailScreen(name)),
                )
            )
        return entries


def make_app(
    engine: EngineHandle | None = None,
    *,
    bus: Bus | None = None,
    instruments: InstrumentRegistry | None = None,
    settings: Settings | None = None,
    namespaces: Sequence[Namespace] | None = None,
    refresh_hz: float = DEFAULT_REFRESH_HZ,
    login_handler: LoginHandler | None = None,
    exit_after: float | None = None,
    debounce_s: float | None = None,
    animate: bool = True,
    freeze_gc: bool = False,
    link: EngineLink | None = None,
    hold_for_snapshot: bool = False,
) -> AlphaPandaApp:
    """The console on a bus: an embedded engine's, or any bus carrying an engine's topics.

    `hold_for_snapshot`: the console joins a running engine (attached), so it holds live events
    back until its day snapshot is in, and shows the day in the engine's order.

    The UI's consumer group is subscribed here, before the app runs, so no
    event published after this call is missed.
    """
    if engine is not None:
        bus = bus or engine.bus
        instruments = instruments or engine.instruments
        settings = settings or engine.settings
        namespaces = namespaces or engine.active_namespaces
    if bus is None:
        raise ValueError("make_app needs an engine or a bus")
    instruments = instruments or InstrumentRegistry.sample()
    bridge = UiBridge(bus, instruments, namespaces or (Namespace.PAPER,), hold_for_snapshot=hold_for_snapshot)
    bridge.wire()
    app = AlphaPandaApp(
        bridge,
        settings=settings,
        refresh_hz=refresh_hz,
        login_handler=login_handler,
        exit_after=exit_after,
        debounce_s=debounce_s,
        freeze_gc=freeze_gc,
        link=link,
    )
    if not animate:
        app.animation_level = "none"
    return app


async def run_console(settings: Settings, *, duration: float | None = None, live: bool = False) -> int:
    """`alpha-panda-tui launch`: the embedded engine and the console; 0 on a clean exit.

    Quit, SIGINT and SIGTERM end the app normally (the terminal is restored), and a stop asked
    for from elsewhere (`alpha-panda-tui stop`, an attached console) ends it too. SIGHUP means the
    terminal (or the SSH session) is gone: nothing can be drawn or restored, and the UI's own
    shutdown would block writing to it, so the engine is stopped and flushed and the process
    exits without the UI's shutdown. Detaching (`D`) closes the console and keeps the engine
    running in this process, headless, until it is stopped.
    """
    from alpha_panda_tui.host import EngineHost, HostError

    # the terminal belongs to the console: logs go to a file only
    host = EngineHost(settings, log_file="console.log", log_to_stderr=False, live=live)
    terminal_lost = asyncio.Event()
    try:
        async with host:
            handler = engine_login_handler(host.engine)
            link = EmbeddedLink(settings.data_dir, host.stop_requested.set)
            app = make_app(host.engine, exit_after=duration, freeze_gc=True, login_handler=handler, link=link)

            def hang_up() -> None:
                app.stop_drawing()
                terminal_lost.set()

            await host.start()
            host.on_signal(signal.SIGTERM, partial(app.exit, 0))
            host.on_signal(signal.SIGINT, partial(app.exit, 0))
            host.on_signal(signal.SIGHUP, hang_up)
            if not host.stop_requested.is_set():  # no SIGINT/SIGTERM while the engine started
                await _run_app(app, host.stop_requested, terminal_lost)
                if app.detached and not terminal_lost.is_set() and not host.stop_requested.is_set():
                    await _serve_detached(host)
    except HostError as exc:
        return exc.exit_code
    log.info("console closed%s", " (terminal gone)" if terminal_lost.is_set() else "")
    if terminal_lost.is_set():
        logging.shutdown()
        os._exit(host.exit_code)
    return host.exit_code or app.return_code or 0


async def _run_app(app: AlphaPandaApp, stop_requested: asyncio.Event, terminal_lost: asyncio.Event) -> None:
    """Until the app ends, the terminal goes away, or a stop is asked for (then the app ends first)."""
    running = asyncio.ensure_future(app.run_async())
    lost = asyncio.ensure_future(terminal_lost.wait())
    stop = asyncio.ensure_future(stop_requested.wait())
    await asyncio.wait((running, lost, stop), return_when=asyncio.FIRST_COMPLETED)
    lost.cancel()
    stop.cancel()
    if stop_requested.is_set() and not running.done() and not terminal_lost.is_set():
        app.exit(0)
        await running


async def _serve_detached(host: EngineHost) -> None:
    """The console is closed; the engine goes on here as a headless one: logging to its file,
    deaf to the terminal (which may go away), stopped by SIGTERM, ctrl+c or `alpha-panda-tui stop`."""
    from alpha_panda_tui.headless import serve

    settings = host.settings
    for sig in (signal.SIGTSTP, signal.SIGCONT):  # Textual's: SIGCONT (sent on hang-up) would restart its UI
        signal.signal(sig, signal.SIG_DFL)
    host.on_signal(signal.SIGHUP, partial(log.info, "the terminal went away; the engine keeps running"))
    with contextlib.suppress(OSError):  # the terminal may be gone already
        print(detached_line(os.getpid(), settings), flush=True)
    _terminal_to_devnull()
    host.on_signal(signal.SIGTERM, host.stop_requested.set)
    host.on_signal(signal.SIGINT, host.stop_requested.set)
    log.info("console detached: the engine keeps running headless (pid %d)", os.getpid())
    await serve(host)


def detached_line(pid: int, settings: Settings) -> str:
    env = f"ALPHA_PANDA_DATA_DIR={settings.data_dir} " if "ALPHA_PANDA_DATA_DIR" in os.environ else ""
    return (
        f"Console detached; the engine keeps running in this process (pid {pid}), logging to "
        f"{settings.log_dir / 'console.log'}. You may close this terminal. "
        f"Attach: `{env}alpha-panda-tui attach`. Stop: `{env}alpha-panda-tui stop` (or kill {pid})."
    )


def _terminal_to_devnull() -> None:
    """Nothing more is written to or read from the terminal: it may be gone at any moment."""
    with contextlib.suppress(OSError):
        sys.stdout.flush()
        sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd)
    finally:
        os.close(devnull)
