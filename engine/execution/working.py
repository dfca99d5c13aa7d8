"""An order that storage holds as still working: the hand-over from one engine run to the next."""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import OrderPlaced


@dataclass(frozen=True, slots=True)
class UnresolvedOrder:
    """A stored order with no terminal state: placed or part-filled, never filled in full,
    cancelled or failed. After a restart nothing will ever fill a paper one."""

    order: OrderPlaced
    filled_quantity: int  # the sum of its stored fills
    correlation_id: str

    @property
    def remaining(self) -> int:
        return max(self.order.quantity - self.filled_quantity, 0)
