"""Every configuration problem is one ConfigError naming the field and the fix, never echoing a secret."""

from __future__ import annotations

from datetime import time as dtime
from pathlib import Path

import pytest

from engine.settings import ConfigError, load_settings


def _config(isolated_dirs: Path, text: str) -> None:
    (isolated_dirs / "config" / "config.toml").write_text(text, encoding="utf-8")


def _error() -> str:
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = err.value.message
    assert message.startswith("Invalid configuration")
    assert "fix:" in message
    return message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[risk\n", "line 1"),
        ("[risk]\nmax_quantity = 1\nmax_quantity = 2\n", "line 3"),
        ('[feed]\nsymbols = ["NTPC"\n', "at line"),
    ],
)
def test_invalid_toml_names_the_file_and_the_line(isolated_dirs: Path, text: str, where: str) -> None:
    _config(isolated_dirs, text)
    message = _error()
    assert "config.toml is not valid TOML" in message and where in message


def test_a_config_file_that_is_not_utf8_says_so(isolated_dirs: Path) -> None:
    config = isolated_dirs / "config" / "config.toml"
    config.write_bytes(b"[feed]\nseed = 1 # caf\xe9\n")
    assert f"{config} is not UTF-8 text" in _error()


def test_a_dotenv_that_is_not_utf8_is_named(isolated_dirs: Path) -> None:
    (isolated_dirs / ".env").write_bytes(b"ALPHA_PANDA_FEED__SEED=\xff\n")
    assert f"{isolated_dirs / '.env'} is not UTF-8 text" in _error()


@pytest.mark.parametrize(
    "text",
    [
        'ALPHA_PANDA_ZERODHA__API_SECRET="supersecret123\n',
        'ALPHA_PANDA_FEED__SEED=7\nALPHA_PANDA_ZERODHA__API_SECRET="supersecret123"x\n',
    ],
)
def test_a_dotenv_line_that_cannot_be_parsed_is_named_never_echoed(isolated_dirs: Path, text: str) -> None:
    (isolated_dirs / ".env").write_text(text, encoding="utf-8")
    message = _error()
    line = text.count("\n")
    assert f"{isolated_dirs / '.env'} line {line} cannot be read as NAME=value" in message
    assert "supersecret123" not in message


def test_a_dotenv_shared_with_other_tools_is_read_for_our_names_only(isolated_dirs: Path) -> None:
    (isolated_dirs / ".env").write_text(
        "# comment\n\nexport ALPHA_PANDA_FEED__SEED=7\nOTHER='x y'\nDJANGO_SECRET_KEY=supersecret123\n",
        encoding="utf-8",
    )
    assert load_settings().feed.seed == 7


def test_an_unknown_alpha_panda_name_in_dotenv_is_still_an_error(isolated_dirs: Path) -> None:
    (isolated_dirs / ".env").write_text("OTHER=1\nALPHA_PANDA_RISK__MAX_QTY=5\n", encoding="utf-8")
    message = _error()
    assert "risk.max_qty: unknown setting" in message and "risk.max_quantity" in message
    assert "other" not in message.lower().replace("another", "")


def test_non_json_list_env_var_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHA_PANDA_FEED__SYMBOLS", "json")
    message = _error()
    assert "ALPHA_PANDA_FEED__SYMBOLS" in message and "not valid JSON" in message
    assert '["NTPC", "INFY"]' in message


def test_non_json_section_in_dotenv_is_one_message(isolated_dirs: Path) -> None:
    (isolated_dirs / ".env").write_text("ALPHA_PANDA_RISK=not-json\n", encoding="utf-8")
    message = _error()
    assert "ALPHA_PANDA_RISK" in message and ".env" in message


def test_json_list_env_var_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHA_PANDA_FEED__SYMBOLS", '["NTPC", "INFY"]')
    assert load_settings().feed.symbols == ["NTPC", "INFY"]


def test_unsupported_database_scheme_names_the_supported_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHA_PANDA_DATABASE__URL", "nonsense://trader:hunter2pass@db/x")
    message = _error()
    assert "database.url" in message and "ALPHA_PANDA_DATABASE__URL" in message
    assert "unsupported database URL scheme 'nonsense'" in message and "PostgreSQL" in message
    assert "hunter2pass" not in message


def test_a_database_url_without_a_scheme_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHA_PANDA_DATABASE__URL", "localhost")
    assert "no '://'" in _error()


def test_an_unknown_symbol_is_named(isolated_dirs: Path) -> None:
    _config(isolated_dirs, '[feed]\nsymbols = ["NTPC", "NOSUCH"]\n')
    message = _error()
    assert "feed.symbols" in message and "'NOSUCH'" in message and "'NTPC'" not in message


@pytest.mark.parametrize("value", ["0", "915", '"9:15 am"', "true", '"10:00+05:30"'])
def test_session_start_must_be_a_local_time(isolated_dirs: Path, value: str) -> None:
    _config(isolated_dirs, f"[feed]\nsession_start = {value}\n")
    assert "feed.session_start" in _error()


def test_session_start_must_be_before_the_close(isolated_dirs: Path) -> None:
    _config(isolated_dirs, '[feed]\nsession_start = "15:45"\n')
    assert "before the 15:30 close" in _error()


def test_times_as_strings_and_toml_local_times_are_accepted(isolated_dirs: Path) -> None:
    _config(isolated_dirs, '[feed]\nsession_start = "10:05"\n[paper]\nsquare_off_time = 15:10:00\n')
    settings = load_settings()
    assert settings.feed.session_start == dtime(10, 5)
    assert settings.paper.square_off_time == dtime(15, 10)


def test_a_misspelt_secret_is_named_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHA_PANDA_ZERODHA__API_SECRETT", "supersecret123")
    message = _error()
    assert "supersecret123" not in message
    assert "zerodha.api_secrett: unknown setting" in message
    assert "did you mean `zerodha.api_secret`" in message


def test_a_wrong_typed_secret_is_never_echoed(isolated_dirs: Path) -> None:
    _config(isolated_dirs, '[zerodha]\napi_secret = 98765432123\napi_key = ["tok-4242-xyz"]\n')
    message = _error()
    assert "zerodha.api_secret" in message and "zerodha.api_key" in message
    assert "98765432123" not in message and "tok-4242-xyz" not in message


def test_an_unknown_setting_is_never_echoed(isolated_dirs: Path) -> None:
    _config(isolated_dirs, '[risk]\nmystery = "value-that-could-be-anything"\n')
    message = _error()
    assert "risk.mystery: unknown setting" in message
    assert "value-that-could-be-anything" not in message


def test_an_ordinary_wrong_value_is_still_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHA_PANDA_PAPER__SLIPPAGE_BPS", "lots")
    assert "(got 'lots')" in _error()


def test_a_misspelt_symbol_gets_a_suggestion(isolated_dirs: Path) -> None:
    _config(isolated_dirs, '[feed]\nsymbols = ["RELIANC"]\n')
    assert "did you mean 'RELIANCE'?" in _error()


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("ALPHA_PANDA_RISKK__X", "did you mean ALPHA_PANDA_RISK__X?"),
        ("ALPHA_PANDA_RISKK__MAX_QTY", "did you mean ALPHA_PANDA_RISK__MAX_QUANTITY?"),
        ("alpha_panda_feeed", "did you mean ALPHA_PANDA_FEED?"),
    ],
)
def test_an_environment_variable_that_names_no_setting_is_named_with_a_suggestion(
    isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch, name: str, hint: str
) -> None:
    monkeypatch.setenv(name, "supersecret123")
    message = _error()
    assert f"  - {name} (in the environment): unknown setting ({hint})" in message
    assert f"fix: correct its name, or remove it: unset {name}" in message
    assert "supersecret123" not in message


def test_an_unknown_variable_with_nothing_close_gets_no_suggestion(
    isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPHA_PANDA_ZZZ", "1")
    assert "  - ALPHA_PANDA_ZZZ (in the environment): unknown setting\n" in _error()


def test_an_unknown_variable_in_dotenv_names_the_file(isolated_dirs: Path) -> None:
    (isolated_dirs / ".env").write_text("ALPHA_PANDA_RISKK__X=1\n", encoding="utf-8")
    message = _error()
    env = isolated_dirs / ".env"
    assert (
        f"  - ALPHA_PANDA_RISKK__X (in {env}): unknown setting (did you mean ALPHA_PANDA_RISK__X?)" in message
    )
    assert f"fix: correct its name, or remove that line of {env}" in message


@pytest.mark.parametrize(
    ("toml", "env"),
    [("[risk]\nmax_quantity.x = 1\n", {}), (None, {"ALPHA_PANDA_RISK__MAX_QUANTITY__X": "1"})],
)
def test_a_key_under_a_single_value_is_told_it_is_unknown(
    isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch, toml: str | None, env: dict[str, str]
) -> None:
    if toml is not None:
        _config(isolated_dirs, toml)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    message = _error()
    assert (
        "risk.max_quantity.x: unknown setting (`risk.max_quantity` is a single value, not a section)"
        in message
    )
    assert "set a valid value" not in message


def test_a_section_given_one_value_is_told_it_is_a_section(isolated_dirs: Path) -> None:
    _config(isolated_dirs, "risk = 5\n")
    message = _error()
    assert "  - risk: is a section of settings, not a single value (got 5)" in message
    assert "under [risk]" in message and "ALPHA_PANDA_RISK__MAX_QUANTITY" in message
    assert "set a valid value" not in message
