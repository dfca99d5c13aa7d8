from __future__ import annotations

from pathlib import Path

import pytest

from engine.settings import ConfigError, FeedSource, load_settings


def test_defaults_need_no_config_and_use_the_user_dirs(isolated_dirs: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == isolated_dirs / "data"
    assert settings.feed.source is FeedSource.SIMULATED
    assert settings.database_url == f"sqlite:///{isolated_dirs / 'data' / 'alpha_panda.db'}"
    assert settings.zerodha.api_key is None and settings.zerodha.api_secret is None


def test_nested_env_and_toml_file(isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated_dirs / "config" / "config.toml").write_text(
        "[risk]\nmax_quantity = 250\n[feed]\nticks_per_second = 10\n", encoding="utf-8"
    )
    monkeypatch.setenv("ALPHA_PANDA_FEED__TICKS_PER_SECOND", "25")
    settings = load_settings()
    assert settings.risk.max_quantity == 250  # from the TOML file
    assert settings.feed.ticks_per_second == 25  # env beats the file


def test_invalid_value_names_field_and_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHA_PANDA_RISK__MAX_QUANTITY", "-5")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = err.value.message
    assert "risk.max_quantity" in message
    assert "ALPHA_PANDA_RISK__MAX_QUANTITY" in message
    assert "greater than 0" in message


def test_unknown_key_in_toml_is_rejected_with_its_name(isolated_dirs: Path) -> None:
    (isolated_dirs / "config" / "config.toml").write_text("[risk]\nmax_qty = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"risk\.max_qty"):
        load_settings()


def test_secrets_are_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHA_PANDA_ZERODHA__API_SECRET", "s3cr3t-value")
    settings = load_settings()
    assert settings.zerodha.api_secret is not None
    assert settings.zerodha.api_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)


def test_live_orders_need_zerodha_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHA_PANDA_ZERODHA__LIVE_ORDERS", "true")
    with pytest.raises(ConfigError, match=r"zerodha: .*live_orders = true needs enabled = true"):
        load_settings()
    monkeypatch.setenv("ALPHA_PANDA_ZERODHA__ENABLED", "true")
    settings = load_settings()
    assert settings.zerodha.live_orders and not settings.zerodha.flatten_on_halt
