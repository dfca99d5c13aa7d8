"""Strategies files for tests: fast, chatty strategies, so a few thousand ticks make plenty of fills."""

EMA_FAST_TOML = """
[[strategy]]
name = "ema_fast"
kind = "ema_crossover"
instruments = ["RELIANCE", "INFY", "TCS", "SBIN"]
[strategy.params]
fast = 3
slow = 8
quantity = 5
allow_short = true
"""

MOMENTUM_TOML = """
[[strategy]]
name = "momo"
kind = "momentum"
instruments = ["ITC", "WIPRO", "NTPC", "ONGC"]
[strategy.params]
lookback = 5
threshold = 0.05
quantity = 20
"""

CHATTY_STRATEGIES_TOML = EMA_FAST_TOML + MOMENTUM_TOML
