"""The strategies TOML: which file is used, what a good one gives, and what each bad one says."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets import asset_path
from engine.events import Namespace
from engine.instruments import InstrumentRegistry
from engine.settings import Settings, StrategySettings, load_settings
from engine.strategies import StrategyConfigError, builtin_registry
from engine.strategies.ema_crossover import EmaCrossover
from engine.strategies.loader import (
    build_strategy,
    load_strategies,
    read_strategy_specs,
    strategies_file,
)
from tests.engine.strategies.helpers import INFY, RELIANCE

INSTRUMENTS = InstrumentRegistry.sample()

GOOD = """
[[strategy]]
name = "ema_5_20"
kind = "ema_crossover"
instruments = ["RELIANCE", "infy"]
namespaces = ["paper", "PAPER"]
[strategy.params]
fast = 5
slow = 20
quantity = 10

[[strategy]]
name = "rsi_off"
kind = "rsi"
instruments = ["TCS"]
enabled = false
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_is_the_default_and_loads() -> None:
    settings = load_settings()
    assert strategies_file(settings) == asset_path("strategies.toml")
    strategies, enabled = load_strategies(settings, INSTRUMENTS)
    assert len(strategies) >= 4
    assert {s.kind for s in strategies} == set(builtin_registry().kinds())
    assert all(s.namespaces == (Namespace.PAPER,) for s in strategies)
    assert all(enabled[s.name] for s in strategies)
    ema = next(s for s in strategies if s.kind == "ema_crossover")
    assert ema.p["fast"] == 5 and ema.p["slow"] == 20
    assert RELIANCE in ema.instruments and INFY in ema.instruments


def test_good_file_gives_typed_strategies_and_flags(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", GOOD)
    settings = load_settings(strategies=StrategySettings(file=path))
    strategies, enabled = load_strategies(settings, INSTRUMENTS)
    ema, rsi = strategies
    assert isinstance(ema, EmaCrossover)
    assert ema.name == "ema_5_20"
    assert ema.instruments == (RELIANCE, INFY)
    assert ema.namespaces == (Namespace.PAPER,)  # named once, whatever the case
    assert ema.p == {"fast": 5, "slow": 20, "quantity": 10, "allow_short": False}
    assert rsi.namespaces == (Namespace.PAPER,)  # the default
    assert enabled == {"ema_5_20": True, "rsi_off": False}


def test_user_config_file_replaces_the_shipped_one() -> None:
    settings = load_settings()
    user_file = write(settings.config_dir / "strategies.toml", GOOD)
    assert strategies_file(settings) == user_file
    strategies, _ = load_strategies(settings, INSTRUMENTS)
    assert [s.name for s in strategies] == ["ema_5_20", "rsi_off"]


def test_configured_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    settings = load_settings(strategies=StrategySettings(file=tmp_path / "missing.toml"))
    with pytest.raises(StrategyConfigError, match=r"strategies\.file is set to .*missing\.toml, which"):
        strategies_file(settings)


def test_file_params_can_be_overridden_when_building(tmp_path: Path) -> None:
    registry = builtin_registry()
    spec = read_strategy_specs(write(tmp_path / "s.toml", GOOD), INSTRUMENTS, registry)[0]
    strategy = build_strategy(spec, registry, {"fast": 3})
    assert strategy.p["fast"] == 3 and strategy.p["slow"] == 20


ENTRY = '[[strategy]]\nname = "s1"\nkind = "sma_crossover"\ninstruments = ["RELIANCE"]\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[strategy]\nname = 1", ["is not valid TOML"]),
        ('[strategy]\nname = "a"\n', ["must be an array of tables", "[[strategy]] (double brackets)"]),
        ('title = "x"\n' + ENTRY, ["unexpected top-level key 'title'"]),
        ('[[strategy]]\nkind = "rsi"\ninstruments = ["TCS"]\n', ["strategy #1", "field 'name'", "missing"]),
        (
            ENTRY.replace("sma_crossover", "ema_crossovr"),
            [
                "strategy 's1'",
                "field 'kind'",
                "unknown kind 'ema_crossovr'",
                "did you mean 'ema_crossover'",
                ", ".join(builtin_registry().kinds()),
            ],
        ),
        (
            ENTRY.replace('"RELIANCE"', '"RELIANC"'),
            ["strategy 's1'", "field 'instruments'", "unknown symbol 'RELIANC'", "did you mean 'RELIANCE'"],
        ),
        (ENTRY.replace('"RELIANCE"', '"NIFTY 50"'), ["field 'instruments'", "is an index"]),
        (ENTRY.replace('["RELIANCE"]', '["TCS", "tcs"]'), ["field 'instruments'", "'tcs' is listed twice"]),
        (ENTRY.replace('["RELIANCE"]', "[]"), ["field 'instruments'", "non-empty list of strings"]),
        (
            ENTRY + 'namespaces = ["live"]\n',
            ["strategy 's1'", "field 'namespaces'", "bad namespace 'live'", "use 'paper'"],
        ),
        (
            ENTRY + 'namespaces = ["paper", "zerodha"]\n',
            [
                "strategy 's1'",
                "field 'namespaces'",
                "'zerodha' would send real orders",
                "zerodha.live_orders is not true and the engine was not launched with --live",
            ],
        ),
        (ENTRY + 'namespaces = ["shared"]\n', ["field 'namespaces'", "bad namespace 'shared'"]),
        (ENTRY + 'enabled = "yes"\n', ["field 'enabled'", "true or false"]),
        (ENTRY + "instrument = 3\n", ["field 'instrument'", "unknown field", "[strategy.params]"]),
        (ENTRY + ENTRY, ["strategy 's1' (entry #2)", "field 'name'", "duplicate name", "entry #1"]),
        (
            ENTRY + "[strategy.params]\nfsat = 5\n",
            ["strategy 's1'", "field 'params.fsat'", "unknown param 'fsat'", "fast (an int in 1..10000)"],
        ),
        (ENTRY + "[strategy.params]\nfast = 0\n", ["field 'params.fast'", "= 0 is out of range"]),
        (ENTRY + '[strategy.params]\nfast = "5"\n', ["field 'params.fast'", "must be an int"]),
        (
            ENTRY + "[strategy.params]\nfast = 30\nslow = 10\n",
            ["field 'params.fast'", "'fast' (30) must be less than param 'slow' (10)"],
        ),
    ],
    ids=lambda v: v[:24] if isinstance(v, str) else None,
)
def test_bad_file_names_the_file_the_strategy_and_the_field(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = write(tmp_path / "bad.toml", text)
    settings = load_settings(strategies=StrategySettings(file=path))
    with pytest.raises(StrategyConfigError) as err:
        load_strategies(settings, INSTRUMENTS)
    message = str(err.value)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_empty_file_means_no_strategies(tmp_path: Path) -> None:
    settings: Settings = load_settings(strategies=StrategySettings(file=write(tmp_path / "e.toml", "")))
    assert load_strategies(settings, INSTRUMENTS) == ([], {})


def test_a_strategies_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(b"\xff\xfe" + ENTRY.encode())
    with pytest.raises(StrategyConfigError, match=r"s\.toml: is not UTF-8 text"):
        read_strategy_specs(path, INSTRUMENTS, builtin_registry())


LIVE_ENTRY = ENTRY + 'namespaces = ["paper", "zerodha"]\n'


def test_a_strategy_routed_to_zerodha_loads_only_in_an_engine_launched_live(tmp_path: Path) -> None:
    path = write(tmp_path / "live.toml", LIVE_ENTRY)
    settings = load_settings(
        strategies=StrategySettings(file=path), zerodha={"enabled": True, "live_orders": True}
    )
    with pytest.raises(StrategyConfigError, match="the engine was not launched with --live"):
        load_strategies(settings, INSTRUMENTS)
    strategies, _ = load_strategies(settings, INSTRUMENTS, live=True)
    assert strategies[0].namespaces == (Namespace.PAPER, Namespace.ZERODHA)
