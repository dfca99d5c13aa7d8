"""One line of engine state: an attached console's link (ATTACHED pid N, READ-ONLY, engine gone),
LIVE (only when orders can reach Kite now) or PAPER, running, LATCHED or HALTED, feed, market,
the Kite session (when Zerodha is on), tick rate and the IST clock.

One widget that renders one line (no child widgets to lay out), repainted
only when what it shows changed.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from engine.events import EngineState, EngineStatus, TradingMode
from viewmodels.engine_status import live_off_text, login_needed
from viewmodels.link import BadgePart, BadgeTone
from widgets.format import ist_hms

STATE_CLASSES = {
    EngineState.RUNNING: "header-bar--running",
    EngineState.LATCHED: "header-bar--latched",
    EngineState.HALTED: "header-bar--halted",
    EngineState.STARTING: "header-bar--waiting",
    EngineState.STOPPING: "header-bar--waiting",
    EngineState.STOPPED: "header-bar--waiting",
}

BADGE_CLASSES = {
    BadgeTone.ATTACHED: "header-bar--attached",
    BadgeTone.READ_ONLY: "header-bar--read-only",
    BadgeTone.DOWN: "header-bar--down",
}


class HeaderBar(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "header-bar--title",
        "header-bar--mode",
        "header-bar--live",
        "header-bar--running",
        "header-bar--halted",
        "header-bar--latched",
        "header-bar--waiting",
        "header-bar--paused",
        "header-bar--open",
        "header-bar--dim",
        "header-bar--clock",
        "header-bar--attached",
        "header-bar--read-only",
        "header-bar--down",
    }

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.status: EngineStatus | None = None
        self.session_ts = 0.0
        self._shown: tuple[object, ...] = ()
        self.link: tuple[BadgePart, ...] = ()

    def show_status(self, status: EngineStatus | None, session_ts: float) -> None:
        shown = (status, int(session_ts))
        if shown == self._shown:
            return
        self._shown = shown
        self.status = status
        self.session_ts = session_ts
        self.refresh()

    def show_link(self, badge: tuple[BadgePart, ...]) -> None:
        """The console's link to the engine (empty for an embedded console): ATTACHED, READ-ONLY, down."""
        if badge != self.link:
            self.link = badge
            self.refresh()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def render(self) -> Text:
        status = self.status
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" Alpha Panda ", self._style("header-bar--title"))
        for part in self.link:
            line.append(f" {part.text} ", self._style(BADGE_CLASSES[part.tone]))
        clock = f" {ist_hms(self.session_ts)} IST "
        if status is None:
            line.append(" STARTING ", self._style("header-bar--waiting"))
            line.append(" waiting for the engine's status ", self._style("header-bar--dim"))
        else:
            # LIVE only when an order can reach the broker now; a live engine that cannot says why
            if status.live:
                line.append(" LIVE ", self._style("header-bar--live"))
            else:
                line.append(" PAPER ", self._style("header-bar--mode"))
                live_off = live_off_text(status)
                if live_off:
                    line.append(f" {live_off} ", self._style("header-bar--live"))
            state = status.state.value.upper()
            if status.state is EngineState.HALTED and status.halted_reason:
                state = f"HALTED: {status.halted_reason}"
            elif status.state is EngineState.STOPPED and status.stop_reason:
                state = f"STOPPED: {status.stop_reason}"
            elif status.state is EngineState.LATCHED:
                state = f"LATCHED: {', '.join(status.loss_latches)}"
            stopped_on_error = status.state is EngineState.STOPPED and bool(status.stop_reason)
            style = "header-bar--halted" if stopped_on_error else STATE_CLASSES[status.state]
            line.append(f" {state} ", self._style(style))
            if status.state is not EngineState.LATCHED and status.loss_latches:
                latches = ", ".join(status.loss_latches)
                line.append(f" latched: {latches} ", self._style("header-bar--latched"))
            paused = " PAUSED" if status.feed_paused else ""
            feed_style = "header-bar--paused" if status.feed_paused else "header-bar--dim"
            line.append(f" feed {status.feed_source or '-'}{paused} ", self._style(feed_style))
            market_style = "header-bar--open" if status.market_status == "open" else "header-bar--dim"
            line.append(f" market {status.market_status or '-'} ", self._style(market_style))
            if status.mode is TradingMode.LIVE:  # live orders at Kite, and those waiting for its rate limit
                queued = status.live_orders_queued
                line.append(
                    f" kite orders {status.live_open_orders} open, {queued} queued ",
                    self._style("header-bar--paused" if queued else "header-bar--dim"),
                )
            if login_needed(status.broker_session):
                line.append(" kite: LOG IN (b) ", self._style("header-bar--paused"))
            elif status.broker_session:
                line.append(" kite ok ", self._style("header-bar--dim"))
            rate = f" {status.tick_rate:,.0f} t/s "
            gap = self.size.width - line.cell_len - len(rate) - len(clock)
            line.append(" " * max(gap, 1))
            line.append(rate, self._style("header-bar--dim"))
        line.append(clock, self._style("header-bar--clock"))
        return line
