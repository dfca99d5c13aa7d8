"""Zerodha equity charges for one fill, from the rates in settings.

Rates follow Zerodha's published brokerage calculator (intraday MIS and
delivery CNC); they change, so they live in config. Every component is
rounded to paise. Brokerage is capped per executed order, so a caller
filling one order in parts passes the brokerage already charged on it.
"""

from __future__ import annotations

import math

from engine.events import Charges, Product, Side
from engine.settings import ChargeRates, ChargesSettings

NO_CHARGES = Charges()
_CRORE = 10_000_000.0


def to_paise(amount: float) -> float:
    """Round half up to 2 dp (the epsilon: a float 4.15499999 that means 4.155 rounds up)."""
    return math.floor(amount * 100.0 + 0.5 + 1e-7) / 100.0


class ChargeCalculator:
    def __init__(self, settings: ChargesSettings) -> None:
        self.enabled = settings.enabled
        self._rates: dict[Product, ChargeRates] = {
            Product.MIS: settings.intraday,
            Product.CNC: settings.delivery,
        }

    def compute(
        self,
        side: Side,
        product: Product,
        quantity: int,
        price: float,
        *,
        order_brokerage: float = 0.0,
    ) -> Charges:
        """Charges on one fill; `order_brokerage` is what earlier fills of the same order already paid."""
        if not self.enabled or quantity <= 0:
            return NO_CHARGES
        rates = self._rates[product]
        turnover = quantity * price
        cap_left = max(rates.brokerage_cap - order_brokerage, 0.0)
        brokerage = to_paise(min(turnover * rates.brokerage_pct / 100.0, cap_left))
        stt_pct = rates.stt_buy_pct if side is Side.BUY else rates.stt_sell_pct
        stt = to_paise(turnover * stt_pct / 100.0)
        exchange = to_paise(turnover * rates.exchange_pct / 100.0)
        sebi = to_paise(turnover * rates.sebi_per_crore / _CRORE)
        gst = to_paise((brokerage + sebi + exchange) * rates.gst_pct / 100.0)
        stamp = to_paise(turnover * rates.stamp_buy_pct / 100.0) if side is Side.BUY else 0.0
        return Charges(
            brokerage=brokerage,
            stt=stt,
            exchange=exchange,
            sebi=sebi,
            gst=gst,
            stamp_duty=stamp,
        )
