"""The sandbox's NFO contracts: the month's NIFTY and BANKNIFTY futures and a few NIFTY options, priced
from their underlying index in the simulated market. Every tick of an index gives each of its
contracts a tick: a future at the index plus its cost of carry, an option at its intrinsic value plus a
time value that shrinks with the distance from the strike; books five levels deep, in whole lots."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from engine.events import DepthLevel, MarketTick
from engine.instruments import Instrument, InstrumentRegistry
from engine.market.calendar import IST

NFO_SEGMENT_CODE = 2
NIFTY_INDEX = 256265  # NSE:NIFTY 50
BANKNIFTY_INDEX = 260105  # NSE:NIFTY BANK
UNDERLYING_INDEX = {"NIFTY": NIFTY_INDEX, "BANKNIFTY": BANKNIFTY_INDEX}
INDEX_SEED_LEVELS = {"NIFTY": 25900.0, "BANKNIFTY": 58000.0}  # the shipped sample's
LOT_SIZES = {"NIFTY": 75, "BANKNIFTY": 35}
# NSE's freeze quantities (units per order); Kite refuses an order above them unless it autoslices
FREEZE_QUANTITIES = {"NIFTY": 1800, "BANKNIFTY": 900}
FUTURE_TICK_SIZE = 0.10
OPTION_TICK_SIZE = 0.05
CARRY_RATE = 0.07  # a year, for the futures' premium over the index
VOLATILITY = 0.13  # a year, for the options' time value
BOOK_LOTS = 40  # lots at each of the five levels of a contract's book
# (underlying, exchange token, instrument type, strike); tokens fixed so tests can name them
CONTRACTS: tuple[tuple[str, int, str, float], ...] = (
    ("NIFTY", 51714, "FUT", 0.0),
    ("BANKNIFTY", 51701, "FUT", 0.0),
    ("NIFTY", 48225, "CE", 26000.0),
    ("NIFTY", 48226, "PE", 26000.0),
    ("NIFTY", 48301, "CE", 26500.0),
)


def monthly_expiry(today: date) -> date:
    """The month's expiry (its last Tuesday), or next month's once this month's has passed."""
    expiry = _last_tuesday(today.year, today.month)
    if today > expiry:
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        expiry = _last_tuesday(year, month)
    return expiry


def _last_tuesday(year: int, month: int) -> date:
    first_next = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    last = first_next - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 1) % 7)


def nfo_contracts(today: date | None = None) -> list[Instrument]:
    """The sandbox's NFO instruments for the month of `today` (IST today by default)."""
    expiry = monthly_expiry(today or datetime.now(IST).date())
    month = expiry.strftime("%y%b").upper()  # 26DEC
    out = []
    for name, exchange_token, kind, strike in CONTRACTS:
        future = kind == "FUT"
        symbol = f"{name}{month}FUT" if future else f"{name}{month}{strike:.0f}{kind}"
        out.append(
            Instrument(
                instrument_token=exchange_token << 8 | NFO_SEGMENT_CODE,
                exchange_token=exchange_token,
                tradingsymbol=symbol,
                name=name,
                last_price=INDEX_SEED_LEVELS[name],
                tick_size=FUTURE_TICK_SIZE if future else OPTION_TICK_SIZE,
                lot_size=LOT_SIZES[name],
                instrument_type=kind,
                segment="NFO-FUT" if future else "NFO-OPT",
                exchange="NFO",
                expiry=expiry,
                strike=strike,
            )
        )
    return out


def priced_from_index(instrument: Instrument, registry: InstrumentRegistry) -> bool:
    """Whether the contract follows its index (which must be in the market); else it walks on its own."""
    index = UNDERLYING_INDEX.get(instrument.name)
    return (
        instrument.exchange == "NFO"
        and index is not None
        and index in registry
        and instrument.expiry is not None
    )


def fair_price(contract: Instrument, spot: float, today: date) -> float:
    """The contract's price with the index at `spot`, on its tick grid (never below one tick)."""
    assert contract.expiry is not None
    years = max((contract.expiry - today).days, 0) / 365.0 + 1.0 / 365.0
    if contract.instrument_type == "FUT":
        value = spot * (1.0 + CARRY_RATE * years)
    else:
        spread = spot * VOLATILITY * math.sqrt(years)
        intrinsic = max(
            0.0, spot - contract.strike if contract.instrument_type == "CE" else contract.strike - spot
        )
        distance = (contract.strike - spot) / spread
        value = intrinsic + 0.4 * spread * math.exp(-distance * distance / 2.0)
    size = contract.tick_size
    return round(max(size, round(value / size) * size), 2)


class IndexDerivatives:
    """Ticks for each contract whenever its underlying index ticks."""

    def __init__(self, contracts: list[Instrument], today: date | None = None) -> None:
        self._today = today or self.today()
        self._by_index: dict[int, list[Instrument]] = {}
        self._volume: dict[int, int] = {}
        for contract in contracts:
            self._by_index.setdefault(UNDERLYING_INDEX[contract.name], []).append(contract)
            self._volume[contract.instrument_token] = 0

    @staticmethod
    def today() -> date:
        return datetime.now(IST).date()

    def __bool__(self) -> bool:
        return bool(self._by_index)

    def follow(self, ticks: list[MarketTick]) -> list[MarketTick]:
        """`ticks` plus a tick for every contract of each index among them."""
        by_index = self._by_index
        out = ticks
        for tick in ticks:
            contracts = by_index.get(tick.instrument_token)
            if contracts:
                if out is ticks:
                    out = list(ticks)
                out.extend(self._tick(contract, tick) for contract in contracts)
        return out

    def _tick(self, contract: Instrument, index: MarketTick) -> MarketTick:
        today = self._today
        price = fair_price(contract, index.last_price, today)
        close = fair_price(contract, index.close, today) if index.close else price
        size = contract.tick_size
        depth = contract.lot_size * BOOK_LOTS
        token = contract.instrument_token
        lot = contract.lot_size
        volume = self._volume[token] + lot
        self._volume[token] = volume
        bids = tuple(DepthLevel(round(max(size, price - size * (i + 1)), 2), depth, 4) for i in range(5))
        asks = tuple(DepthLevel(round(price + size * (i + 1), 2), depth, 4) for i in range(5))
        day = [fair_price(contract, level, today) for level in (index.high, index.low) if level]
        return MarketTick(
            token,
            price,
            index.exchange_ts,
            lot,
            price,
            volume,
            depth * 5,
            depth * 5,
            fair_price(contract, index.open, today) if index.open else price,
            max([price, *day]),
            min([price, *day]),
            close,
            (price - close) * 100.0 / close if close else 0.0,
            bids,
            asks,
        )
