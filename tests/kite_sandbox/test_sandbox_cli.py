"""`alpha-panda-tui sandbox` in its own process, driven the way a second terminal would: the official
client logs in with sandbox.json's keys, `sandbox-fault` injects faults, Ctrl-C stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from alpha_panda_tui.broker_choice import read_sandbox_file, sandbox_file
from alpha_panda_tui.cli import main
from alpha_panda_tui.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK

START_TIMEOUT_S = 60.0  # a first start compiles the package; the machine may be busy


@pytest.fixture
def sandbox_process(isolated_dirs: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "alpha_panda_tui", "sandbox", "--instruments", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    path = sandbox_file(isolated_dirs / "data")
    deadline = time.monotonic() + START_TIMEOUT_S
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the sandbox did not start: {proc.communicate()[0]}")
        time.sleep(0.05)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_the_sandbox_command_serves_kite_and_stops_on_ctrl_c(
    isolated_dirs: Path, sandbox_process: subprocess.Popen[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = sandbox_file(isolated_dirs / "data")
    endpoints = read_sandbox_file(path)
    assert path.stat().st_mode & 0o077 == 0

    kite = KiteConnect(endpoints.api_key, root=endpoints.root_url, timeout=5)
    request_token = _request_token(endpoints.login_url, endpoints.api_key)
    kite.generate_session(request_token, endpoints.api_secret)
    assert len(kite.instruments("NSE")) == 29 + 5

    assert main(["sandbox-fault", "fail-after-accept", "--status", "503"]) == EXIT_OK
    with pytest.raises(kite_errors.NetworkException):
        kite.place_order(
            variety="regular",
            exchange="NSE",
            tradingsymbol="INFY",
            transaction_type="BUY",
            quantity=1,
            product="MIS",
            order_type="LIMIT",
            price=1400.0,
            tag="cli1",
        )
    assert [order["tag"] for order in kite.orders()] == ["cli1"]  # accepted once, answered with a 503

    assert main(["sandbox-fault", "fail-rest", "--status", "502", "--count", "1"]) == EXIT_OK
    with pytest.raises(kite_errors.NetworkException) as caught:
        kite.profile()
    assert caught.value.code == 502
    assert main(["sandbox-fault", "expire"]) == EXIT_OK
    with pytest.raises(kite_errors.TokenException):
        kite.profile()
    assert main(["sandbox-fault", "stats"]) == EXIT_OK
    stats = json.loads(capsys.readouterr().out.split("ok: expire\n", 1)[1])
    assert stats["rest_calls"]["GET /user/profile"] == 2
    assert main(["sandbox-fault", "requests"]) == EXIT_OK
    logged = json.loads(capsys.readouterr().out)
    assert [entry["form"].get("tag") for entry in logged if entry["route"] == "POST /orders/{variety}"] == [
        "cli1"
    ]

    sandbox_process.send_signal(signal.SIGINT)
    out, _ = sandbox_process.communicate(timeout=10)
    assert sandbox_process.returncode == EXIT_OK
    assert "Kite sandbox stopped." in out
    assert endpoints.api_key in out
    assert endpoints.api_secret not in out
    assert not path.exists()
    assert main(["sandbox-fault", "drop"]) == EXIT_CONFIG  # no sandbox.json any more


def test_a_fault_for_a_sandbox_that_died_says_so(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alpha_panda_tui.broker_choice import SandboxEndpoints, write_sandbox_file

    dead = SandboxEndpoints(
        "http://127.0.0.1:9", "ws://127.0.0.1:9", "http://127.0.0.1:9/connect/login", "", "k", "s"
    )
    write_sandbox_file(sandbox_file(isolated_dirs / "data"), dead)
    assert main(["sandbox-fault", "drop"]) == EXIT_FAILED
    assert "no Kite sandbox answers at http://127.0.0.1:9" in capsys.readouterr().err


def _request_token(login_url: str, api_key: str) -> str:
    """What the browser is redirected with after the sandbox's login page."""
    import http.client
    from urllib.parse import parse_qs, urlsplit

    url = urlsplit(f"{login_url}?api_key={api_key}&v=3")
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    conn.request("GET", f"{url.path}?{url.query}")
    response = conn.getresponse()
    assert response.status == 302
    return parse_qs(urlsplit(response.getheader("Location") or "").query)["request_token"][0]


def test_a_busy_port_is_a_clear_error(isolated_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["sandbox", "--port", str(port)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert f"cannot start the sandbox on port {port}" in err
    assert "Traceback" not in err
    assert not sandbox_file(isolated_dirs / "data").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "a port is 0-65535"),
        (["--instruments", "-1"], "must be 0 to 10,000"),
        (["--instruments", "many"], "not a whole number"),
        (["--updates-per-second", "0"], "must be a number greater than 0"),
    ],
)
def test_bad_sandbox_options_are_refused_by_name(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["sandbox", *args])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
