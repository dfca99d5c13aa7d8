"""`alpha-panda-tui login` and `logout` as a user runs them, against the Kite sandbox: a pasted redirect
URL, Kite's redirect caught on the local port, the saved session (0600), logout invalidating it; clear
errors and exit codes; no secret or token ever printed."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from kiteconnect import KiteConnect
from kiteconnect.exceptions import TokenException

from alpha_panda_tui.broker_choice import SandboxEndpoints, sandbox_file, write_sandbox_file
from alpha_panda_tui.cli import main
from alpha_panda_tui.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from alpha_panda_tui.login_cli import StdinLines, run_login
from engine.settings import load_settings
from engine.storage.audit import AuditEntry, AuditLog
from engine.storage.database import Database
from engine.zerodha.login import create_session
from engine.zerodha.session import SessionStore
from kite_sandbox.server import KiteSandbox
from tests.sandbox import running_sandbox, sandbox_settings

pytestmark = pytest.mark.slow
RUN_LIMIT_S = 30.0
INVALIDATED = "Kite invalidated the access token and the saved session is deleted"


def zerodha_env(sandbox: KiteSandbox, redirect_url: str = "http://127.0.0.1:0/") -> dict[str, str]:
    z = sandbox_settings(sandbox, Path("."))["zerodha"]
    env = {f"ALPHA_PANDA_ZERODHA__{name.upper()}": str(value) for name, value in z.items()}
    env["ALPHA_PANDA_ZERODHA__REDIRECT_URL"] = redirect_url
    return env


@dataclass
class Cli:
    process: asyncio.subprocess.Process
    out: list[str]

    async def line_with(self, text: str) -> str:
        """Read stdout until a line containing `text` (what a user would wait to see)."""
        assert self.process.stdout is not None
        async with asyncio.timeout(RUN_LIMIT_S):
            while True:
                line = (await self.process.stdout.readline()).decode()
                if not line:
                    raise AssertionError(f"no line with {text!r} in {self.out}")
                self.out.append(line)
                if text in line:
                    return line

    async def type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        await self.process.stdin.drain()

    async def finish(self) -> tuple[int, str, str]:
        async with asyncio.timeout(RUN_LIMIT_S):
            stdout, stderr = await self.process.communicate()
        return self.process.returncode or 0, "".join(self.out) + stdout.decode(), stderr.decode()


async def start(*args: str, env: Mapping[str, str]) -> Cli:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alpha_panda_tui",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    return Cli(process, [])


def saved(data_dir: Path) -> SessionStore:
    return SessionStore(load_settings(data_dir=data_dir).kite_session_file)


async def test_login_with_a_pasted_redirect_url(isolated_dirs: Path) -> None:
    async with running_sandbox() as sandbox:
        cli = await start("login", "--no-browser", env=zerodha_env(sandbox))
        url_line = await cli.line_with(f"{sandbox.login_url}?")
        assert f"api_key={sandbox.config.api_key}" in url_line and "v=3" in url_line
        await cli.line_with("or paste the redirect URL")
        await cli.type("not a token!")
        token = sandbox.issue_request_token()
        await cli.type(f"http://127.0.0.1:5010/?action=login&type=login&status=success&request_token={token}")
        code, out, err = await cli.finish()
    assert code == EXIT_OK, err
    assert "a request token is letters and digits only; try again:" in err
    assert f"logged in as {sandbox.config.user_name} ({sandbox.config.user_id}), valid until 06:00 IST" in out
    store = saved(isolated_dirs / "data")
    session = store.load()
    assert session is not None and session.user_id == sandbox.config.user_id
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    for secret in (sandbox.config.api_secret, session.access_token):
        assert secret not in out + err
    assert [(a.actor, a.action, a.subject) for a in await audit_entries(isolated_dirs / "data")] == [
        ("cli", "logged_in", sandbox.config.user_id)
    ]


async def audit_entries(data_dir: Path) -> list[AuditEntry]:
    db = Database(load_settings(data_dir=data_dir).database_url)
    await db.connect()
    try:
        return await AuditLog(db).recent(10)
    finally:
        await db.close()


async def test_login_catches_kites_redirect(isolated_dirs: Path) -> None:
    async with running_sandbox() as sandbox:
        cli = await start("login", "--no-browser", env=zerodha_env(sandbox))
        waiting = await cli.line_with("Waiting for Kite's redirect to ")
        catcher_url = waiting.split("Waiting for Kite's redirect to ", 1)[1].split(";", 1)[0]
        async with aiohttp.ClientSession() as http:
            # the browser: Kite's login page, then its redirect (to this run's port) with the token
            async with http.get(
                f"{sandbox.login_url}?api_key={sandbox.config.api_key}", allow_redirects=False
            ) as page:
                assert page.status == 302
                query = urlsplit(page.headers["Location"]).query
            async with http.get(f"{catcher_url}?{query}") as redirect:
                assert redirect.status == 200 and "close this tab" in await redirect.text()
        code, out, err = await cli.finish()
    assert code == EXIT_OK, err
    assert "Kite's redirect arrived." in out and "logged in as" in out
    assert saved(isolated_dirs / "data").load() is not None


def endpoints_of(sandbox: KiteSandbox) -> SandboxEndpoints:
    return SandboxEndpoints(
        root_url=sandbox.root_url,
        ws_url=sandbox.ws_url,
        login_url=sandbox.login_url,
        redirect_url="http://127.0.0.1:0/",
        api_key=sandbox.config.api_key,
        api_secret=sandbox.config.api_secret,
    )


async def test_login_to_the_sandbox_of_this_data_dir_needs_no_browser(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_sandbox() as sandbox:
        write_sandbox_file(sandbox_file(isolated_dirs / "data"), endpoints_of(sandbox))
        assert await asyncio.to_thread(main, ["login", "--broker", "sandbox"]) == EXIT_OK
        out = capsys.readouterr().out
        assert "The sandbox's login page logged in at once (no browser needed)." in out
        assert f"logged in as {sandbox.config.user_name}" in out
        assert saved(isolated_dirs / "data").load() is not None
        assert await asyncio.to_thread(main, ["logout", "--broker", "sandbox"]) == EXIT_OK
        assert capsys.readouterr().out.strip() == f"logged out {sandbox.config.user_id}: {INVALIDATED}"


async def test_login_to_a_sandbox_that_is_gone_says_so(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_sandbox() as sandbox:
        endpoints = endpoints_of(sandbox)
    write_sandbox_file(sandbox_file(isolated_dirs / "data"), endpoints)
    assert await asyncio.to_thread(main, ["login", "--broker", "sandbox"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith(
        "error: the sandbox's login page did not answer (ClientConnectorError): is it running?"
    )


async def test_login_with_a_spent_token_fails_clearly_and_saves_nothing(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_sandbox() as sandbox:
        settings = load_settings(**sandbox_settings(sandbox, isolated_dirs / "data"))
        token = sandbox.issue_request_token()
        await create_session(settings.zerodha, token)  # used once already
        pasted = StdinLines(io.StringIO(f"{token}\n"))
        code = await run_login(settings, pasted, open_browser=False, wait_s=RUN_LIMIT_S)
    err = capsys.readouterr().err
    assert code == EXIT_FAILED
    assert err.startswith("error: login failed: Kite refused the request token")
    assert not settings.kite_session_file.exists()


def test_login_needs_the_api_key_and_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALPHA_PANDA_ZERODHA__API_KEY", "kiteapikey01")
    assert main(["login", "--no-browser"]) == EXIT_CONFIG
    out, err = capsys.readouterr()
    assert err.startswith(
        "error: zerodha.api_secret is needed to log in: set ALPHA_PANDA_ZERODHA__API_SECRET"
    )
    assert out == ""


async def test_login_ends_when_input_ends_and_no_redirect_can_come(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = load_settings(
        zerodha={
            "api_key": "kiteapikey01",
            "api_secret": "s3cretvalue99",
            "redirect_url": "https://example.com/",
        }
    )
    code = await run_login(settings, StdinLines(io.StringIO("")), open_browser=False, wait_s=RUN_LIMIT_S)
    out, err = capsys.readouterr()
    assert code == EXIT_FAILED
    assert "cannot be caught here: paste the URL Kite redirects to" in out
    assert "error: no request token (input ended); nothing was saved" in err
    assert "s3cretvalue99" not in out + err


async def test_logout_invalidates_and_deletes(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox() as sandbox:
        settings = load_settings(**sandbox_settings(sandbox, isolated_dirs / "data"))
        session = await create_session(settings.zerodha, sandbox.issue_request_token())
        SessionStore(settings.kite_session_file).save(session)
        for name, value in zerodha_env(sandbox).items():
            monkeypatch.setenv(name, value)
        assert await asyncio.to_thread(main, ["logout"]) == EXIT_OK
        assert capsys.readouterr().out.strip() == f"logged out {sandbox.config.user_id}: {INVALIDATED}"
        assert not settings.kite_session_file.exists()
        kite = KiteConnect(sandbox.config.api_key, access_token=session.access_token, root=sandbox.root_url)
        with pytest.raises(TokenException):
            await asyncio.to_thread(kite.profile)
    assert await asyncio.to_thread(main, ["logout"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == "no saved Kite session: nothing to log out"
    audit = await audit_entries(isolated_dirs / "data")
    assert [(a.actor, a.action, a.subject) for a in audit] == [("cli", "logged_out", sandbox.config.user_id)]
