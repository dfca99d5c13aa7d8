"""Which strategies a replay runs: a name from the strategies TOML, a built-in or user kind, or all enabled.

Every strategy runs in the paper namespace in a replay, whatever its file says.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

from engine.events import Namespace
from engine.instruments import InstrumentRegistry
from engine.settings import Settings
from engine.strategies.base import Strategy
from engine.strategies.errors import StrategyConfigError, StrategyParamError
from engine.strategies.loader import (
    StrategySpec,
    build_strategy,
    read_strategy_specs,
    strategies_file,
    strategy_registry,
)
from engine.strategies.params import parse_params
from engine.strategies.registry import StrategyRegistry

REPLAY_NAMESPACES: tuple[Namespace, ...] = (Namespace.PAPER,)


class ReplaySetupError(ValueError):
    """A replay that cannot start as asked: the message says what is wrong and how to fix it."""


@dataclasses.dataclass(frozen=True, slots=True)
class StrategyChoice:
    """A resolved `--strategy`: either a spec from the file or a bare kind."""

    label: str  # the name (file) or kind as given
    spec: StrategySpec | None
    kind: str


def resolve_strategy(
    settings: Settings,
    instruments: InstrumentRegistry,
    name_or_kind: str,
    registry: StrategyRegistry | None = None,
) -> StrategyChoice:
    """A strategy name from the strategies file wins over a kind of the same name."""
    registry = registry if registry is not None else strategy_registry(settings)
    specs: list[StrategySpec] = []
    file_error: StrategyConfigError | None = None
    try:
        specs = read_strategy_specs(strategies_file(settings), instruments, registry)
    except StrategyConfigError as exc:
        file_error = exc
    for spec in specs:
        if spec.name == name_or_kind:
            return StrategyChoice(label=spec.name, spec=spec, kind=spec.kind)
    if name_or_kind in registry:
        return StrategyChoice(label=name_or_kind, spec=None, kind=name_or_kind)
    if file_error is not None:
        raise ReplaySetupError(
            f"unknown strategy {name_or_kind!r}: it is not a strategy kind, and the strategies file "
            f"could not be read to look for a strategy of that name: {file_error}"
        )
    names = [spec.name for spec in specs]
    close = difflib.get_close_matches(name_or_kind, [*names, *registry.kinds()], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ReplaySetupError(
        f"unknown strategy {name_or_kind!r}.{hint} Use a strategy name from "
        f"{strategies_file(settings)} ({', '.join(names) or 'none'}) or a strategy kind "
        f"({', '.join(registry.kinds())})."
    )


def parse_strategy_params(
    choice: StrategyChoice, texts: Mapping[str, str], registry: StrategyRegistry
) -> dict[str, Any]:
    """`--param` texts typed by the strategy's declared params; ReplaySetupError naming the param."""
    cls = registry.get(choice.kind)
    try:
        return parse_params(cls.declared_params(), texts, owner=f"{choice.label} ({choice.kind})")
    except StrategyParamError as exc:
        raise ReplaySetupError(f"--param: {exc}") from None


def build_choice(
    choice: StrategyChoice,
    params: Mapping[str, Any],
    instruments: InstrumentRegistry,
    registry: StrategyRegistry,
) -> Strategy:
    """A fresh Strategy for the choice with `params` over the file's. Raises StrategyParamError
    for params that are each valid but not together (e.g. fast >= slow)."""
    if choice.spec is not None:
        spec = dataclasses.replace(choice.spec, namespaces=REPLAY_NAMESPACES)
        cls = registry.get(spec.kind)
        return cls(spec.name, spec.instruments, spec.namespaces, {**spec.params, **params})
    tokens = tuple(inst.instrument_token for inst in instruments.tradable())
    return registry.get(choice.kind)(choice.kind, tokens, REPLAY_NAMESPACES, dict(params))


def select_strategies(
    settings: Settings,
    instruments: InstrumentRegistry,
    name_or_kind: str | None,
    param_texts: Mapping[str, str] | None = None,
    registry: StrategyRegistry | None = None,
) -> list[Strategy]:
    """The strategies to replay: the one asked for (with `--param` overrides), else every enabled
    strategy of the strategies file. A bare kind trades every tradable instrument the file has."""
    registry = registry if registry is not None else strategy_registry(settings)
    texts = dict(param_texts or {})
    if name_or_kind is None:
        if texts:
            raise ReplaySetupError("--param needs --strategy NAME_OR_KIND (the strategy the params are for)")
        try:
            specs = read_strategy_specs(strategies_file(settings), instruments, registry)
            strategies = [
                build_strategy(dataclasses.replace(spec, namespaces=REPLAY_NAMESPACES), registry)
                for spec in specs
                if spec.enabled
            ]
        except StrategyConfigError as exc:
            raise ReplaySetupError(str(exc)) from None
        if not strategies:
            raise ReplaySetupError(
                f"no enabled strategy in {strategies_file(settings)}; pass --strategy NAME_OR_KIND"
            )
        return strategies
    choice = resolve_strategy(settings, instruments, name_or_kind, registry)
    params = parse_strategy_params(choice, texts, registry)
    try:
        return [build_choice(choice, params, instruments, registry)]
    except StrategyParamError as exc:
        raise ReplaySetupError(f"strategy {choice.label!r}: {exc}") from None
