"""The exchange's freeze quantity: an F&O order may carry at most so many units of its underlying.
Kite refuses a larger order at the call unless it is sent for autoslicing, which the sandbox does not
emulate."""

from __future__ import annotations

from collections.abc import Mapping

from kite_sandbox.errors import ErrorType, KiteError
from kite_sandbox.matching.order import OrderRequest

FNO_EXCHANGES = frozenset({"NFO", "BFO"})


def check_freeze(request: OrderRequest, freeze_quantities: Mapping[str, int], *, autoslice: bool) -> None:
    inst = request.instrument
    if inst.exchange not in FNO_EXCHANGES:
        return
    limit = freeze_quantities.get(inst.name.upper())
    if limit is None or request.quantity <= limit:
        return
    if autoslice:
        raise KiteError(
            400,
            f"Autoslice is not emulated by the sandbox: send {inst.exchange_symbol} in orders of at most "
            f"{limit} (its freeze limit).",
            ErrorType.INPUT,
        )
    raise KiteError(
        400,
        f"Quantity exceeds the freeze limit of {limit} for {inst.exchange_symbol}. Place orders of at most "
        f"{limit} or use autoslice.",
        ErrorType.INPUT,
    )
