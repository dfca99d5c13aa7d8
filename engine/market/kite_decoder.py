"""Kite Connect WebSocket binary frames -> `MarketTick`s.

A frame (big-endian) is a 2-byte packet count, then per packet a 2-byte length
and the packet. The length says the kind: 8 ltp, 28 index quote, 32 index
full, 44 quote, 184 full (quote + last trade time, open interest, exchange
time and 5 bid + 5 ask levels of quantity, price, orders). A 1-byte frame is a
heartbeat. Prices are integers divided by the segment's divisor (the low byte
of the instrument token): CDS 1e7, BCD and NCO 1e4, everything else 100.

Values match the official client's `KiteTicker._parse_binary` field for field
(`change` is percent versus close, computed the same way). Packets without an
exchange time (ltp, quote, index quote), or with a zero one, take the time the
frame was received. `MarketTick` carries no open interest, last-trade time or
tradable flag, so those are not decoded.

A malformed frame never raises: the packets before the damage are returned,
the damage is counted by kind in `garbage` and logged the first time each
kind is seen. Nothing else is checked or logged per tick.
"""

from __future__ import annotations

import logging
import struct
from enum import StrEnum

from engine.events import DepthLevel, MarketTick

log = logging.getLogger(__name__)

LTP_PACKET = 8
INDEX_QUOTE_PACKET = 28
INDEX_FULL_PACKET = 32
QUOTE_PACKET = 44
FULL_PACKET = 184
DEPTH_LEVELS = 5

SEGMENT_CDS = 3
SEGMENT_BCD = 6
SEGMENT_NCO = 12


def price_divisor(segment: int) -> float:
    """What a packet's integer prices are divided by, for an instrument of this segment."""
    if segment == SEGMENT_CDS:
        return 10_000_000.0
    if segment in (SEGMENT_BCD, SEGMENT_NCO):
        return 10_000.0
    return 100.0


_DIVISORS: tuple[float, ...] = tuple(price_divisor(segment) for segment in range(256))

_COUNT = struct.Struct(">H")
_LTP = struct.Struct(">II")
_INDEX_QUOTE = struct.Struct(">IIIIII")  # token, ltp, high, low, open, close (then change, unused)
_INDEX_FULL_TS = struct.Struct(">I")  # exchange time at offset 28
_QUOTE = struct.Struct(">11I")
_FULL = struct.Struct(">16I" + "IIH2x" * (2 * DEPTH_LEVELS))


class Garbage(StrEnum):
    """What was wrong with a frame that did not decode completely."""

    EMPTY_FRAME = "empty_frame"  # zero bytes
    TRUNCATED_HEADER = "truncated_header"  # a packet's 2-byte length runs past the frame's end
    TRUNCATED_PACKET = "truncated_packet"  # a packet runs past the frame's end
    UNKNOWN_PACKET = "unknown_packet"  # a length that is no known kind (skipped, as the official client)
    TRAILING_BYTES = "trailing_bytes"  # bytes after the last declared packet


class KiteFrameDecoder:
    """Decodes frames; keeps counts of heartbeats and of garbage by kind."""

    __slots__ = ("heartbeats", "garbage")

    def __init__(self) -> None:
        self.heartbeats = 0
        self.garbage: dict[Garbage, int] = {}

    def decode(self, frame: bytes, received_ts: float) -> list[MarketTick]:
        """Every tick in one binary frame; `received_ts` (epoch s) stands in for a missing exchange time."""
        size = len(frame)
        if size < 2:
            if size == 1:
                self.heartbeats += 1
            else:
                self._garbage(Garbage.EMPTY_FRAME, size)
            return []
        out: list[MarketTick] = []
        append = out.append
        tick = MarketTick
        level = DepthLevel
        divisors = _DIVISORS
        length_at = _COUNT.unpack_from
        (count,) = length_at(frame, 0)
        pos = 2
        for _ in range(count):
            if pos + 2 > size:
                self._garbage(Garbage.TRUNCATED_HEADER, size)
                return out
            (length,) = length_at(frame, pos)
            pos += 2
            end = pos + length
            if end > size:
                self._garbage(Garbage.TRUNCATED_PACKET, size)
                return out
            if length == FULL_PACKET:
                v = _FULL.unpack_from(frame, pos)
                div = divisors[v[0] & 0xFF]
                last = v[1] / div
                close = v[10] / div
                bids = (
                    level(v[17] / div, v[16], v[18]),
                    level(v[20] / div, v[19], v[21]),
                    level(v[23] / div, v[22], v[24]),
                    level(v[26] / div, v[25], v[27]),
                    level(v[29] / div, v[28], v[30]),
                )
                asks = (
                    level(v[32] / div, v[31], v[33]),
                    level(v[35] / div, v[34], v[36]),
                    level(v[38] / div, v[37], v[39]),
                    level(v[41] / div, v[40], v[42]),
                    level(v[44] / div, v[43], v[45]),
                )
                append(
                    tick(
                        v[0],
                        last,
                        float(v[15]) if v[15] else received_ts,
                        v[2],
                        v[3] / div,
                        v[4],
                        v[5],
                        v[6],
                        v[7] / div,
                        v[8] / div,
                        v[9] / div,
                        close,
                        (last - close) * 100 / close if close != 0 else 0.0,
                        bids,
                        asks,
                    )
                )
            elif length == QUOTE_PACKET:
                v = _QUOTE.unpack_from(frame, pos)
                div = divisors[v[0] & 0xFF]
                last = v[1] / div
                close = v[10] / div
                append(
                    tick(
                        v[0],
                        last,
                        received_ts,
                        v[2],
                        v[3] / div,
                        v[4],
                        v[5],
                        v[6],
                        v[7] / div,
                        v[8] / div,
                        v[9] / div,
                        close,
                        (last - close) * 100 / close if close != 0 else 0.0,
                    )
                )
            elif length == LTP_PACKET:
                token, price = _LTP.unpack_from(frame, pos)
                append(tick(token, price / divisors[token & 0xFF], received_ts))
            elif length in (INDEX_QUOTE_PACKET, INDEX_FULL_PACKET):
                token, price, high, low, opened, closed = _INDEX_QUOTE.unpack_from(frame, pos)
                div = divisors[token & 0xFF]
                last = price / div
                close = closed / div
                ts = received_ts
                if length == INDEX_FULL_PACKET:
                    (stamp,) = _INDEX_FULL_TS.unpack_from(frame, pos + 28)
                    if stamp:
                        ts = float(stamp)
                append(
                    tick(
                        token,
                        last,
                        ts,
                        0,
                        0.0,
                        0,
                        0,
                        0,
                        opened / div,
                        high / div,
                        low / div,
                        close,
                        (last - close) * 100 / close if close != 0 else 0.0,
                    )
                )
            else:
                self._garbage(Garbage.UNKNOWN_PACKET, length)
            pos = end
        if pos != size:
            self._garbage(Garbage.TRAILING_BYTES, size - pos)
        return out

    def _garbage(self, kind: Garbage, size: int) -> None:
        seen = self.garbage.get(kind, 0)
        self.garbage[kind] = seen + 1
        if not seen:
            log.warning(
                "kite ticker: dropped a malformed frame (%s, %d bytes); further ones are counted", kind, size
            )
