"""tests/sandbox.py, which other tests build on: its settings load and point at the sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kiteconnect import KiteConnect

from engine.settings import load_settings
from tests.sandbox import running_sandbox, sandbox_login, sandbox_settings


async def test_sandbox_settings_load_and_reach_the_sandbox(isolated_dirs: Path) -> None:
    async with running_sandbox() as sandbox:
        settings = load_settings(**sandbox_settings(sandbox, isolated_dirs / "data"))
        zerodha = settings.zerodha
        assert zerodha.enabled
        assert (zerodha.root_url, zerodha.ws_url, zerodha.login_url) == (
            sandbox.root_url,
            sandbox.ws_url,
            sandbox.login_url,
        )
        assert zerodha.api_key is not None and zerodha.api_secret is not None
        session = await sandbox_login(sandbox)
        kite = KiteConnect(
            zerodha.api_key.get_secret_value(), access_token=session["access_token"], root=zerodha.root_url
        )
        assert (await asyncio.to_thread(kite.profile))["user_id"] == session["user_id"]


async def test_each_running_sandbox_has_its_own_secret_and_port() -> None:
    async with running_sandbox() as one, running_sandbox() as two:
        assert one.port != two.port
        assert one.config.api_secret != two.config.api_secret
        assert one.config.api_secret not in repr(one.config)
