"""The Kite login the sandbox benchmarks share: a made-up key and a secret new each run (handed to the
child sandbox), and the product's own `create_session` to log in, saved as a login saves it."""

from __future__ import annotations

import secrets

from pydantic import SecretStr

from engine.settings import ZerodhaSettings
from engine.zerodha.broker_session import BrokerSession
from engine.zerodha.login import create_session
from engine.zerodha.session import SessionStore

BENCH_API_KEY = "bench_key"


def new_api_secret() -> str:
    return secrets.token_hex(16)


def bench_settings(root_url: str, ws_url: str, api_secret: str) -> ZerodhaSettings:
    return ZerodhaSettings(
        enabled=True,
        api_key=SecretStr(BENCH_API_KEY),
        api_secret=SecretStr(api_secret),
        root_url=root_url,
        ws_url=ws_url,
    )


async def log_in(settings: ZerodhaSettings, request_token: str, store: SessionStore) -> BrokerSession:
    store.save(await create_session(settings, request_token))
    return BrokerSession(store, BENCH_API_KEY)
