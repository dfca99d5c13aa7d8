"""EngineHost: what every process that runs the engine does around it, in one place.

    async with EngineHost(settings, log_file="engine.log") as host:   # dirs, lock, logging, engine
        ...                                                            # e.g. build the UI on host.engine
        await host.start()                                             # engine, then control socket
        await host.stop_requested.wait()
    return host.exit_code                                              # stopped, flushed, unlocked

In order: the data dir (0700, files 0600 whatever the umask), the data dir's lock
(one engine per data dir: a second one is refused before anything starts), logging
(secrets redacted), Kite's instruments dumps of the day (when the feed is Kite's),
the engine and its control socket, signal handlers, and on the
way out an orderly stop and the exit code: non-zero, with a one-line reason, when the
engine reports it did not stop cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from alpha_panda_tui import __version__
from alpha_panda_tui.data_dir_lock import DataDirLock, DataDirLocked
from alpha_panda_tui.exit_codes import EXIT_ALREADY_RUNNING, EXIT_FAILED, EXIT_OK
from alpha_panda_tui.logging_config import configure_logging
from engine.control import ControlServer
from engine.runtime import Engine
from engine.settings import Settings
from engine.storage.db_lock import DatabaseInUse
from engine.zerodha.instruments_dump import prepare_instruments

log = logging.getLogger("alpha_panda_tui.host")

PRIVATE_UMASK = 0o077
PRIVATE_FILE_MODE = 0o600
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class HostError(Exception):
    """The engine could not be hosted; already reported to the user. Carries the exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def secrets_of(settings: Settings) -> list[str]:
    z = settings.zerodha
    return [s.get_secret_value() for s in (z.api_key, z.api_secret) if s is not None]


def make_data_dir_private(settings: Settings) -> None:
    """Data dir and sub-folders 0700; files created from now on, and those already there, 0600.

    Sets the process umask: the database (and SQLite's WAL and SHM), logs, recordings and
    the lock are created by libraries that take the umask as it is. Best effort: a data dir
    that cannot be created is reported by whatever needs it next (doctor's database check).
    """
    os.umask(PRIVATE_UMASK)
    with contextlib.suppress(OSError):
        settings.ensure_dirs()
        _make_files_private(settings)


def _make_files_private(settings: Settings) -> None:
    for folder in (settings.data_dir, settings.log_dir, settings.recordings_dir):
        for path in folder.iterdir():
            _private_file(path)


def _private_file(path: Path) -> None:
    try:
        st = path.lstat()
        if path.is_file() and not path.is_symlink() and st.st_uid == os.getuid() and st.st_mode & 0o077:
            path.chmod(PRIVATE_FILE_MODE)
    except OSError:
        pass  # gone meanwhile, or not ours to change


class EngineHost:
    """An async context manager hosting one Engine and its ControlServer in this process."""

    def __init__(
        self, settings: Settings, *, log_file: str, log_to_stderr: bool = True, live: bool = False
    ) -> None:
        self.settings = settings
        self.live = live  # `launch --live`
        self.log_file = log_file
        self.log_to_stderr = log_to_stderr
        self.stop_requested = asyncio.Event()
        self.problems: list[str] = []
        self._lock = DataDirLock(settings.lock_file)
        self._engine: Engine | None = None
        self._control: ControlServer | None = None
        self._signals: set[signal.Signals] = set()
        self._previous_umask: int | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("EngineHost is not entered")
        return self._engine

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.problems else EXIT_OK

    # -- enter: dirs, lock, logging, engine ------------------------------------------------
    async def __aenter__(self) -> EngineHost:
        settings = self.settings
        self._previous_umask = os.umask(PRIVATE_UMASK)
        try:
            try:
                settings.ensure_dirs()
                self._lock.acquire()
                _make_files_private(settings)
            except DataDirLocked as exc:
                owner = f"pid {exc.pid}" if exc.pid is not None else "another process"
                raise self._refuse(
                    f"an engine ({owner}) is already running on {settings.data_dir}: use "
                    "`alpha-panda-tui status` and the control commands (halt, resume, strategy ...) "
                    f"to drive it, or set ALPHA_PANDA_DATA_DIR to another folder for a second engine",
                    EXIT_ALREADY_RUNNING,
                ) from None
            except OSError as exc:
                raise self._refuse(
                    f"cannot use the data dir {settings.data_dir}: {exc.strerror or exc}", EXIT_FAILED
                ) from None
            configure_logging(
                level=settings.log.level,
                fmt=settings.log.format,
                stream=sys.stderr if self.log_to_stderr else None,
                log_file=settings.log_dir / self.log_file,
                secrets=secrets_of(settings),
            )
            for sig in STOP_SIGNALS:
                self.on_signal(sig, self.stop_requested.set)
            await prepare_instruments(settings)  # Kite's dumps of the day, before the engine reads them
            engine = Engine(settings, live=self.live)
            control = ControlServer(
                engine.bus,
                settings.control_socket,
                engine.status,
                namespaces=engine.active_namespaces,
                on_stop=self.stop_requested.set,  # `alpha-panda-tui stop`, or a console's "stop the engine"
                version=__version__,
            )
            control.wire()
            self._engine, self._control = engine, control
        except BaseException:
            self._remove_signal_handlers()
            self._release()
            raise
        return self

    def _refuse(self, message: str, exit_code: int) -> HostError:
        print(f"alpha-panda-tui: {message}", file=sys.stderr)
        return HostError(message, exit_code)

    # -- start -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the engine, then its control socket; HostError (reported, exit 1) if either fails."""
        engine = self.engine
        assert self._control is not None
        try:
            await engine.start()
            await self._control.start()
        except DatabaseInUse as exc:
            message = (
                f"{exc}: one engine per database; drive that engine with `alpha-panda-tui status` and the "
                "control commands from its data dir, or set ALPHA_PANDA_DATABASE__URL to another database"
            )
            log.error("%s", message)
            if not self.log_to_stderr:
                print(f"alpha-panda-tui: {message}", file=sys.stderr)
            raise HostError(message, EXIT_ALREADY_RUNNING) from None
        except Exception as exc:  # e.g. the database is unreachable
            reason = engine.db.redact(str(exc)) if engine.db is not None else str(exc)
            message = f"cannot start the engine: {reason} (run `alpha-panda-tui doctor` for details)"
            log.error("%s", message)
            if not self.log_to_stderr:
                print(f"alpha-panda-tui: {message}", file=sys.stderr)
            raise HostError(message, EXIT_FAILED) from None

    def on_signal(self, sig: signal.Signals, callback: Callable[[], object]) -> None:
        """Run `callback` on the loop when `sig` arrives (replacing an earlier handler), until exit."""
        asyncio.get_running_loop().add_signal_handler(sig, callback)
        self._signals.add(sig)

    # -- exit: orderly stop, exit code, unlock -----------------------------------------------
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._remove_signal_handlers()
            if self._control is not None:
                await self._control.stop_listening()
            try:
                if self._engine is not None:
                    await self._engine.stop()
                    self._collect_problems(self._engine)
            finally:
                if self._control is not None:  # after the engine: attached consoles see its last status
                    await self._control.stop("the engine stopped")
        finally:
            self._release()

    def _collect_problems(self, engine: Engine) -> None:
        if engine.fatal_error:
            self.problems.append(f"the engine stopped on an error: {engine.fatal_error}")
        if engine.unwritten_at_stop > 0:
            self.problems.append(
                f"{engine.unwritten_at_stop:,} events were not written to the database (kept in the "
                f"journal {self.settings.storage_journal}; they are written when the engine next starts)"
            )
        for problem in self.problems:
            log.error("%s", problem)
            if not self.log_to_stderr:
                print(f"alpha-panda-tui: {problem}", file=sys.stderr)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        self._signals.clear()

    def _release(self) -> None:
        self._lock.release()
        if self._previous_umask is not None:
            os.umask(self._previous_umask)
            self._previous_umask = None
