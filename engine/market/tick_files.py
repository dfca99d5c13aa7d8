"""Tick files: CSV (and Parquet, same columns) readers and writers, and a replay TickSource.

The schema is documented in docs/tick-format.md. Floats are written with
`repr`, so a written tick reads back into an identical MarketTick: a replay of
a recording is the same input the live pipeline saw.

Reading has two paths that give identical ticks. The fast one parses with
Arrow and builds ticks column by column with C-level maps. The row reader
defines the semantics: from the first batch the fast path cannot take on
(a malformed cell, an unusual shape), reading continues row by row, which
either handles the row or raises a TickFileError naming file, line and column.
"""

from __future__ import annotations

import csv
import gc
import importlib.util
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from itertools import chain, islice, repeat
from pathlib import Path
from typing import Any, TextIO

from engine.events import DepthLevel, MarketTick
from engine.file_paths import not_a_file
from engine.instruments import InstrumentRegistry, UnknownInstrument
from engine.market.calendar import IST

DEPTH_LEVELS = 5
SIDES = ("bid", "ask")
DEPTH_FIELDS = ("price", "qty", "orders")

BASE_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "instrument_token",
    "symbol",
    "last_price",
    "last_quantity",
    "volume",
    "average_price",
    "buy_quantity",
    "sell_quantity",
    "open",
    "high",
    "low",
    "close",
    "change",
)
DEPTH_COLUMNS: tuple[str, ...] = tuple(
    f"{side}_{field}_{level}"
    for side in SIDES
    for field in DEPTH_FIELDS
    for level in range(1, DEPTH_LEVELS + 1)
)
COLUMNS: tuple[str, ...] = BASE_COLUMNS + DEPTH_COLUMNS

ALIASES = {"price": "last_price", "quantity": "last_quantity"}
INT_COLUMNS = frozenset(
    {"instrument_token", "last_quantity", "volume", "buy_quantity", "sell_quantity"}
    | {c for c in DEPTH_COLUMNS if "_price_" not in c}
)
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})

_INF = math.inf
_NUMPY = importlib.util.find_spec("numpy") is not None
_EMPTY_SIDE = ("",) * (DEPTH_LEVELS * len(DEPTH_FIELDS))


class TickFileError(ValueError):
    """A tick file that cannot be read: names the file, the line (or row) and the column."""

    def __init__(
        self, path: Path, line: int | None, column: str | None, reason: str, *, unit: str = "line"
    ) -> None:
        where = str(path) if line is None else f"{path}:{unit} {line}"
        what = f"column {column!r}: {reason}" if column else reason
        super().__init__(f"{where}: {what}")
        self.path = path
        self.line = line
        self.column = column
        self.reason = reason
        self.unit = unit

    def __reduce__(self) -> tuple[Any, ...]:  # so a sweep worker's error reaches the parent intact
        return (_tick_file_error, (self.path, self.line, self.column, self.reason, self.unit))


def _tick_file_error(
    path: Path, line: int | None, column: str | None, reason: str, unit: str
) -> TickFileError:
    return TickFileError(path, line, column, reason, unit=unit)


# ----------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------


def _depth_cells(levels: tuple[DepthLevel, ...]) -> list[str]:
    if not levels:
        return list(_EMPTY_SIDE)
    shown = levels[:DEPTH_LEVELS]
    pad = [""] * (DEPTH_LEVELS - len(shown))
    return (
        [repr(level.price) for level in shown]
        + pad
        + [str(level.quantity) for level in shown]
        + pad
        + [str(level.orders) for level in shown]
        + pad
    )


def tick_row(tick: MarketTick, symbol: str = "") -> list[str]:
    """One CSV row, in COLUMNS order; floats as repr so reading them back is exact."""
    row = [
        repr(tick.exchange_ts),
        str(tick.instrument_token),
        symbol,
        repr(tick.last_price),
        str(tick.last_quantity),
        str(tick.volume),
        repr(tick.average_price),
        str(tick.buy_quantity),
        str(tick.sell_quantity),
        repr(tick.open),
        repr(tick.high),
        repr(tick.low),
        repr(tick.close),
        repr(tick.change),
    ]
    row += _depth_cells(tick.bids)
    row += _depth_cells(tick.asks)
    return row


class TickCsvWriter:
    """Appends ticks as CSV rows to an open text file (the caller owns and flushes it)."""

    def __init__(
        self, fh: TextIO, instruments: InstrumentRegistry | None = None, *, header: bool = True
    ) -> None:
        self._writer = csv.writer(fh, lineterminator="\n")
        self._symbols: dict[int, str] = (
            {inst.instrument_token: inst.tradingsymbol for inst in instruments} if instruments else {}
        )
        self.rows = 0
        if header:
            self._writer.writerow(COLUMNS)

    def write(self, tick: MarketTick) -> None:
        self._writer.writerow(tick_row(tick, self._symbols.get(tick.instrument_token, "")))
        self.rows += 1

    def write_many(self, ticks: Iterable[MarketTick]) -> int:
        before = self.rows
        for tick in ticks:
            self.write(tick)
        return self.rows - before


def write_ticks(
    path: Path | str, ticks: Iterable[MarketTick], instruments: InstrumentRegistry | None = None
) -> int:
    """Write a whole tick file, CSV or Parquet by suffix; returns the number of rows."""
    path = Path(path)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return _write_parquet(path, ticks, instruments)
    with path.open("w", newline="", encoding="utf-8") as fh:
        return TickCsvWriter(fh, instruments).write_many(ticks)


def _write_parquet(path: Path, ticks: Iterable[MarketTick], instruments: InstrumentRegistry | None) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    symbols = {inst.instrument_token: inst.tradingsymbol for inst in instruments} if instruments else {}
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    base = [columns[name] for name in BASE_COLUMNS]
    depth = [columns[name] for name in DEPTH_COLUMNS]
    for tick in ticks:
        values = (
            tick.exchange_ts,
            tick.instrument_token,
            symbols.get(tick.instrument_token, ""),
            tick.last_price,
            tick.last_quantity,
            tick.volume,
            tick.average_price,
            tick.buy_quantity,
            tick.sell_quantity,
            tick.open,
            tick.high,
            tick.low,
            tick.close,
            tick.change,
        )
        for column, value in zip(base, values, strict=True):
            column.append(value)
        cells: list[Any] = []
        for levels in (tick.bids, tick.asks):
            shown = levels[:DEPTH_LEVELS]
            pad = [None] * (DEPTH_LEVELS - len(shown))
            cells += [lv.price for lv in shown] + pad
            cells += [lv.quantity for lv in shown] + pad
            cells += [lv.orders for lv in shown] + pad
        for column, value in zip(depth, cells, strict=True):
            column.append(value)
    schema = pa.schema(
        [
            (
                name,
                pa.string() if name == "symbol" else pa.int64() if name in INT_COLUMNS else pa.float64(),
            )
            for name in COLUMNS
        ]
    )
    pq.write_table(pa.table(columns, schema=schema), path)
    return len(columns["timestamp"])


# ----------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and value != value)


def _plain_text(text: str) -> str:
    """A number or time as text: plain ASCII, no digit separators (Python's int() and float()
    also take "1_000" and non-ASCII digits, which the documented grammar does not)."""
    if not text.isascii() or "_" in text:
        raise ValueError(f"{text!r} is not plain ASCII")
    return text


def _to_float(value: Any) -> float:
    return float(_plain_text(value) if isinstance(value, str) else value)


def _to_int(value: Any) -> int:
    """An integer cell; an integral float ("100.0", 100.0) is accepted, a fraction is not."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(_plain_text(value))
        except ValueError:
            pass
    number = _to_float(value)
    if not number.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


def _iso_seconds(text: str) -> float:
    """ISO-8601 to epoch seconds; a time without an offset is taken as IST (exchange time)."""
    return _datetime_seconds(datetime.fromisoformat(_plain_text(text).strip()))


def _datetime_seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=IST)
    return moment.timestamp()


def _any_timestamp(value: Any) -> float:
    if isinstance(value, datetime):
        return _datetime_seconds(value)
    if isinstance(value, str):
        try:
            return _to_float(value)
        except ValueError:
            return _iso_seconds(value)
    return float(value)


class _Unreadable:
    """A Parquet cell Python cannot hold (a timestamp beyond year 9999): the row reader names it."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Layout:
    """A file's header: which canonical column is at which position, under which raw name."""

    def __init__(self, path: Path, header: Sequence[str], *, unit: str) -> None:
        self.path = path
        self.unit = unit
        self.width = len(header)
        self.index: dict[str, int] = {}
        self.raw: dict[str, str] = {}
        line = 1 if unit == "line" else None  # a Parquet schema has no line
        for position, raw in enumerate(header):
            name = str(raw).strip().lower()
            name = ALIASES.get(name, name)
            if name in self.index:
                raise TickFileError(path, line, name, "appears twice in the header")
            self.index[name] = position
            self.raw[name] = str(raw)
        for required, alias in (("last_price", "price"), ("last_quantity", "quantity")):
            if required not in self.index:
                raise TickFileError(path, line, required, f"missing required column (or {alias!r})")
        if "timestamp" not in self.index:
            raise TickFileError(path, line, "timestamp", "missing required column")
        if "instrument_token" not in self.index and "symbol" not in self.index:
            raise TickFileError(path, line, "instrument_token", "missing required column (or 'symbol')")

    def known_columns(self) -> dict[str, str]:
        """Canonical name -> raw header name, for the columns the schema knows."""
        return {name: raw for name, raw in self.raw.items() if name in _COLUMN_SET}


_COLUMN_SET = frozenset(COLUMNS)


# -- row by row: the reference semantics, and the error messages ------------


class _RowReader:
    """One row (cells as text, or typed values from Parquet) to a MarketTick, or a TickFileError."""

    def __init__(self, layout: _Layout, instruments: InstrumentRegistry | None) -> None:
        self.layout = layout
        self.instruments = instruments

    def tick(self, row: Sequence[Any], line: int) -> MarketTick:
        index = self.layout.index
        path, unit = self.layout.path, self.layout.unit

        def fail(column: str, reason: str) -> TickFileError:
            return TickFileError(path, line, column, reason, unit=unit)

        def cell(name: str) -> Any:
            position = index.get(name)
            if position is None:
                return None
            value = row[position]
            if type(value) is _Unreadable:
                raise fail(name, value.reason)
            return value

        def number(name: str, *, integer: bool) -> Any:
            value = cell(name)
            if _empty(value):
                return 0 if integer else 0.0
            try:
                result = _to_int(value) if integer else _to_float(value)
            except (ValueError, TypeError, OverflowError):
                raise fail(name, f"{value!r} is not {'an integer' if integer else 'a number'}") from None
            if not math.isfinite(result):
                raise fail(name, f"{value!r} is not a finite number")
            return result

        value = cell("timestamp")
        if _empty(value):
            raise fail("timestamp", "empty")
        try:
            ts = _any_timestamp(value)
        except (ValueError, TypeError, OverflowError):
            raise fail("timestamp", f"{value!r} is neither epoch seconds nor ISO-8601") from None
        if not math.isfinite(ts):
            raise fail("timestamp", f"{value!r} is not a finite time")
        token = self._token(cell("instrument_token"), cell("symbol"), fail)
        last_price = number("last_price", integer=False)
        if not last_price > 0:
            raise fail("last_price", f"{cell('last_price')!r} is not a positive price")
        depth: list[tuple[DepthLevel, ...]] = []
        for side in SIDES:
            levels: list[DepthLevel] = []
            for lv in range(1, DEPTH_LEVELS + 1):
                if _empty(cell(f"{side}_price_{lv}")):
                    break
                levels.append(
                    DepthLevel(
                        number(f"{side}_price_{lv}", integer=False),
                        number(f"{side}_qty_{lv}", integer=True),
                        number(f"{side}_orders_{lv}", integer=True),
                    )
                )
            depth.append(tuple(levels))
        return MarketTick(
            token,
            last_price,
            ts,
            number("last_quantity", integer=True),
            number("average_price", integer=False),
            number("volume", integer=True),
            number("buy_quantity", integer=True),
            number("sell_quantity", integer=True),
            number("open", integer=False),
            number("high", integer=False),
            number("low", integer=False),
            number("close", integer=False),
            number("change", integer=False),
            depth[0],
            depth[1],
        )

    def _token(self, token: Any, symbol: Any, fail: Callable[[str, str], TickFileError]) -> int:
        if not _empty(token):
            try:
                return _to_int(token)
            except (ValueError, TypeError, OverflowError):
                raise fail("instrument_token", f"{token!r} is not an integer") from None
        if _empty(symbol):
            raise fail("symbol", "neither an instrument_token nor a symbol")
        if self.instruments is None:
            raise fail("symbol", f"unknown symbol {symbol!r} (no instrument list to look it up in)")
        try:
            return self.instruments.by_symbol(str(symbol).strip()).instrument_token
        except UnknownInstrument:
            raise fail("symbol", f"unknown symbol {symbol!r}") from None


class _Lines:
    """The lines of a text file opened with errors="surrogateescape", noting whether the lines
    handed out since `dirty` was last cleared held a byte that is not UTF-8."""

    def __init__(self, fh: TextIO) -> None:
        self._lines = iter(fh)
        self.dirty = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if not line.isascii() and not self.dirty:
            self.dirty = _undecodable(line) is not None
        return line


def _undecodable(text: str) -> int | None:
    """The first byte of `text` (decoded with surrogateescape) that was not UTF-8, if any."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return ord(text[exc.start]) - 0xDC00
    return None


@contextmanager
def _csv_reader(path: Path) -> Iterator[tuple[Any, _Lines]]:
    """A csv.reader over the file and its line source; an unreadable file is a TickFileError."""
    try:
        fh = path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")
    except OSError as exc:
        raise TickFileError(path, None, None, f"cannot be read ({exc.strerror or exc})") from None
    with fh:
        lines = _Lines(fh)
        yield csv.reader(lines), lines


def _next_row(path: Path, reader: Any) -> list[str] | None:
    try:
        row: list[str] = next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        raise TickFileError(path, reader.line_num, None, f"not valid CSV ({exc})") from None
    except OSError as exc:
        raise TickFileError(path, reader.line_num + 1, None, f"cannot be read ({exc})") from None
    return row


def _csv_layout(path: Path, reader: Any, lines: _Lines) -> _Layout:
    header = _next_row(path, reader)
    if header is None:
        raise TickFileError(path, None, None, "empty file (no header)")
    try:
        return _Layout(path, header, unit="line")
    except TickFileError:
        if lines.dirty:
            reason = "the header is not UTF-8 text: is this a CSV tick file?"
            raise TickFileError(path, 1, None, reason) from None
        raise


def _csv_rows(path: Path, instruments: InstrumentRegistry | None) -> Iterator[MarketTick]:
    with _csv_reader(path) as (reader, lines):
        layout = _csv_layout(path, reader, lines)
        to_tick = _RowReader(layout, instruments).tick
        width = layout.width
        known = [(name, layout.index[name]) for name in layout.known_columns()]
        while (row := _next_row(path, reader)) is not None:
            if lines.dirty:  # only the cells the schema reads must be text; unknown columns are ignored
                lines.dirty = False
                _check_text(path, reader.line_num, row, known)
            if len(row) == width:
                yield to_tick(row, reader.line_num)
            elif row:  # a blank line is skipped
                raise TickFileError(
                    path, reader.line_num, None, f"the row has {len(row)} cells, the header {width}"
                )


def _check_text(path: Path, line: int, row: list[str], known: list[tuple[str, int]]) -> None:
    for name, position in known:
        if position < len(row) and (byte := _undecodable(row[position])) is not None:
            raise TickFileError(path, line, name, f"not UTF-8 text (byte 0x{byte:02x})")


def _parquet_file(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        parquet.schema_arrow.names  # noqa: B018  (decoded now, so a damaged name fails here)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:  # a column name not UTF-8
        raise TickFileError(path, None, None, f"not a readable Parquet file ({exc})") from None
    return parquet


def _parquet_rows(path: Path, instruments: InstrumentRegistry | None) -> Iterator[MarketTick]:
    import pyarrow as pa

    parquet = _parquet_file(path)
    names = list(_Layout(path, parquet.schema_arrow.names, unit="row").known_columns().values())
    to_tick = _RowReader(_Layout(path, names, unit="row"), instruments).tick
    first = 1
    for group in range(parquet.num_row_groups):
        try:
            table = parquet.read_row_group(group, columns=names)
        except (pa.ArrowException, OSError) as exc:
            reason = f"damaged data (row group {group + 1} of {parquet.num_row_groups}): {exc}"
            raise TickFileError(path, first, None, reason, unit="row") from None
        columns = [_cells(table.column(name)) for name in names]
        for number, row in enumerate(zip(*columns, strict=True), start=first):
            yield to_tick(row, number)
        first += table.num_rows


def _cells(column: Any) -> list[Any]:
    """A Parquet column as Python values; a value Python cannot hold becomes an _Unreadable."""
    import pyarrow as pa

    try:
        cells: list[Any] = column.to_pylist()
        return cells
    except (OverflowError, ValueError, pa.ArrowException):
        pass
    cells = []
    for i in range(len(column)):
        try:
            cells.append(column[i].as_py())
        except (OverflowError, ValueError, pa.ArrowException):
            cells.append(_Unreadable(_unreadable_reason(column, i)))
    return cells


def _unreadable_reason(column: Any, i: int) -> str:
    import pyarrow as pa

    kind = column.type
    if pa.types.is_timestamp(kind):
        raw = column.slice(i, 1).cast(pa.int64())[0].as_py()
        return f"{raw} {kind.unit} from 1970 is out of range (year 1 to 9999)"
    return f"a {kind} value out of range"


# -- columnar: the fast path ------------------------------------------------


class _Unusual(Exception):
    """Something in a batch the columnar path leaves to the row reader (which handles or explains it)."""


def _csv_batches(path: Path, layout: _Layout) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    known = layout.known_columns()
    # integer columns parse as floats too: Arrow's integer parser also takes hex ("0x10"), which the
    # documented grammar (and the row reader) does not; _int_array makes them exact integers
    text = ("symbol", "timestamp")
    types = {raw: pa.string() if name in text else pa.float64() for name, raw in known.items()}
    options = pacsv.ConvertOptions(
        column_types=types,
        include_columns=list(known.values()),
        null_values=[""],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    yield from pacsv.open_csv(
        path, read_options=pacsv.ReadOptions(block_size=4 << 20), convert_options=options
    )


def _parquet_batches(path: Path, layout: _Layout) -> Iterator[Any]:
    import pyarrow.parquet as pq

    yield from pq.ParquetFile(path).iter_batches(
        batch_size=65_536, columns=list(layout.known_columns().values())
    )


class _ColumnarReader:
    """Arrow record batches to MarketTicks with C-level maps over whole columns."""

    def __init__(self, layout: _Layout, instruments: InstrumentRegistry | None) -> None:
        self.canonical = {raw: name for name, raw in layout.known_columns().items()}
        self.symbols = {inst.tradingsymbol.upper(): inst.instrument_token for inst in instruments or ()}

    def ticks(self, batch: Any) -> list[MarketTick]:
        import pyarrow as pa
        import pyarrow.compute as pc

        n = batch.num_rows
        columns = {self.canonical[name]: batch.column(i) for i, name in enumerate(batch.schema.names)}

        def finite(array: Any) -> Any:
            if pc.all(pc.is_finite(array)).as_py() is False:
                raise _Unusual("not finite")
            return array

        def filled(array: Any, value: float) -> Any:
            return pc.fill_null(array, value) if array.null_count else array

        def floats(name: str) -> Any:
            col = columns.get(name)
            if col is None:
                return repeat(0.0)
            return _plain(filled(finite(col.cast(pa.float64())), 0.0))

        def ints(name: str) -> Any:
            col = columns.get(name)
            if col is None:
                return repeat(0)
            return _plain(filled(_int_array(col), 0))

        def side(prefix: str) -> Any:
            prices: list[Any] = []
            for lv in range(1, DEPTH_LEVELS + 1):
                col = columns.get(f"{prefix}_price_{lv}")
                if col is None:
                    break  # levels stop at the first absent price
                prices.append(finite(col.cast(pa.float64())))
            if not prices or prices[0].null_count == n:
                return repeat(())
            levels = range(1, len(prices) + 1)
            # an empty quantity or order count is 0, so filling their nulls is the semantics
            quantities = [ints(f"{prefix}_qty_{lv}") for lv in levels]
            orders = [ints(f"{prefix}_orders_{lv}") for lv in levels]
            sides: list[tuple[DepthLevel, ...]] = list(
                zip(
                    *map(
                        partial(map, DepthLevel), [_plain(filled(p, 0.0)) for p in prices], quantities, orders
                    ),
                    strict=False,  # a level without quantities maps over an endless repeat(0)
                )
            )
            holes = [pc.is_null(p) if p.null_count else None for p in prices]
            gaps = None
            for hole in holes:
                if hole is not None:
                    gaps = hole if gaps is None else pc.or_(gaps, hole)
            if gaps is not None:  # rows whose levels stop early: keep those before the first empty price
                empty = [None if h is None else h.to_pylist() for h in holes]
                for i in pc.indices_nonzero(gaps).to_pylist():
                    depth = next(k for k, e in enumerate(empty) if e is not None and e[i])
                    sides[i] = sides[i][:depth]
            return sides

        stamps = columns["timestamp"]
        if stamps.null_count:
            raise _Unusual("empty timestamp")
        if pa.types.is_timestamp(stamps.type):
            ts: Any = list(map(_datetime_seconds, stamps.to_pylist()))
        elif pa.types.is_string(stamps.type) or pa.types.is_large_string(stamps.type):
            try:
                ts = _plain(finite(stamps.cast(pa.float64())))
            except pa.ArrowInvalid:
                ts = list(map(_iso_seconds, stamps.to_pylist()))
        else:
            ts = _plain(finite(stamps.cast(pa.float64())))

        last = finite(columns["last_price"].cast(pa.float64()))
        if last.null_count or (n and not pc.all(pc.greater(last, 0.0)).as_py()):
            raise _Unusual("last_price")
        return list(
            map(
                MarketTick,
                self._tokens(columns),
                _plain(last),
                ts,
                ints("last_quantity"),
                floats("average_price"),
                ints("volume"),
                ints("buy_quantity"),
                ints("sell_quantity"),
                floats("open"),
                floats("high"),
                floats("low"),
                floats("close"),
                floats("change"),
                side("bid"),
                side("ask"),
            )
        )

    def _tokens(self, columns: dict[str, Any]) -> list[int]:
        tokens = columns.get("instrument_token")
        if tokens is not None and not tokens.null_count:
            return _plain(_int_array(tokens))
        symbols = columns.get("symbol")
        if symbols is None or (tokens is not None and tokens.null_count < len(tokens)):
            raise _Unusual("instrument_token")
        by_symbol = self.symbols
        return [by_symbol[str(s).strip().upper()] for s in symbols.to_pylist()]


_EXACT_LIMIT = 2**53  # every integer below it in magnitude is an exact float


def _int_array(array: Any) -> Any:
    """An integer column as int64: integers as they are; floats (and number text) only when finite,
    exact and integral, as the row reader's integers; anything else is left to the row reader."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_integer(kind):
        return array.cast(pa.int64())
    if not (pa.types.is_floating(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise _Unusual(f"a {kind} integer column")
    ints = array.cast(pa.float64()).cast(pa.int64())  # a safe cast: a fraction, NaN or inf raises
    if ints.null_count < len(ints):
        low, high = pc.min_max(ints).values()
        if not (low.as_py() > -_EXACT_LIMIT and high.as_py() < _EXACT_LIMIT):
            raise _Unusual("beyond exact floats")
    return ints


def _plain(array: Any) -> list[Any]:
    """A null-free numeric Arrow array as Python numbers; through NumPy (when installed) it is
    two to three times faster than `to_pylist`."""
    if _NUMPY:
        values: list[Any] = array.to_numpy().tolist()
        return values
    plain: list[Any] = array.to_pylist()
    return plain


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic collector while a batch is built: its ~2 tuples per row cannot form
    cycles, yet would trigger hundreds of collections that cost a third of the read time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fast_then_careful(
    path: Path,
    batches: Iterator[Any],
    reader: _ColumnarReader,
    careful: Callable[[], Iterator[MarketTick]],
) -> Iterator[list[MarketTick]]:
    """Columnar batches of ticks; from the first batch that path cannot take on, the row reader's.

    Both give the same ticks for the same rows, so the switch is seamless; the
    row reader then handles the unusual row, or names its line and column.
    Whatever else goes wrong is still a TickFileError naming the file.
    """
    done = 0
    try:
        for batch in batches:
            with _no_gc():
                ticks = reader.ticks(batch)
            yield ticks
            done += len(ticks)
        return
    except Exception:  # whatever it was, the row reader handles it or names it
        pass
    try:
        for tick in islice(careful(), done, None):
            yield [tick]  # one at a time, so every good row before a bad one is delivered
    except TickFileError:
        raise
    except Exception as exc:
        raise TickFileError(path, None, None, f"cannot be read ({type(exc).__name__}: {exc})") from exc


def read_ticks(
    path: Path | str,
    instruments: InstrumentRegistry | None = None,
    start: float | None = None,
    end: float | None = None,
) -> Iterator[MarketTick]:
    """Ticks of a CSV or Parquet file (by suffix), in file order, with start <= exchange_ts < end.

    `instruments` resolves the `symbol` column of rows without an instrument_token.
    Header problems raise TickFileError here; a bad row when it is reached.
    """
    path = Path(path)
    problem = not_a_file(path)
    if problem is not None:
        raise TickFileError(path, None, None, problem)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        layout = _Layout(path, _parquet_file(path).schema_arrow.names, unit="row")
        batches = _fast_then_careful(
            path,
            _parquet_batches(path, layout),
            _ColumnarReader(layout, instruments),
            lambda: _parquet_rows(path, instruments),
        )
    else:
        with _csv_reader(path) as (reader, lines):
            layout = _csv_layout(path, reader, lines)
        batches = _fast_then_careful(
            path,
            _csv_batches(path, layout),
            _ColumnarReader(layout, instruments),
            lambda: _csv_rows(path, instruments),
        )
    ticks = chain.from_iterable(batches)
    if start is None and end is None:
        return ticks
    return _between(ticks, -_INF if start is None else start, _INF if end is None else end)


def _between(ticks: Iterator[MarketTick], start: float, end: float) -> Iterator[MarketTick]:
    for tick in ticks:
        if start <= tick.exchange_ts < end:
            yield tick


class ReplayTickSource:
    """A TickSource over a tick file: its ticks in file order, then exhausted.

    A bad row ends the replay: the good ticks before it still come out, and
    the next call raises its TickFileError.
    """

    def __init__(
        self,
        path: Path | str,
        instruments: InstrumentRegistry | None = None,
        *,
        start: float | None = None,
        end: float | None = None,
    ) -> None:
        self.path = Path(path)
        self._ticks = read_ticks(self.path, instruments, start, end)
        self._error: TickFileError | None = None
        self.exhausted = False
        self.ticks_read = 0

    def next_batch(self, n: int) -> list[MarketTick]:
        if self._error is not None:
            error, self._error = self._error, None
            self.exhausted = True
            raise error
        if self.exhausted or n <= 0:
            return []
        batch: list[MarketTick] = []
        try:
            batch.extend(islice(self._ticks, n))  # keeps the ticks read before an error
        except TickFileError as exc:
            if not batch:
                self.exhausted = True
                raise
            self._error = exc  # raised by the next call, so these good ticks are delivered first
            self.ticks_read += len(batch)
            return batch
        self.ticks_read += len(batch)
        if len(batch) < n:
            self.exhausted = True
        return batch
