"""Instruments dumps from the Kite sandbox (the real kiteconnect client): download, cache, the daily
refresh, a failed download keeping the cache, and the shipped sample when Kite cannot be reached."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.instruments import InstrumentRegistry
from engine.runtime import Engine
from engine.settings import ConfigError, Settings, load_settings
from engine.zerodha.instruments_dump import InstrumentsDump, prepare_instruments, rest_for
from kite_sandbox.server import KiteSandbox
from tests.engine.zerodha.dumps import set_fetched_at
from tests.engine.zerodha.kite_login import log_in
from tests.sandbox import running_sandbox, sandbox_settings

DUMP_ROUTE = "GET /instruments/{exchange}"
SYNTHETIC = 5  # the sandbox's instruments beyond the sample: SBX00001..SBX00005


def settings_for(sandbox: KiteSandbox, data_dir: Path, *, feed: str = "zerodha", **zerodha: Any) -> Settings:
    overrides = sandbox_settings(sandbox, data_dir)
    overrides["zerodha"].update({"rest_retries": 1, "rest_backoff_s": 0.01, **zerodha})
    overrides["feed"] = {"source": feed}
    return load_settings(**overrides)


async def test_the_dump_is_downloaded_cached_and_becomes_the_engines_instruments(tmp_path: Path) -> None:
    async with running_sandbox(instruments=SYNTHETIC) as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await log_in(sandbox, settings)
        result = await prepare_instruments(settings)
    assert result is not None
    assert result.failed == {}
    sample_nse = len([i for i in InstrumentRegistry.sample() if i.exchange == "NSE"])
    assert result.downloaded == {"NSE": sample_nse + SYNTHETIC}
    cached = settings.instruments_dir / "NSE.csv"
    assert cached.is_file()
    assert not list(settings.instruments_dir.glob("*.tmp"))
    engine = Engine(settings, persist=False)  # the sandbox is gone: the cache is what the engine reads
    assert engine.instruments.by_symbol("SBX00003").exchange == "NSE"
    assert engine.instruments.by_symbol("NSE:RELIANCE").instrument_token == 738561
    assert engine.instruments_dump is not None
    assert engine.instruments_dump.fallback_reason == ""


async def test_the_dump_is_fetched_once_a_trading_day(tmp_path: Path) -> None:
    async with running_sandbox(instruments=SYNTHETIC) as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await log_in(sandbox, settings)
        await prepare_instruments(settings)
        assert sandbox.stats.rest_calls[DUMP_ROUTE] == 1
        again = await prepare_instruments(settings)  # the same day: the cache is fresh
        assert again is not None
        assert again.fresh == ["NSE"]
        assert sandbox.stats.rest_calls[DUMP_ROUTE] == 1
        dump = InstrumentsDump.for_settings(settings)
        set_fetched_at(dump.path("NSE"), dump.latest_publication() - timedelta(minutes=1))
        assert dump.stale() == ["NSE"]  # fetched before the latest day's dump came out
        refreshed = await prepare_instruments(settings)
        assert refreshed is not None
        assert list(refreshed.downloaded) == ["NSE"]
        assert sandbox.stats.rest_calls[DUMP_ROUTE] == 2
        assert dump.is_fresh("NSE")


async def test_offline_without_a_cache_the_shipped_sample_stands_in_with_a_logged_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_sandbox(instruments=SYNTHETIC) as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await log_in(sandbox, settings)
    # the sandbox is stopped: Kite cannot be reached
    with caplog.at_level(logging.WARNING):
        result = await prepare_instruments(settings)
        engine = Engine(settings, persist=False)
    assert result is not None
    assert "Kite unreachable at" in result.failed["NSE"]
    assert "the NSE instruments dump was not refreshed" in caplog.text
    assert "using the shipped sample instruments" in caplog.text
    assert not (settings.instruments_dir / "NSE.csv").exists()
    assert engine.instruments_dump is not None
    assert "no instruments dump for NSE yet" in engine.instruments_dump.fallback_reason
    assert engine.instruments_dump.fallback_reason in caplog.text
    assert engine.instruments.by_symbol("RELIANCE").instrument_token == 738561
    with pytest.raises(KeyError):
        engine.instruments.by_symbol("SBX00001")


async def test_offline_with_yesterdays_cache_the_cache_is_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_sandbox(instruments=SYNTHETIC) as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await log_in(sandbox, settings)
        await prepare_instruments(settings)
    dump = InstrumentsDump.for_settings(settings)
    set_fetched_at(dump.path("NSE"), dump.latest_publication() - timedelta(days=1))
    with caplog.at_level(logging.WARNING):
        result = await prepare_instruments(settings)
    assert result is not None
    assert "NSE" in result.failed
    assert "using the one fetched" in caplog.text
    engine = Engine(settings, persist=False)
    assert engine.instruments.by_symbol("SBX00005").exchange == "NSE"
    assert engine.instruments_dump is not None
    assert engine.instruments_dump.fallback_reason == ""


async def test_a_failing_download_keeps_the_cached_dump(tmp_path: Path) -> None:
    async with running_sandbox(instruments=SYNTHETIC) as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await log_in(sandbox, settings)
        await prepare_instruments(settings)
        dump = InstrumentsDump.for_settings(settings)
        before = dump.path("NSE").read_bytes()
        sandbox.faults.fail_rest(503, count=10)
        result = await dump.refresh(rest_for(settings), force=True)
        assert "HTTP 503" in result.failed["NSE"]
        assert "gave up after 2 attempts" in result.failed["NSE"]
        assert dump.path("NSE").read_bytes() == before


async def test_a_download_retried_after_a_429_succeeds(tmp_path: Path) -> None:
    async with running_sandbox(instruments=SYNTHETIC) as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await log_in(sandbox, settings)
        sandbox.faults.rate_limit(count=1)
        result = await prepare_instruments(settings)
        assert result is not None
        assert result.failed == {}
        assert sandbox.stats.rest_calls[DUMP_ROUTE] == 2


async def test_without_a_login_the_dump_waits_for_one_and_no_session_is_marked(tmp_path: Path) -> None:
    async with running_sandbox(instruments=SYNTHETIC) as sandbox:
        settings = settings_for(sandbox, tmp_path)
        rest = rest_for(settings)
        result = await InstrumentsDump.for_settings(settings).refresh(rest)
        assert "Kite wants a login for instruments" in result.failed["NSE"]
        assert rest.broker_session is not None
        assert rest.broker_session.status().describe() == "absent"


async def test_a_feed_symbol_missing_from_the_days_dump_is_a_clear_config_error(tmp_path: Path) -> None:
    async with running_sandbox(instruments=SYNTHETIC) as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await log_in(sandbox, settings)
        await prepare_instruments(settings)
    ok = settings.model_copy(
        update={"feed": settings.feed.model_copy(update={"symbols": ["SBX00002", "INFY"]})}
    )
    Engine(ok, persist=False)
    bad = settings.model_copy(update={"feed": settings.feed.model_copy(update={"symbols": ["SBX0002"]})})
    with pytest.raises(ConfigError, match=r"unknown trading symbol\(s\) 'SBX0002' \(did you mean 'SBX00002'"):
        Engine(bad, persist=False)


async def test_a_simulated_feed_keeps_the_sample_even_with_zerodha_on(tmp_path: Path) -> None:
    async with running_sandbox(instruments=SYNTHETIC) as sandbox:
        settings = settings_for(sandbox, tmp_path, feed="simulated")
        await log_in(sandbox, settings)
        assert await prepare_instruments(settings) is None
        assert sandbox.stats.rest_calls[DUMP_ROUTE] == 0
    engine = Engine(settings, persist=False)
    assert all(not i.tradingsymbol.startswith("SBX") for i in engine.instruments)


async def test_a_running_engine_fetches_the_days_dump_after_the_login_and_adds_the_new_instruments(
    tmp_path: Path,
) -> None:
    async with running_sandbox(instruments=SYNTHETIC) as sandbox:
        settings = settings_for(sandbox, tmp_path)
        engine = Engine(settings, persist=False)  # no login, no dump: the sample stands in
        assert engine.instruments_refresher is not None
        with pytest.raises(KeyError):
            engine.instruments.by_symbol("SBX00001")
        await engine.start()
        try:
            await asyncio.sleep(0.2)
            assert sandbox.stats.rest_calls[DUMP_ROUTE] == 0  # it waits for a login
            await log_in(sandbox, settings)  # as `alpha-panda-tui login` in another terminal
            async with asyncio.timeout(10):
                while engine.instruments_refresher.added == 0:  # noqa: ASYNC110 - a counter, not an event
                    await asyncio.sleep(0.05)
            assert engine.instruments_refresher.added == SYNTHETIC
            assert engine.instruments.by_symbol("SBX00004").exchange == "NSE"
            assert (settings.instruments_dir / "NSE.csv").is_file()
            assert sandbox.stats.rest_calls[DUMP_ROUTE] == 1
        finally:
            await engine.stop()
