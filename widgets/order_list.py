"""Orders, newest first, with fill progress; Enter opens the order's trace."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from textual.binding import BindingType

from engine.events import Side
from viewmodels.keys import Scope
from viewmodels.rows import OrderRow, OrderStatus
from widgets.bindings import bindings
from widgets.format import ist_hms, price
from widgets.row_table import Cell, Column, RowTable

STATUS_CLASSES = {
    OrderStatus.OPEN: "order-list--open",
    OrderStatus.PARTIAL: "order-list--open",
    OrderStatus.FILLED: "order-list--filled",
    OrderStatus.FAILED: "order-list--failed",
    OrderStatus.CANCELLED: "order-list--cancelled",
}


class OrderList(RowTable[OrderRow]):
    COLUMNS = (
        Column("Time", 8, drop=3),
        Column("Order", 12, drop=5),
        Column("Strategy", 10, drop=2),
        Column("Symbol", 10),
        Column("Side", 4),
        Column("Qty", 7, right=True),
        Column("Avg", 9, right=True, drop=4),
        Column("Status", 9),
        Column("Detail", 6, flex=True, drop=6),
    )
    EMPTY_TEXT = "no orders yet"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.ORDERS))
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "order-list--buy",
        "order-list--sell",
        "order-list--open",
        "order-list--filled",
        "order-list--failed",
        "order-list--cancelled",
    }

    def row_key(self, row: OrderRow) -> Hashable:
        return row.order_id

    def row_version(self, row: OrderRow) -> int:
        return row.version

    def cells(self, row: OrderRow) -> Sequence[Cell]:
        side = self.get_component_rich_style(
            "order-list--buy" if row.side is Side.BUY else "order-list--sell", partial=True
        )
        status = self.get_component_rich_style(STATUS_CLASSES[row.status], partial=True)
        detail = row.detail or (row.order_type if row.limit_price is None else f"@{price(row.limit_price)}")
        return (
            (ist_hms(row.placed_ts), None),
            (row.order_id, None),
            (row.strategy_id, None),
            (row.symbol, None),
            (row.side.value, side),
            (f"{row.filled_quantity}/{row.quantity}", None),
            (price(row.average_price), None),
            (row.status.value, status),
            (detail, None),
        )
