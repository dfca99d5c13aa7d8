"""The console's only link to the engine: bus events in, commands out.

It is a bus consumer like any service, so a console on an engine embedded in
this process and one attached to an engine elsewhere run the same code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from alpha_panda_tui.ui_state import HOLD_S, UiState
from engine.bus.base import Bus
from engine.events import (
    Command,
    CommandAction,
    DaySnapshotRequest,
    Event,
    Namespace,
    OrderTraceRequest,
    make_event,
)
from engine.instruments import InstrumentRegistry
from engine.service import Service
from engine.topics import CONTROL_COMMANDS, console_topics
from viewmodels.trading import MAX_FILLS, MAX_ORDERS

UI_GROUP = "ui"
UI_SOURCE = "tui"
RECENT_EVENTS = 500  # the engine's recent non-tick events a day snapshot brings (it keeps as many)


class UiBridge(Service):
    name = "ui"

    def __init__(
        self,
        bus: Bus,
        instruments: InstrumentRegistry,
        namespaces: Sequence[Namespace],
        state: UiState | None = None,
        *,
        group: str = UI_GROUP,
        hold_for_snapshot: bool = False,
    ) -> None:
        """`hold_for_snapshot`: a console joining a running engine (attached) holds live events
        back while it waits for its day snapshot, so what it shows is in the engine's order."""
        super().__init__(bus)
        self.hold_for_snapshot = hold_for_snapshot
        self.instruments = instruments
        self.namespaces = tuple(namespaces)
        self.state = state if state is not None else UiState(instruments)
        self.group = group
        self._wired = False

    def topics(self) -> list[str]:
        """Everything the console shows, and the dead-letter topic of each."""
        return console_topics(self.namespaces)

    def wire(self) -> None:
        if self._wired:
            return
        self.bus.subscribe(self.topics(), self.group, self._on_event)
        self._wired = True
        if self.hold_for_snapshot:
            self.state.hold_live()  # what streams in before the snapshot waits for it

    async def _on_event(self, event: Event) -> None:
        self.state.apply(event)

    async def request_day_snapshot(self, recent_events: int = RECENT_EVENTS) -> str:
        """Ask the engine for the day so far (as many orders and fills as the panes hold, its recent
        events and P&L curves); the answer arrives on engine.status like any event and seeds the
        state (which, with `hold_for_snapshot`, holds live events back until then, HOLD_S at most)."""
        request = DaySnapshotRequest(max_orders=MAX_ORDERS, max_fills=MAX_FILLS, recent_events=recent_events)
        event = make_event(request, namespace=Namespace.SHARED, source=UI_SOURCE, key="day_snapshot")
        self.state.expect_day_snapshot(event.id, hold=self.hold_for_snapshot)
        if self.hold_for_snapshot:
            asyncio.get_running_loop().call_later(HOLD_S, self.state.release_held, event.id)
        await self.bus.publish(CONTROL_COMMANDS, event)
        return event.id

    async def request_order_trace(self, order_id: str) -> str:
        """Ask the engine for an order's stored story; the answer lands in `state.traces[order_id]`."""
        event = make_event(
            OrderTraceRequest(order_id=order_id), namespace=Namespace.SHARED, source=UI_SOURCE, key=order_id
        )
        self.state.expect_order_trace(event.id, order_id)
        await self.bus.publish(CONTROL_COMMANDS, event)
        return event.id

    async def send(self, action: CommandAction, target: str = "", reason: str = "") -> str:
        """Publish a command for the engine; returns its event id (CommandResults answer to it)."""
        event = self._command_event(action, target, reason)
        self.state.record_command(event.id, action)
        await self.bus.publish(CONTROL_COMMANDS, event)
        return event.id

    async def set_strategy_enabled(self, name: str, enable: bool) -> str:
        action = CommandAction.STRATEGY_ENABLE if enable else CommandAction.STRATEGY_DISABLE
        event = self._command_event(action, name, "toggled in the console")
        self.state.request_toggle(name, enable, event.id, action)
        await self.bus.publish(CONTROL_COMMANDS, event)
        return event.id

    @staticmethod
    def _command_event(action: CommandAction, target: str, reason: str) -> Event:
        command = Command(action=action, target=target, reason=reason, issued_by=UI_SOURCE)
        return make_event(command, namespace=Namespace.SHARED, source=UI_SOURCE, key=target or action.value)
