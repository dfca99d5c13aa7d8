"""argparse types for numbers a command line option must keep within bounds, refused with the reason."""

from __future__ import annotations

import argparse
import math


def positive_number(text: str) -> float:
    """A finite number greater than 0 (seconds, a rate): not 0, not negative, not nan or inf."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, not {text}")
    return value


def positive_int(text: str) -> int:
    """A whole number greater than 0 (a count)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number greater than 0, not {value}")
    return value
