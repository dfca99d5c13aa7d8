"""Kite binary decoder benchmark: full-mode frames for 3,000 instruments -> MarketTicks.

    python benchmarks/kite_decode.py [--instruments 3000] [--seconds 2]

Builds one second of Kite's full-mode stream for N instruments (184-byte
packets with 5-level depth, tokens across NSE, NFO, BSE, CDS and MCX) cut into
frames of 1, 50 and all N packets, and decodes them repeatedly with
`KiteFrameDecoder`. Prints decoded ticks/s per frame size, the microseconds
per tick, and the share of one core that decoding takes at Kite's rate (about
one update a second per instrument) and at 10x that. When the official
`kiteconnect` client is installed, its `_parse_binary` is timed on the same
frames for comparison (it builds dicts, not MarketTicks).
"""

from __future__ import annotations

import argparse
import random
import struct
import time
from collections.abc import Callable

from engine.market.kite_decoder import KiteFrameDecoder

SEGMENTS = (1, 2, 3, 4, 7)  # NSE, NFO, CDS, BSE, MCX
FULL = struct.Struct(">16I" + "IIH2x" * 10)


def full_packet(rng: random.Random, token: int, ts: int) -> bytes:
    currency = token & 0xFF == 3  # CDS: 7 decimals, and rupee prices that fit a uint32 (e.g. USDINR)
    divisor = 10_000_000 if currency else 100
    price = int(rng.uniform(50, 300 if currency else 5_000) * divisor)
    tick = max(1, divisor // 20)
    depth: list[int] = []
    for side in (-1, 1):
        for level in range(5):
            depth += [rng.randint(1, 5_000), price + side * (level + 1) * tick, rng.randint(1, 40)]
    return FULL.pack(
        token,
        price,
        rng.randint(1, 500),
        price,
        rng.randint(0, 10_000_000),
        rng.randint(0, 1_000_000),
        rng.randint(0, 1_000_000),
        price - tick,
        price + 5 * tick,
        price - 5 * tick,
        price - 2 * tick,
        ts,
        0,
        0,
        0,
        ts,
        *depth,
    )


def frames(instruments: int, per_frame: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    ts = 1_764_650_000
    tokens = [(100_000 + i) << 8 | SEGMENTS[i % len(SEGMENTS)] for i in range(instruments)]
    packets = [full_packet(rng, token, ts) for token in tokens]
    out = []
    for start in range(0, instruments, per_frame):
        chunk = packets[start : start + per_frame]
        out.append(struct.pack(">H", len(chunk)) + b"".join(struct.pack(">H", len(p)) + p for p in chunk))
    return out


def rate(decode: Callable[[bytes], object], batch: list[bytes], ticks_per_pass: int, seconds: float) -> float:
    """Ticks per second of CPU time, over as many passes as fit in `seconds` (at least one)."""
    passes = 0
    start = time.process_time()
    while True:
        for data in batch:
            decode(data)
        passes += 1
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return passes * ticks_per_pass / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instruments", type=int, default=3_000)
    parser.add_argument("--seconds", type=float, default=2.0, help="CPU seconds per measurement")
    args = parser.parse_args()
    n = args.instruments
    try:
        from kiteconnect import KiteTicker
    except ImportError:
        official = None
    else:
        official = KiteTicker("bench", "bench")

    decoder = KiteFrameDecoder()
    print(f"Kite full-mode decoding, {n:,} instruments (184-byte packets, 5-level depth)")
    for per_frame in (1, 50, n):
        batch = frames(n, per_frame)
        ours = rate(lambda data: decoder.decode(data, 0.0), batch, n, args.seconds)
        line = (
            f"  {per_frame:>5} packets/frame: {ours:>12,.0f} ticks/s  {1e6 / ours:6.2f} us/tick"
            f"  core share at 1x: {100 * n / ours:5.2f}%  at 10x: {100 * 10 * n / ours:5.1f}%"
        )
        if official is not None:
            theirs = rate(official._parse_binary, batch, n, args.seconds)
            line += f"  (official client: {theirs:,.0f} ticks/s, ours x{ours / theirs:.1f})"
        print(line)
    assert decoder.garbage == {}, decoder.garbage


if __name__ == "__main__":
    main()
