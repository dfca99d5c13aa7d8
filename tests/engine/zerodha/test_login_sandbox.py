"""The login against the Kite sandbox with the real kiteconnect client: a browser's redirect caught
on the local port, a pasted token, the saved session, and logout invalidating the token."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import aiohttp
import pytest
from kiteconnect import KiteConnect
from kiteconnect.exceptions import TokenException

from engine.settings import Settings, load_settings
from engine.zerodha.login import (
    Credentials,
    LoginFailed,
    create_session,
    login_url,
    logout,
    parse_request_token,
)
from engine.zerodha.redirect_catcher import RedirectCatcher
from engine.zerodha.session import KiteSession, SessionStore, session_expiry
from kite_sandbox.server import KiteSandbox
from tests.sandbox import running_sandbox, sandbox_settings


def settings_for(sandbox: KiteSandbox, data_dir: Path) -> Settings:
    return load_settings(**sandbox_settings(sandbox, data_dir))


def profile(sandbox: KiteSandbox, access_token: str) -> dict[str, str]:
    kite = KiteConnect(sandbox.config.api_key, access_token=access_token, root=sandbox.root_url, timeout=5)
    answer: dict[str, str] = kite.profile()
    return answer


async def browse(url: str) -> tuple[int, str]:
    """What a browser does: follow the login page's redirect to the redirect URL."""
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def test_a_browser_login_is_caught_on_the_redirect_url_and_saved_private(tmp_path: Path) -> None:
    async with (
        RedirectCatcher("http://127.0.0.1:0/") as catcher,
        running_sandbox(redirect_url=catcher.url) as sandbox,
    ):
        settings = settings_for(sandbox, tmp_path)
        status, page = await browse(login_url(settings.zerodha))
        assert (status, "close this tab" in page) == (200, True)
        token = await asyncio.wait_for(catcher.request_token(), 2)
        session = await create_session(settings.zerodha, token)
        store = SessionStore(settings.kite_session_file)
        store.save(session)
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        assert store.load() == session
        assert session.user_id == sandbox.config.user_id
        assert session.user_name == sandbox.config.user_name
        assert session.expires_at == session_expiry(session.login_time)
        assert session.login_time.utcoffset() is not None
        answer = await asyncio.to_thread(profile, sandbox, session.access_token)
        assert answer["user_id"] == sandbox.config.user_id


async def test_a_pasted_redirect_url_logs_in_once(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        settings = settings_for(sandbox, tmp_path)
        token = sandbox.issue_request_token()
        pasted = f"http://127.0.0.1:5010/?action=login&type=login&status=success&request_token={token}"
        token = parse_request_token(pasted)
        session = await create_session(settings.zerodha, token)
        assert session.user_id == sandbox.config.user_id
        with pytest.raises(LoginFailed, match=r"refused the request token.*log in again"):
            await create_session(settings.zerodha, token)


async def test_a_wrong_secret_says_which_settings_to_check(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        settings = settings_for(sandbox, tmp_path)
        wrong = Credentials(sandbox.config.api_key, "wrongsecret123")
        with pytest.raises(LoginFailed) as caught:
            await create_session(settings.zerodha, sandbox.issue_request_token(), wrong)
        assert "check zerodha.api_key and zerodha.api_secret" in str(caught.value)
        assert "wrongsecret123" not in str(caught.value)


async def test_kite_out_of_reach_is_a_clear_failure(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        settings = settings_for(sandbox, tmp_path)
        token = sandbox.issue_request_token()
    host = settings.zerodha.root_url.removeprefix("http://")
    with pytest.raises(LoginFailed, match=f"cannot reach Kite at {host} \\(ConnectionError\\)"):
        await create_session(settings.zerodha, token)


async def logged_in(sandbox: KiteSandbox, settings: Settings) -> tuple[SessionStore, KiteSession]:
    session = await create_session(settings.zerodha, sandbox.issue_request_token())
    store = SessionStore(settings.kite_session_file)
    store.save(session)
    return store, session


async def test_logout_invalidates_the_token_and_deletes_the_file(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        settings = settings_for(sandbox, tmp_path)
        store, session = await logged_in(sandbox, settings)
        result = await logout(settings.zerodha, store)
        assert (result.had_session, result.user_id, result.warning) == (True, sandbox.config.user_id, "")
        assert "Kite invalidated the access token" in result.describe()
        assert not store.path.exists()
        with pytest.raises(TokenException):
            await asyncio.to_thread(profile, sandbox, session.access_token)
        again = await logout(settings.zerodha, store)
        assert again.describe() == "no saved Kite session: nothing to log out"


async def test_logout_offline_still_deletes_the_session_and_says_kite_was_not_told(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        settings = settings_for(sandbox, tmp_path)
        store, session = await logged_in(sandbox, settings)
    result = await logout(settings.zerodha, store)
    assert result.had_session and not store.path.exists()
    assert "cannot reach Kite" in result.warning and "token not invalidated" in result.warning
    assert session.access_token not in result.describe()


async def test_logout_of_a_token_kite_already_dropped_is_clean(tmp_path: Path) -> None:
    async with running_sandbox() as sandbox:
        settings = settings_for(sandbox, tmp_path)
        store, _ = await logged_in(sandbox, settings)
        sandbox.faults.expire_tokens()
        result = await logout(settings.zerodha, store)
        assert (result.had_session, result.warning) == (True, "")
        assert not store.path.exists()
