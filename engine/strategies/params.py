"""Declared strategy parameters: type, default, allowed range, help, and validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.strategies.errors import StrategyParamError

ParamValue = int | float | bool | str
ParamType = type[int] | type[float] | type[bool] | type[str]

_TYPE_NAMES: dict[type, str] = {
    int: "an int",
    float: "a number",
    bool: "a bool (true/false)",
    str: "a string",
}
_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True, slots=True)
class Param:
    """One declared parameter. `min`/`max` are inclusive and apply to int and float params."""

    type: ParamType
    default: ParamValue
    min: float | None = None
    max: float | None = None
    help: str = ""

    def allowed(self) -> str:
        """The allowed values in words, e.g. "an int in 1..500"."""
        kind = _TYPE_NAMES[self.type]
        if self.min is not None and self.max is not None:
            return f"{kind} in {_fmt(self.min)}..{_fmt(self.max)}"
        if self.min is not None:
            return f"{kind} >= {_fmt(self.min)}"
        if self.max is not None:
            return f"{kind} <= {_fmt(self.max)}"
        return kind

    def coerce(self, name: str, value: object) -> ParamValue:
        """The value as this param's type; StrategyParamError naming the param, value and range if not."""
        typed: ParamValue
        if self.type is bool:
            if not isinstance(value, bool):
                raise StrategyParamError(self._wrong(name, value), param=name)
            return value
        if self.type is str:
            if not isinstance(value, str):
                raise StrategyParamError(self._wrong(name, value), param=name)
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise StrategyParamError(self._wrong(name, value), param=name)
        if self.type is int:
            if isinstance(value, float) and not value.is_integer():
                raise StrategyParamError(self._wrong(name, value), param=name)
            typed = int(value)
        else:
            typed = float(value)
        if (self.min is not None and typed < self.min) or (self.max is not None and typed > self.max):
            raise StrategyParamError(
                f"param {name!r} = {value!r} is out of range; it must be {self.allowed()}", param=name
            )
        return typed

    def parse(self, name: str, text: str) -> ParamValue:
        """A value given as text (command line `--param k=v`), checked like `coerce`."""
        raw = text.strip()
        value: object
        try:
            if self.type is bool:
                word = raw.lower()
                if word not in _TRUE_WORDS | _FALSE_WORDS:
                    raise ValueError(raw)
                value = word in _TRUE_WORDS
            elif self.type is int:
                value = int(raw)
            elif self.type is float:
                value = float(raw)
            else:
                value = text
        except ValueError:
            raise StrategyParamError(self._wrong(name, text), param=name) from None
        return self.coerce(name, value)

    def _wrong(self, name: str, value: object) -> str:
        return f"param {name!r} must be {self.allowed()}, got {value!r} ({type(value).__name__})"


def validate_params(
    declared: Mapping[str, Param], given: Mapping[str, object], *, owner: str
) -> dict[str, Any]:
    """Every declared param, typed: given values checked, the rest from defaults.

    `owner` (e.g. "ema_crossover") is named in the message for an unknown param.
    """
    unknown = [name for name in given if name not in declared]
    if unknown:
        raise StrategyParamError(
            f"unknown param {unknown[0]!r} for {owner}; valid params: {', '.join(sorted(declared))}",
            param=unknown[0],
        )
    values: dict[str, Any] = {}
    for name, param in declared.items():
        values[name] = param.coerce(name, given.get(name, param.default))
    return values


def parse_params(declared: Mapping[str, Param], texts: Mapping[str, str], *, owner: str) -> dict[str, Any]:
    """Params given as text (`k=v` on a command line) converted to their declared types."""
    values: dict[str, Any] = {}
    for name, text in texts.items():
        param = declared.get(name)
        if param is None:
            raise StrategyParamError(
                f"unknown param {name!r} for {owner}; valid params: {', '.join(sorted(declared))}",
                param=name,
            )
        values[name] = param.parse(name, text)
    return values
