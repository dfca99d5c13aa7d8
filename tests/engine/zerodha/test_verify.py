"""The engine asks Kite (the sandbox, through the real kiteconnect client) about the saved session
when it starts: valid stays valid, refused becomes expired, unreachable is kept and never a crash."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from engine.events import EngineState
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.zerodha.broker_session import SessionState
from engine.zerodha.verify import Verdict
from kite_sandbox.server import KiteSandbox
from tests.engine.zerodha.kite_login import log_in
from tests.sandbox import running_sandbox, sandbox_settings

PROFILE_ROUTE = "GET /user/profile"


def settings_for(sandbox: KiteSandbox, data_dir: Path) -> Settings:
    overrides = sandbox_settings(sandbox, data_dir)
    overrides["zerodha"].update({"rest_retries": 1, "rest_backoff_s": 0.01, "verify_timeout_s": 5.0})
    return load_settings(**overrides)


async def started(settings: Settings) -> Engine:
    engine = Engine(settings, persist=False)
    await engine.start()
    return engine


async def test_a_valid_session_is_verified_on_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with running_sandbox() as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await log_in(sandbox, settings)
        with caplog.at_level(logging.INFO):
            engine = await started(settings)
        try:
            assert engine.session_verification is not None
            assert engine.session_verification.verdict is Verdict.VERIFIED
            assert sandbox.config.user_id in engine.session_verification.detail
            assert sandbox.stats.rest_calls[PROFILE_ROUTE] == 1
            assert engine.status().broker_session.startswith("valid until 06:00")
            assert (
                f"Kite session verified: logged in as Sandbox Trader ({sandbox.config.user_id})"
                in caplog.text
            )
        finally:
            await engine.stop()


async def test_a_session_kite_refuses_is_expired_on_start_and_the_engine_runs(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await log_in(sandbox, settings)
        sandbox.faults.expire_tokens()  # e.g. a logout on another device overnight
        engine = await started(settings)
        try:
            assert engine.session_verification is not None
            assert engine.session_verification.verdict is Verdict.EXPIRED
            assert engine.broker_session is not None
            assert engine.broker_session.status().state is SessionState.EXPIRED
            assert engine.status().broker_session.startswith("expired: Kite refused the access token")
            assert engine.state is EngineState.RUNNING
        finally:
            await engine.stop()


async def test_kite_unreachable_on_start_keeps_the_session_unverified(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_sandbox() as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await log_in(sandbox, settings)
    with caplog.at_level(logging.WARNING):
        engine = await started(settings)  # the sandbox is gone
    try:
        assert engine.session_verification is not None
        assert engine.session_verification.verdict is Verdict.UNVERIFIED
        assert "Kite unreachable at" in engine.session_verification.detail
        assert engine.broker_session is not None
        assert engine.broker_session.status().state is SessionState.VALID
        assert "Kite session unverified" in caplog.text
        assert engine.state is EngineState.RUNNING
    finally:
        await engine.stop()


async def test_without_a_session_kite_is_not_asked(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        engine = await started(settings_for(sandbox, tmp_path))
        try:
            assert engine.session_verification is not None
            assert engine.session_verification.verdict is Verdict.NO_SESSION
            assert sandbox.stats.rest_calls[PROFILE_ROUTE] == 0
            assert engine.status().broker_session == "absent"
        finally:
            await engine.stop()


async def test_zerodha_off_means_no_kite_client_and_no_verification(tmp_path: Path) -> None:
    engine = await started(load_settings(data_dir=tmp_path))
    try:
        assert engine.kite is None
        assert engine.session_verification is None
        assert engine.status().broker_session == ""
    finally:
        await engine.stop()
