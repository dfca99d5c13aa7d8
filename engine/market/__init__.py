"""Market data: the trading calendar, feeds (simulated, replay, Zerodha) and the tick recorder."""
