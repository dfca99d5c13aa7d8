"""The login pieces that need no Kite: the login URL, reading the request token, the credentials check."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import SecretStr

from engine.settings import ZerodhaSettings
from engine.zerodha.login import (
    Credentials,
    CredentialsMissing,
    LoginFailed,
    create_session,
    login_url,
    parse_request_token,
)

TOKEN = "Xy12AbCdEf34GhIjKl56MnOpQr78StUv"


def test_the_login_url_names_the_app_and_version_3() -> None:
    settings = ZerodhaSettings(api_key=SecretStr("kiteapikey01"))
    url = urlparse(login_url(settings))
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://kite.zerodha.com/connect/login"
    assert parse_qs(url.query) == {"api_key": ["kiteapikey01"], "v": ["3"]}
    sandbox = ZerodhaSettings(login_url="http://127.0.0.1:9/connect/login")
    assert login_url(sandbox, "otherkey99") == "http://127.0.0.1:9/connect/login?api_key=otherkey99&v=3"


def test_a_bare_token_is_accepted() -> None:
    assert parse_request_token(f"  {TOKEN} ") == TOKEN


def test_the_token_is_read_from_kites_redirect_url() -> None:
    url = f"https://127.0.0.1:5000/callback?action=login&type=login&status=success&request_token={TOKEN}"
    assert parse_request_token(url) == TOKEN
    assert parse_request_token(f"?request_token={TOKEN}&status=success") == TOKEN


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "paste the request token"),
        ("https://127.0.0.1/callback?status=success", "no request_token"),
        (f"https://127.0.0.1/?status=cancelled&request_token={TOKEN}", "'cancelled'"),
        ("not a token!", "letters and digits"),
    ],
)
def test_bad_tokens_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_request_token(text)


def test_missing_credentials_name_the_settings() -> None:
    with pytest.raises(CredentialsMissing) as caught:
        Credentials.from_settings(ZerodhaSettings(api_key=SecretStr("kiteapikey01")))
    message = str(caught.value)
    assert "zerodha.api_secret is needed" in message and "ALPHA_PANDA_ZERODHA__API_SECRET" in message
    assert "zerodha.api_key" not in message, "only what is missing"
    with pytest.raises(CredentialsMissing, match=r"zerodha\.api_key and zerodha\.api_secret are needed"):
        Credentials.from_settings(ZerodhaSettings())
    creds = Credentials.from_settings(
        ZerodhaSettings(api_key=SecretStr("kiteapikey01"), api_secret=SecretStr("s3cretvalue99"))
    )
    assert creds == Credentials("kiteapikey01", "s3cretvalue99")


async def test_a_server_that_is_not_kite_is_named_not_a_crash() -> None:
    """A root_url pointing at some other server (an answer without a Content-Type trips the client)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = ZerodhaSettings(
        api_key=SecretStr("kiteapikey01"),
        api_secret=SecretStr("s3cretvalue99"),
        root_url=f"http://127.0.0.1:{port}",
    )
    try:
        with pytest.raises(
            LoginFailed, match=rf"the answer from 127\.0\.0\.1:{port} is not Kite's \(KeyError\)"
        ):
            await create_session(settings, "Xy12AbCdEf34GhIj")
    finally:
        server.close()
        await server.wait_closed()
