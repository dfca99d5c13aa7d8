"""Declared params: typed values, defaults, and messages that name the param, value and range."""

from __future__ import annotations

import pytest

from engine.events import Namespace
from engine.strategies import BUILTIN_STRATEGIES, Param, StrategyParamError, parse_params
from engine.strategies.ema_crossover import EmaCrossover
from engine.strategies.mean_reversion import MeanReversion
from engine.strategies.rsi import Rsi
from engine.strategies.sma_crossover import SmaCrossover
from tests.engine.strategies.helpers import RELIANCE

PAPER = (Namespace.PAPER,)


@pytest.mark.parametrize("cls", BUILTIN_STRATEGIES, ids=lambda c: c.kind)
def test_every_builtin_builds_from_its_defaults(cls: type[SmaCrossover]) -> None:
    strategy = cls("x", (RELIANCE,), PAPER, {})
    assert set(strategy.p) == set(cls.declared_params())
    assert strategy.p["quantity"] == 1
    assert strategy.p["allow_short"] is False
    assert cls.description


def test_values_are_typed() -> None:
    strategy = MeanReversion("x", (RELIANCE,), PAPER, {"entry_z": 3, "lookback": 10.0})
    assert strategy.p["entry_z"] == 3.0 and type(strategy.p["entry_z"]) is float
    assert strategy.p["lookback"] == 10 and type(strategy.p["lookback"]) is int


def test_unknown_param_is_named_with_the_valid_ones() -> None:
    with pytest.raises(StrategyParamError) as err:
        EmaCrossover("x", (RELIANCE,), PAPER, {"fsat": 5})
    assert err.value.param == "fsat"
    assert str(err.value) == (
        "unknown param 'fsat' for ema_crossover; valid params: allow_short, fast, quantity, slow"
    )


def test_out_of_range_names_param_value_and_range() -> None:
    with pytest.raises(StrategyParamError) as err:
        EmaCrossover("x", (RELIANCE,), PAPER, {"fast": 0})
    assert err.value.param == "fast"
    assert str(err.value) == "param 'fast' = 0 is out of range; it must be an int in 1..10000"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fast": 5.5}, "param 'fast' must be an int in 1..10000, got 5.5 (float)"),
        ({"fast": "5"}, "param 'fast' must be an int in 1..10000, got '5' (str)"),
        ({"fast": True}, "param 'fast' must be an int in 1..10000, got True (bool)"),
        ({"allow_short": 1}, "param 'allow_short' must be a bool (true/false), got 1 (int)"),
        ({"quantity": -3}, "param 'quantity' = -3 is out of range; it must be an int in 1..1000000"),
    ],
)
def test_wrong_type_names_param_value_and_allowed(params: dict[str, object], message: str) -> None:
    with pytest.raises(StrategyParamError) as err:
        SmaCrossover("x", (RELIANCE,), PAPER, params)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (SmaCrossover, {"fast": 20, "slow": 20}, "param 'fast' (20) must be less than param 'slow' (20)"),
        (EmaCrossover, {"fast": 30}, "param 'fast' (30) must be less than param 'slow' (20)"),
        (MeanReversion, {"exit_z": 2.5}, "param 'exit_z' (2.5) must be less than param 'entry_z' (2)"),
        (Rsi, {"oversold": 80.0}, "param 'oversold' (80) must be less than param 'overbought' (70)"),
    ],
)
def test_relations_between_params_are_checked(
    cls: type[SmaCrossover], params: dict[str, object], message: str
) -> None:
    with pytest.raises(StrategyParamError) as err:
        cls("x", (RELIANCE,), PAPER, params)
    assert str(err.value) == message


def test_empty_name_is_refused() -> None:
    with pytest.raises(StrategyParamError, match="non-empty name"):
        SmaCrossover("", (RELIANCE,), PAPER, {})


def test_params_from_text_are_converted_and_checked() -> None:
    declared = EmaCrossover.declared_params()
    assert parse_params(declared, {"fast": "7", "allow_short": "yes"}, owner="ema_crossover") == {
        "fast": 7,
        "allow_short": True,
    }
    with pytest.raises(StrategyParamError, match=r"param 'fast' must be an int in 1\.\.10000, got 'seven'"):
        parse_params(declared, {"fast": "seven"}, owner="ema_crossover")
    with pytest.raises(StrategyParamError, match="unknown param 'fastt' for ema_crossover"):
        parse_params(declared, {"fastt": "7"}, owner="ema_crossover")


def test_allowed_range_wording() -> None:
    assert Param(float, 1.0, min=0.5).allowed() == "a number >= 0.5"
    assert Param(int, 1, max=9).allowed() == "an int <= 9"
    assert Param(str, "a").allowed() == "a string"
