"""Strategies: the API (`Strategy`, `Param`), built-ins, loading (TOML, folders, entry points), the runner."""

from engine.strategies.base import COMMON_PARAMS, FLAT, LONG, SHORT, Strategy
from engine.strategies.errors import StrategyConfigError, StrategyParamError
from engine.strategies.params import Param, ParamValue, parse_params, validate_params
from engine.strategies.registry import (
    BUILTIN_STRATEGIES,
    ENTRY_POINT_GROUP,
    StrategyRegistry,
    builtin_registry,
    full_registry,
)

__all__ = [
    "BUILTIN_STRATEGIES",
    "COMMON_PARAMS",
    "ENTRY_POINT_GROUP",
    "FLAT",
    "LONG",
    "SHORT",
    "Param",
    "ParamValue",
    "Strategy",
    "StrategyConfigError",
    "StrategyParamError",
    "StrategyRegistry",
    "builtin_registry",
    "full_registry",
    "parse_params",
    "validate_params",
]
