"""`MarketTick`s -> Kite Connect WebSocket binary frames (the inverse of engine.market.kite_decoder).

Packet layouts (big-endian, prices as integers times the segment's divisor): ltp 8 bytes, index quote
28, index full 32, quote 44, full 184 (quote + last trade time, open interest, its day high and low,
exchange time, then 5 bid and 5 ask levels of quantity, price, orders and 2 pad bytes). A frame is a
2-byte packet count, then each packet behind its 2-byte length; a lone byte is a heartbeat.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from enum import StrEnum

from engine.events import DepthLevel, MarketTick
from engine.market.kite_decoder import DEPTH_LEVELS, price_divisor

HEARTBEAT = b"\x00"
INDICES_SEGMENT = 9
MAX_PACKETS_PER_FRAME = 0xFFFF

_COUNT = struct.Struct(">H")
_LTP = struct.Struct(">II")
_INDEX_QUOTE = struct.Struct(">IIIIIIi")
_INDEX_FULL = struct.Struct(">IIIIIIiI")
_QUOTE = struct.Struct(">11I")
_FULL = struct.Struct(">16I" + "IIH2x" * (2 * DEPTH_LEVELS))
_EMPTY_LEVEL = DepthLevel(0.0, 0, 0)


class Mode(StrEnum):
    """A subscription's mode, as the ticker's `mode` message names it."""

    LTP = "ltp"
    QUOTE = "quote"
    FULL = "full"


def is_index(token: int) -> bool:
    """Index tokens (segment 9) get index packets: price fields only, never tradable."""
    return token & 0xFF == INDICES_SEGMENT


def _scaled(price: float, divisor: float) -> int:
    return round(price * divisor)


def ltp_packet(tick: MarketTick) -> bytes:
    div = price_divisor(tick.instrument_token & 0xFF)
    return _LTP.pack(tick.instrument_token, _scaled(tick.last_price, div))


def quote_packet(tick: MarketTick) -> bytes:
    div = price_divisor(tick.instrument_token & 0xFF)
    return _QUOTE.pack(*_quote_fields(tick, div))


def full_packet(
    tick: MarketTick,
    *,
    last_trade_ts: float | None = None,
    oi: int = 0,
    oi_day_high: int = 0,
    oi_day_low: int = 0,
) -> bytes:
    """A full packet; the last trade time defaults to the tick's exchange time."""
    div = price_divisor(tick.instrument_token & 0xFF)
    exchange_ts = int(tick.exchange_ts)
    traded_ts = exchange_ts if last_trade_ts is None else int(last_trade_ts)
    return _FULL.pack(
        *_quote_fields(tick, div),
        traded_ts,
        oi,
        oi_day_high,
        oi_day_low,
        exchange_ts,
        *_levels(tick.bids, div),
        *_levels(tick.asks, div),
    )


def index_packet(tick: MarketTick, *, full: bool) -> bytes:
    """An index quote (28 bytes) or full (32, with exchange time) packet; `change` is net change."""
    div = price_divisor(tick.instrument_token & 0xFF)
    fields = (
        tick.instrument_token,
        _scaled(tick.last_price, div),
        _scaled(tick.high, div),
        _scaled(tick.low, div),
        _scaled(tick.open, div),
        _scaled(tick.close, div),
        _scaled(tick.last_price - tick.close, div) if tick.close else 0,
    )
    if full:
        return _INDEX_FULL.pack(*fields, int(tick.exchange_ts))
    return _INDEX_QUOTE.pack(*fields)


def packet(tick: MarketTick, mode: Mode) -> bytes:
    """The packet Kite sends for this tick in this mode (index instruments get index packets)."""
    if mode is Mode.LTP:
        return ltp_packet(tick)
    if is_index(tick.instrument_token):
        return index_packet(tick, full=mode is Mode.FULL)
    if mode is Mode.FULL:
        return full_packet(tick)
    return quote_packet(tick)


def frame(packets: Sequence[bytes]) -> bytes:
    """One binary frame of up to 65,535 packets."""
    if len(packets) > MAX_PACKETS_PER_FRAME:
        raise ValueError(f"a frame holds at most {MAX_PACKETS_PER_FRAME} packets, not {len(packets)}")
    parts = [_COUNT.pack(len(packets))]
    for body in packets:
        parts.append(_COUNT.pack(len(body)))
        parts.append(body)
    return b"".join(parts)


def _quote_fields(tick: MarketTick, div: float) -> tuple[int, ...]:
    return (
        tick.instrument_token,
        _scaled(tick.last_price, div),
        tick.last_quantity,
        _scaled(tick.average_price, div),
        tick.volume,
        tick.buy_quantity,
        tick.sell_quantity,
        _scaled(tick.open, div),
        _scaled(tick.high, div),
        _scaled(tick.low, div),
        _scaled(tick.close, div),
    )


def _levels(levels: tuple[DepthLevel, ...], div: float) -> list[int]:
    """Five levels of (quantity, price, orders), padded with empty levels."""
    if len(levels) < DEPTH_LEVELS:
        levels = levels + (_EMPTY_LEVEL,) * (DEPTH_LEVELS - len(levels))
    out: list[int] = []
    for level in levels[:DEPTH_LEVELS]:
        out += (level.quantity, round(level.price * div), level.orders)
    return out
