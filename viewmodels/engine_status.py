"""The models of what the engine's status shows: the header, the health panel and the strategies pane;
and what changed between two statuses, for the log."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engine.events import EngineState, EngineStatus, HealthCheckView, StrategyStatus
from engine.zerodha.broker_session import SessionState
from viewmodels.revision import Revised, changes
from viewmodels.rows import LogLevel, StrategyRow


class EnginePane(Revised):
    """The engine's latest status (None before the first one), as the header shows it."""

    def __init__(self) -> None:
        super().__init__()
        self.status: EngineStatus | None = None

    @changes
    def set(self, status: EngineStatus) -> None:
        self.status = status


class HealthPane(Revised):
    def __init__(self) -> None:
        super().__init__()
        self.checks: tuple[HealthCheckView, ...] = ()

    @changes
    def set(self, checks: tuple[HealthCheckView, ...]) -> bool:
        if checks == self.checks:
            return False
        self.checks = checks
        return True


class StrategyPane(Revised):
    """One row per strategy the engine reports, with the on/off the console asked for and its P&L."""

    def __init__(self, symbol: Callable[[int], str], pnl_of: Callable[[str], float]) -> None:
        super().__init__()
        self._symbol = symbol
        self._pnl_of = pnl_of
        self.rows: list[StrategyRow] = []
        self.pending: dict[str, bool] = {}  # enabled state asked for, not yet confirmed by the engine

    def find(self, name: str) -> StrategyRow | None:
        for row in self.rows:
            if row.status.name == name:
                return row
        return None

    def confirm(self, statuses: Sequence[StrategyStatus]) -> bool:
        """Drop the pending toggles the engine now reports as done; True if there were any."""
        confirmed = [s.name for s in statuses if self.pending.get(s.name) is s.enabled]
        for name in confirmed:
            del self.pending[name]
        return bool(confirmed)

    @changes
    def rebuild(self, statuses: Sequence[StrategyStatus]) -> bool:
        """Rows from the engine's statuses; a row's version moves only when what it shows changed."""
        rows: list[StrategyRow] = []
        for index, strategy in enumerate(statuses, start=1):
            row = StrategyRow(
                index=index,
                status=strategy,
                pending=self.pending.get(strategy.name),
                pnl=self._pnl_of(strategy.name),
                symbols=tuple(self._symbol(t) for t in strategy.instruments),
            )
            old = self.rows[index - 1] if index <= len(self.rows) else None
            if old is not None and (old.status, old.pending, old.pnl) == (row.status, row.pending, row.pnl):
                row.version = old.version
            else:
                row.version = (old.version if old is not None else 0) + 1
            rows.append(row)
        if rows == self.rows:
            return False
        self.rows = rows
        return True


LogEntry = tuple[LogLevel, str]


def login_needed(broker_session: str) -> bool:
    """The engine's Kite session text ("" when Zerodha is off) says it is absent or expired."""
    return broker_session.split(":", 1)[0] in (SessionState.ABSENT, SessionState.EXPIRED)


def login_prompt(broker_session: str) -> str:
    """What the console says when a Zerodha login is needed; "" when it is not."""
    if not login_needed(broker_session):
        return ""
    state, _, why = broker_session.partition(":")
    if state == SessionState.EXPIRED:
        return f"The Zerodha session expired ({why.strip() or 'refused by Kite'}): press b to log in again."
    return "Not logged in to Zerodha: press b to log in (or run `alpha-panda-tui login`)."


def status_changes(previous: EngineStatus, status: EngineStatus) -> list[LogEntry]:
    """What the log says about a new status: state, feed, Kite session, dead letters, latches, in order."""
    return [
        *_state_change(previous, status),
        *_feed_change(previous, status),
        *_session_change(previous, status),
        *_dead_letters_change(previous, status),
        *_latches_change(previous, status),
        *_live_change(previous, status),
    ]


def _state_change(previous: EngineStatus, status: EngineStatus) -> list[LogEntry]:
    if status.state is EngineState.HALTED and previous.state is not EngineState.HALTED:
        return [(LogLevel.ERROR, f"engine HALTED: {status.halted_reason or 'no reason given'}")]
    if status.state is EngineState.STOPPED and status.stop_reason:
        return [(LogLevel.ERROR, f"engine STOPPED: {status.stop_reason}")]
    if status.state is not previous.state:
        return [(LogLevel.INFO, f"engine {status.state.value}")]
    return []


def _feed_change(previous: EngineStatus, status: EngineStatus) -> list[LogEntry]:
    entries: list[LogEntry] = []
    if status.feed_paused != previous.feed_paused:
        entries.append((LogLevel.INFO, "feed paused" if status.feed_paused else "feed resumed"))
    if (
        status.feed_detail != previous.feed_detail
    ):  # a live feed: why it is not streaming, or that it is again
        if status.feed_detail:
            entries.append((LogLevel.WARNING, f"feed {status.feed_detail}"))
        elif status.state is not EngineState.STOPPED:
            entries.append((LogLevel.INFO, "feed streaming"))
    if status.feed_message and status.feed_message != previous.feed_message:
        level = LogLevel.WARNING if status.feed_message.startswith("error:") else LogLevel.INFO
        entries.append((level, f"{status.feed_source or 'feed'} says {status.feed_message}"))
    return entries


def _session_change(previous: EngineStatus, status: EngineStatus) -> list[LogEntry]:
    if status.broker_session == previous.broker_session or not status.broker_session:
        return []
    level = LogLevel.WARNING if login_needed(status.broker_session) else LogLevel.INFO
    return [(level, f"Zerodha session {status.broker_session}")]


def _dead_letters_change(previous: EngineStatus, status: EngineStatus) -> list[LogEntry]:
    new = status.dead_letters - previous.dead_letters
    if new <= 0:
        return []
    return [(LogLevel.ERROR, f"{new} new dead letter(s); {status.dead_letters} in total")]


def _latches_change(previous: EngineStatus, status: EngineStatus) -> list[LogEntry]:
    tripped = set(status.loss_latches) - set(previous.loss_latches)
    return [(LogLevel.ERROR, f"daily-loss latch tripped: {latch}") for latch in tripped]


def _live_change(previous: EngineStatus, status: EngineStatus) -> list[LogEntry]:
    if status.live and not previous.live:
        return [(LogLevel.WARNING, "LIVE: orders of strategies routed to zerodha now go to Kite")]
    if previous.live and not status.live:
        return [(LogLevel.ERROR, f"LIVE orders OFF: {status.live_detail or 'the engine stopped'}")]
    return []


def live_off_text(status: EngineStatus) -> str:
    """The header's short word on a live engine whose orders cannot reach Kite now; "" otherwise."""
    if status.live or not status.live_detail:
        return ""
    if not status.live_confirmed:
        return "LIVE OFF: not confirmed (ctrl+l)"
    if login_needed(status.broker_session):
        return "LIVE OFF: no Kite session (b)"
    return f"LIVE OFF: {status.live_detail}"
