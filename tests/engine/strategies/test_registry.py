"""User strategies: from the config folder and from installed entry points, registered and run."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.events import Side
from engine.instruments import InstrumentRegistry
from engine.settings import StrategySettings, load_settings
from engine.strategies import ENTRY_POINT_GROUP, StrategyConfigError, StrategyRegistry, builtin_registry
from engine.strategies.loader import load_strategies, strategy_registry
from engine.strategies.registry import USER_MODULE_PREFIX
from tests.engine.strategies.helpers import RELIANCE, drive

INSTRUMENTS = InstrumentRegistry.sample()

BREAKOUT = """
from typing import ClassVar

from engine.events import MarketTick, TradingSignal
from engine.strategies import Param, Strategy
from engine.strategies.ema_crossover import EmaCrossover  # imported, so not registered from here


class Breakout(Strategy):
    kind: ClassVar[str] = "breakout"
    description: ClassVar[str] = "buy above a level, exit below it"
    params: ClassVar[dict[str, Param]] = {"level": Param(float, 100.0, min=0.0)}

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        if tick.last_price > self.p["level"]:
            return self.go_long(tick, "above level")
        return self.go_flat(tick, "below level")


class FastEma(EmaCrossover):
    kind: ClassVar[str] = "fast_ema"
"""

USER_TOML = """
[[strategy]]
name = "my_breakout"
kind = "breakout"
instruments = ["RELIANCE"]
[strategy.params]
level = 1400.0
quantity = 4
"""


@pytest.fixture(autouse=True)
def forget_user_modules() -> Iterator[None]:
    yield
    for name in [n for n in sys.modules if n.startswith((USER_MODULE_PREFIX, "ap_demo_ep"))]:
        del sys.modules[name]


def test_user_folder_strategy_loads_and_runs() -> None:
    settings = load_settings()
    folder = settings.config_dir / "strategies"
    folder.mkdir()
    (folder / "breakout.py").write_text(BREAKOUT, encoding="utf-8")
    (settings.config_dir / "strategies.toml").write_text(USER_TOML, encoding="utf-8")

    registry = strategy_registry(settings)
    assert {"breakout", "fast_ema"} <= set(registry.kinds())
    assert registry.origin("breakout") == str(folder / "breakout.py")
    assert registry.origin("ema_crossover") == "built-in"

    (strategy,), enabled = load_strategies(settings, INSTRUMENTS)
    assert strategy.kind == "breakout" and enabled == {"my_breakout": True}
    assert drive(strategy, [1390, 1410, 1420, 1395, 1401]) == [
        (1, Side.BUY, 4),
        (3, Side.SELL, 4),
        (4, Side.BUY, 4),
    ]


def test_user_dir_setting_points_at_another_folder(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "breakout.py").write_text(BREAKOUT, encoding="utf-8")
    settings = load_settings(strategies=StrategySettings(user_dir=folder))
    assert "breakout" in strategy_registry(settings)


def test_missing_user_folder_means_built_ins_only() -> None:
    registry = strategy_registry(load_settings())
    assert registry.kinds() == builtin_registry().kinds()


def test_user_module_that_fails_to_import_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n", encoding="utf-8")
    with pytest.raises(StrategyConfigError) as err:
        builtin_registry().load_folder(tmp_path)
    message = str(err.value)
    assert str(tmp_path / "broken.py") in message
    assert "ModuleNotFoundError" in message and "not_a_module_anywhere" in message


def test_user_kind_clashing_with_a_built_in_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(BREAKOUT.replace('"breakout"', '"rsi"'), encoding="utf-8")
    with pytest.raises(StrategyConfigError, match=r"kind 'rsi' .* is already registered by built-in"):
        builtin_registry().load_folder(tmp_path)


def test_unknown_kind_lists_known_kinds() -> None:
    with pytest.raises(KeyError, match="unknown strategy kind 'nope'; known kinds: ema_crossover, mean_rev"):
        builtin_registry().get("nope")


def test_strategy_without_kind_cannot_register() -> None:
    from engine.strategies.crossover import MovingAverageCrossover

    with pytest.raises(StrategyConfigError, match="has no `kind`"):
        StrategyRegistry().register(MovingAverageCrossover)  # type: ignore[type-abstract]


def test_entry_point_strategies_are_registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "ap_demo_ep"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(BREAKOUT), encoding="utf-8")
    dist_info = tmp_path / "ap_demo_ep-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: ap-demo-ep\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nbreakout = ap_demo_ep:Breakout\nwhole = ap_demo_ep\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    registry = builtin_registry()
    found = registry.load_entry_points()
    assert {cls.kind for cls in found} == {"breakout", "fast_ema"}
    assert "entry point 'breakout' (ap_demo_ep:Breakout)" in registry.origin("breakout")
    strategy = registry.get("breakout")("ep", (RELIANCE,), (), {"level": 10.0})
    assert drive(strategy, [9, 11]) == [(1, Side.BUY, 1)]
