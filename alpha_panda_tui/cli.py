"""`alpha-panda-tui`: one command line for the console, the headless engine and its remote control."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alpha_panda_tui import __version__, control_client
from alpha_panda_tui.attach_cli import add_attach_parser
from alpha_panda_tui.broker_choice import (
    BrokerChoiceError,
    add_broker_argument,
    broker_overrides,
    merge_overrides,
)
from alpha_panda_tui.cli_numbers import positive_number
from alpha_panda_tui.control_client import ControlError, EngineNotRunning
from alpha_panda_tui.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from alpha_panda_tui.login_cli import add_login_parsers
from alpha_panda_tui.replay_cli import add_replay_parser
from alpha_panda_tui.sandbox_cli import add_sandbox_parsers
from engine.events import CommandAction, CommandReply, EngineStatus
from engine.market.tick_files import TickFileError
from engine.settings import ConfigError, Settings, default_data_dir, load_settings
from engine.strategies.errors import StrategyConfigError
from engine.trading_control import STRATEGY_PREFIX, SYMBOL_PREFIX
from engine.zerodha.live_gate import live_requested


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alpha-panda-tui",
        description="Keyboard-driven trading console for Indian markets with an embedded engine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    launch = sub.add_parser(
        "launch",
        help="start the console (or --headless engine)",
        description=(
            "Start the trading engine with its keyboard console, or with --headless without one (status "
            "lines to the log; drive it from another terminal with `status`, `halt`, `strategy` ...). "
            "Paper trading on a simulated feed unless the configuration says otherwise."
        ),
    )
    launch.add_argument("--headless", action="store_true", help="run the engine without a UI")
    launch.add_argument(
        "--duration",
        type=positive_number,
        default=None,
        metavar="SECONDS",
        help="stop after this long (default: until Ctrl-C or the feed ends)",
    )
    launch.add_argument("--log-format", choices=["text", "json"], default=None, help="log line format")
    launch.add_argument(
        "--ticks-per-second",
        type=positive_number,
        default=None,
        metavar="RATE",
        help="simulated (or replayed) feed rate",
    )
    launch.add_argument("--seed", type=int, default=None, help="simulated feed seed")
    launch.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="FILE",
        help="feed the engine from a recorded tick file (CSV/Parquet) at --ticks-per-second",
    )
    launch.add_argument("--record", action="store_true", help="record every tick to the data dir")
    launch.add_argument(
        "--live",
        action="store_true",
        help="allow REAL Zerodha orders (needs zerodha.live_orders = true, then a typed confirmation)",
    )
    add_broker_argument(launch)

    add_attach_parser(sub)
    sub.add_parser(
        "status",
        help="show the running engine's status",
        description="Show the running engine's state, feed, order flow, latches and health checks.",
    )

    strategy = sub.add_parser(
        "strategy",
        help="list, enable or disable strategies on the running engine",
        description="List the running engine's strategies, or enable or disable one of them.",
    )
    strategy_sub = strategy.add_subparsers(dest="strategy_command", required=True, metavar="ACTION")
    strategy_sub.add_parser(
        "list",
        help="list strategies",
        description="List the running engine's strategies: kind, state, signals and namespaces.",
    )
    for verb in ("enable", "disable"):
        p = strategy_sub.add_parser(
            verb,
            help=f"{verb} a strategy (persisted)",
            description=f"{verb.capitalize()} a strategy of the running engine; a restart keeps it {verb}d.",
        )
        p.add_argument("name", help="the strategy's name (see `strategy list`)")

    halt = sub.add_parser(
        "halt",
        help="kill switch: reject every new signal until resumed",
        description=(
            "Engage the kill switch: every new signal is rejected until `resume`; open live orders are "
            "cancelled. A second halt keeps the first reason."
        ),
    )
    halt.add_argument(
        "--reason", default="halted from the command line", help="why (shown in status and the log)"
    )
    sub.add_parser(
        "resume",
        help="lift the kill switch",
        description="Lift the kill switch: signals pass the risk checks again.",
    )
    stop = sub.add_parser(
        "stop",
        help="stop the running engine (orderly, as Ctrl-C in its terminal)",
        description=(
            "Stop the engine running on this data dir, headless or with its console: it stops as on "
            "SIGTERM (orders and fills flushed, attached consoles told)."
        ),
    )
    stop.add_argument("--reason", default="stopped from the command line", help="why (written to its log)")
    flatten = sub.add_parser(
        "flatten",
        help="close positions with MARKET orders (paper and live)",
        description=(
            "Close positions with MARKET orders in every namespace (paper, and live once confirmed): "
            "everything, one strategy's or one symbol's."
        ),
    )
    scope = flatten.add_mutually_exclusive_group(required=True)
    scope.add_argument("--all", action="store_true", help="every position")
    scope.add_argument("--strategy", metavar="NAME", help="one strategy's positions")
    scope.add_argument("--symbol", metavar="SYMBOL", help="one instrument's positions")
    flatten.add_argument(
        "--reason", default="flattened from the command line", help="why (on the orders and in the audit log)"
    )
    confirm = sub.add_parser(
        "confirm-live",
        help="allow live orders on an engine launched with --live (type LIVE or your user id)",
        description=(
            "Arm live orders on an engine launched with --live: until confirmed, no order reaches Kite."
        ),
    )
    confirm.add_argument("word", help="LIVE, or your Zerodha user id")
    audit = sub.add_parser(
        "audit",
        help="show the audit log of live actions, newest first",
        description="Show the audit log (who did what to the live account, and when), newest first.",
    )
    audit.add_argument("-n", "--limit", type=int, default=50, help="how many entries (default 50)")
    reset = sub.add_parser(
        "reset-latch",
        help="reset a daily-loss latch (a strategy, or all)",
        description=(
            "Reset a daily-loss latch on the running engine: the strategy trades again with a fresh "
            "day's loss budget. With no name, every latch (and the global one) is reset."
        ),
    )
    reset.add_argument("name", nargs="?", default="", help="the latched strategy (default: every latch)")
    acknowledge = sub.add_parser(
        "acknowledge",
        help="acknowledge a live position mismatch: the strategies it held trade again (a strategy, or all)",
        description=(
            "Acknowledge a position mismatch between Kite and the engine: the difference is accepted "
            "and the strategies it held trade again."
        ),
    )
    acknowledge.add_argument(
        "name", nargs="?", default="", help="the held strategy (default: every mismatch)"
    )

    doctor = sub.add_parser(
        "doctor",
        help="validate config and run every health check",
        description="Validate the configuration and run every health check; exit 1 if a critical one fails.",
    )
    add_broker_argument(doctor)
    add_replay_parser(sub)
    add_sandbox_parsers(sub)
    add_login_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # here, where a closed pipe can still be handled
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_FAILED


def _stdout_to_devnull() -> None:
    """The reader went away (`status | head -2`): nothing more to say; exit without a traceback."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _load_settings(args)
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return EXIT_CONFIG
    except BrokerChoiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return _dispatch(args, settings)
    except ConfigError as exc:  # only the engine can check: symbols vs the day's dump, Kite's limits
        print(exc.message, file=sys.stderr)
        return EXIT_CONFIG
    except StrategyConfigError as exc:
        print(f"Invalid strategies configuration:\n  {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except TickFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except EngineNotRunning as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    except ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_FAILED


def _load_settings(args: argparse.Namespace) -> Settings:
    overrides = _overrides(args)
    broker_name = getattr(args, "broker", None)
    if not broker_name:
        return load_settings(**overrides)
    try:
        data_dir = load_settings(**overrides).data_dir
    except ConfigError:  # e.g. live_orders set for the sandbox, which the broker's settings complete
        data_dir = default_data_dir()
    return load_settings(**merge_overrides(overrides, broker_overrides(broker_name, data_dir)))


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    feed: dict[str, Any] = {}
    if getattr(args, "ticks_per_second", None) is not None:
        feed["ticks_per_second"] = args.ticks_per_second
    if getattr(args, "seed", None) is not None:
        feed["seed"] = args.seed
    if getattr(args, "replay", None) is not None:
        feed["source"] = "replay"
        feed["replay_file"] = args.replay
    if getattr(args, "record", False):
        feed["record"] = True
    if feed:
        overrides["feed"] = feed
    if getattr(args, "log_format", None):
        overrides["log"] = {"format": args.log_format}
    return overrides


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    command = args.command
    if command == "launch":
        live = live_requested(settings, args.live)  # ConfigError before anything starts
        from alpha_panda_tui.attach_cli import offer_attach, running_engine

        pid = running_engine(settings)
        if pid is not None:
            return offer_attach(settings, pid, headless=args.headless)
        if args.headless:
            from alpha_panda_tui.headless import run_headless

            return asyncio.run(run_headless(settings, duration=args.duration, live=live))
        from alpha_panda_tui.app import run_console

        return asyncio.run(run_console(settings, duration=args.duration, live=live))
    if command == "attach":
        from alpha_panda_tui.attach_cli import run_attach_command

        return run_attach_command(args, settings)
    if command == "status":
        return _print_status(settings)
    if command == "strategy":
        if args.strategy_command == "list":
            return _print_strategies(settings)
        action = (
            CommandAction.STRATEGY_ENABLE
            if args.strategy_command == "enable"
            else CommandAction.STRATEGY_DISABLE
        )
        return _command(settings, action, target=args.name)
    if command == "halt":
        return _command(settings, CommandAction.HALT, reason=args.reason)
    if command == "resume":
        return _command(settings, CommandAction.RESUME)
    if command == "stop":
        print(f"the engine (pid {control_client.stop(settings.control_socket, args.reason)}) is stopping")
        return EXIT_OK
    if command == "flatten":
        return _command(settings, CommandAction.FLATTEN, target=_flatten_target(args), reason=args.reason)
    if command == "confirm-live":
        return _command(
            settings, CommandAction.CONFIRM_LIVE, target=args.word, reason="typed at the command line"
        )
    if command == "audit":
        from alpha_panda_tui.audit_cli import run_audit

        return asyncio.run(run_audit(settings, limit=args.limit))
    if command == "reset-latch":
        return _command(settings, CommandAction.RESET_LOSS_LATCH, target=args.name)
    if command == "acknowledge":
        return _command(settings, CommandAction.ACKNOWLEDGE_MISMATCH, target=args.name)
    if command == "replay":
        from alpha_panda_tui.host import make_data_dir_private
        from alpha_panda_tui.replay_cli import run_replay_command

        make_data_dir_private(settings)  # reports go to <data dir>/reports

        return run_replay_command(args, settings)
    if command == "sandbox":
        from alpha_panda_tui.sandbox_cli import run_sandbox_command

        return run_sandbox_command(args, settings)
    if command == "sandbox-fault":
        from alpha_panda_tui.sandbox_cli import run_fault_command

        return run_fault_command(args, settings)
    if command == "doctor":
        from alpha_panda_tui.doctor import run_doctor

        return asyncio.run(run_doctor(settings))
    if command in ("login", "logout"):
        from alpha_panda_tui.login_cli import run_login_command, run_logout_command

        return run_login_command(args, settings) if command == "login" else run_logout_command(settings)
    raise AssertionError(f"unhandled command {command}")


def _flatten_target(args: argparse.Namespace) -> str:
    if args.strategy:
        return f"{STRATEGY_PREFIX}{args.strategy}"
    if args.symbol:
        return f"{SYMBOL_PREFIX}{args.symbol.upper()}"
    return ""


def _command(settings: Settings, action: CommandAction, *, target: str = "", reason: str = "") -> int:
    reply = control_client.command(settings.control_socket, action, target=target, reason=reason)
    _print_reply(reply)
    return EXIT_OK if reply.ok else EXIT_FAILED


def _print_reply(reply: CommandReply) -> None:
    """Every service's answer, then those that gave none."""
    for result in reply.results:
        print(f"{'ok' if result.ok else 'FAILED'}: {result.message}")
    if reply.missing:
        print(f"FAILED: no answer from {', '.join(reply.missing)} within {reply.timeout_s:g} s")
    elif not reply.results:
        print(f"FAILED: no service handles {reply.action.value}")


def _print_status(settings: Settings) -> int:
    reply = control_client.status_reply(settings.control_socket)
    status = reply.status
    state = status.state.value.upper()
    if status.halted_reason:
        state += f" ({status.halted_reason})"
    print(
        f"engine     {state}   mode {'LIVE' if status.live else 'PAPER'}   feed {status.feed_source}"
        f"{' (paused)' if status.feed_paused else ''}"
    )
    if status.feed_detail:
        print(f"feed       {status.feed_detail}")
    if status.live_detail:  # launched live, yet no live order can reach Kite now
        print(f"live       OFF: {status.live_detail}")
    if status.live or status.live_detail:
        print(
            f"live       open orders {status.live_open_orders}"
            f"   waiting for the order rate limit {status.live_orders_queued}"
        )
    print(f"market     {status.market_status}")
    if status.broker_session:  # Zerodha is enabled
        print(f"kite       session {status.broker_session}")
    print(
        f"flow       {status.tick_rate:.0f} ticks/s   ticks {status.ticks}"
        f"   signals {status.signals}   orders {status.orders}   fills {status.fills}"
        f"   rejected {status.rejections}"
    )
    print(f"bus        dead letters {status.dead_letters}   conflated ticks {status.conflated_ticks}")
    if status.loss_latches:
        print(f"latched    {', '.join(status.loss_latches)}")
    for check in status.health:
        print(f"health     {check.status.upper():7} {check.name}: {check.message}")
    if reply.consoles:
        names = ", ".join(f"{c.client or '?'}{' (read-only)' * c.read_only}" for c in reply.consoles)
        print(f"consoles   {len(reply.consoles)} attached: {names}")
    return EXIT_OK


def _print_strategies(settings: Settings) -> int:
    status: EngineStatus = control_client.status(settings.control_socket)
    if not status.strategies:
        print("no strategies loaded")
        return EXIT_OK
    print(f"{'NAME':24} {'KIND':16} {'STATE':9} {'SIGNALS':>8}  NAMESPACES")
    for row in status.strategies:
        state = "enabled" if row.enabled else "disabled"
        namespaces = ",".join(ns.value for ns in row.namespaces)
        print(f"{row.name:24} {row.kind:16} {state:9} {row.signals:>8}  {namespaces}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
