"""What every broker client does, paper or live: the engine routes each namespace's validated
signals to its client and stops them all through this one interface."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from engine.events import Namespace


@runtime_checkable
class ExecutionClient(Protocol):
    namespace: Namespace

    def open_orders(self) -> dict[str, int]:
        """Order id -> quantity still to fill, for every working order."""
        ...

    async def cancel(self, order_id: str, reason: str) -> bool:
        """Cancel one working order; False if it is not working (filled, cancelled, unknown)."""
        ...

    async def cancel_all(self, reason: str) -> int:
        """Cancel every working order; returns how many cancels were made."""
        ...

    async def flatten(
        self, reason: str, strategy_id: str | None = None, instrument_token: int | None = None
    ) -> int:
        """Close open positions (all, one strategy's, one instrument's, or both filters) with
        MARKET orders, after cancelling the working orders in that scope; returns orders placed."""
        ...

    async def close(self, reason: str) -> int:
        """Stop accepting orders (and, for paper, cancel the working ones); returns cancels made."""
        ...
