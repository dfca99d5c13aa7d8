"""The compact encodings of the event log: ids as 16 bytes, an event as a small compressed body.

Ids
    The engine's ids are UUID-shaped (`engine.events.new_event_id`); stored as
    their 16 bytes they take under half the room of the text, in the row and in
    every index over them. Any other id is stored as 0xFF + its UTF-8 (+ 0xFF
    if that would be 16 bytes long): 0xFF never occurs in UTF-8, so the two
    forms cannot be confused and every id round-trips exactly.

Bodies
    The lineage (id, correlation id, causation id, time) has its own columns;
    the body is the rest of the envelope and the payload, as msgpack,
    deflated with a preset dictionary of sample bodies (field names, enum
    values, rule names are what every body repeats), so a fill takes ~90 bytes
    instead of ~600 of JSON. The first byte names the format; a body written
    in format 1 must stay readable forever, so `_SAMPLES_V1` (the dictionary)
    is frozen: a better dictionary is a new format number, never an edit.
"""

from __future__ import annotations

import re
import zlib

import msgspec

from engine.events import PAYLOAD_TYPES, Event, MalformedEvent, decode_event

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_TEXT_MARK = b"\xff"


def encode_id(value: str) -> bytes:
    if len(value) == 36 and _UUID.match(value):
        return bytes.fromhex(value.replace("-", ""))
    data = _TEXT_MARK + value.encode()
    return data + _TEXT_MARK if len(data) == 16 else data


def decode_id(data: bytes) -> str:
    if len(data) == 16:
        h = data.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if not data.startswith(_TEXT_MARK):
        raise MalformedEvent(f"not a stored id: {data!r}")
    return data[1:].removesuffix(_TEXT_MARK).decode(errors="replace")


# -- bodies ----------------------------------------------------------------------

FORMAT_JSON = 0  # the whole event as JSON: a row the schema migration could not re-encode, kept as it was
FORMAT_V1 = 1
_RULES = [
    "kill_switch", "loss_limit", "market_hours", "instrument", "stale_feed", "lot_size", "tick_size",
    "max_quantity", "price_band", "circuit_limit", "max_order_value", "max_position_value",
    "max_open_positions", "max_orders_per_minute",
]  # fmt: skip
_SIGNAL = {
    "type": "trading_signal", "strategy_id": "rsi_14", "instrument_token": 2977281, "side": "BUY",
    "quantity": 20, "reference_price": 339.65, "order_type": "MARKET", "limit_price": None,
    "product": "MIS", "reason": "RSI(14) 23.1 oversold", "confidence": 1.0, "signal_ts": 1796183100.2,
}  # fmt: skip
# representative envelopes, the most frequent last (deflate reaches near matches cheapest)
_SAMPLES_V1: list[dict[str, object]] = [
    {"type": "command", "payload": {"type": "command", "action": "halt", "target": "", "reason": "",
     "issued_by": "tui"}, "namespace": "shared", "source": "control", "key": "engine", "version": 1},
    {"type": "order_cancelled", "payload": {"type": "order_cancelled", "order_id": "P-mx5dqiqk-1",
     "strategy_id": "rsi_14", "instrument_token": 2977281, "unfilled_quantity": 20, "reason": ""},
     "namespace": "paper", "source": "execution.paper", "key": "rsi_14", "version": 1},
    {"type": "signal_rejected", "payload": {"type": "signal_rejected", "signal": _SIGNAL,
     "rule": "price_band", "reason": ""}, "namespace": "paper", "source": "risk.paper", "key": "rsi_14",
     "version": 1},
    {"type": "pnl_snapshot", "payload": {"type": "pnl_snapshot", "portfolio_id": "paper:rsi_14",
     "strategy_id": "rsi_14", "realized_pnl": 0.0, "unrealized_pnl": 0.0, "charges": 2.86, "cash": 993197.78,
     "equity": 999997.14, "positions": [[2977281, 20, 339.968, 339.968, 0.0, 0.0]],
     "snapshot_ts": 1796183100.2}, "namespace": "paper", "source": "portfolio.paper", "key": "paper:rsi_14",
     "version": 1},
    {"type": "order_placed", "payload": {"type": "order_placed", "order_id": "P-mx5dqiqk-1",
     "strategy_id": "rsi_14", "instrument_token": 2977281, "side": "BUY", "quantity": 20,
     "order_type": "MARKET", "product": "MIS", "limit_price": None, "placed_ts": 1796183100.2},
     "namespace": "paper", "source": "execution.paper", "key": "rsi_14", "version": 1},
    {"type": "order_filled", "payload": {"type": "order_filled", "order_id": "P-mx5dqiqk-1",
     "trade_id": "P-mx5dqiqk-1-1", "strategy_id": "rsi_14", "instrument_token": 2977281, "side": "BUY",
     "quantity": 20, "price": 339.968, "product": "MIS", "charges": {"brokerage": 2.04, "stt": 0.0,
     "exchange": 0.2, "sebi": 0.01, "gst": 0.41, "stamp_duty": 0.2}, "remaining_quantity": 0,
     "fill_ts": 1796183100.2}, "namespace": "paper", "source": "execution.paper", "key": "rsi_14",
     "version": 1},
    {"type": "trading_signal", "payload": _SIGNAL, "namespace": "paper", "source": "strategy_runner",
     "key": "rsi_14", "version": 1},
    {"type": "signal_validated", "payload": {"type": "signal_validated", "signal": _SIGNAL, "quantity": 20,
     "rules_passed": _RULES}, "namespace": "paper", "source": "risk.paper", "key": "rsi_14", "version": 1},
]  # fmt: skip
_DICTIONARY_V1 = b"".join(msgspec.msgpack.encode(sample) for sample in _SAMPLES_V1)

_msgpack = msgspec.msgpack.Encoder()
_event_decoder = msgspec.msgpack.Decoder(Event)


def encode_body(event: Event) -> bytes:
    envelope = {
        "type": event.type,
        "payload": event.payload,
        "namespace": event.namespace,
        "source": event.source,
        "key": event.key,
        "version": event.version,
    }
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, _DICTIONARY_V1)
    return bytes((FORMAT_V1,)) + deflate.compress(_msgpack.encode(envelope)) + deflate.flush()


def decode_body(body: bytes, *, event_id: str, correlation_id: str, causation_id: str, ts: float) -> Event:
    """The stored event; raises MalformedEvent if the body is not one this release can read."""
    if body[:1] == bytes((FORMAT_JSON,)):
        return decode_event(body[1:])
    if body[:1] != bytes((FORMAT_V1,)):
        raise MalformedEvent(f"unknown event body format {body[:1]!r}")
    try:
        inflate = zlib.decompressobj(-15, _DICTIONARY_V1)
        packed = inflate.decompress(body[1:]) + inflate.flush()
        envelope = msgspec.msgpack.decode(packed)
        if not isinstance(envelope, dict):
            raise MalformedEvent("an event body is not a map")
        envelope.update(id=event_id, correlation_id=correlation_id, causation_id=causation_id, ts=ts)
        event = _event_decoder.decode(_msgpack.encode(envelope))
    except (zlib.error, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedEvent(str(exc)) from exc
    if PAYLOAD_TYPES[type(event.payload)] is not event.type:
        raise MalformedEvent(f"envelope type {event.type.value!r} does not match its payload")
    return event
