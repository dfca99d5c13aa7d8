"""Catches Kite's redirect after a browser login: a tiny HTTP listener on the 127.0.0.1 redirect URL.

It answers only the redirect (a plain "you can close this tab" page, or why the
login did not complete) and hands the `request_token` to whoever waits; the
token is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from urllib.parse import parse_qs, urlparse

from engine.zerodha.login import parse_request_token

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
MAX_REQUEST_BYTES = 8192
REQUEST_READ_TIMEOUT_S = 5.0


class RedirectCatcherError(Exception):
    """The redirect cannot be caught here (not a local URL, or its port is taken); paste the token instead."""


CLOSE_TAB_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Alpha Panda</title>"
    "<p>Logged in to Kite: Alpha Panda has the request token. You can close this tab.</p>"
)


class RedirectCatcher:
    """A tiny HTTP listener on the (127.0.0.1) redirect URL that catches Kite's `request_token`.

    Use as `async with RedirectCatcher(url) as catcher: token = await catcher.request_token()`.
    The browser gets a plain "you can close this tab" page; a failed login gets the reason, and
    the catcher keeps listening for the next try.
    """

    def __init__(self, redirect_url: str) -> None:
        parsed = urlparse(redirect_url)
        if parsed.scheme != "http" or parsed.hostname not in LOOPBACK_HOSTS:
            raise RedirectCatcherError(
                f"the redirect URL {redirect_url} is not an http://127.0.0.1 one, so it cannot be caught "
                "here: paste the URL Kite redirects to"
            )
        try:
            self.port = parsed.port or 80
        except ValueError:
            raise RedirectCatcherError(f"the redirect URL {redirect_url} has an invalid port") from None
        self.host = "127.0.0.1"
        self.path = parsed.path or "/"
        self._server: asyncio.Server | None = None
        self._tokens: asyncio.Queue[str] = asyncio.Queue()

    @property
    def url(self) -> str:
        """The URL it listens on (the bound port, when the redirect URL said port 0)."""
        return f"http://{self.host}:{self.port}{self.path}"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            raise RedirectCatcherError(
                f"cannot listen on {self.host}:{self.port} for Kite's redirect ({exc.strerror or exc}): "
                "paste the URL Kite redirects to"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> RedirectCatcher:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def request_token(self) -> str:
        """The next request token a browser brings (a retried login brings another)."""
        return await self._tokens.get()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_READ_TIMEOUT_S)
            status, page = self._answer(head[:MAX_REQUEST_BYTES].decode("latin-1"))
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            status, page = "400 Bad Request", "<p>Bad request.</p>"
        body = page.encode("utf-8")
        headers = (
            f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(headers.encode("latin-1") + body)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    def _answer(self, head: str) -> tuple[str, str]:
        parts = head.split("\r\n", 1)[0].split(" ")
        if len(parts) != 3 or parts[0] != "GET":
            return "405 Method Not Allowed", "<p>Only the browser's redirect is served here.</p>"
        target = urlparse(parts[1])
        params = parse_qs(target.query)
        if "request_token" not in params and "status" not in params:
            return "404 Not Found", "<p>Not found.</p>"
        try:
            token = parse_request_token("?" + target.query)
        except ValueError as exc:
            return "400 Bad Request", f"<p>The login did not complete: {_html(str(exc))}.</p>"
        self._tokens.put_nowait(token)
        return "200 OK", CLOSE_TAB_PAGE


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
