"""`--param k=v` arguments: parsing, and the grid they span when a value is a comma list."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence


class ParamArgError(ValueError):
    """A `--param` argument that is not NAME=VALUE[,VALUE...]."""


def parse_param_args(items: Sequence[str]) -> dict[str, list[str]]:
    """`["fast=5,10", "slow=30"]` -> `{"fast": ["5", "10"], "slow": ["30"]}`, in the order given."""
    values: dict[str, list[str]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParamArgError(f"--param {item!r}: expected NAME=VALUE or NAME=V1,V2,... (e.g. fast=5,10)")
        if name in values:
            raise ParamArgError(f"--param {name!r} is given twice; list every value once: {name}=V1,V2,...")
        options = [v.strip() for v in text.split(",")]
        if any(not v for v in options):
            raise ParamArgError(f"--param {item!r}: empty value; write {name}=V or {name}=V1,V2,...")
        if len(set(options)) != len(options):
            raise ParamArgError(f"--param {item!r}: a value is listed twice")
        values[name] = options
    return values


def is_sweep(values: Mapping[str, Sequence[str]]) -> bool:
    """True when some param has more than one value."""
    return any(len(v) > 1 for v in values.values())


def expand_grid(values: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    """Every combination, the last param varying fastest; one empty combination for no params."""
    names = list(values)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(values[n] for n in names))]


def describe(combo: Mapping[str, object]) -> str:
    """`fast=5 slow=30` (or `defaults` for none)."""
    return " ".join(f"{k}={v}" for k, v in combo.items()) or "defaults"
