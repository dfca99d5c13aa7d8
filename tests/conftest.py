"""Shared fixtures. Every test gets its own data and config dirs, never the user's."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/15"


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point data and config dirs at a temp folder and clear any ALPHA_PANDA_* from the env."""
    import os

    for name in list(os.environ):
        if name.startswith("ALPHA_PANDA_"):
            monkeypatch.delenv(name)
    data = tmp_path / "data"
    config = tmp_path / "config"
    data.mkdir()
    config.mkdir()
    monkeypatch.setenv("ALPHA_PANDA_DATA_DIR", str(data))
    monkeypatch.setenv("ALPHA_PANDA_CONFIG_DIR", str(config))
    monkeypatch.chdir(tmp_path)  # so a developer's .env never leaks into a test
    yield tmp_path


@pytest.fixture
def postgres_url() -> str:
    if not port_open("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    return POSTGRES_URL


@pytest.fixture
def redis_url() -> str:
    if not port_open("127.0.0.1", 6379):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_URL
