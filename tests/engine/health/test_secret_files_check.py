from __future__ import annotations

from pathlib import Path

import pytest

from engine.health.checks import SecretFilePermissionsCheck, holds_secrets
from engine.health.registry import CheckStatus


@pytest.mark.parametrize(
    "text",
    [
        '[zerodha]\napi_secret = "abc123"\n',
        "[zerodha]\naccess_token='t0k'\n",
        "ALPHA_PANDA_ZERODHA__API_KEY=k3y\n",
        "export ALPHA_PANDA_ZERODHA__API_SECRET=s\n",
        '[database]\nurl = "postgresql://trader:pw@db/alpha"\n',
        "ALPHA_PANDA_DATABASE__URL=postgresql://trader:pw@db/alpha\n",
    ],
)
def test_secrets_are_recognised(text: str) -> None:
    assert holds_secrets(text)


@pytest.mark.parametrize(
    "text",
    [
        "[risk]\nmax_quantity = 5\n",
        "# api_secret = put it here\n",
        '[zerodha]\napi_key = ""\n',
        '[database]\nurl = "postgresql://trader@db/alpha"\n',
        "ALPHA_PANDA_FEED__SEED=7\n",
    ],
)
def test_files_without_secrets_are_not_flagged(text: str) -> None:
    assert not holds_secrets(text)


async def test_a_readable_file_holding_secrets_is_a_warning_naming_the_fix(tmp_path: Path) -> None:
    config, dotenv = tmp_path / "config.toml", tmp_path / ".env"
    config.write_text('[zerodha]\napi_secret = "supersecret123"\n', encoding="utf-8")
    dotenv.write_text("ALPHA_PANDA_LOG__LEVEL=DEBUG\n", encoding="utf-8")
    config.chmod(0o644)
    dotenv.chmod(0o644)  # readable, but nothing secret in it
    result = await SecretFilePermissionsCheck([config, dotenv]).check()
    assert result.status is CheckStatus.WARN and not result.critical
    assert f"{config} holds secrets and is readable by group/others (mode 0644)" in result.message
    assert f"chmod 600 {config}`" in result.message
    assert str(dotenv) not in result.message
    assert "supersecret123" not in result.message


async def test_private_or_missing_files_are_ok(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[zerodha]\napi_secret = "supersecret123"\n', encoding="utf-8")
    config.chmod(0o600)
    result = await SecretFilePermissionsCheck([config, tmp_path / ".env"]).check()
    assert result.status is CheckStatus.OK
    config.chmod(0o640)  # group-readable is exposed too
    assert (await SecretFilePermissionsCheck([config]).check()).status is CheckStatus.WARN
