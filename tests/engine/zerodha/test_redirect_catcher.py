"""The redirect catcher answering a real HTTP client as a browser coming back from Kite would."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from engine.zerodha.redirect_catcher import CLOSE_TAB_PAGE, RedirectCatcher, RedirectCatcherError

TOKEN = "Xy12AbCdEf34GhIjKl56MnOpQr78StUv"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:5010/",
        "http://example.com:5010/",
        "http://192.168.1.5:5010/",
        "http://0.0.0.0:5010/",
    ],
)
def test_only_a_local_http_redirect_can_be_caught(url: str) -> None:
    with pytest.raises(RedirectCatcherError, match="paste the URL Kite redirects to"):
        RedirectCatcher(url)


@pytest.fixture
async def catcher() -> AsyncIterator[RedirectCatcher]:
    async with RedirectCatcher("http://127.0.0.1:0/kite/callback") as running:
        yield running


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def test_the_browsers_redirect_brings_the_token_and_a_close_this_tab_page(
    catcher: RedirectCatcher,
) -> None:
    assert catcher.port != 0 and catcher.url == f"http://127.0.0.1:{catcher.port}/kite/callback"
    status, content_type, page = await get(
        f"{catcher.url}?action=login&type=login&status=success&request_token={TOKEN}"
    )
    assert (status, content_type, page) == (200, "text/html; charset=utf-8", CLOSE_TAB_PAGE)
    assert await asyncio.wait_for(catcher.request_token(), 1) == TOKEN


async def test_a_failed_login_is_explained_and_the_catcher_keeps_listening(catcher: RedirectCatcher) -> None:
    status, _, page = await get(f"{catcher.url}?status=cancelled&request_token={TOKEN}")
    assert status == 400 and "The login did not complete" in page and "'cancelled'" in page
    assert (await get(f"{catcher.url}favicon.ico"))[0] == 404
    waiting = asyncio.ensure_future(catcher.request_token())
    await asyncio.sleep(0.05)
    assert not waiting.done(), "no token from a failed login or a stray request"
    assert (await get(f"{catcher.url}?status=success&request_token={TOKEN}"))[0] == 200
    assert await asyncio.wait_for(waiting, 1) == TOKEN


async def test_garbage_on_the_port_gets_an_error_not_a_crash(catcher: RedirectCatcher) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", catcher.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    assert (await reader.read()).startswith(b"HTTP/1.1 405")
    writer.close()
    assert (await get(f"{catcher.url}?status=success&request_token={TOKEN}"))[0] == 200


async def test_a_taken_port_is_reported_with_the_way_out() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RedirectCatcherError, match=f"cannot listen on 127.0.0.1:{port}.*paste"):
            await RedirectCatcher(f"http://127.0.0.1:{port}/").start()
