"""Zerodha equity charges for one fill, from the rates in settings.

Rates follow Zerodha's published brokerage calculator (intraday MIS and
delivery CNC); they change, so they live in config. Every component is
rounded to paise on its own by the rule in `engine.money` (GST on the
rounded base). Brokerage is capped per executed order, so a caller filling
one order in parts passes the brokerage already charged on it.
"""

from __future__ import annotations

from engine.events import Charges, Product, Side
from engine.money import round_paise
from engine.settings import ChargeRates, ChargesSettings

NO_CHARGES = Charges()
_CRORE = 10_000_000.0


class ChargeCalculator:
    def __init__(self, settings: ChargesSettings) -> None:
        self.enabled = settings.enabled
        self._rates: dict[Product, ChargeRates] = {
            Product.MIS: settings.intraday,
            Product.CNC: settings.delivery,
            Product.NRML: settings.intraday,  # derivatives' own rates are not modelled: an estimate
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
        brokerage = round_paise(min(turnover * rates.brokerage_pct / 100.0, cap_left))
        stt_pct = rates.stt_buy_pct if side is Side.BUY else rates.stt_sell_pct
        stt = round_paise(turnover * stt_pct / 100.0)
        exchange = round_paise(turnover * rates.exchange_pct / 100.0)
        sebi = round_paise(turnover * rates.sebi_per_crore / _CRORE)
        gst = round_paise((brokerage + sebi + exchange) * rates.gst_pct / 100.0)
        stamp = round_paise(turnover * rates.stamp_buy_pct / 100.0) if side is Side.BUY else 0.0
        return Charges(
            brokerage=brokerage,
            stt=stt,
            exchange=exchange,
            sebi=sebi,
            gst=gst,
            stamp_duty=stamp,
        )
