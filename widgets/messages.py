"""What the panes and screens ask the app to do: typed messages, handled by the app or the dashboard."""

from __future__ import annotations

from textual.message import Message


class StrategyToggleRequested(Message):
    """Turn a strategy on or off (the engine persists it)."""

    def __init__(self, name: str, enable: bool) -> None:
        super().__init__()
        self.name = name
        self.enable = enable


class OrderTraceRequested(Message):
    """Show the tick -> signal -> risk -> order -> fill lineage of an order."""

    def __init__(self, order_id: str) -> None:
        super().__init__()
        self.order_id = order_id
