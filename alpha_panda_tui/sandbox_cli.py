"""`alpha-panda-tui sandbox` (a local Kite Connect sandbox until Ctrl-C) and `sandbox-fault NAME`
(inject a fault into the running one through its control surface)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from alpha_panda_tui.broker_choice import (
    BrokerChoiceError,
    SandboxEndpoints,
    read_sandbox_file,
    remove_sandbox_file,
    sandbox_file,
    write_sandbox_file,
)
from alpha_panda_tui.cli_numbers import positive_int, positive_number
from alpha_panda_tui.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from engine.settings import Settings

if TYPE_CHECKING:  # the sandbox (and aiohttp) load only for its own commands, not at every CLI start
    from kite_sandbox.server import SandboxConfig

# sandbox-fault NAME -> the control surface's fault
FAULT_COMMANDS = {
    "drop": "drop_connections",
    "silence": "go_silent",
    "speak": "speak",
    "expire": "expire_tokens",
    "fail-rest": "fail_rest",
    "rate-limit": "rate_limit",
    "fail-after-accept": "fail_after_accept",
    "clear": "clear",
}
READ_COMMANDS = {"stats": "stats", "requests": "requests"}  # sandbox-fault NAME -> GET /sandbox/NAME
AFTER_ACCEPT_HOWS = ("error", "late", "drop")
ADMIN_TIMEOUT_S = 5.0
# Kite streams at most 3 connections x 3,000 instruments; each simulated instrument costs memory
MAX_SYNTHETIC_INSTRUMENTS = 10_000


def add_sandbox_parsers(subparsers: Any) -> None:
    sandbox = subparsers.add_parser(
        "sandbox",
        help="run a local Kite Connect sandbox (REST + ticker on a simulated market) until Ctrl-C",
        description=(
            "Run a local Kite Connect sandbox: the REST API and the ticker on a simulated market, so the "
            "live path (`launch --broker sandbox`) can be tried without a Zerodha account. Runs until Ctrl-C."
        ),
    )
    sandbox.add_argument("--port", type=_port, default=0, help="port to listen on (default: a free one)")
    sandbox.add_argument(
        "--instruments",
        type=_instrument_count,
        default=0,
        metavar="N",
        help=f"synthetic NSE equities added to the shipped sample (at most {MAX_SYNTHETIC_INSTRUMENTS:,})",
    )
    sandbox.add_argument("--seed", type=int, default=42, help="market simulation seed")
    sandbox.add_argument(
        "--updates-per-second",
        type=positive_number,
        default=1.0,
        metavar="X",
        help="ticks per instrument per second (Kite sends about one)",
    )
    fault = subparsers.add_parser(
        "sandbox-fault",
        help="inject a fault into the running Kite sandbox",
        description="Inject a fault into the running Kite sandbox (or read its stats and requests).",
    )
    fault.add_argument("fault", choices=[*FAULT_COMMANDS, *READ_COMMANDS], help="what to do")
    fault.add_argument(
        "--seconds",
        type=positive_number,
        default=None,
        help="silence: how long (default: until speak); fail-after-accept --how late: the delay (default 2)",
    )
    fault.add_argument(
        "--status",
        type=int,
        default=None,
        help="fail-rest: the HTTP status (default 503); fail-after-accept: a 5xx (default 504)",
    )
    fault.add_argument(
        "--count",
        type=positive_int,
        default=1,
        help="fail-rest, rate-limit, fail-after-accept: how many calls",
    )
    fault.add_argument(
        "--how",
        choices=AFTER_ACCEPT_HOWS,
        default="error",
        help="fail-after-accept: answer an error status, answer late, or drop the connection",
    )


def run_sandbox_command(args: argparse.Namespace, settings: Settings) -> int:
    from alpha_panda_tui.host import make_data_dir_private
    from kite_sandbox.server import SandboxConfig

    make_data_dir_private(settings)  # sandbox.json holds the api_secret
    config = SandboxConfig(
        api_key=f"sandbox-{secrets.token_hex(4)}",
        api_secret=secrets.token_urlsafe(24),
        port=args.port,
        seed=args.seed,
        instruments=args.instruments or None,
        updates_per_instrument_s=args.updates_per_second,
        redirect_url=settings.zerodha.redirect_url,
    )
    try:
        return asyncio.run(_serve(config, settings))
    except OSError as exc:
        print(f"error: cannot start the sandbox on port {args.port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED


async def _serve(config: SandboxConfig, settings: Settings) -> int:
    from kite_sandbox.server import KiteSandbox

    sandbox = KiteSandbox(config)
    await sandbox.start()
    path = sandbox_file(settings.data_dir)
    endpoints = SandboxEndpoints(
        root_url=sandbox.root_url,
        ws_url=sandbox.ws_url,
        login_url=sandbox.login_url,
        redirect_url=config.redirect_url,
        api_key=config.api_key,
        api_secret=config.api_secret,
        pid=os.getpid(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        write_sandbox_file(path, endpoints)
        print(f"Kite sandbox: REST {sandbox.root_url}   ticker {sandbox.ws_url}")
        print(f"  {len(sandbox.market.registry)} instruments, api_key {config.api_key}")
        print(f"  keys and URLs for `--broker sandbox`: {path} (0600; the api_secret is only there)")
        print("  in another terminal:  alpha-panda-tui login --broker sandbox")
        print("                        alpha-panda-tui launch --broker sandbox")
        print(f"  faults:  alpha-panda-tui sandbox-fault {{{','.join([*FAULT_COMMANDS, *READ_COMMANDS])}}}")
        print("  Ctrl-C stops it.", flush=True)
        await stop.wait()
    finally:
        remove_sandbox_file(path, endpoints)
        await sandbox.stop()
    print("Kite sandbox stopped.")
    return EXIT_OK


def run_fault_command(args: argparse.Namespace, settings: Settings) -> int:
    from kite_sandbox.admin import SECRET_HEADER

    try:
        endpoints = read_sandbox_file(sandbox_file(settings.data_dir))
    except BrokerChoiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.fault in READ_COMMANDS:
        request = urllib.request.Request(
            f"{endpoints.root_url}/sandbox/{READ_COMMANDS[args.fault]}", method="GET"
        )
    else:
        params: dict[str, Any] = {}
        if args.fault == "silence" and args.seconds is not None:
            params["seconds"] = args.seconds
        if args.fault == "fail-rest":
            params["status"] = 503 if args.status is None else args.status
        if args.fault == "fail-after-accept":
            params["status"] = 504 if args.status is None else args.status
            params["how"] = args.how
            if args.seconds is not None:
                params["delay_s"] = args.seconds
        if args.fault in ("fail-rest", "rate-limit", "fail-after-accept"):
            params["count"] = args.count
        url = f"{endpoints.root_url}/sandbox/faults/{FAULT_COMMANDS[args.fault]}"
        request = urllib.request.Request(
            url, data=json.dumps(params).encode(), method="POST", headers={"Content-Type": "application/json"}
        )
    request.add_header(SECRET_HEADER, endpoints.api_secret)
    try:
        with urllib.request.urlopen(request, timeout=ADMIN_TIMEOUT_S) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        message = _error_message(exc)
        print(f"error: the sandbox refused {args.fault}: {message}", file=sys.stderr)
        return EXIT_FAILED
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(
            f"error: no Kite sandbox answers at {endpoints.root_url} ({reason}); "
            "is `alpha-panda-tui sandbox` running?",
            file=sys.stderr,
        )
        return EXIT_FAILED
    data = body.get("data")
    if args.fault in READ_COMMANDS:
        print(json.dumps(data, indent=2))
    elif args.fault == "drop":
        print(f"ok: dropped {data['dropped']} ticker connection(s)")
    else:
        print(f"ok: {args.fault}")
    return EXIT_OK


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read())["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return f"HTTP {exc.code}"


def _port(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, not {value}")
    return value


def _instrument_count(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= MAX_SYNTHETIC_INSTRUMENTS:
        raise argparse.ArgumentTypeError(f"must be 0 to {MAX_SYNTHETIC_INSTRUMENTS:,}, not {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
