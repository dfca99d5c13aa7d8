"""The control commands as a user runs them: real `alpha-panda-tui` processes against a real engine
(two broker namespaces) and its control socket. Each prints every service's answer once and exits 0
only when every one of them is ok; names the engine does not know exit 1 and say so."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.events import Namespace
from tests.engine.test_commands import COMMAND_TIMEOUT_S, running

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="clic-") as folder:  # short: a socket path is limited
        yield Path(folder)


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alpha_panda_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ALPHA_PANDA_DATA_DIR": str(data_dir)},
    )


def lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return sorted(done.stdout.splitlines())


def test_halt_resume_and_unknown_names_answer_once_per_namespace(data_dir: Path) -> None:
    with running(data_dir) as _engine:
        halt = cli(data_dir, "halt", "--reason", "lunch")
        assert halt.returncode == 0, halt.stderr
        assert lines(halt) == ["ok: paper: trading halted (lunch)", "ok: zerodha: trading halted (lunch)"]

        again = cli(data_dir, "halt", "--reason", "tea")
        assert again.returncode == 0
        assert lines(again) == [
            "ok: paper: already halted (lunch); reason kept",
            "ok: zerodha: already halted (lunch); reason kept",
        ]
        assert re.search(r"engine\s+HALTED \(lunch\)", cli(data_dir, "status").stdout)

        resume = cli(data_dir, "resume")
        assert resume.returncode == 0 and lines(resume) == [
            "ok: paper: trading resumed",
            "ok: zerodha: trading resumed",
        ]
        noop = cli(data_dir, "resume")
        assert noop.returncode == 0 and lines(noop) == [
            "ok: paper: trading was not halted",
            "ok: zerodha: trading was not halted",
        ]

        latch = cli(data_dir, "reset-latch", "nosuch")
        assert latch.returncode == 1
        assert (
            all(
                line.startswith("FAILED: ")
                and "no strategy named 'nosuch'; known strategies: ema_5_20" in line
                for line in lines(latch)
            )
            and len(lines(latch)) == 2
        )

        toggle = cli(data_dir, "strategy", "enable", "nope")
        assert toggle.returncode == 1 and "FAILED: no strategy named 'nope'" in toggle.stdout

        mismatch = cli(data_dir, "acknowledge", "nosuch")
        assert mismatch.returncode == 1
        assert lines(mismatch) == [
            "FAILED: no position mismatch to acknowledge: this engine does not reconcile positions"
            " with Kite (only an engine trading live with Zerodha does)"
        ]

        listing = cli(data_dir, "strategy", "list")
        assert listing.returncode == 0
        row = r"ema_5_20\s+ema_crossover\s+enabled\s+\d+\s+paper$"
        assert re.search(row, listing.stdout, re.MULTILINE), listing.stdout


def test_a_service_that_does_not_answer_fails_the_command_and_is_named(data_dir: Path) -> None:
    with running(data_dir, stuck=Namespace.ZERODHA) as engine:
        halt = cli(data_dir, "halt", "--reason", "lunch")
        assert engine.engine.commands.timed_out == 1
    assert halt.returncode == 1
    assert halt.stdout.splitlines() == [
        "ok: paper: trading halted (lunch)",
        f"FAILED: no answer from risk.zerodha within {COMMAND_TIMEOUT_S:g} s",
    ]
    assert "Traceback" not in halt.stderr


def test_flatten_and_the_typed_live_confirmation_from_another_terminal(data_dir: Path) -> None:
    with running(data_dir) as _engine:
        everything = cli(data_dir, "flatten", "--all")
        assert everything.returncode == 0, everything.stdout + everything.stderr
        # the engine trades while the test runs: whatever it holds then is closed
        [closed] = lines(everything)
        assert re.fullmatch(r"ok: paper: \d+ closing order\(s\) for every position", closed), closed
        nope = cli(data_dir, "flatten", "--strategy", "nope")
        assert nope.returncode == 1
        [line] = lines(nope)
        assert line.startswith("FAILED: no strategy named 'nope'; known strategies: ema_5_20, ")
        unscoped = cli(data_dir, "flatten")
        assert (
            unscoped.returncode == 2 and "one of the arguments --all --strategy --symbol" in unscoped.stderr
        )

        refused = cli(data_dir, "confirm-live", "yes")
        assert refused.returncode == 1
        assert lines(refused) == ["FAILED: not confirmed: 'yes' is neither LIVE nor the Zerodha user id"]
        confirmed = cli(data_dir, "confirm-live", "LIVE")
        assert confirmed.returncode == 0
        assert lines(confirmed) == [
            "ok: live orders confirmed: signals of strategies routed to zerodha now go to Kite"
        ]
        status = cli(data_dir, "status")
        # confirmed, but this engine has no Kite behind its zerodha namespace: LIVE it is not
        assert "mode PAPER" in status.stdout
        assert "live       OFF: Zerodha is not enabled" in status.stdout
