from __future__ import annotations

import msgspec
import pytest

from engine.events import (
    PAYLOAD_TYPES,
    DepthLevel,
    Event,
    EventType,
    MalformedEvent,
    MarketTick,
    Namespace,
    Side,
    TradingSignal,
    decode_event,
    encode_event,
    make_event,
)


def _tick_event() -> Event:
    tick = MarketTick(
        instrument_token=738561,
        last_price=1400.05,
        exchange_ts=1_764_000_000.25,
        bids=(DepthLevel(1400.0, 10, 2),),
        asks=(DepthLevel(1400.1, 7, 1),),
    )
    return make_event(tick, namespace=Namespace.SHARED, source="feed", key="738561")


def test_every_event_type_has_exactly_one_payload() -> None:
    assert sorted(PAYLOAD_TYPES.values()) == sorted(EventType)


def test_root_event_correlates_with_itself_and_child_inherits() -> None:
    tick_event = _tick_event()
    assert tick_event.correlation_id == tick_event.id
    signal = TradingSignal(
        strategy_id="ema", instrument_token=738561, side=Side.BUY, quantity=1, reference_price=1400.05
    )
    child = tick_event.child(signal, source="strategy_runner", key="ema", namespace=Namespace.PAPER)
    assert child.type is EventType.TRADING_SIGNAL
    assert child.correlation_id == tick_event.id
    assert child.causation_id == tick_event.id
    assert child.namespace is Namespace.PAPER
    assert child.id != tick_event.id


def test_ids_are_unique_and_uuid_shaped() -> None:
    ids = {
        make_event(_tick_event().payload, namespace=Namespace.SHARED, source="t", key="k").id
        for _ in range(1000)
    }
    assert len(ids) == 1000
    sample = next(iter(ids))
    assert [len(part) for part in sample.split("-")] == [8, 4, 4, 4, 12]


def test_round_trip_is_exact() -> None:
    event = _tick_event()
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-5],  # truncated JSON
        lambda raw: raw.replace(b'"last_price":1400.05', b'"last_price":"cheap"'),  # wrong type
        lambda raw: raw.replace(b'"type":"market_tick","payload"', b'"type":"order_filled","payload"'),
        lambda raw: raw.replace(b'"namespace":"shared"', b'"namespace":"moon"'),
    ],
)
def test_malformed_bytes_raise_malformed_event(mangle: object) -> None:
    raw = encode_event(_tick_event())
    assert callable(mangle)
    with pytest.raises(MalformedEvent):
        decode_event(mangle(raw))


def test_payloads_are_immutable() -> None:
    tick = _tick_event().payload
    with pytest.raises(AttributeError):
        tick.last_price = 1.0  # type: ignore[misc]
    assert isinstance(msgspec.json.encode(tick), bytes)
