"""The sandbox's packet encoder against Zerodha's reference packets and both decoders: ours
(engine.market.kite_decoder) and the official client's `KiteTicker._parse_binary` (never started)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.clock import ManualClock
from engine.events import DepthLevel, MarketTick
from engine.instruments import Instrument, InstrumentRegistry
from engine.market.kite_decoder import (
    FULL_PACKET,
    INDEX_FULL_PACKET,
    INDEX_QUOTE_PACKET,
    LTP_PACKET,
    QUOTE_PACKET,
    KiteFrameDecoder,
)
from engine.market.simulated import SimulatedFeed
from kite_sandbox.packets import (
    HEARTBEAT,
    MAX_PACKETS_PER_FRAME,
    Mode,
    frame,
    full_packet,
    packet,
    quote_packet,
)

kiteconnect = pytest.importorskip("kiteconnect", reason="the official Kite client is the reference")

MOCKS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "kite-mocks"
OFFICIAL = kiteconnect.KiteTicker("test-api-key", "test-access-token")
RECEIVED_TS = 1_700_000_000.5
SESSION_TS = 1_764_646_200.0  # 2025-12-02 09:00 IST: a whole second, as the packets carry


def _mock(name: str) -> Path:
    path = MOCKS / name
    if not path.is_file():
        pytest.skip(f"Zerodha's reference mocks are not at {MOCKS.resolve()} (../shared/data/kite-mocks)")
    return path


def _tick_from_mock_json(data: dict[str, Any]) -> MarketTick:
    ohlc = data["ohlc"]
    depth = data.get("depth", {"buy": [], "sell": []})
    stamp = data.get("timestamp")
    return MarketTick(
        instrument_token=data["instrument_token"],
        last_price=data["last_price"],
        exchange_ts=datetime.fromisoformat(stamp).timestamp() if stamp else RECEIVED_TS,
        last_quantity=data["last_quantity"],
        average_price=data["average_price"],
        volume=data["volume"],
        buy_quantity=data["buy_quantity"],
        sell_quantity=data["sell_quantity"],
        open=ohlc["open"],
        high=ohlc["high"],
        low=ohlc["low"],
        close=ohlc["close"],
        bids=tuple(DepthLevel(lv["price"], lv["quantity"], lv["orders"]) for lv in depth["buy"]),
        asks=tuple(DepthLevel(lv["price"], lv["quantity"], lv["orders"]) for lv in depth["sell"]),
    )


def test_full_packet_matches_zerodhas_reference_byte_for_byte() -> None:
    reference = base64.b64decode(_mock("ticker_full.packet").read_text(encoding="ascii"))
    data = json.loads(_mock("ticker_full.json").read_text(encoding="utf-8"))
    tick = _tick_from_mock_json(data)
    traded = datetime.fromisoformat(data["last_trade_time"]).timestamp()
    encoded = full_packet(tick, last_trade_ts=traded, oi=data["oi"])
    assert len(encoded) == FULL_PACKET
    assert encoded == reference


def test_quote_packet_matches_zerodhas_reference_byte_for_byte() -> None:
    reference = base64.b64decode(_mock("ticker_quote.packet").read_text(encoding="ascii"))
    tick = _tick_from_mock_json(json.loads(_mock("ticker_quote.json").read_text(encoding="utf-8")))
    assert quote_packet(tick) == reference
    assert packet(tick, Mode.QUOTE) == reference


def _official(data: bytes) -> list[dict[str, Any]]:
    ticks: list[dict[str, Any]] = OFFICIAL._parse_binary(data)
    return ticks


def _simulated_ticks(extra: list[Instrument] | None = None) -> list[MarketTick]:
    instruments = [*InstrumentRegistry.sample(), *(extra or [])]
    feed = SimulatedFeed(instruments, clock=ManualClock(SESSION_TS), seed=7)
    return feed.next_batch(len(instruments) * 3)


def _with_second_stamp(tick: MarketTick) -> MarketTick:
    return MarketTick(**{**_fields(tick), "exchange_ts": float(int(tick.exchange_ts))})


def _fields(tick: MarketTick) -> dict[str, Any]:
    return {name: getattr(tick, name) for name in MarketTick.__struct_fields__}


def _assert_same_tick(decoded: MarketTick, original: MarketTick, *, mode: Mode, index: bool) -> None:
    if mode is Mode.LTP:
        assert (decoded.instrument_token, decoded.last_price) == (
            original.instrument_token,
            original.last_price,
        )
        return
    got, want = _fields(decoded), _fields(_with_second_stamp(original))
    assert got.pop("change") == pytest.approx(want.pop("change"), abs=1e-9)
    if mode is Mode.QUOTE or (index and mode is not Mode.FULL):
        got.pop("exchange_ts")
        want.pop("exchange_ts")
    if mode is Mode.QUOTE and not index:
        want["bids"] = want["asks"] = ()
    assert got == want


@pytest.mark.parametrize("mode", list(Mode))
def test_every_mode_round_trips_through_our_decoder(mode: Mode) -> None:
    ticks = _simulated_ticks()
    data = frame([packet(t, mode) for t in ticks])
    decoder = KiteFrameDecoder()
    decoded = decoder.decode(data, RECEIVED_TS)
    assert decoder.garbage == {}
    assert len(decoded) == len(ticks)
    indices = {i.instrument_token for i in InstrumentRegistry.sample() if not i.tradable}
    for got, original in zip(decoded, ticks, strict=True):
        _assert_same_tick(got, original, mode=mode, index=original.instrument_token in indices)


@pytest.mark.parametrize("mode", list(Mode))
def test_every_mode_decodes_identically_in_the_official_client(mode: Mode) -> None:
    ticks = _simulated_ticks()
    data = frame([packet(t, mode) for t in ticks])
    ours = KiteFrameDecoder().decode(data, RECEIVED_TS)
    theirs = _official(data)
    assert len(theirs) == len(ticks)
    expected_sizes = {Mode.LTP: {LTP_PACKET}, Mode.QUOTE: {QUOTE_PACKET, INDEX_QUOTE_PACKET}}
    expected_sizes[Mode.FULL] = {FULL_PACKET, INDEX_FULL_PACKET}
    assert {len(packet(t, mode)) for t in ticks} == expected_sizes[mode]
    for mine, official in zip(ours, theirs, strict=True):
        assert official["mode"] == mode.value
        assert official["instrument_token"] == mine.instrument_token
        assert official["last_price"] == mine.last_price
        assert official["tradable"] == (mine.instrument_token & 0xFF != 9)
        if mode is Mode.LTP:
            continue
        assert official["ohlc"] == {
            "open": mine.open,
            "high": mine.high,
            "low": mine.low,
            "close": mine.close,
        }
        assert official["change"] == mine.change
        if "volume_traded" in official:
            assert official["volume_traded"] == mine.volume
            assert official["average_traded_price"] == mine.average_price
            assert official["last_traded_quantity"] == mine.last_quantity
        if "exchange_timestamp" in official:
            assert official["exchange_timestamp"].timestamp() == mine.exchange_ts
        if "depth" in official:
            assert [(lv["price"], lv["quantity"], lv["orders"]) for lv in official["depth"]["buy"]] == [
                (lv.price, lv.quantity, lv.orders) for lv in mine.bids
            ]


@pytest.mark.parametrize(("segment", "tick_size"), [(3, 0.0025), (6, 0.0025), (12, 0.01), (2, 0.05)])
def test_segment_divisors_round_trip(segment: int, tick_size: float) -> None:
    inst = Instrument(
        instrument_token=1234 << 8 | segment,
        exchange_token=1234,
        tradingsymbol="X",
        name="X",
        last_price=83.1225,
        tick_size=tick_size,
        lot_size=1,
        instrument_type="FUT",
        segment="X",
        exchange="X",
    )
    (tick,) = SimulatedFeed([inst], clock=ManualClock(SESSION_TS), seed=3).next_batch(1)
    data = frame([packet(tick, Mode.FULL)])
    (decoded,) = KiteFrameDecoder().decode(data, RECEIVED_TS)
    _assert_same_tick(decoded, tick, mode=Mode.FULL, index=False)
    assert _official(data)[0]["last_price"] == tick.last_price


def test_a_heartbeat_is_one_byte_and_gives_no_ticks() -> None:
    decoder = KiteFrameDecoder()
    assert len(HEARTBEAT) == 1
    assert decoder.decode(HEARTBEAT, RECEIVED_TS) == []
    assert decoder.heartbeats == 1


def test_a_frame_holds_at_most_65535_packets() -> None:
    tick = _simulated_ticks()[2]
    body = packet(tick, Mode.LTP)
    assert len(KiteFrameDecoder().decode(frame([body] * MAX_PACKETS_PER_FRAME), RECEIVED_TS)) == 65535
    with pytest.raises(ValueError, match="at most 65535 packets"):
        frame([body] * (MAX_PACKETS_PER_FRAME + 1))
