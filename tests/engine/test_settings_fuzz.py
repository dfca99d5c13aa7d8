"""Fuzz the settings loader: any config.toml, .env and ALPHA_PANDA_* values give valid Settings or one
ConfigError, never another exception, and a value planted in a secret-looking setting is never echoed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.settings import ConfigError, Settings, load_settings

SECRET = "Plant3dS3cretValue"  # never a substring of any message the loader writes

SECTIONS = ["feed", "bus", "database", "redis", "risk", "charges", "paper", "zerodha", "health", "log"]
KEYS = [
    "source", "ticks_per_second", "seed", "symbols", "replay_file", "session_speed", "session_start",
    "record", "kind", "queue_size", "tick_overflow", "url", "echo", "max_quantity", "price_band_pct",
    "slippage_bps", "square_off_time", "fill_price", "enabled", "live_orders", "root_url", "level",
    "format", "intraday", "mystery", "status_interval_s",
]  # fmt: skip
SECRET_KEYS = ["api_key", "api_secret", "access_token", "api_secrett", "acess_token", "db_password"]

text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)
toml_values = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.booleans().map(lambda b: str(b).lower()),
    text.map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(['"09:15"', "09:15:00", "0", '"25:99"', "[]", '["NTPC"]', '["NOSUCH"]', "{}", '"x://y"']),
    st.sampled_from(['"sqlite:///x.db"', '"postgresql://u:p@h/d"', '"nonsense://x"', "1979-05-27T07:32:00Z"]),
    text,  # raw, usually not TOML at all
)


@st.composite
def toml_documents(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            lines.append(f"[{draw(st.sampled_from([*SECTIONS, 'charges.intraday', 'nosuch']))}]")
        key = draw(st.sampled_from(KEYS + SECRET_KEYS))
        value = f'"{SECRET}"' if key in SECRET_KEYS else draw(toml_values)
        lines.append(f"{key} = {value}")
    if draw(st.integers(0, 9)) == 0:
        lines.append(draw(text))  # a stray line of anything
    return "\n".join(lines) + "\n"


env_names = st.sampled_from(
    [
        *(f"ALPHA_PANDA_{s.upper()}__{k.upper()}" for s in SECTIONS[:5] for k in KEYS[:8]),
        "ALPHA_PANDA_FEED__SYMBOLS", "ALPHA_PANDA_FEED__SESSION_START", "ALPHA_PANDA_DATABASE__URL",
        "ALPHA_PANDA_RISK", "ALPHA_PANDA_FEED", "ALPHA_PANDA_ZERODHA", "ALPHA_PANDA_STATUS_INTERVAL_S",
        "ALPHA_PANDA_PAPER__SQUARE_OFF_TIME", "ALPHA_PANDA_LOG__LEVEL", "ALPHA_PANDA_CHARGES__INTRADAY",
    ]
)  # fmt: skip
secret_env_names = st.sampled_from(
    [f"ALPHA_PANDA_ZERODHA__{k.upper()}" for k in SECRET_KEYS] + ["ALPHA_PANDA_DB_PASSWORD"]
)
env_values = st.one_of(
    text, st.sampled_from(["json", "[1,2]", '{"a": 1}', "null", "", "09:15", "nan", "1e999", '["NTPC"]'])
)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def _load(config_dir: Path, toml: str | None, dotenv: str | None, env: dict[str, str]) -> bool:
    """True if Settings loaded, False for a ConfigError; anything else fails the test."""
    config, dotenv_file = config_dir / "config.toml", Path(".env")
    config.unlink(missing_ok=True)
    dotenv_file.unlink(missing_ok=True)
    if toml is not None:
        config.write_text(toml, encoding="utf-8")
    if dotenv is not None:
        dotenv_file.write_text(dotenv, encoding="utf-8")
    with _environment(env):
        try:
            result = load_settings()
        except ConfigError as exc:
            assert exc.message.startswith("Invalid configuration"), exc.message
            assert "fix:" in exc.message, exc.message
            assert "Traceback" not in exc.message
            assert SECRET not in exc.message, exc.message
            return False
        assert isinstance(result, Settings)
        assert SECRET not in repr(result)
        return True


FUZZ = settings(
    max_examples=int(os.environ.get("SETTINGS_FUZZ_EXAMPLES", "150")),  # raise it for a longer hunt
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example writes its own files
)


@FUZZ
@given(
    toml=st.one_of(st.none(), toml_documents(), text),
    env=st.dictionaries(env_names, env_values, max_size=4),
    secret_env=st.dictionaries(secret_env_names, st.just(SECRET), max_size=2),
)
def test_any_config_file_and_environment_loads_or_is_one_config_error(
    isolated_dirs: Path, toml: str | None, env: dict[str, str], secret_env: dict[str, str]
) -> None:
    _load(isolated_dirs / "config", toml, None, {**env, **secret_env})


@FUZZ
@given(
    dotenv=st.lists(
        st.one_of(
            st.tuples(env_names, env_values).map(lambda kv: f"{kv[0]}={kv[1]}"),
            secret_env_names.map(lambda name: f"{name}={SECRET}"),
            text,
        ),
        max_size=5,
    ).map("\n".join),
)
def test_any_dotenv_file_loads_or_is_one_config_error(isolated_dirs: Path, dotenv: str) -> None:
    _load(isolated_dirs / "config", None, dotenv, {})


def test_the_fuzz_reaches_both_outcomes(isolated_dirs: Path) -> None:
    """The checks above hold for both outcomes: a good document loads, a bad one is a ConfigError."""
    assert _load(isolated_dirs / "config", '[feed]\nseed = 7\nsession_start = "09:30"\n', None, {})
    assert not _load(isolated_dirs / "config", f'[zerodha]\napi_secrett = "{SECRET}"\n', None, {})
    assert not _load(isolated_dirs / "config", None, None, {"ALPHA_PANDA_ZERODHA__API_SECRETT": SECRET})
