"""`--broker sandbox`: point the Zerodha settings at a running Kite sandbox.

`alpha-panda-tui sandbox` writes the sandbox's URLs and keys to <data dir>/sandbox.json (0600; the
api_secret is made up at random at each start and never printed). A command given `--broker
sandbox` reads that file into settings overrides: Zerodha enabled, its keys and URLs, and the
Zerodha feed. `--broker zerodha` (the default) leaves the settings as configured.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

SANDBOX_FILE_NAME = "sandbox.json"
SANDBOX_FILE_MODE = 0o600


class Broker(StrEnum):
    ZERODHA = "zerodha"
    SANDBOX = "sandbox"


class BrokerChoiceError(Exception):
    """The chosen broker cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class SandboxEndpoints:
    """Where a running sandbox listens and the keys it accepts."""

    root_url: str
    ws_url: str
    login_url: str
    redirect_url: str
    api_key: str
    api_secret: str = field(repr=False)
    pid: int = 0


def sandbox_file(data_dir: Path) -> Path:
    return data_dir / SANDBOX_FILE_NAME


def add_broker_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        choices=[b.value for b in Broker],
        default=None,
        help="zerodha: as configured (default); sandbox: the `alpha-panda-tui sandbox` of this data dir",
    )


def write_sandbox_file(path: Path, endpoints: SandboxEndpoints) -> None:
    """Atomically, private to this user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SANDBOX_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(asdict(endpoints), fh)
    os.chmod(tmp, SANDBOX_FILE_MODE)
    os.replace(tmp, path)


def read_sandbox_file(path: Path) -> SandboxEndpoints:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BrokerChoiceError(
            f"no Kite sandbox is running for this data dir ({path} is missing): "
            "start `alpha-panda-tui sandbox` in another terminal first"
        ) from None
    except OSError as exc:
        raise BrokerChoiceError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        endpoints = SandboxEndpoints(
            **{k: data[k] for k in data if k in SandboxEndpoints.__dataclass_fields__}
        )
        for name in ("root_url", "ws_url", "login_url", "api_key", "api_secret"):
            if not isinstance(getattr(endpoints, name), str) or not getattr(endpoints, name):
                raise ValueError(f"{name} is missing")
    except (ValueError, TypeError) as exc:
        raise BrokerChoiceError(
            f"{path} is damaged ({exc}): stop the sandbox and start `alpha-panda-tui sandbox` again"
        ) from None
    return endpoints


def remove_sandbox_file(path: Path, endpoints: SandboxEndpoints) -> None:
    """Remove the file if it still describes this sandbox (another may have started since)."""
    try:
        if read_sandbox_file(path) == endpoints:
            path.unlink()
    except (BrokerChoiceError, OSError):
        pass


def sandbox_overrides(endpoints: SandboxEndpoints) -> dict[str, Any]:
    return {
        "zerodha": {
            "enabled": True,
            "api_key": endpoints.api_key,
            "api_secret": endpoints.api_secret,
            "root_url": endpoints.root_url,
            "ws_url": endpoints.ws_url,
            "login_url": endpoints.login_url,
            "redirect_url": endpoints.redirect_url,
        },
        "feed": {"source": "zerodha"},
    }


def broker_overrides(broker: str | None, data_dir: Path) -> dict[str, Any]:
    """Settings overrides for the chosen broker (none for Zerodha as configured)."""
    if broker != Broker.SANDBOX:
        return {}
    return sandbox_overrides(read_sandbox_file(sandbox_file(data_dir)))


def merge_overrides(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` over `base`, section by section."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
