"""KiteRest, with the official kiteconnect client, against the Kite sandbox: retries, errors, expiry."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

import pytest

from engine.settings import Settings, load_settings
from engine.zerodha.broker_session import BrokerSession, SessionState
from engine.zerodha.errors import BrokerError, BrokerUnavailable, SessionExpired
from engine.zerodha.rest import KiteRest
from engine.zerodha.session import SessionStore
from kite_sandbox.server import KiteSandbox
from tests.engine.zerodha.kite_login import log_in
from tests.sandbox import running_sandbox, sandbox_settings

FAST_RETRIES = {
    "rest_retries": 3,
    "rest_backoff_s": 0.01,
    "rest_backoff_cap_s": 0.05,
    "rest_timeout_s": 5.0,
    "quote_rate_per_s": 100.0,
}


def settings_for(sandbox: KiteSandbox, data_dir: Path, **zerodha: Any) -> Settings:
    overrides = sandbox_settings(sandbox, data_dir)
    overrides["zerodha"].update(FAST_RETRIES, **zerodha)
    return load_settings(**overrides)


def rest_on(settings: Settings) -> tuple[KiteRest, BrokerSession]:
    assert settings.zerodha.api_key is not None
    session = BrokerSession(
        SessionStore(settings.kite_session_file), settings.zerodha.api_key.get_secret_value()
    )
    return KiteRest(settings.zerodha, session), session


async def logged_in_rest(
    sandbox: KiteSandbox, data_dir: Path, **zerodha: Any
) -> tuple[KiteRest, BrokerSession]:
    settings = settings_for(sandbox, data_dir, **zerodha)
    await log_in(sandbox, settings)
    return rest_on(settings)


async def test_calls_reach_kite_with_the_saved_sessions_token(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        rest, _ = await logged_in_rest(sandbox, tmp_path, quote_rate_per_s=1.0)
        profile = await rest.profile()
        assert profile["user_id"] == sandbox.config.user_id
        margins = await rest.margins("equity")
        assert margins["available"]["cash"] > 0
        ltp = await rest.ltp("NSE:RELIANCE", "NSE:INFY")
        assert set(ltp) == {"NSE:RELIANCE", "NSE:INFY"}
        assert ltp["NSE:RELIANCE"]["last_price"] > 0
        quote = await rest.quote("NSE:INFY")
        assert len(quote["NSE:INFY"]["depth"]["buy"]) == 5
        trades = await rest.call("trades")
        assert trades == []
        assert rest.retries == 0
        assert rest.limiter.waited_s > 0  # Kite allows one quote call a second: the second one waited


@pytest.mark.parametrize("fault", ["rate_limit", "fail_rest_503", "fail_rest_502", "fail_rest_500"])
async def test_429_and_5xx_are_retried_with_backoff_then_the_call_succeeds(
    tmp_path: Path, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_sandbox() as sandbox:
        rest, _ = await logged_in_rest(sandbox, tmp_path)
        if fault == "rate_limit":
            sandbox.faults.rate_limit(count=2)
        else:
            sandbox.faults.fail_rest(int(fault.rsplit("_", 1)[1]), count=2)
        calls_before = sandbox.stats.rest_calls["GET /user/profile"]
        with caplog.at_level(logging.WARNING, logger="engine.zerodha.rest"):
            profile = await rest.profile()
        assert profile["user_id"] == sandbox.config.user_id
        assert (
            sandbox.stats.rest_calls["GET /user/profile"] - calls_before == 3
        )  # two failures, then the answer
        assert rest.retries == 2
        assert "retry 1 of 3" in caplog.text
        assert "retry 2 of 3" in caplog.text
        delays = [record.args[-1] for record in caplog.records if isinstance(record.args, tuple)]
        assert len(delays) == 2
        assert 0.009 <= delays[0] <= 0.011  # rest_backoff_s, give or take the jitter
        assert 0.018 <= delays[1] <= 0.022  # doubled


async def test_a_persistent_5xx_ends_in_a_clear_broker_error_after_the_retries(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        rest, session = await logged_in_rest(sandbox, tmp_path)
        sandbox.faults.fail_rest(503, count=100)
        with pytest.raises(BrokerUnavailable) as caught:
            await rest.profile()
        message = caught.value.message
        assert "Kite profile" in message
        assert "sandbox: injected failure (HTTP 503)" in message  # Kite's own words
        assert "NetworkException, HTTP 503" in message
        assert "gave up after 4 attempts" in message
        assert caught.value.status == 503
        assert sandbox.stats.rest_calls["GET /user/profile"] == 4
        assert session.status().state is SessionState.VALID  # an outage is not an expired login
        sandbox.faults.clear()
        assert (await rest.profile())["user_id"] == sandbox.config.user_id


async def test_persistent_rate_limiting_ends_in_a_broker_error_naming_it(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        rest, _ = await logged_in_rest(sandbox, tmp_path, rest_retries=1)
        sandbox.faults.rate_limit(count=10)
        with pytest.raises(
            BrokerUnavailable, match=r"Too many requests .*HTTP 429.*gave up after 2 attempts"
        ):
            await rest.ltp("NSE:INFY")


async def test_an_input_error_is_not_retried_and_carries_kites_message(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        rest, _ = await logged_in_rest(sandbox, tmp_path)
        with pytest.raises(BrokerError) as caught:
            await rest.margins("bonds")
        assert not isinstance(caught.value, BrokerUnavailable)
        assert "Invalid segment `bonds`" in caught.value.message
        assert caught.value.error_type == "InputException"
        assert caught.value.status == 400
        assert sandbox.stats.rest_calls["GET /user/margins/{segment}"] == 1
        assert rest.retries == 0


async def test_a_call_that_changes_something_is_not_retried_after_a_5xx(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        rest, _ = await logged_in_rest(sandbox, tmp_path)
        sandbox.faults.fail_rest(503, count=1)
        with pytest.raises(BrokerError, match="HTTP 503") as caught:
            await rest.call(
                "place_order",
                variety="regular",
                exchange="NSE",
                tradingsymbol="INFY",
                transaction_type="BUY",
                quantity=1,
                product="MIS",
                order_type="MARKET",
            )
        assert not isinstance(caught.value, BrokerUnavailable)
        assert rest.retries == 0
        assert (
            sum(n for route, n in sandbox.stats.rest_calls.items() if route.startswith("POST /orders")) == 1
        )


async def test_a_refused_token_marks_the_session_expired(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        rest, session = await logged_in_rest(sandbox, tmp_path)
        assert (await rest.profile())["user_id"] == sandbox.config.user_id
        sandbox.faults.expire_tokens()
        with pytest.raises(SessionExpired, match="Kite refused the access token") as caught:
            await rest.profile()
        assert caught.value.error_type == "TokenException"
        assert sandbox.stats.rest_calls["GET /user/profile"] == 2  # never retried
        status = session.status()
        assert status.state is SessionState.EXPIRED
        assert "Kite refused the access token" in status.describe()
        # no valid token now: the next call is refused here, without bothering Kite
        with pytest.raises(SessionExpired, match="no valid Kite session for ltp"):
            await rest.ltp("NSE:INFY")
        assert sandbox.stats.rest_calls["GET /quote/ltp"] == 0


async def test_a_new_login_is_used_by_the_next_call_without_a_new_client(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        settings = settings_for(sandbox, tmp_path)
        rest, session = rest_on(settings)
        with pytest.raises(SessionExpired, match=r"no valid Kite session for profile \(absent\)"):
            await rest.profile()
        await log_in(sandbox, settings)  # as `alpha-panda-tui login` in another terminal
        session.reload()
        assert (await rest.profile())["user_id"] == sandbox.config.user_id


async def test_kite_unreachable_is_retried_then_reported_with_the_address(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with running_sandbox() as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await log_in(sandbox, settings)
    dead = settings.model_copy(
        update={"zerodha": settings.zerodha.model_copy(update={"root_url": f"http://127.0.0.1:{port}"})}
    )
    rest, session = rest_on(dead)
    with pytest.raises(BrokerUnavailable) as caught:
        await rest.profile()
    assert f"Kite unreachable at http://127.0.0.1:{port}: ConnectionError" in caught.value.message
    assert "gave up after 4 attempts" in caught.value.message
    assert rest.calls == 4
    assert session.status().state is SessionState.VALID
    token = session.access_token()
    assert token is not None
    with pytest.raises(BrokerError) as logout:  # DELETE /session/token?...&access_token=...: not retried
        await rest.call("invalidate_access_token", token)
    assert "access_token=***" in logout.value.message
    assert token not in logout.value.message


async def test_a_call_that_outlives_its_time_out_is_retried_then_reported(tmp_path: Path) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(5)  # never answers within the time-out
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with running_sandbox() as sandbox:
            settings = settings_for(sandbox, tmp_path, rest_timeout_s=0.2, rest_retries=1)
            await log_in(sandbox, settings)
        slow = settings.model_copy(
            update={"zerodha": settings.zerodha.model_copy(update={"root_url": f"http://127.0.0.1:{port}"})}
        )
        rest, _ = rest_on(slow)
        with pytest.raises(BrokerUnavailable, match="gave up after 2 attempts"):
            await rest.profile()
    finally:
        server.close()


async def test_only_kite_calls_can_be_made_by_name(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        rest, _ = await logged_in_rest(sandbox, tmp_path)
        for name in ("_request", "set_access_token", "login_url", "no_such_call"):
            with pytest.raises(ValueError, match="is not a Kite Connect call"):
                await rest.call(name)
