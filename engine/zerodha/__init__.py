"""The Zerodha adapter: Kite session, REST, instruments dump and the live tick feed."""
