"""The sandbox account's order desk. This version has no matching engine: the book is empty and
placing, modifying or cancelling answers a clear error. Part 2's matching engine implements
`OrderDesk` and is handed to `KiteSandbox` in place of `NoOrderDesk`."""

from __future__ import annotations

from typing import Any, Protocol

from kite_sandbox.errors import ErrorType, KiteError

NOT_YET = "sandbox: order placement is not emulated yet (it arrives with part 2's matching engine)"

Row = dict[str, Any]


class OrderDesk(Protocol):
    def orders(self) -> list[Row]: ...
    def order_history(self, order_id: str) -> list[Row]: ...
    def trades(self) -> list[Row]: ...
    def order_trades(self, order_id: str) -> list[Row]: ...
    def positions(self) -> dict[str, list[Row]]: ...
    def place(self, variety: str, form: dict[str, str]) -> str: ...
    def modify(self, variety: str, order_id: str, form: dict[str, str]) -> str: ...
    def cancel(self, variety: str, order_id: str) -> str: ...


class NoOrderDesk:
    """An account that has placed nothing and cannot place anything yet."""

    def orders(self) -> list[Row]:
        return []

    def order_history(self, order_id: str) -> list[Row]:
        raise KiteError(400, f"Couldn't find that `order_id` ({order_id}).", ErrorType.INPUT)

    def trades(self) -> list[Row]:
        return []

    def order_trades(self, order_id: str) -> list[Row]:
        raise KiteError(400, f"Couldn't find that `order_id` ({order_id}).", ErrorType.INPUT)

    def positions(self) -> dict[str, list[Row]]:
        return {"net": [], "day": []}

    def place(self, variety: str, form: dict[str, str]) -> str:
        raise KiteError(400, NOT_YET, ErrorType.ORDER)

    def modify(self, variety: str, order_id: str, form: dict[str, str]) -> str:
        raise KiteError(400, NOT_YET, ErrorType.ORDER)

    def cancel(self, variety: str, order_id: str) -> str:
        raise KiteError(400, NOT_YET, ErrorType.ORDER)
