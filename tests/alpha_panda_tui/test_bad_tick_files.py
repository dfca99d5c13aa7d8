"""`replay` and `launch --headless --replay` on tick files that are bad from the start or turn bad late:
one clear line naming the file and where, the documented exit code, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.clock import ManualClock
from engine.instruments import InstrumentRegistry
from engine.market.session_clock import SimulatedSessionClock
from engine.market.simulated import SimulatedFeed
from engine.market.tick_files import write_ticks

pytestmark = pytest.mark.slow

REGISTRY = InstrumentRegistry.sample()
ROUNDS = 400  # ticks of every sample instrument, a second apart


def _recording(path: Path) -> Path:
    clock = ManualClock(SimulatedSessionClock().now())
    feed = SimulatedFeed(list(REGISTRY), clock=clock, seed=3)
    ticks = []
    for _ in range(ROUNDS):
        clock.advance(1.0)
        ticks.extend(feed.next_batch(len(REGISTRY)))
    write_ticks(path, ticks, REGISTRY)
    return path


def latin1_late(folder: Path) -> tuple[Path, str]:
    path = _recording(folder / "latin.csv")
    lines = path.read_bytes().split(b"\n")
    line = len(lines) - 20
    cells = lines[line - 1].split(b",")
    cells[2] = b"R\xc9LIANCE"  # the symbol column, in Latin-1
    lines[line - 1] = b",".join(cells)
    path.write_bytes(b"\n".join(lines))
    return path, f"latin.csv:line {line}: column 'symbol': not UTF-8 text (byte 0xc9)"


def hex_quantity(folder: Path) -> tuple[Path, str]:
    path = folder / "hex.csv"
    start = SimulatedSessionClock().now()
    rows = [f"{start + i},738561,1400.5,{'0x10' if i == 30 else 10}" for i in range(40)]
    path.write_text("timestamp,instrument_token,last_price,last_quantity\n" + "\n".join(rows) + "\n")
    return path, "hex.csv:line 32: column 'last_quantity': '0x10' is not an integer"


def truncated_parquet(folder: Path) -> tuple[Path, str]:
    path = _recording(folder / "cut.parquet")
    path.write_bytes(path.read_bytes()[:5_000])
    return path, "cut.parquet: not a readable Parquet file"


def damaged_parquet(folder: Path) -> tuple[Path, str]:
    path = _recording(folder / "damaged.parquet")
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(3)  # last_price
    data = bytearray(path.read_bytes())
    data[chunk.data_page_offset + 20 : chunk.data_page_offset + 400] = b"\xff" * 380
    path.write_bytes(bytes(data))
    return path, "damaged.parquet:row 1: damaged data (row group 1 of 1)"


def far_future_parquet(folder: Path) -> tuple[Path, str]:
    path = folder / "far.parquet"
    start = int(SimulatedSessionClock().now() * 1_000_000)
    stamps = [start + i * 1_000_000 for i in range(30)] + [2**62]
    table = {
        "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
        "instrument_token": [738561] * 31,
        "last_price": [1400.5] * 31,
        "last_quantity": [1] * 31,
    }
    pq.write_table(pa.table(table), path)
    return path, "far.parquet:row 31: column 'timestamp': 4611686018427387904 us from 1970 is out of range"


BadFile = Callable[[Path], tuple[Path, str]]
LATE = [latin1_late, hex_quantity, damaged_parquet, far_future_parquet]  # readable at first
EARLY = [truncated_parquet]


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ALPHA_PANDA_DATA_DIR": str(root / "data"),
        "ALPHA_PANDA_CONFIG_DIR": str(root / "config"),
        "ALPHA_PANDA_FEED__TICKS_PER_SECOND": "20000",
    }
    return subprocess.run(
        [sys.executable, "-m", "alpha_panda_tui", *args], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.mark.parametrize("bad_file", LATE + EARLY, ids=lambda f: f.__name__)
def test_replay_of_a_bad_tick_file_prints_one_error_and_exits_2(
    isolated_dirs: Path, bad_file: BadFile
) -> None:
    path, where = bad_file(isolated_dirs)
    result = _run(isolated_dirs, "replay", str(path), "--strategy", "ema_crossover", "--no-charts")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and where in errors[0], result.stderr
    assert not (isolated_dirs / "data" / "reports").exists()  # no report of a run a bad row cut short


@pytest.mark.parametrize("bad_file", LATE, ids=lambda f: f.__name__)
def test_headless_replay_of_a_file_that_turns_bad_stops_with_the_error_and_exits_1(
    isolated_dirs: Path, bad_file: BadFile
) -> None:
    path, where = bad_file(isolated_dirs)
    result = _run(isolated_dirs, "launch", "--headless", "--replay", str(path))
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "engine started" in result.stderr  # it did run up to the bad row
    stopped = [line for line in result.stderr.splitlines() if "stopped on an error" in line]
    assert stopped and where in stopped[-1], result.stderr[-2000:]


def test_headless_replay_of_a_file_bad_from_the_start_exits_2(isolated_dirs: Path) -> None:
    path, where = truncated_parquet(isolated_dirs)
    result = _run(isolated_dirs, "launch", "--headless", "--replay", str(path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert where in result.stderr
