"""A Kite sandbox for tests: `async with running_sandbox() as sandbox:` and `sandbox_settings(...)`."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from kite_sandbox.server import KiteSandbox, SandboxConfig

TEST_API_KEY = "sandbox-test-key"

# fast enough that a test sees ticks, heartbeats and silences within a fraction of a second
FAST = {
    "updates_per_instrument_s": 20.0,
    "tick_interval_s": 0.02,
    "heartbeat_interval_s": 0.2,
    "rate_limits": False,
}


@asynccontextmanager
async def running_sandbox(**config_overrides: Any) -> AsyncIterator[KiteSandbox]:
    """A started sandbox on a free port with a random api_secret; stopped on exit."""
    options: dict[str, Any] = {
        "api_key": TEST_API_KEY,
        "api_secret": secrets.token_hex(16),
        "port": 0,
        **FAST,
        **config_overrides,
    }
    sandbox = KiteSandbox(SandboxConfig(**options))
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


def sandbox_settings(sandbox: KiteSandbox, data_dir: Path) -> dict[str, Any]:
    """Settings overrides (`load_settings(**...)`) pointing data_dir and zerodha.* at the sandbox."""
    return {
        "data_dir": data_dir,
        "zerodha": {
            "enabled": True,
            "api_key": sandbox.config.api_key,
            "api_secret": sandbox.config.api_secret,
            "root_url": sandbox.root_url,
            "ws_url": sandbox.ws_url,
            "login_url": sandbox.login_url,
            "redirect_url": sandbox.config.redirect_url,
        },
    }


async def sandbox_login(sandbox: KiteSandbox) -> dict[str, Any]:
    """Log in as a browser and `generate_session` would (login page, then POST /session/token with the
    checksum); the session's data: access_token, user_id, user_name, login_time, ..."""
    import hashlib

    import aiohttp

    key, secret = sandbox.config.api_key, sandbox.config.api_secret
    request_token = sandbox.issue_request_token()
    checksum = hashlib.sha256((key + request_token + secret).encode()).hexdigest()
    form = {"api_key": key, "request_token": request_token, "checksum": checksum}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sandbox.root_url}/session/token", data=form, headers={"X-Kite-Version": "3"}
        ) as response,
    ):
        body: dict[str, Any] = await response.json()
    if response.status != 200:
        raise RuntimeError(f"sandbox login failed: HTTP {response.status} {body.get('message')}")
    data: dict[str, Any] = body["data"]
    return data
