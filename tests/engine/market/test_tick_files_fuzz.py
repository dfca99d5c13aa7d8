"""Fuzzing the tick readers: random valid and invalid CSV and Parquet files.

The row reader defines the semantics; the columnar (Arrow) path must give the same ticks and, where a
file goes bad, stop at the same line with the same error; CSV and Parquet holding the same cells read
the same; and whatever the bytes, nothing but a TickFileError ever comes out.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.events import DepthLevel, MarketTick
from engine.instruments import InstrumentRegistry
from engine.market.tick_files import (
    BASE_COLUMNS,
    DEPTH_COLUMNS,
    TickFileError,
    _csv_rows,
    _parquet_rows,
    read_ticks,
    write_ticks,
)
from tests.engine.market.test_tick_files import session

REGISTRY = InstrumentRegistry.sample()
TOKENS = [inst.instrument_token for inst in REGISTRY]
SYMBOLS = [inst.tradingsymbol for inst in REGISTRY]
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Outcome = tuple[list[bytes], tuple[int | None, str | None, str] | None]


def outcome(read: Callable[[], Iterable[MarketTick]]) -> Outcome:
    """The ticks a reader delivers (encoded, so 5 and 5.0 differ) and the error it stops with, if any.
    Any exception but a TickFileError fails the test."""
    ticks: list[bytes] = []
    try:
        for tick in read():
            ticks.append(msgspec.json.encode(tick))
    except TickFileError as exc:
        return ticks, (exc.line, exc.column, exc.reason)
    return ticks, None


def csv_outcomes(path: Path) -> tuple[Outcome, Outcome]:
    """(columnar path, row reader) for a CSV file."""
    return outcome(lambda: read_ticks(path, REGISTRY)), outcome(lambda: _csv_rows(path, REGISTRY))


def parquet_outcomes(path: Path) -> tuple[Outcome, Outcome]:
    return outcome(lambda: read_ticks(path, REGISTRY)), outcome(lambda: _parquet_rows(path, REGISTRY))


# -- valid ticks: an exact round trip, identical in CSV and Parquet ---------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
prices = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False)
quantities = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
levels = st.lists(st.builds(DepthLevel, prices, quantities, quantities), max_size=5).map(tuple)
ticks_ = st.builds(
    MarketTick,
    instrument_token=st.sampled_from(TOKENS) | st.integers(min_value=0, max_value=2**53 - 1),
    last_price=prices,
    exchange_ts=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    last_quantity=quantities,
    average_price=finite,
    volume=quantities,
    buy_quantity=quantities,
    sell_quantity=quantities,
    open=finite,
    high=finite,
    low=finite,
    close=finite,
    change=finite,
    bids=levels,
    asks=levels,
)


@FUZZ
@given(ticks=st.lists(ticks_, min_size=1, max_size=20))
def test_valid_ticks_read_back_identically_by_every_path(tmp_path: Path, ticks: list[MarketTick]) -> None:
    csv_path, parquet_path = tmp_path / "t.csv", tmp_path / "t.parquet"
    write_ticks(csv_path, ticks, REGISTRY)
    write_ticks(parquet_path, ticks, REGISTRY)
    expected = ([msgspec.json.encode(t) for t in ticks], None)
    assert csv_outcomes(csv_path) == (expected, expected)
    assert parquet_outcomes(parquet_path) == (expected, expected)


# -- hand-written files: the same grammar on both paths, and in CSV and Parquet --------------------

TIMESTAMP = "timestamp"
TEXT_COLUMNS = frozenset({TIMESTAMP, "symbol"})
ODD_NUMBERS = [
    "0x10", "0X1f", "-0x5", "1_000", " 5", "5 ", "\t7", "+5", "-0", "-0.0", "1e3", "1E-2", "100.0", "100.5",
    "1.", ".5", "١٢", "nan", "NaN", "-nan", "inf", "-Infinity", "1e400", "9007199254740993",
    "99999999999999999999", "4503599627370496.5", "abc", "0b1", "TRUE", "null", "N/A", "1,5", "",
]  # fmt: skip
ODD_TIMES = [
    "2026-01-06T09:15:00+05:30", "2026-01-06T09:15:00.25Z", "2026-01-06 09:15", "2026-01-06",
    "2026-13-45", "1767670500", "1767670500.25", "-1", "1e10", "0x10", "1_767_670_500", "yesterday", "",
]  # fmt: skip
ODD_SYMBOLS = ["RELIANCE", "tcs", " INFY ", "NOSUCH", "", "0x10"]


def valid_cell(column: str) -> st.SearchStrategy[str]:
    if column == TIMESTAMP:
        epoch = st.floats(min_value=1.6e9, max_value=1.9e9).map(repr)
        return epoch | st.sampled_from(ODD_TIMES[:4] + ODD_TIMES[5:7])
    if column == "symbol":
        return st.sampled_from(SYMBOLS)
    if column == "instrument_token":
        return st.sampled_from(TOKENS).map(str)
    if column == "last_price":
        return prices.map(repr) | st.sampled_from(["1e3", "100.0", " 5", "+5", ".5", "1."])
    if column.endswith(("quantity", "volume")) or "_qty_" in column or "_orders_" in column:
        return quantities.map(str) | st.sampled_from(["", "-0", "1e3", "100.0", " 5", "+5", "\t7"])
    return finite.map(repr) | st.sampled_from(["", "-0", "1e3", "100.0", " 5", "+5", ".5", "1."])


def any_cell(column: str) -> st.SearchStrategy[str]:
    odd = ODD_TIMES if column == TIMESTAMP else ODD_SYMBOLS if column == "symbol" else ODD_NUMBERS
    return valid_cell(column) | st.sampled_from(odd) | st.text(max_size=5)


@st.composite
def headers(draw: st.DrawFn) -> list[str]:
    """A header: the required columns (under either name), some optional ones, maybe an unknown one,
    in any order and letter case."""
    names = [TIMESTAMP, draw(st.sampled_from(["last_price", "price"]))]
    names.append(draw(st.sampled_from(["last_quantity", "quantity"])))
    names += draw(st.sampled_from([["instrument_token"], ["symbol"], ["instrument_token", "symbol"]]))
    optional = [c for c in BASE_COLUMNS + DEPTH_COLUMNS if c not in (*names, "last_price", "last_quantity")]
    names += draw(st.lists(st.sampled_from(optional), unique=True, max_size=12))
    if draw(st.booleans()):
        names.append("note")
    names = draw(st.permutations(names))
    return [name.upper() if draw(st.booleans()) else name for name in names]


def canonical(name: str) -> str:
    name = name.lower()
    return {"price": "last_price", "quantity": "last_quantity"}.get(name, name)


def csv_bytes(header: list[str], rows: list[list[str]], bad: dict[tuple[int, int], bytes]) -> bytes:
    """A CSV file; `bad` puts raw (non-UTF-8) bytes in cells (row, column) as they are."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(header)
    data = text.getvalue().encode()
    for r, row in enumerate(rows):
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(row)
        encoded = line.getvalue().encode()
        if any(key[0] == r for key in bad):
            cells = [bad.get((r, c), cell.encode()) for c, cell in enumerate(row)]
            quoted = [b'"' + c.replace(b'"', b'""') + b'"' if c else c for c in cells]
            encoded = b",".join(quoted) + b"\n"
        data += encoded
    return data


def parquet_of_text(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """The same cells as a Parquet file of text columns."""
    columns = {name: pa.array([row[i] for row in rows], pa.string()) for i, name in enumerate(header)}
    pq.write_table(pa.table(columns), path)


def as_parquet_outcome(csv_result: Outcome) -> Outcome:
    """A CSV outcome as the Parquet file of the same cells gives it: rows counted without the header."""
    ticks, error = csv_result
    if error is None:
        return ticks, None
    line, column, reason = error
    return ticks, (None if line is None or line == 1 else line - 1, column, reason)


@FUZZ
@given(data=st.data())
def test_hand_written_valid_files_read_the_same_on_every_path(tmp_path: Path, data: st.DataObject) -> None:
    header = data.draw(headers())
    rows = data.draw(
        st.lists(st.tuples(*(valid_cell(canonical(n)) for n in header)).map(list), min_size=1, max_size=12)
    )
    path = tmp_path / "t.csv"
    path.write_bytes(csv_bytes(header, rows, {}))
    fast, careful = csv_outcomes(path)
    assert fast == careful
    assert careful[1] is None and len(careful[0]) == len(rows), careful[1]
    parquet_path = tmp_path / "t.parquet"
    parquet_of_text(parquet_path, header, rows)
    assert parquet_outcomes(parquet_path) == (careful, careful)


@FUZZ
@given(data=st.data())
def test_any_file_is_read_alike_by_both_paths_or_rejected_alike(tmp_path: Path, data: st.DataObject) -> None:
    header = data.draw(headers())
    rows = data.draw(
        st.lists(st.tuples(*(any_cell(canonical(n)) for n in header)).map(list), min_size=1, max_size=12)
    )
    bad: dict[tuple[int, int], bytes] = {}
    if data.draw(st.booleans()):
        at = (data.draw(st.integers(0, len(rows) - 1)), data.draw(st.integers(0, len(header) - 1)))
        bad[at] = data.draw(st.sampled_from([b"\xe9", b"caf\xe9", b"\xff\xfe", b"\x80", b"5\xc3"]))
    path = tmp_path / "t.csv"
    path.write_bytes(csv_bytes(header, rows, bad))
    fast, careful = csv_outcomes(path)
    assert fast == careful
    if bad:
        ((row, column),) = bad
        if canonical(header[column]) != "note":
            ticks, error = careful
            assert error is not None and len(ticks) <= row
            one_line_each = not any("\n" in c or "\r" in c for r in rows[: row + 1] for c in r)
            if len(ticks) == row and one_line_each:  # no earlier row was bad: this one is named
                assert error[0] == row + 2 and error[2].startswith("not UTF-8 text")
        return
    if any(cell != cell.strip() or "\n" in cell or "\r" in cell for row in rows for cell in row):
        return  # csv quoting of line breaks: lines and rows no longer match one to one
    parquet_path = tmp_path / "t.parquet"
    parquet_of_text(parquet_path, header, rows)
    expected = as_parquet_outcome(careful)
    assert parquet_outcomes(parquet_path) == (expected, expected)


# -- typed Parquet from elsewhere: nulls, NaN, floats in integer columns -----------------------------

typed_ints = st.none() | quantities | st.sampled_from([2**60, -(2**62)])
typed_floats = st.none() | st.floats(width=64) | st.integers(-1000, 1000).map(float)


@FUZZ
@given(data=st.data())
def test_typed_parquet_is_read_alike_by_both_paths(tmp_path: Path, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 10))
    columns: dict[str, Any] = {
        TIMESTAMP: pa.array(data.draw(st.lists(st.floats(1.6e9, 1.9e9), min_size=n, max_size=n))),
        "instrument_token": pa.array(data.draw(st.lists(st.sampled_from(TOKENS), min_size=n, max_size=n))),
        "last_price": pa.array(data.draw(st.lists(typed_floats, min_size=n, max_size=n)), pa.float64()),
    }
    optional = st.sampled_from(BASE_COLUMNS[4:] + DEPTH_COLUMNS[:15])
    for name in data.draw(st.lists(optional, unique=True, max_size=8)):
        as_float = data.draw(st.booleans())
        values = data.draw(st.lists(typed_floats if as_float else typed_ints, min_size=n, max_size=n))
        columns[name] = pa.array(values, pa.float64() if as_float else pa.int64())
    if data.draw(st.booleans()):
        columns["last_quantity"] = pa.array([float(q) for q in range(n)])  # integral floats
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(columns), path)
    fast, careful = parquet_outcomes(path)
    assert fast == careful


# -- damaged files: only ever a TickFileError, and both CSV paths still agree ----------------------


def damage(data: bytes, seed: int, edits: int) -> bytes:
    rng = random.Random(seed)
    damaged = bytearray(data)
    for _ in range(edits):
        at = rng.randrange(len(damaged))
        kind = rng.randrange(3)
        if kind == 0:
            damaged[at] = rng.randrange(256)
        elif kind == 1:
            del damaged[at : at + rng.randrange(1, 64)]
        else:
            damaged[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    return bytes(damaged)


GOOD = session(300)


@FUZZ
@given(seed=st.integers(0, 2**32), edits=st.integers(1, 6), cut=st.floats(0.0, 1.0))
def test_a_damaged_csv_is_read_alike_or_rejected_with_a_tick_file_error(
    tmp_path: Path, seed: int, edits: int, cut: float
) -> None:
    path = tmp_path / "t.csv"
    write_ticks(path, GOOD, REGISTRY)
    data = damage(path.read_bytes(), seed, edits)
    path.write_bytes(data[: max(1, int(len(data) * cut))] if cut < 0.2 else data)
    fast, careful = csv_outcomes(path)
    assert fast == careful


@FUZZ
@given(seed=st.integers(0, 2**32), edits=st.integers(1, 6), cut=st.floats(0.0, 1.0))
@example(seed=388470, edits=3, cut=1.0)  # a schema whose column name is not UTF-8 (UnicodeDecodeError)
def test_a_damaged_parquet_file_is_only_ever_a_tick_file_error(
    tmp_path: Path, seed: int, edits: int, cut: float
) -> None:
    path = tmp_path / "t.parquet"
    write_ticks(path, GOOD, REGISTRY)
    data = path.read_bytes()
    data = data[: int(len(data) * cut)] if cut < 0.3 else damage(data, seed, edits)
    path.write_bytes(data)
    fast, careful = parquet_outcomes(path)  # outcome() fails on anything but a TickFileError
    if fast[1] is None and careful[1] is None:
        assert fast == careful
