"""`alpha-panda-tui attach`: the console on an engine that runs elsewhere — another terminal,
a tmux session, a service — through its control socket (or Kafka, from another machine).

The console is the same app as `launch`'s; only the bus under it differs. Quitting or
detaching closes the console and leaves the engine as it is; `X` stops the engine after
asking. With no engine to attach to, one line says how to start one (exit 1): a console that
silently waits would look like a frozen engine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import importlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alpha_panda_tui.data_dir_lock import DataDirLock, DataDirLocked
from alpha_panda_tui.engine_link import EngineLinkError
from alpha_panda_tui.exit_codes import EXIT_ALREADY_RUNNING, EXIT_FAILED, EXIT_OK
from engine.events import BROKER_NAMESPACES
from engine.instruments import InstrumentRegistry
from engine.settings import Settings
from viewmodels.link import LinkPhase, LinkView

if TYPE_CHECKING:
    from alpha_panda_tui.app import AlphaPandaApp
    from alpha_panda_tui.attach_link import Hello, SocketBus
    from engine.bus.base import Bus

log = logging.getLogger(__name__)

FIRST_ATTACH_S = 5.0  # for the engine's hello; then the console says it is not there
STOP_ANSWER_S = 1.0  # for a refusal of "stop the engine" (it comes at once, or not at all)


def add_attach_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    attach = sub.add_parser(
        "attach",
        help="open the console on the engine running on this data dir (or elsewhere); quit leaves it running",
        description=(
            "Open the console on a running engine (headless, or another terminal's `launch`) through its "
            "control socket: the day so far at once, then live. D or q closes the console and leaves the "
            "engine running; X stops the engine after asking. With no engine answering: exit 1."
        ),
    )
    attach.add_argument("--read-only", action="store_true", help="watch only: every acting key is refused")
    attach.add_argument(
        "--socket",
        type=Path,
        default=None,
        metavar="PATH",
        help="the engine's control socket (default: <data dir>/control.sock), e.g. an SSH-forwarded one",
    )
    attach.add_argument(
        "--bus", choices=["socket", "kafka"], default="socket", help="reach the engine by its socket or Kafka"
    )
    attach.add_argument(
        "--bootstrap", default=None, metavar="HOST:PORT", help="the Kafka broker (with --bus kafka)"
    )


def run_attach_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.bus == "kafka":
        if not args.bootstrap:
            print(
                "error: --bus kafka needs --bootstrap HOST:PORT (the engine's Kafka broker)", file=sys.stderr
            )
            return EXIT_FAILED
        return asyncio.run(attach_kafka(settings, args.bootstrap, read_only=args.read_only))
    socket_path = args.socket or settings.control_socket
    return asyncio.run(attach_socket(settings, socket_path, read_only=args.read_only))


def console_instruments(settings: Settings) -> InstrumentRegistry:
    """The instruments as the engine builds them from these settings (for symbols on screen)."""
    from engine.zerodha.instruments_dump import InstrumentsDump, uses_dump

    if settings.zerodha.enabled and uses_dump(settings):
        with contextlib.suppress(OSError, ValueError):
            return InstrumentsDump.for_settings(settings).load()
    return InstrumentRegistry.sample()


def client_name() -> str:
    with contextlib.suppress(Exception):
        return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"
    return f"pid {os.getpid()}"


# -- over the control socket ------------------------------------------------------------------
class SocketLink:
    """An engine reached through its control socket: SocketBus's link, as the console shows it."""

    attached = True
    stop_unavailable = ""

    def __init__(self, bus: SocketBus) -> None:
        self.bus = bus

    @property
    def read_only(self) -> bool:
        return self.bus.read_only

    def view(self) -> LinkView:
        link = self.bus.link
        hello = link.hello
        return LinkView(
            LinkPhase(link.state.value),
            pid=hello.pid if hello is not None else None,
            data_dir=hello.data_dir if hello is not None else str(self.bus.socket_path),
            read_only=self.bus.read_only,
            detail=link.detail,
            since=link.since,
            attaches=link.attaches,
        )

    async def stop_engine(self, reason: str) -> None:
        """Ask; a refusal comes back on the same connection at once, so a short wait tells."""
        refused_before = len(self.bus.refused)
        try:
            await self.bus.stop_engine(reason)
        except ConnectionError as exc:  # LinkDown: not attached now, nothing was sent
            raise EngineLinkError(f"the engine could not be asked to stop: {exc}") from None
        deadline = time.monotonic() + STOP_ANSWER_S
        while time.monotonic() < deadline and self.bus.attached:
            if len(self.bus.refused) > refused_before:
                _, why = self.bus.refused[-1]
                raise EngineLinkError(f"the engine refused to stop: {why}")
            await asyncio.sleep(0.02)


async def attach_socket(settings: Settings, socket_path: Path, *, read_only: bool) -> int:
    from alpha_panda_tui.attach_link import LinkState, SocketBus

    bus = SocketBus(socket_path, read_only=read_only, client=client_name())
    await bus.start()
    try:
        hello = await _first_hello(bus)
        if hello is None:
            state = bus.link.state
            if state is LinkState.REFUSED:
                print(f"alpha-panda-tui: {bus.link.detail} ({socket_path})", file=sys.stderr)
            else:
                print(
                    f"alpha-panda-tui: no running engine answers at {socket_path}. Start one with "
                    "`alpha-panda-tui launch --headless` (or `launch`) on the same data dir, or name its "
                    "socket with --socket.",
                    file=sys.stderr,
                )
            return EXIT_FAILED
        app = attached_app(bus, hello, settings=settings, instruments=console_instruments(settings))
        await _run(app)
        print(_goodbye(app, SocketLink(bus).view()))
        return EXIT_OK
    finally:
        await bus.stop()


def attached_app(
    bus: SocketBus,
    hello: Hello,
    *,
    settings: Settings | None,
    instruments: InstrumentRegistry,
    **options: Any,
) -> AlphaPandaApp:
    """The console on an attached SocketBus: each re-attach asks for the day anew (rebuilt after an
    engine restart), and the engine's refusals are said on screen. `options` go to make_app."""
    from alpha_panda_tui.app import make_app

    options.setdefault("freeze_gc", True)
    app = make_app(
        bus=bus,
        instruments=instruments,
        settings=settings,
        namespaces=hello.namespaces,
        link=SocketLink(bus),
        hold_for_snapshot=True,
        **options,
    )

    async def attached(_hello: Hello, restarted: bool) -> None:
        await app.engine_attached(restarted)

    def refused(_event_id: str, reason: str) -> None:
        app.notify(f"The engine refused: {reason}", severity="error")

    bus.on_attached = attached
    bus.on_refused = refused
    return app


async def _first_hello(bus: SocketBus) -> Hello | None:
    """The engine's hello, or None when no engine answers (or it refuses) in FIRST_ATTACH_S."""
    from alpha_panda_tui.attach_link import LinkState

    deadline = time.monotonic() + FIRST_ATTACH_S
    while time.monotonic() < deadline:
        if await bus.wait_attached(0.05):
            return bus.link.hello
        if bus.link.state is LinkState.REFUSED:
            return None
    return None


# -- over Kafka ----------------------------------------------------------------------------------
class KafkaLink:
    """An engine on the Kafka bus, seen from another machine: commands go over Kafka; stopping
    it needs its control socket."""

    attached = True

    def __init__(self, bootstrap: str, *, read_only: bool) -> None:
        self.read_only = read_only
        self._view = LinkView(
            LinkPhase.ATTACHED, data_dir=f"kafka {bootstrap}", read_only=read_only, since=time.monotonic()
        )

    def view(self) -> LinkView:
        return self._view

    stop_unavailable = (
        "a Kafka console cannot stop the engine: run `alpha-panda-tui stop` on its machine, "
        "or attach through its control socket (`attach --socket`, over an SSH tunnel)"
    )

    async def stop_engine(self, reason: str) -> None:
        raise EngineLinkError(self.stop_unavailable)


async def attach_kafka(settings: Settings, bootstrap: str, *, read_only: bool) -> int:
    # the Kafka client loads only for a Kafka console
    make_bus: Callable[[str], Bus] = importlib.import_module("alpha_panda_tui.attach_kafka").kafka_console_bus
    bus = make_bus(bootstrap)
    app = kafka_app(
        bus, bootstrap, settings=settings, instruments=console_instruments(settings), read_only=read_only
    )
    try:
        await bus.start()
    except Exception as exc:  # the broker is not there
        print(f"alpha-panda-tui: cannot reach the Kafka broker at {bootstrap}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        await _run(app)
    finally:
        await bus.stop()
    print(_goodbye(app, KafkaLink(bootstrap, read_only=read_only).view()))
    return EXIT_OK


def kafka_app(
    bus: Bus,
    bootstrap: str,
    *,
    settings: Settings | None,
    instruments: InstrumentRegistry,
    read_only: bool,
    **options: Any,
) -> AlphaPandaApp:
    """The console on a Kafka console bus (subscribed before the bus starts: it reads from the newest
    offsets on, and the day so far comes in the snapshot it asks for). `options` go to make_app."""
    from alpha_panda_tui.app import make_app

    options.setdefault("freeze_gc", True)
    return make_app(
        bus=bus,
        instruments=instruments,
        settings=settings,
        namespaces=BROKER_NAMESPACES,
        link=KafkaLink(bootstrap, read_only=read_only),
        hold_for_snapshot=True,
        **options,
    )


# -- shared ----------------------------------------------------------------------------------------
async def _run(app: AlphaPandaApp) -> None:
    """Run the console; SIGTERM closes it, a vanished terminal (SIGHUP) ends the process at once
    (the console holds nothing the engine needs)."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, app.exit, 0)
    loop.add_signal_handler(signal.SIGHUP, os._exit, EXIT_OK)
    try:
        await app.run_async()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGHUP)


def _goodbye(app: AlphaPandaApp, view: LinkView) -> str:
    if app.engine_stopping:
        return f"The engine ({view.engine_name}) is stopping."
    if view.phase is not LinkPhase.ATTACHED:
        return f"Console closed; the engine ({view.engine_name}) was not reachable: {view.detail}"
    return (
        f"Console closed; the engine ({view.engine_name}) keeps running. "
        "Attach again with `alpha-panda-tui attach`."
    )


# -- `launch` next to a running engine ------------------------------------------------------------
def running_engine(settings: Settings) -> int | None:
    """The pid of the engine holding this data dir's lock (0 when it is not known), or None."""
    if not settings.data_dir.is_dir():
        return None
    lock = DataDirLock(settings.lock_file)
    try:
        lock.acquire()
    except DataDirLocked as exc:
        return exc.pid or 0
    except OSError:
        return None  # the engine's own start reports what is wrong with the data dir
    lock.release()
    return None


def offer_attach(settings: Settings, pid: int, *, headless: bool) -> int:
    """`launch` found an engine on its data dir: on a terminal, offer to attach; else say how (exit 3)."""
    owner = f"pid {pid}" if pid else "another process"
    where = f"an engine ({owner}) is already running on {settings.data_dir}"
    if not headless and sys.stdin.isatty() and sys.stdout.isatty():
        try:
            answer = input(f"{where}. Attach a console to it instead? [Y/n] ").strip().lower()
        except EOFError:
            answer = "n"
        if answer in ("", "y", "yes"):
            return asyncio.run(attach_socket(settings, settings.control_socket, read_only=False))
    print(
        f"alpha-panda-tui: {where}: open a console on it with `alpha-panda-tui attach`, drive it with "
        "`alpha-panda-tui status` and the control commands (halt, resume, strategy ...), or set "
        "ALPHA_PANDA_DATA_DIR to another folder for a second engine",
        file=sys.stderr,
    )
    return EXIT_ALREADY_RUNNING
