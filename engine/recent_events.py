"""The engine's recent past as a console would have seen it, for a console that starts (or attaches) late.

Fed what a console shows except market ticks, it keeps the last `MAX_RECENT` events that fill
the console's signal, decision, order and log panes, and folds every P&L snapshot into the same
P&L curves a console draws (engine.portfolio.pnl_series). The day snapshot sends both.
Answers and requests are not kept (a console asks for those itself), nor statuses, except one
whose state, feed, session, dead letters, latches or live trading changed: a console's log tells
those changes, and the snapshot carries the current status.

The day snapshot service feeds it from its own subscription, so a snapshot holds exactly the
events published before its request: a console applies those it has not seen, then the live
events it held back while waiting, and counts nothing twice.
"""

from __future__ import annotations

from collections import deque

from engine.events import (
    DaySnapshot,
    DaySnapshotRequest,
    EngineStatus,
    EquityPoint,
    Event,
    OrderTrace,
    OrderTraceRequest,
    PnlSnapshot,
)
from engine.portfolio.pnl_series import PnlCurves

MAX_RECENT = 500
NOT_KEPT: frozenset[type] = frozenset(
    {EngineStatus, DaySnapshot, OrderTrace, DaySnapshotRequest, OrderTraceRequest, PnlSnapshot}
)


def told(status: EngineStatus) -> tuple[object, ...]:
    """What of a status a console's log reports the changes of."""
    return (
        status.state,
        status.halted_reason,
        status.stop_reason,
        status.feed_paused,
        status.feed_detail,
        status.feed_source,
        status.feed_message,
        status.broker_session,
        status.dead_letters,
        status.loss_latches,
        status.live,
        status.live_detail,
    )


class RecentEvents:
    """The last MAX_RECENT non-tick console events, and the P&L curves so far."""

    def __init__(self) -> None:
        self.events: deque[Event] = deque(maxlen=MAX_RECENT)
        self.curves = PnlCurves()
        self.latest_pnl: dict[str, Event] = {}  # portfolio id -> the P&L snapshot the curves last folded
        self._told: tuple[object, ...] | None = None  # of the latest status

    def fold(self, event: Event) -> None:
        payload = event.payload
        if type(payload) is PnlSnapshot:
            self.curves.apply(payload, event.ts)
            self.latest_pnl[payload.portfolio_id] = event
        elif type(payload) is EngineStatus:
            now = told(payload)
            if now != self._told:
                self._told = now
                self.events.append(event)
        elif type(payload) not in NOT_KEPT:
            self.events.append(event)

    def recent(self, count: int) -> tuple[Event, ...]:
        """The last `count` kept events (at most MAX_RECENT), oldest first, then every portfolio's
        latest P&L snapshot: a console takes those as its portfolios and skips older ones it gets live."""
        count = max(0, min(count, MAX_RECENT))
        if not count:
            return ()
        kept = list(self.events)[-count:]
        pnl = sorted(self.latest_pnl.values(), key=_snapshot_ts)
        return (*kept, *pnl)

    def equity(self) -> tuple[EquityPoint, ...]:
        return tuple(self.curves.points())


def _snapshot_ts(event: Event) -> float:
    payload = event.payload
    return payload.snapshot_ts if isinstance(payload, PnlSnapshot) else event.ts
