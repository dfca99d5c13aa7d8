"""`alpha-panda-tui login` and `logout`: the daily Kite login from a terminal.

`login` prints Kite's login URL (and opens a browser where there is one), then
takes the request token from whichever comes first: Kite's redirect, caught on
the 127.0.0.1 redirect URL, or a token / redirect URL pasted on stdin. With
`--broker sandbox` it visits the sandbox's login page itself. The session is
saved (0600) where a running engine picks it up by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from typing import Any, TextIO

from alpha_panda_tui.audit_cli import record_action
from alpha_panda_tui.broker_choice import Broker, add_broker_argument
from alpha_panda_tui.broker_login import logged_in_line
from alpha_panda_tui.browser import open_in_browser
from alpha_panda_tui.cli_numbers import positive_number
from alpha_panda_tui.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from alpha_panda_tui.host import make_data_dir_private
from engine.settings import Settings
from engine.zerodha.login import (
    Credentials,
    CredentialsMissing,
    LoginFailed,
    create_session,
    login_url,
    logout,
    parse_request_token,
)
from engine.zerodha.redirect_catcher import RedirectCatcher, RedirectCatcherError
from engine.zerodha.session import SessionStore

SANDBOX_VISIT_TIMEOUT_S = 10.0
DEFAULT_WAIT_S = 600.0  # a request token lasts minutes; a login left open that long is abandoned


def add_login_parsers(subparsers: Any) -> None:
    login = subparsers.add_parser(
        "login",
        help="log in to Zerodha (Kite Connect) for today",
        description=(
            "Print Kite's login URL (and open a browser where one exists), then wait for Kite's redirect "
            "on the 127.0.0.1 redirect URL, or for the request token (or the whole redirect URL) pasted "
            "here. The session is saved in the data dir (0600) and lasts until 06:00 IST."
        ),
    )
    login.add_argument("--no-browser", action="store_true", help="only print the login URL")
    login.add_argument(
        "--wait",
        type=positive_number,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=f"give up after this long (default {DEFAULT_WAIT_S:g})",
    )
    add_broker_argument(login)
    logout = subparsers.add_parser(
        "logout",
        help="invalidate today's Kite session and delete it",
        description="Invalidate today's Kite session at Zerodha and delete it from the data dir.",
    )
    add_broker_argument(logout)


def run_login_command(args: argparse.Namespace, settings: Settings) -> int:
    pasted = StdinLines(sys.stdin)
    sandbox = getattr(args, "broker", None) == Broker.SANDBOX
    return asyncio.run(
        run_login(settings, pasted, open_browser=not args.no_browser, wait_s=args.wait, sandbox=sandbox)
    )


def run_logout_command(settings: Settings) -> int:
    result = asyncio.run(logout(settings.zerodha, SessionStore(settings.kite_session_file)))
    print(result.describe(), file=sys.stderr if result.warning else sys.stdout)
    if result.had_session:
        asyncio.run(
            record_action(settings, "cli", "logged_out", subject=result.user_id, detail=result.describe())
        )
    return EXIT_OK


class StdinLines:
    """Lines typed or pasted on a stream, read by a daemon thread (a blocked read never holds up exit)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()  # None: end of input
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, name="login-stdin", daemon=True).start()

    def _read(self) -> None:
        assert self._loop is not None
        try:
            for line in self.stream:
                self._loop.call_soon_threadsafe(self.queue.put_nowait, line)
        except (OSError, ValueError, RuntimeError):
            pass  # stdin closed, or the loop is gone
        try:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, None)
        except RuntimeError:
            pass


async def run_login(
    settings: Settings, pasted: StdinLines, *, open_browser: bool, wait_s: float, sandbox: bool = False
) -> int:
    """The whole login; `sandbox`: the sandbox's login page needs no one, so it is visited here."""
    zerodha = settings.zerodha
    try:
        credentials = Credentials.from_settings(zerodha)
    except CredentialsMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if not zerodha.enabled:
        print("note: zerodha.enabled is false: the engine uses this session once Zerodha is enabled")
    url = login_url(zerodha)
    print(f"Log in to Kite at:\n  {url}")
    if sandbox:
        token = await _visit_sandbox_login(url)
    else:
        token = await _token_from_the_user(zerodha.redirect_url, url, pasted, open_browser, wait_s)
    if token is None:
        return EXIT_FAILED
    try:
        session = await create_session(zerodha, token, credentials)
    except LoginFailed as exc:
        print(f"error: login failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    store = SessionStore(settings.kite_session_file)
    make_data_dir_private(settings)
    try:
        store.save(session)
    except OSError as exc:
        print(f"error: cannot save the Kite session to {store.path}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{logged_in_line(session)}; saved to {store.path}")
    await record_action(settings, "cli", "logged_in", subject=session.user_id)
    return EXIT_OK


async def _token_from_the_user(
    redirect_url: str, url: str, pasted: StdinLines, open_browser: bool, wait_s: float
) -> str | None:
    """Kite's redirect, caught, or a pasted URL/token; None (said why) on time-out or end of input."""
    catcher: RedirectCatcher | None = None
    try:
        catcher = RedirectCatcher(redirect_url)
        await catcher.start()
    except RedirectCatcherError as exc:
        print(f"note: {exc}")
        catcher = None
    if catcher is not None:
        print(f"Waiting for Kite's redirect to {catcher.url}; or paste the redirect URL (or request_token):")
    else:
        print("Paste the URL Kite redirects you to (or its request_token):")
    sys.stdout.flush()
    if open_browser and await open_in_browser(url):
        print("(opened in your browser)")
    pasted.start()
    try:
        async with asyncio.timeout(wait_s):
            token = await _first_token(catcher, pasted)
    except TimeoutError:
        print(f"error: no login within {wait_s:g} s; run `alpha-panda-tui login` again", file=sys.stderr)
        return None
    finally:
        if catcher is not None:
            await catcher.close()
    if token is None:
        print("error: no request token (input ended); nothing was saved", file=sys.stderr)
    return token


async def _visit_sandbox_login(url: str) -> str | None:
    """What a browser would do on the sandbox's login page, which logs in at once: read its redirect."""
    import aiohttp  # only for the sandbox: kept out of the CLI's start-up

    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SANDBOX_VISIT_TIMEOUT_S)) as http,
            http.get(url, allow_redirects=False) as page,
        ):
            status, location = page.status, page.headers.get("Location", "")
    except (aiohttp.ClientError, TimeoutError) as exc:
        why = type(exc).__name__
        print(f"error: the sandbox's login page did not answer ({why}): is it running?", file=sys.stderr)
        return None
    try:
        if not location:
            raise ValueError(f"HTTP {status} and no redirect")
        token = parse_request_token(location)
    except ValueError as exc:
        print(f"error: the sandbox's login page did not log in: {exc}", file=sys.stderr)
        return None
    print("The sandbox's login page logged in at once (no browser needed).")
    return token


async def _first_token(catcher: RedirectCatcher | None, pasted: StdinLines) -> str | None:
    """The request token from the redirect or the first good pasted line; None if input ends with neither."""
    redirect = asyncio.ensure_future(catcher.request_token()) if catcher is not None else None
    line_task: asyncio.Future[str | None] | None = None
    try:
        while True:
            line_task = asyncio.ensure_future(pasted.queue.get())
            waiting = {line_task} | ({redirect} if redirect is not None else set())
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if redirect is not None and redirect in done:
                print("Kite's redirect arrived.")
                return redirect.result()
            line = line_task.result()
            if line is None:
                if redirect is None:
                    return None
                redirect_token: str = await redirect  # no more input: the redirect is the only way now
                return redirect_token
            if not line.strip():
                continue
            try:
                return parse_request_token(line)
            except ValueError as exc:
                print(f"{exc}; try again:", file=sys.stderr)
    finally:
        for task in (redirect, line_task):
            if task is not None:
                task.cancel()
