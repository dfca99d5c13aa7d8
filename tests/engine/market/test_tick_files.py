from __future__ import annotations

import csv
import pickle
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.clock import ManualClock
from engine.events import DepthLevel, MarketTick
from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST
from engine.market.simulated import SimulatedFeed
from engine.market.tick_files import (
    COLUMNS,
    ReplayTickSource,
    TickFileError,
    read_ticks,
    write_ticks,
)

REGISTRY = InstrumentRegistry.sample()
START = 1_768_880_700.0  # 2026-01-20 09:15 IST
RELIANCE = REGISTRY.by_symbol("RELIANCE").instrument_token
TCS = REGISTRY.by_symbol("TCS").instrument_token


def session(n: int, seed: int = 21, depth: bool = True) -> list[MarketTick]:
    """n simulated ticks over all sample instruments (indices too), a little apart in time."""
    clock = ManualClock(START + 0.123456)
    sim = SimulatedFeed(list(REGISTRY), clock=clock, seed=seed, depth=depth)
    ticks: list[MarketTick] = []
    while len(ticks) < n:
        ticks += sim.next_batch(min(7, n - len(ticks)))
        clock.advance(0.37)
    return ticks


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def edit_cell(path: Path, line: int, column: str, value: str) -> None:
    """Set one cell of a CSV (line numbers as an editor shows them, the header is line 1)."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    rows[line - 1][rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    ticks = session(3000)
    path = tmp_path / f"ticks{suffix}"
    assert write_ticks(path, ticks, REGISTRY) == 3000
    assert list(read_ticks(path, REGISTRY)) == ticks


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_without_depth_and_with_odd_values(tmp_path: Path, suffix: str) -> None:
    ticks = [
        MarketTick(instrument_token=RELIANCE, last_price=0.1 + 0.2, exchange_ts=1e9 + 1 / 3),
        MarketTick(
            instrument_token=TCS,
            last_price=3100.05,
            exchange_ts=START,
            last_quantity=3,
            volume=2**40,
            change=-1e-12,
            bids=(DepthLevel(3100.0, 5, 1), DepthLevel(3099.95, 0, 0)),
            asks=(DepthLevel(3100.1, 7, 2),),
        ),
        MarketTick(instrument_token=999_999, last_price=5.0, exchange_ts=START),  # not in the registry
    ]
    path = tmp_path / f"odd{suffix}"
    write_ticks(path, ticks, REGISTRY)
    assert list(read_ticks(path, REGISTRY)) == ticks


def test_csv_header_is_the_documented_schema(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_ticks(path, session(3), REGISTRY)
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:4] == ["timestamp", "instrument_token", "symbol", "last_price"]
    assert header[14:16] == ["bid_price_1", "bid_price_2"]
    assert header[-1] == "ask_orders_5"
    assert tuple(header) == COLUMNS
    docs = (Path(__file__).parents[3] / "docs" / "tick-format.md").read_text(encoding="utf-8")
    for column in COLUMNS:
        documented = column if column[-1] not in "2345" else column[:-1] + "5"
        assert f"`{documented}`" in docs, column


def test_a_minimal_hand_written_file(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "mine.csv",
        "Timestamp,Symbol,Price,Quantity\n"
        "2026-01-20T09:15:00+05:30,RELIANCE,1400.05,10\n"
        "\n"
        "2026-01-20T03:45:00.5Z,tcs,3100.10,\n"
        "2026-01-20 09:15:01,M&M,3500,2\n",
    )
    ticks = list(read_ticks(path, REGISTRY))
    open_ts = datetime(2026, 1, 20, 9, 15, tzinfo=IST).timestamp()
    assert ticks == [
        MarketTick(instrument_token=RELIANCE, last_price=1400.05, exchange_ts=open_ts, last_quantity=10),
        MarketTick(instrument_token=TCS, last_price=3100.10, exchange_ts=open_ts + 0.5),
        MarketTick(
            instrument_token=REGISTRY.by_symbol("M&M").instrument_token,
            last_price=3500.0,
            exchange_ts=open_ts + 1,  # no offset: IST
            last_quantity=2,
        ),
    ]


@pytest.mark.parametrize("line", [2, 15_000])
def test_integral_floats_in_integer_columns_read_the_same(tmp_path: Path, line: int) -> None:
    # the columnar path refuses "123.0" for an integer, the row reader accepts it: at line 2 the
    # whole file is read row by row, at line 15000 (a later batch) reading switches mid-file
    ticks = session(20_000)
    path = tmp_path / "t.csv"
    write_ticks(path, ticks, REGISTRY)
    edit_cell(path, line, "volume", f"{ticks[line - 2].volume}.0")
    assert list(read_ticks(path, REGISTRY)) == ticks


def test_start_and_end_select_a_time_range(tmp_path: Path) -> None:
    ticks = session(500)
    path = tmp_path / "t.parquet"
    write_ticks(path, ticks, REGISTRY)
    start, end = ticks[100].exchange_ts, ticks[300].exchange_ts
    expected = [t for t in ticks if start <= t.exchange_ts < end]
    assert 150 < len(expected) < 250
    assert list(read_ticks(path, REGISTRY, start=start, end=end)) == expected
    assert list(read_ticks(path, REGISTRY, start=start)) == [t for t in ticks if t.exchange_ts >= start]


def test_parquet_from_elsewhere_with_nulls_and_a_timestamp_column(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    table = pa.table(
        {
            "timestamp": pa.array(
                [datetime(2026, 1, 20, 9, 15, tzinfo=IST), datetime(2026, 1, 20, 9, 16, tzinfo=IST)],
                type=pa.timestamp("us", tz="Asia/Kolkata"),
            ),
            "instrument_token": [RELIANCE, TCS],
            "price": [1400.5, 3100.0],
            "quantity": [None, 4],
            "bid_price_1": [1400.45, None],
            "bid_qty_1": [9, None],
            "bid_price_2": [float("nan"), None],
        }
    )
    pq.write_table(table, path)
    assert list(read_ticks(path, REGISTRY)) == [
        MarketTick(RELIANCE, 1400.5, START, bids=(DepthLevel(1400.45, 9, 0),)),
        MarketTick(TCS, 3100.0, START + 60, last_quantity=4),
    ]


def test_replay_source_hands_out_batches_then_is_exhausted(tmp_path: Path) -> None:
    ticks = session(25)
    path = tmp_path / "t.csv"
    write_ticks(path, ticks, REGISTRY)
    source = ReplayTickSource(path, REGISTRY)
    assert source.next_batch(10) == ticks[:10]
    assert source.next_batch(10) == ticks[10:20]
    assert not source.exhausted
    assert source.next_batch(10) == ticks[20:]
    assert source.exhausted
    assert source.next_batch(10) == []


def test_replay_source_delivers_the_good_ticks_before_a_bad_row(tmp_path: Path) -> None:
    ticks = session(10)
    path = tmp_path / "t.csv"
    write_ticks(path, ticks, REGISTRY)
    edit_cell(path, 8, "last_price", "-")
    source = ReplayTickSource(path, REGISTRY)
    assert source.next_batch(100) == ticks[:6]
    assert not source.exhausted
    with pytest.raises(TickFileError, match="line 8"):
        source.next_batch(100)
    assert source.exhausted
    assert source.next_batch(100) == []


# -- errors ---------------------------------------------------------------------

GOOD_HEADER = "timestamp,instrument_token,last_price,last_quantity,volume\n"


def test_a_bad_number_names_the_line_and_column(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "bad.csv",
        GOOD_HEADER + f"{START},{RELIANCE},1400.0,1,1\n{START},{RELIANCE},14OO.0,1,2\n",
    )
    with pytest.raises(TickFileError) as caught:
        list(read_ticks(path, REGISTRY))
    message = str(caught.value)
    assert "bad.csv:line 3" in message
    assert "column 'last_price'" in message
    assert "'14OO.0' is not a number" in message
    assert (caught.value.line, caught.value.column) == (3, "last_price")


def test_good_rows_before_a_bad_one_are_delivered(tmp_path: Path) -> None:
    ticks = session(30)
    path = tmp_path / "t.csv"
    write_ticks(path, ticks, REGISTRY)
    edit_cell(path, 22, "bid_qty_3", "lots")
    reader = read_ticks(path, REGISTRY)
    delivered = [next(reader) for _ in range(20)]
    assert delivered == ticks[:20]
    with pytest.raises(TickFileError, match=r"t\.csv:line 22: column 'bid_qty_3': 'lots' is not an integer"):
        next(reader)


def test_a_fraction_in_an_integer_column_is_an_error_not_truncated(tmp_path: Path) -> None:
    path = write_text(tmp_path / "f.csv", GOOD_HEADER + f"{START},{RELIANCE},1400.0,1,10.5\n")
    with pytest.raises(TickFileError, match=r"line 2: column 'volume': '10\.5' is not an integer"):
        list(read_ticks(path, REGISTRY))


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (f"nan,{RELIANCE},1400.0,1,1", "timestamp", "not a finite time"),
        (f"yesterday,{RELIANCE},1400.0,1,1", "timestamp", "neither epoch seconds nor ISO-8601"),
        (f"{START},{RELIANCE},0,1,1", "last_price", "not a positive price"),
        (f"{START},{RELIANCE},inf,1,1", "last_price", "not a finite number"),
        (f"{START},RELIANCE,1400.0,1,1", "instrument_token", "'RELIANCE' is not an integer"),
    ],
)
def test_each_bad_cell_is_named(tmp_path: Path, row: str, column: str, reason: str) -> None:
    path = write_text(tmp_path / "x.csv", GOOD_HEADER + row + "\n")
    with pytest.raises(TickFileError) as caught:
        list(read_ticks(path, REGISTRY))
    assert caught.value.line == 2
    assert caught.value.column == column
    assert reason in str(caught.value)


def test_an_unknown_symbol_is_named(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "s.csv",
        "timestamp,symbol,price,quantity\n" + f"{START},RELIANCE,1,1\n{START},RELIANCEX,1,1\n",
    )
    with pytest.raises(TickFileError, match=r"s\.csv:line 3: column 'symbol': unknown symbol 'RELIANCEX'"):
        list(read_ticks(path, REGISTRY))


def test_a_missing_required_column_fails_when_reading_starts(tmp_path: Path) -> None:
    path = write_text(tmp_path / "m.csv", "timestamp,instrument_token,quantity\n1,2,3\n")
    with pytest.raises(TickFileError) as caught:
        read_ticks(path, REGISTRY)  # no iteration needed
    assert "m.csv:line 1: column 'last_price': missing required column (or 'price')" in str(caught.value)
    path = write_text(tmp_path / "n.csv", "time,last_price,last_quantity\n1,2,3\n")
    with pytest.raises(TickFileError, match="'timestamp': missing required column"):
        read_ticks(path, REGISTRY)
    path = write_text(tmp_path / "o.csv", "timestamp,last_price,last_quantity\n1,2,3\n")
    with pytest.raises(TickFileError, match=r"'instrument_token': missing required column \(or 'symbol'\)"):
        read_ticks(path, REGISTRY)


def test_a_short_row_is_named(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "r.csv", GOOD_HEADER + f"{START},{RELIANCE},1400.0,1,1\n{START},{RELIANCE}\n"
    )
    with pytest.raises(TickFileError, match=r"r\.csv:line 3: the row has 2 cells, the header 5"):
        list(read_ticks(path, REGISTRY))


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(
        pa.table(
            {
                "timestamp": [START, START],
                "instrument_token": [RELIANCE, TCS],
                "price": [1.0, -2.0],
                "quantity": [1, 1],
            }
        ),
        path,
    )
    with pytest.raises(
        TickFileError, match=r"p\.parquet:row 2: column 'last_price': -2\.0 is not a positive price"
    ):
        list(read_ticks(path, REGISTRY))


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(TickFileError, match="does not exist"):
        read_ticks(tmp_path / "nope.csv", REGISTRY)
    with pytest.raises(TickFileError, match="empty file"):
        read_ticks(write_text(tmp_path / "e.csv", ""), REGISTRY)
    assert list(read_ticks(write_text(tmp_path / "h.csv", GOOD_HEADER), REGISTRY)) == []


# -- bad bytes, damaged files, the number grammar ------------------------------------------------


def _csv_with_bad_byte(path: Path, n: int, at_line: int, column: str) -> Path:
    """A recording of n ticks whose `column` cell at `at_line` holds a byte that is not UTF-8."""
    write_ticks(path, session(n), REGISTRY)
    lines = path.read_bytes().split(b"\n")
    cells = lines[at_line - 1].split(b",")
    cells[COLUMNS.index(column)] = b"1400.05\xe9"
    lines[at_line - 1] = b",".join(cells)
    path.write_bytes(b"\n".join(lines))
    return path


@pytest.mark.parametrize("column", ["last_price", "symbol"])
def test_a_byte_that_is_not_utf8_names_line_and_column_after_every_good_row(
    tmp_path: Path, column: str
) -> None:
    path = _csv_with_bad_byte(tmp_path / "latin.csv", 3_000, 2_500, column)
    good: list[MarketTick] = []
    with pytest.raises(TickFileError) as caught:
        good.extend(read_ticks(path, REGISTRY))
    assert str(caught.value) == f"{path}:line 2500: column '{column}': not UTF-8 text (byte 0xe9)"
    assert good == session(3_000)[:2_498]


def test_bytes_that_are_not_utf8_in_an_unknown_column_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "note.csv"
    header = GOOD_HEADER.rstrip("\n").encode() + b",note\n"
    path.write_bytes(header + b"%d,738561,100.5,1,10,caf\xe9\n" % START)
    assert [t.last_price for t in read_ticks(path, REGISTRY)] == [100.5]


def test_a_file_that_is_not_text_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_bytes(b"\x1f\x8b\x08\x00\xe9\xff\x00binary,gzip\n\x00\x01")
    with pytest.raises(TickFileError, match=r"ticks\.csv:line 1: the header is not UTF-8 text"):
        read_ticks(path, REGISTRY)


def test_hex_and_digit_separators_are_rejected_by_both_paths(tmp_path: Path) -> None:
    for cell in ("0x10", "1_000", "١٢"):
        path = write_text(tmp_path / "n.csv", f"{GOOD_HEADER}{START},738561,100.5,{cell},10\n")
        reason = f"line 2: column 'last_quantity': '{cell}' is not an integer"
        with pytest.raises(TickFileError, match=reason):
            list(read_ticks(path, REGISTRY))
        path = write_text(tmp_path / "n.csv", f"{GOOD_HEADER}{START},{cell},100.5,1,10\n")
        with pytest.raises(TickFileError, match="column 'instrument_token'"):
            list(read_ticks(path, REGISTRY))


def test_exponents_and_integral_floats_read_the_same_on_both_paths(tmp_path: Path) -> None:
    path = write_text(tmp_path / "e.csv", f"{GOOD_HEADER}{START},738561,1e3,1e2,100.0\n")
    (tick,) = read_ticks(path, REGISTRY)
    assert (tick.last_price, tick.last_quantity, tick.volume) == (1000.0, 100, 100)
    assert type(tick.last_quantity) is int and type(tick.volume) is int


def test_integers_beyond_exact_floats_stay_exact(tmp_path: Path) -> None:
    path = write_text(tmp_path / "big.csv", f"{GOOD_HEADER}{START},738561,100.5,9007199254740993,1\n")
    (tick,) = read_ticks(path, REGISTRY)
    assert tick.last_quantity == 9007199254740993


@pytest.mark.parametrize("cut", [0.0, 0.5, 0.99])
def test_a_truncated_parquet_file_is_named(tmp_path: Path, cut: float) -> None:
    path = tmp_path / "t.parquet"
    write_ticks(path, session(200), REGISTRY)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(TickFileError, match=r"t\.parquet: not a readable Parquet file"):
        read_ticks(path, REGISTRY)


def test_damaged_parquet_data_names_the_row_group_after_every_good_row(tmp_path: Path) -> None:
    ticks = session(3_000)
    path = tmp_path / "d.parquet"
    columns: dict[str, list[object]] = {"timestamp": [], "instrument_token": [], "last_price": []}
    for tick in ticks:
        columns["timestamp"].append(tick.exchange_ts)
        columns["instrument_token"].append(tick.instrument_token)
        columns["last_price"].append(tick.last_price)
    columns["last_quantity"] = [0] * len(ticks)
    pq.write_table(pa.table(columns), path, row_group_size=1_000, compression="snappy")
    metadata = pq.ParquetFile(path).metadata
    chunk = metadata.row_group(2).column(2)  # the third group's last_price data
    data = bytearray(path.read_bytes())
    start = chunk.data_page_offset
    data[start + 20 : start + 200] = b"\xff" * 180
    path.write_bytes(bytes(data))
    good: list[MarketTick] = []
    with pytest.raises(TickFileError, match=r"d\.parquet:row 2001: damaged data \(row group 3 of 3\)"):
        good.extend(read_ticks(path, REGISTRY))
    assert [t.last_price for t in good] == [t.last_price for t in ticks[:2_000]]


def test_a_timestamp_beyond_year_9999_is_named(tmp_path: Path) -> None:
    path = tmp_path / "far.parquet"
    stamps = pa.array([1_768_880_700_000_000, 2**62], pa.timestamp("us"))
    table = {"timestamp": stamps, "instrument_token": [RELIANCE] * 2, "price": [1.0] * 2, "quantity": [1, 1]}
    pq.write_table(pa.table(table), path)
    good: list[MarketTick] = []
    with pytest.raises(TickFileError, match=r"far\.parquet:row 2: column 'timestamp': .* out of range"):
        good.extend(read_ticks(path, REGISTRY))
    assert len(good) == 1


def test_a_tick_file_error_survives_pickling(tmp_path: Path) -> None:
    """A sweep worker's error reaches the parent process whole."""
    error = TickFileError(tmp_path / "x.parquet", 7, "volume", "'v' is not an integer", unit="row")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.line, copy.column, copy.unit) == (str(error), 7, "volume", "row")
