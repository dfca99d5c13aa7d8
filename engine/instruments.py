"""Instrument reference data (Kite instruments-dump columns) and lookups."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from assets import asset_path

SAMPLE_INSTRUMENTS_FILE = "instruments.csv"
INDICES_SEGMENT = "INDICES"


@dataclass(frozen=True, slots=True)
class Instrument:
    instrument_token: int
    exchange_token: int
    tradingsymbol: str
    name: str
    last_price: float  # indicative level used to seed the simulator
    tick_size: float
    lot_size: int
    instrument_type: str
    segment: str
    exchange: str
    expiry: date | None = None  # derivatives only
    strike: float = 0.0  # options only

    @property
    def tradable(self) -> bool:
        return self.segment != INDICES_SEGMENT

    @property
    def key(self) -> str:
        """Partition key for this instrument's ticks."""
        return str(self.instrument_token)

    @property
    def exchange_symbol(self) -> str:
        """ "NSE:INFY", as Kite's quote calls name an instrument."""
        return f"{self.exchange}:{self.tradingsymbol}"


class UnknownInstrument(KeyError):
    pass


class InstrumentRegistry:
    """Instruments by token and by symbol.

    A symbol is looked up as "INFY" or "NSE:INFY". The same symbol on two exchanges (INFY on
    NSE and BSE) answers to its bare name on the exchange registered first; the other needs
    its exchange prefix.
    """

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_token: dict[int, Instrument] = {}
        self._by_symbol: dict[str, Instrument] = {}
        for inst in instruments:
            self._by_token[inst.instrument_token] = inst
            self._by_symbol.setdefault(inst.tradingsymbol.upper(), inst)
            self._by_symbol[inst.exchange_symbol.upper()] = inst

    def add_new(self, instruments: Iterable[Instrument]) -> int:
        """Add the instruments whose token is not known yet (a new day's contracts); how many.

        Known ones are left as they are: whoever resolved them keeps the same object.
        """
        added = 0
        for inst in instruments:
            if inst.instrument_token in self._by_token:
                continue
            self._by_token[inst.instrument_token] = inst
            self._by_symbol.setdefault(inst.tradingsymbol.upper(), inst)
            self._by_symbol.setdefault(inst.exchange_symbol.upper(), inst)
            added += 1
        return added

    @classmethod
    def from_csv(cls, path: Path) -> InstrumentRegistry:
        return cls(read_instruments_csv(path))

    @classmethod
    def sample(cls) -> InstrumentRegistry:
        """The NSE sample shipped in assets/ (real Kite tokens)."""
        return cls.from_csv(asset_path(SAMPLE_INSTRUMENTS_FILE))

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_token.values())

    def __len__(self) -> int:
        return len(self._by_token)

    def __contains__(self, token: object) -> bool:
        return token in self._by_token

    def by_token(self, token: int) -> Instrument:
        try:
            return self._by_token[token]
        except KeyError:
            raise UnknownInstrument(f"no instrument with token {token}") from None

    def get(self, token: int) -> Instrument | None:
        return self._by_token.get(token)

    def by_symbol(self, symbol: str) -> Instrument:
        try:
            return self._by_symbol[symbol.upper()]
        except KeyError:
            raise UnknownInstrument(f"no instrument with symbol {symbol!r}") from None

    def symbol(self, token: int) -> str:
        inst = self._by_token.get(token)
        return inst.tradingsymbol if inst else str(token)

    def tradable(self) -> list[Instrument]:
        return [i for i in self._by_token.values() if i.tradable]

    def select(self, symbols: Iterable[str]) -> list[Instrument]:
        """Instruments by symbol; an empty selection means all of them."""
        wanted = list(symbols)
        return [self.by_symbol(s) for s in wanted] if wanted else list(self._by_token.values())


def read_instruments_csv(path: Path) -> list[Instrument]:
    """Every row of an instruments CSV (Kite's dump columns); ValueError names a bad line."""
    with path.open(newline="", encoding="utf-8") as fh:
        return list(parse_instrument_rows(csv.DictReader(fh), str(path)))


def parse_instrument_rows(rows: Iterable[dict[str, str]], source: str) -> Iterator[Instrument]:
    for line, row in enumerate(rows, start=2):
        try:
            if None in row or None in row.values():  # a truncated row, or one with fields to spare
                raise ValueError("a different number of fields from the header")
            expiry = row.get("expiry") or ""
            yield Instrument(
                instrument_token=int(row["instrument_token"]),
                exchange_token=int(row["exchange_token"]),
                tradingsymbol=row["tradingsymbol"],
                name=row["name"],
                last_price=float(row["last_price"] or 0),
                tick_size=float(row["tick_size"] or 0),
                lot_size=int(row["lot_size"] or 0),
                instrument_type=row["instrument_type"],
                segment=row["segment"],
                exchange=row["exchange"],
                expiry=date.fromisoformat(expiry) if expiry else None,
                strike=float(row.get("strike") or 0),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{source}:{line}: bad instrument row ({exc})") from exc
