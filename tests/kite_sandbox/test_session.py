"""Login against the sandbox with the official kiteconnect client: the token exchange (checksum),
the login page's redirect, and logout (invalidate_access_token)."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from engine.zerodha.session import parse_login_time
from kite_sandbox.server import KiteSandbox
from tests.sandbox import running_sandbox


def client(sandbox: KiteSandbox, access_token: str | None = None) -> KiteConnect:
    return KiteConnect(sandbox.config.api_key, access_token=access_token, root=sandbox.root_url, timeout=5)


async def logged_in(sandbox: KiteSandbox) -> KiteConnect:
    kite = client(sandbox)
    await asyncio.to_thread(kite.generate_session, sandbox.issue_request_token(), sandbox.config.api_secret)
    return kite


async def test_generate_session_returns_a_working_access_token() -> None:
    async with running_sandbox() as sandbox:
        kite = client(sandbox)
        session = await asyncio.to_thread(
            kite.generate_session, sandbox.issue_request_token(), sandbox.config.api_secret
        )
        assert session["user_id"] == sandbox.config.user_id
        assert session["api_key"] == sandbox.config.api_key
        assert kite.access_token == session["access_token"]
        assert session["login_time"].year >= 2025  # parsed by the client from "YYYY-MM-DD HH:MM:SS"
        profile = await asyncio.to_thread(kite.profile)
        assert profile["user_id"] == sandbox.config.user_id
        assert profile["user_name"] == sandbox.config.user_name


async def test_login_time_is_what_our_session_parser_reads() -> None:
    async with running_sandbox() as sandbox, aiohttp.ClientSession() as http:
        import hashlib

        token = sandbox.issue_request_token()
        key, secret = sandbox.config.api_key, sandbox.config.api_secret
        form = {
            "api_key": key,
            "request_token": token,
            "checksum": hashlib.sha256((key + token + secret).encode()).hexdigest(),
        }
        async with http.post(f"{sandbox.root_url}/session/token", data=form) as response:
            body = await response.json()
        assert response.status == 200
        parse_login_time(body["data"]["login_time"])


async def test_a_wrong_checksum_is_a_token_error() -> None:
    async with running_sandbox() as sandbox:
        kite = client(sandbox)
        with pytest.raises(kite_errors.TokenException, match="checksum") as caught:
            await asyncio.to_thread(kite.generate_session, sandbox.issue_request_token(), "not-the-secret")
        assert caught.value.code == 403
        assert kite.access_token is None


async def test_a_request_token_works_once() -> None:
    async with running_sandbox() as sandbox:
        token = sandbox.issue_request_token()
        secret = sandbox.config.api_secret
        await asyncio.to_thread(client(sandbox).generate_session, token, secret)
        with pytest.raises(kite_errors.TokenException):
            await asyncio.to_thread(client(sandbox).generate_session, token, secret)


async def test_the_login_page_redirects_with_a_request_token() -> None:
    async with running_sandbox(redirect_url="http://127.0.0.1:5999/callback") as sandbox:
        async with aiohttp.ClientSession() as http:
            url = f"{sandbox.login_url}?api_key={sandbox.config.api_key}&v=3"
            async with http.get(url, allow_redirects=False) as response:
                assert response.status == 302
                location = urlsplit(response.headers["Location"])
            async with http.get(f"{sandbox.login_url}?api_key=wrong&v=3", allow_redirects=False) as bad:
                assert bad.status == 400
                assert (await bad.json())["error_type"] == "InputException"
        assert (location.hostname, location.port, location.path) == ("127.0.0.1", 5999, "/callback")
        query = parse_qs(location.query)
        assert query["status"] == ["success"] and query["action"] == ["login"]
        kite = client(sandbox)
        await asyncio.to_thread(kite.generate_session, query["request_token"][0], sandbox.config.api_secret)
        assert kite.access_token


async def test_invalidate_access_token_logs_out() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        assert await asyncio.to_thread(kite.invalidate_access_token) is True
        expired: list[bool] = []
        kite.set_session_expiry_hook(lambda: expired.append(True))
        with pytest.raises(kite_errors.TokenException) as caught:
            await asyncio.to_thread(kite.profile)
        assert caught.value.code == 403
        assert expired == [True]
        with pytest.raises(kite_errors.TokenException):
            await asyncio.to_thread(kite.invalidate_access_token)  # already dead


async def test_calls_without_a_session_are_refused() -> None:
    async with running_sandbox() as sandbox:
        for kite in (client(sandbox), client(sandbox, access_token="made-up")):
            with pytest.raises(kite_errors.TokenException):
                await asyncio.to_thread(kite.profile)
