"""The instruments-dump cache: parse and save, the once-a-trading-day freshness rule, load and fallback."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

import pytest

from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST
from engine.zerodha.instruments_dump import DumpError, InstrumentsDump, parse_dump
from tests.engine.zerodha.dumps import BSE_ROWS, NFO_ROWS, NSE_ROWS, dump_text, set_fetched_at


def ist(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=IST)


class Now:
    def __init__(self, when: str) -> None:
        self.value = ist(when)

    def __call__(self) -> datetime:
        return self.value


def make_dump(tmp_path: Path, *exchanges: str, now: str = "2026-12-02 10:00") -> tuple[InstrumentsDump, Now]:
    clock = Now(now)
    return InstrumentsDump(tmp_path / "instruments", exchanges or ("NSE",), now=clock), clock


def test_a_kite_dump_parses_with_expiry_strike_lot_and_tick_size() -> None:
    instruments = {i.tradingsymbol: i for i in parse_dump(dump_text(*NFO_ROWS), "NFO")}
    option = instruments["NIFTY26DEC26000CE"]
    assert option.expiry == date(2026, 12, 29)
    assert option.strike == 26000.0
    assert option.lot_size == 65
    assert option.tick_size == 0.05
    assert option.segment == "NFO-OPT"
    assert option.instrument_type == "CE"
    future = instruments["NIFTY26DECFUT"]
    assert (future.expiry, future.strike, future.tick_size) == (date(2026, 12, 29), 0.0, 0.1)


def test_the_shipped_sample_still_loads_without_expiries() -> None:
    sample = InstrumentRegistry.sample()
    assert len(sample) > 10
    assert all(i.expiry is None and i.strike == 0.0 for i in sample)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("<html><body>Bad gateway</body></html>", "no instrument_token"),
        (dump_text(), "is empty"),
        (dump_text("408065,1594,INFY,INFOSYS,0.0,,0.0,0.05"), "bad instrument row"),
        (dump_text("x,1594,INFY,INFOSYS,0.0,,0.0,0.05,1,EQ,NSE,NSE"), "NSE dump:2"),
        (dump_text("1,1,X,X,0.0,29-12-2026,0.0,0.05,1,FUT,NFO-FUT,NFO"), "bad instrument row"),
    ],
)
def test_a_download_that_is_not_a_dump_is_refused_and_the_cache_kept(
    tmp_path: Path, text: str, why: str
) -> None:
    dump, _ = make_dump(tmp_path)
    assert dump.save("NSE", dump_text(*NSE_ROWS)) == len(NSE_ROWS)
    before = dump.path("NSE").read_text()
    with pytest.raises(DumpError, match=why):
        dump.save("NSE", text)
    assert dump.path("NSE").read_text() == before
    assert not list(dump.directory.glob("*.tmp"))


@pytest.mark.parametrize(
    ("fetched", "now", "fresh"),
    [
        ("2026-12-02 08:45", "2026-12-02 10:00", True),  # after today's publication
        ("2026-12-02 08:00", "2026-12-02 10:00", False),  # before it: fetch today's
        ("2026-12-01 16:00", "2026-12-02 08:10", True),  # today's is not out yet: yesterday's serves
        ("2026-12-01 16:00", "2026-12-02 08:30", False),  # ... until 08:30
        ("2026-12-04 09:00", "2026-12-05 12:00", True),  # Friday's serves Saturday
        ("2026-12-04 09:00", "2026-12-07 08:29", True),  # ... and Monday before the publication
        ("2026-12-04 09:00", "2026-12-07 08:31", False),
        ("2026-12-24 09:00", "2026-12-25 11:00", True),  # Christmas is no trading day
    ],
)
def test_a_cached_dump_is_fresh_once_fetched_after_the_latest_trading_days_publication(
    tmp_path: Path, fetched: str, now: str, fresh: bool
) -> None:
    dump, _ = make_dump(tmp_path, now=now)
    dump.save("NSE", dump_text(*NSE_ROWS))
    set_fetched_at(dump.path("NSE"), ist(fetched))
    assert dump.is_fresh("NSE") is fresh
    assert dump.stale() == ([] if fresh else ["NSE"])


def test_a_missing_dump_is_stale(tmp_path: Path) -> None:
    dump, _ = make_dump(tmp_path, "NSE", "NFO")
    dump.save("NSE", dump_text(*NSE_ROWS))
    assert dump.stale() == ["NFO"]


def test_the_registry_is_built_from_every_cached_exchange(tmp_path: Path) -> None:
    dump, _ = make_dump(tmp_path, "NSE", "NFO")
    dump.save("NSE", dump_text(*NSE_ROWS))
    dump.save("NFO", dump_text(*NFO_ROWS))
    registry = dump.load()
    assert dump.fallback_reason == ""
    assert len(registry) == len(NSE_ROWS) + len(NFO_ROWS)
    assert registry.by_symbol("nifty26dec26000ce").strike == 26000.0
    assert registry.by_symbol("ACC").instrument_token == 5633  # not in the shipped sample
    assert registry.by_symbol("NFO:NIFTY26DECFUT").lot_size == 65


def test_a_symbol_on_two_exchanges_is_the_first_configured_ones_unless_prefixed(tmp_path: Path) -> None:
    dump, _ = make_dump(tmp_path, "NSE", "BSE")
    dump.save("NSE", dump_text(*NSE_ROWS))
    dump.save("BSE", dump_text(*BSE_ROWS))
    registry = dump.load()
    assert registry.by_symbol("INFY").exchange == "NSE"
    assert registry.by_symbol("BSE:INFY").instrument_token == 128053508
    assert registry.by_symbol("NSE:INFY").instrument_token == 408065


def test_without_any_dump_the_shipped_sample_stands_in_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dump, _ = make_dump(tmp_path, "NSE", "NFO")
    with caplog.at_level(logging.WARNING):
        registry = dump.load()
    sample = InstrumentRegistry.sample()
    assert sorted(i.instrument_token for i in registry) == sorted(i.instrument_token for i in sample)
    assert "no instruments dump for NSE, NFO yet" in dump.fallback_reason
    assert "shipped sample" in dump.fallback_reason
    assert dump.fallback_reason in caplog.text


def test_an_unreadable_cached_dump_falls_back_too(tmp_path: Path) -> None:
    dump, _ = make_dump(tmp_path)
    dump.directory.mkdir(parents=True)
    dump.path("NSE").write_text("instrument_token\nnot a number\n")
    registry = dump.load()
    assert registry.by_symbol("RELIANCE").instrument_token == 738561  # the sample's
    assert "NSE" in dump.fallback_reason


def test_describe_names_each_exchange_its_size_and_age(tmp_path: Path) -> None:
    dump, clock = make_dump(tmp_path, "NSE", "NFO", now="2026-12-02 11:00")
    dump.save("NSE", dump_text(*NSE_ROWS))
    set_fetched_at(dump.path("NSE"), ist("2026-12-02 08:41"))
    fresh, text = dump.describe()
    assert not fresh
    assert "NSE: 4 instruments fetched 2026-12-02 08:41 IST (2 h ago)" in text
    assert "NFO: not downloaded yet (the shipped sample stands in)" in text
    dump.save("NFO", dump_text(*NFO_ROWS))
    set_fetched_at(dump.path("NFO"), ist("2026-12-02 10:30"))
    fresh, text = dump.describe()
    assert fresh
    assert "NFO: 2 instruments fetched 2026-12-02 10:30 IST (30 min ago)" in text
    clock.value = ist("2026-12-04 09:00")
    fresh, text = dump.describe()
    assert not fresh
    assert "(2 days ago); refreshed at the next start" in text


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-12-02 08:00", "2026-12-02 08:30"),  # today's, still to come
        ("2026-12-02 08:30", "2026-12-03 08:30"),
        ("2026-12-04 10:00", "2026-12-07 08:30"),  # Friday -> Monday
        ("2026-12-24 10:00", "2026-12-28 08:30"),  # Christmas and the weekend skipped
    ],
)
def test_the_next_publication_is_the_next_trading_days(tmp_path: Path, now: str, expected: str) -> None:
    dump, _ = make_dump(tmp_path, now=now)
    assert dump.next_publication() == ist(expected)


def test_a_new_days_instruments_are_added_and_known_ones_kept(tmp_path: Path) -> None:
    dump, _ = make_dump(tmp_path, "NSE", "NFO")
    dump.save("NSE", dump_text(*NSE_ROWS))
    registry = dump.load()
    infy = registry.by_symbol("INFY")
    dump.save("NFO", dump_text(*NFO_ROWS))
    assert registry.add_new(dump.load()) == len(NFO_ROWS)  # NSE's are known already
    assert registry.by_symbol("INFY") is infy
    assert registry.by_symbol("NIFTY26DECFUT").lot_size == 65
    assert registry.add_new(dump.load()) == 0
