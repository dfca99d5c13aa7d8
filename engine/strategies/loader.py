"""The strategies TOML: which file, what it says, and the Strategy objects it describes.

    [[strategy]]
    name = "ema_5_20"
    kind = "ema_crossover"
    instruments = ["RELIANCE", "INFY"]   # trading symbols
    namespaces = ["paper"]               # default: paper; "zerodha" = live orders (see below)
    enabled = true                       # default: true
    product = "MIS"                      # MIS (default), CNC or NRML
    order_type = "LIMIT"                 # MARKET (default), LIMIT, SL or SL-M
    limit_offset_ticks = 2               # or limit_offset_bps; see engine.strategies.orders
    [strategy.params]
    fast = 5
    slow = 20

File choice: `settings.strategies.file` if set, else `<config_dir>/strategies.toml`
if present, else the shipped `assets/strategies.toml`. User strategy kinds
come from `settings.strategies.user_dir` (default `<config_dir>/strategies/`)
and the `alpha_panda_tui.strategies` entry-point group.

A strategy routed to `zerodha` sends real orders: the engine loads it only when launched live
(`zerodha.live_orders = true` and `launch --live`); otherwise it is refused, never skipped.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assets import asset_path
from engine.events import Namespace
from engine.file_paths import not_a_file
from engine.instruments import Instrument, InstrumentRegistry, UnknownInstrument
from engine.settings import Settings
from engine.strategies.base import Strategy
from engine.strategies.errors import StrategyConfigError, StrategyParamError
from engine.strategies.order_fields import ORDER_KEYS, read_order_settings
from engine.strategies.orders import OrderSettings
from engine.strategies.registry import StrategyRegistry, full_registry

STRATEGIES_FILE_NAME = "strategies.toml"
USER_DIR_NAME = "strategies"
STRATEGY_KEYS = ("name", "kind", "instruments", "namespaces", "enabled", *ORDER_KEYS, "params")
DEFAULT_NAMESPACES: tuple[Namespace, ...] = (Namespace.PAPER,)
KNOWN_NAMESPACES: tuple[str, ...] = (Namespace.PAPER.value, Namespace.ZERODHA.value)


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """One `[[strategy]]` entry, checked except for its params (checked when built)."""

    name: str
    kind: str
    symbols: tuple[str, ...]
    instruments: tuple[int, ...]
    namespaces: tuple[Namespace, ...]
    enabled: bool
    params: Mapping[str, object] = field(default_factory=dict)
    source: Path | None = None
    orders: OrderSettings = field(default_factory=OrderSettings)
    tick_sizes: Mapping[int, float] = field(default_factory=dict)


def strategies_file(settings: Settings) -> Path:
    """The strategies TOML in force for these settings."""
    if settings.strategies.file is not None:
        path = settings.strategies.file.expanduser()
        problem = not_a_file(path)
        if problem is not None:
            raise StrategyConfigError(
                f"strategies.file is set to {path}, which {problem}; "
                "fix the path or unset it to use the default strategies"
            )
        return path
    user_file = settings.config_dir / STRATEGIES_FILE_NAME
    if user_file.is_file():
        return user_file
    return asset_path(STRATEGIES_FILE_NAME)


def user_strategy_dir(settings: Settings) -> Path:
    configured = settings.strategies.user_dir
    return configured.expanduser() if configured is not None else settings.config_dir / USER_DIR_NAME


def strategy_registry(settings: Settings) -> StrategyRegistry:
    """Built-in kinds plus the user's folder and installed entry points."""
    return full_registry(user_strategy_dir(settings))


def load_strategies(
    settings: Settings,
    instruments: InstrumentRegistry,
    registry: StrategyRegistry | None = None,
    *,
    live: bool = False,
) -> tuple[list[Strategy], dict[str, bool]]:
    """Every strategy in the file in force, built, and its `enabled` flag from the file.

    `live`: the engine was launched live; without it a strategy routed to zerodha is refused."""
    registry = registry if registry is not None else strategy_registry(settings)
    specs = read_strategy_specs(strategies_file(settings), instruments, registry)
    if not live:
        for spec in specs:
            refuse_live(spec, settings)
    strategies = [build_strategy(spec, registry) for spec in specs]
    return strategies, {spec.name: spec.enabled for spec in specs}


def refuse_live(spec: StrategySpec, settings: Settings) -> None:
    """StrategyConfigError for a strategy routed to zerodha in an engine not launched live."""
    if Namespace.ZERODHA not in spec.namespaces:
        return
    where = f"{spec.source}: " if spec.source else ""
    if not settings.zerodha.live_orders:
        missing = "zerodha.live_orders is not true and the engine was not launched with --live"
    else:
        missing = "the engine was not launched with --live"
    raise StrategyConfigError(
        f"{where}strategy {spec.name!r}, field 'namespaces': 'zerodha' would send real orders, and "
        f'live orders are off ({missing}). Fix: remove it (namespaces = ["paper"]) to paper-trade '
        "this strategy, or set zerodha.live_orders = true and run `alpha-panda-tui launch --live`"
    )


def build_strategy(
    spec: StrategySpec,
    registry: StrategyRegistry,
    params: Mapping[str, object] | None = None,
) -> Strategy:
    """The Strategy for a spec; `params` (e.g. from a command line) override the file's."""
    merged = {**spec.params, **(params or {})}
    where = f"{spec.source}: " if spec.source else ""
    cls = registry.get(spec.kind)
    try:
        strategy = cls(spec.name, spec.instruments, spec.namespaces, merged)
    except StrategyParamError as exc:
        field_name = f"params.{exc.param}" if exc.param else "params"
        if exc.param in ORDER_KEYS:
            raise StrategyConfigError(
                f"{where}strategy {spec.name!r}, field {field_name!r}: {exc.param} is an order setting, "
                "not a param. Fix: move it above [strategy.params], next to name and kind"
            ) from None
        allowed = ", ".join(f"{n} ({p.allowed()})" for n, p in sorted(cls.declared_params().items()))
        raise StrategyConfigError(
            f"{where}strategy {spec.name!r}, field {field_name!r}: {exc}. Fix: {spec.kind} accepts {allowed}"
        ) from None
    except Exception as exc:
        raise StrategyConfigError(
            f"{where}strategy {spec.name!r} ({spec.kind}, from {registry.origin(spec.kind)}) failed to "
            f"start: {type(exc).__name__}: {exc}; fix the strategy class or disable it in the file"
        ) from exc
    strategy.set_orders(spec.orders, spec.tick_sizes)
    return strategy


def read_strategy_specs(
    path: Path, instruments: InstrumentRegistry, registry: StrategyRegistry
) -> list[StrategySpec]:
    """Parse and check a strategies TOML; StrategyConfigError naming file, strategy and field."""
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except OSError as exc:
        raise StrategyConfigError(f"{path}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise StrategyConfigError(f"{path}: is not valid TOML: {exc}; fix the syntax") from None
    except UnicodeDecodeError:
        raise StrategyConfigError(f"{path}: is not UTF-8 text; save it as UTF-8") from None
    extra = sorted(set(document) - {"strategy"})
    if extra:
        raise StrategyConfigError(
            f"{path}: unexpected top-level key {extra[0]!r}; "
            "the file holds only [[strategy]] tables (check the indentation of keys above it)"
        )
    entries = document.get("strategy", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise StrategyConfigError(
            f"{path}: 'strategy' must be an array of tables; write each one as [[strategy]] (double brackets)"
        )
    specs: list[StrategySpec] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries, start=1):
        spec = _read_entry(path, index, entry, instruments, registry)
        if spec.name in seen:
            raise StrategyConfigError(
                f"{path}: strategy {spec.name!r} (entry #{index}), field 'name': duplicate name, also "
                f"used by entry #{seen[spec.name]}. Fix: give every strategy a unique name"
            )
        seen[spec.name] = index
        specs.append(spec)
    return specs


class _Entry:
    """Field readers for one [[strategy]] table, raising errors that say where."""

    def __init__(self, path: Path, index: int, data: dict[str, Any]) -> None:
        self.path = path
        self.index = index
        self.data = data
        self.label = f"strategy #{index}"

    def error(self, field_name: str, problem: str, fix: str) -> StrategyConfigError:
        return StrategyConfigError(f"{self.path}: {self.label}, field {field_name!r}: {problem}. Fix: {fix}")

    def string(self, key: str) -> str:
        value = self.data.get(key)
        if value is None:
            raise self.error(key, "missing", f'add {key} = "..." to this [[strategy]]')
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, got {value!r}", f'write {key} = "..."')
        return value.strip()

    def string_list(self, key: str, default: Sequence[str] | None = None) -> list[str]:
        value = self.data.get(key)
        if value is None:
            if default is not None:
                return list(default)
            raise self.error(key, "missing", f'add {key} = ["...", ...]')
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            problem = f"must be a non-empty list of strings, got {value!r}"
            raise self.error(key, problem, f'write {key} = ["..."]')
        return value


def _read_entry(
    path: Path, index: int, data: dict[str, Any], instruments: InstrumentRegistry, registry: StrategyRegistry
) -> StrategySpec:
    entry = _Entry(path, index, data)
    name = entry.string("name")
    entry.label = f"strategy {name!r}"
    unknown = sorted(set(data) - set(STRATEGY_KEYS))
    if unknown:
        raise entry.error(
            unknown[0],
            "unknown field",
            f"use only {', '.join(STRATEGY_KEYS)} (strategy parameters go under [strategy.params])",
        )
    kind = entry.string("kind")
    if kind not in registry:
        close = difflib.get_close_matches(kind, registry.kinds(), n=1)
        hint = f"did you mean {close[0]!r}? Otherwise " if close else ""
        raise entry.error(
            "kind",
            f"unknown kind {kind!r}",
            f"{hint}use one of {', '.join(registry.kinds())}, or add a user strategy with that kind",
        )
    symbols = entry.string_list("instruments")
    tokens: list[int] = []
    chosen: list[Instrument] = []
    for symbol in symbols:
        try:
            inst = instruments.by_symbol(symbol)
        except UnknownInstrument:
            known = [i.tradingsymbol for i in instruments.tradable()]
            close = difflib.get_close_matches(symbol.upper(), known, n=1)
            hint = f"did you mean {close[0]!r}? Otherwise " if close else ""
            raise entry.error(
                "instruments",
                f"unknown symbol {symbol!r}",
                f"{hint}use trading symbols from the instruments list, e.g. {', '.join(known[:5])}",
            ) from None
        if not inst.tradable:
            raise entry.error(
                "instruments",
                f"{symbol!r} is an index ({inst.segment}) and cannot be traded",
                "use a tradable instrument such as a stock",
            )
        if inst.instrument_token in tokens:
            raise entry.error("instruments", f"{symbol!r} is listed twice", "list each instrument once")
        tokens.append(inst.instrument_token)
        chosen.append(inst)
    namespaces: list[Namespace] = []
    for text in entry.string_list("namespaces", default=[ns.value for ns in DEFAULT_NAMESPACES]):
        if text.lower() not in KNOWN_NAMESPACES:
            allowed = " or ".join(repr(n) for n in KNOWN_NAMESPACES)
            raise entry.error("namespaces", f"bad namespace {text!r}", f"use {allowed}")
        ns = Namespace(text.lower())
        if ns not in namespaces:
            namespaces.append(ns)
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise entry.error("enabled", f"must be true or false, got {enabled!r}", "write enabled = true")
    orders = read_order_settings(data, chosen, namespaces, entry.error)
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise entry.error("params", f"must be a table, got {params!r}", "put them under [strategy.params]")
    return StrategySpec(
        name=name,
        kind=kind,
        symbols=tuple(s.upper() for s in symbols),
        instruments=tuple(tokens),
        namespaces=tuple(namespaces),
        enabled=enabled,
        params=dict(params),
        source=path,
        orders=orders,
        tick_sizes={inst.instrument_token: inst.tick_size for inst in chosen},
    )
