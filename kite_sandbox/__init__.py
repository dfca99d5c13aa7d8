"""A local stand-in for Zerodha's Kite Connect v3: REST and the WebSocket ticker, on a simulated market.

Nothing here is used by the engine; the CLI's `sandbox` command and the tests run it.
"""
