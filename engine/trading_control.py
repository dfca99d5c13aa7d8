"""Stopping and arming: the kill switch's broker side, `flatten`, and the typed live confirmation.

The risk managers own the kill switch itself (no new signal passes); this service does what a
halt means at the broker: every open live order cancelled at once and, with
`zerodha.flatten_on_halt`, every live position closed with MARKET orders. `flatten` closes
positions (everything, one strategy's, or one symbol's) in every namespace, paper too. The typed
confirmation arms live orders (see engine/zerodha/live_gate.py). Each of these, when it touches
the live account, goes to the audit log with who asked for it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from engine.bus.base import Bus
from engine.events import Command, CommandAction, CommandResult, Event, Namespace
from engine.execution.base import ExecutionClient
from engine.instruments import InstrumentRegistry, UnknownInstrument
from engine.service import Service
from engine.storage.audit import AuditLog
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS
from engine.zerodha.live_gate import LiveGate

log = logging.getLogger(__name__)

STRATEGY_PREFIX = "strategy:"
SYMBOL_PREFIX = "symbol:"
FLATTEN_USAGE = 'flatten "" (everything), "strategy:<name>" or "symbol:<tradingsymbol>"'
ACTIONS = (CommandAction.HALT, CommandAction.FLATTEN, CommandAction.CONFIRM_LIVE)


class FlattenScope:
    """What a flatten command closes: everything, one strategy's positions, or one symbol's."""

    def __init__(self, strategy_id: str | None = None, instrument_token: int | None = None) -> None:
        self.strategy_id = strategy_id
        self.instrument_token = instrument_token

    @classmethod
    def parse(cls, target: str, instruments: InstrumentRegistry, strategies: frozenset[str]) -> FlattenScope:
        """The scope a command's target names; ValueError (in words) for one that names nothing."""
        text = target.strip()
        if not text or text == "all":
            return cls()
        if text.startswith(STRATEGY_PREFIX):
            name = text[len(STRATEGY_PREFIX) :].strip()
            if name not in strategies:
                known = ", ".join(sorted(strategies)) or "none"
                raise ValueError(f"no strategy named {name!r}; known strategies: {known}")
            return cls(strategy_id=name)
        if text.startswith(SYMBOL_PREFIX):
            symbol = text[len(SYMBOL_PREFIX) :].strip()
            try:
                return cls(instrument_token=instruments.by_symbol(symbol).instrument_token)
            except UnknownInstrument:
                raise ValueError(f"unknown symbol {symbol!r}") from None
        raise ValueError(f"cannot flatten {text!r}: use {FLATTEN_USAGE}")

    def describe(self, instruments: InstrumentRegistry) -> str:
        if self.strategy_id is not None:
            return f"strategy {self.strategy_id}"
        if self.instrument_token is not None:
            return f"symbol {instruments.symbol(self.instrument_token)}"
        return "every position"


class TradingControl(Service):
    name = "trading_control"

    def __init__(
        self,
        bus: Bus,
        executions: Mapping[Namespace, ExecutionClient],
        instruments: InstrumentRegistry,
        strategy_names: frozenset[str],
        *,
        live_gate: LiveGate | None = None,
        audit: AuditLog | None = None,
        flatten_on_halt: bool = False,
    ) -> None:
        super().__init__(bus)
        self.executions = executions  # the engine's own dict: a client added later is seen
        self.instruments = instruments
        self.strategy_names = strategy_names
        self.live_gate = live_gate
        self.audit = audit
        self.flatten_on_halt = flatten_on_halt

    def wire(self) -> None:
        self.bus.subscribe([CONTROL_COMMANDS], self.name, self._on_event)

    async def _on_event(self, event: Event) -> None:
        command = event.payload
        if not isinstance(command, Command) or command.action not in ACTIONS:
            return
        actor = _actor(command)
        if command.action is CommandAction.HALT:
            if Namespace.ZERODHA not in self.executions:
                return  # paper only: the risk managers' halt is the whole of it
            ok, message = await self._halt(command, actor)
        elif command.action is CommandAction.FLATTEN:
            ok, message = await self._flatten(command, actor)
        else:
            ok, message = await self._confirm_live(command, actor)
        result = CommandResult(
            command_id=event.id, action=command.action, ok=ok, message=message, service=self.name
        )
        await self.bus.publish(
            ENGINE_STATUS, event.child(result, source=self.name, key=self.name, namespace=Namespace.SHARED)
        )

    # -- the kill switch at the broker --------------------------------------------------------
    async def _halt(self, command: Command, actor: str) -> tuple[bool, str]:
        live = self.executions[Namespace.ZERODHA]
        reason = command.reason or f"halted by {actor}"
        await self._audit(actor, "halted", detail=reason)
        ok = True
        try:
            cancelled = await live.cancel_all(f"kill switch: {reason}")
        except Exception as exc:  # a broker error never crashes the engine, and is said
            log.exception("kill switch: cancelling the open live orders failed")
            await self._audit(actor, "cancel_all_failed", detail=str(exc))
            return False, f"zerodha: cancelling the open live orders FAILED: {exc}"
        await self._audit(actor, "cancelled_all", detail=f"{cancelled} open orders: {reason}")
        message = f"zerodha: {cancelled} open live order(s) cancelled"
        if self.flatten_on_halt:
            flat_ok, flat_message = await self._flatten_one(
                Namespace.ZERODHA, live, FlattenScope(), reason, actor
            )
            ok = ok and flat_ok
            message += f"; {flat_message}"
        return ok, message

    async def loss_latched(self, reason: str) -> None:
        """The live namespace's global daily-loss latch tripped: its open orders go, as on a halt."""
        live = self.executions.get(Namespace.ZERODHA)
        if live is None:
            return
        actor = "risk:daily_loss"
        try:
            cancelled = await live.cancel_all(f"daily loss latch: {reason}")
        except Exception as exc:
            log.exception("daily loss latch: cancelling the open live orders failed")
            await self._audit(actor, "cancel_all_failed", detail=str(exc))
            return
        await self._audit(actor, "cancelled_all", detail=f"{cancelled} open orders: {reason}")

    # -- flatten ----------------------------------------------------------------------------
    async def _flatten(self, command: Command, actor: str) -> tuple[bool, str]:
        try:
            scope = FlattenScope.parse(command.target, self.instruments, self.strategy_names)
        except ValueError as exc:
            return False, str(exc)
        reason = command.reason or f"flatten {scope.describe(self.instruments)} by {actor}"
        results = [
            await self._flatten_one(ns, client, scope, reason, actor)
            for ns, client in sorted(self.executions.items())
        ]
        return all(ok for ok, _ in results), "; ".join(message for _, message in results)

    async def _flatten_one(
        self, ns: Namespace, client: ExecutionClient, scope: FlattenScope, reason: str, actor: str
    ) -> tuple[bool, str]:
        what = scope.describe(self.instruments)
        if ns is Namespace.ZERODHA and self.live_gate is not None and not self.live_gate.confirmed:
            # closing orders are new orders: none reaches Kite before the typed confirmation
            return False, f"zerodha: {what} not flattened: live orders are not confirmed (type LIVE first)"
        try:
            placed = await client.flatten(
                reason, strategy_id=scope.strategy_id, instrument_token=scope.instrument_token
            )
        except Exception as exc:
            log.exception("%s: flattening %s failed", ns.value, what)
            if ns is Namespace.ZERODHA:
                await self._audit(actor, "flatten_failed", subject=what, detail=str(exc))
            return False, f"{ns.value}: flattening {what} FAILED: {exc}"
        if ns is Namespace.ZERODHA:
            await self._audit(actor, "flattened", subject=what, detail=f"{placed} closing order(s): {reason}")
        return True, f"{ns.value}: {placed} closing order(s) for {what}"

    # -- the typed confirmation ---------------------------------------------------------------
    async def _confirm_live(self, command: Command, actor: str) -> tuple[bool, str]:
        if self.live_gate is None:
            return False, "this engine was not launched live (zerodha.live_orders = true and `launch --live`)"
        ok, message = self.live_gate.confirm(command.target, actor)
        await self._audit(actor, "live_confirmed" if ok else "live_confirm_refused", detail=message)
        return ok, message

    async def _audit(self, actor: str, action: str, *, subject: str = "", detail: str = "") -> None:
        if self.audit is None:
            return
        try:
            await self.audit.record(actor, action, subject=subject, detail=detail)
        except Exception:  # the action stands; its record is lost, and the log says so
            log.exception("could not write the audit entry %s by %s", action, actor)


def _actor(command: Command) -> str:
    who = command.issued_by or "operator"
    return "console" if who == "tui" else who
