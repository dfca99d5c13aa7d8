"""The two ways a strategy set-up can be wrong: a bad parameter, or a bad config file."""

from __future__ import annotations


class StrategyParamError(ValueError):
    """A strategy parameter is unknown, of the wrong type, out of range, or inconsistent.

    `param` names the offending parameter ("" when the problem spans several),
    so a config loader can point at the exact field.
    """

    def __init__(self, message: str, *, param: str = "") -> None:
        super().__init__(message)
        self.param = param


class StrategyConfigError(ValueError):
    """A strategies TOML file, a user strategy module or an entry point is unusable.

    The message names the file, the strategy and the field, and says how to fix it.
    """
