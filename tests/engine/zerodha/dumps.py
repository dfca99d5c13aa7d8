"""Instruments dumps as Kite sends them (its 12 columns), for tests."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

KITE_COLUMNS = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,"
    "tick_size,lot_size,instrument_type,segment,exchange"
)

NSE_ROWS = (
    '256265,1001,NIFTY 50,"NIFTY 50",0.0,,0.0,0.0,0,EQ,INDICES,NSE',
    '408065,1594,INFY,"INFOSYS",0.0,,0.0,0.05,1,EQ,NSE,NSE',
    '738561,2885,RELIANCE,"RELIANCE INDUSTRIES",0.0,,0.0,0.05,1,EQ,NSE,NSE',
    '5633,22,ACC,"ACC",0.0,,0.0,0.05,1,EQ,NSE,NSE',
)
BSE_ROWS = ('128053508,500209,INFY,"INFOSYS",0.0,,0.0,0.05,1,EQ,BSE,BSE',)
NFO_ROWS = (
    '12345602,48225,NIFTY26DEC26000CE,"NIFTY",0.0,2026-12-29,26000.0,0.05,65,CE,NFO-OPT,NFO',
    '12345858,48226,NIFTY26DECFUT,"NIFTY",0.0,2026-12-29,0.0,0.1,65,FUT,NFO-FUT,NFO',
)


def dump_text(*rows: str) -> str:
    return "\n".join((KITE_COLUMNS, *rows)) + "\n"


def set_fetched_at(path: Path, when: datetime) -> None:
    """Make a cached dump look fetched at `when` (the cache keeps the fetch time as the file's mtime)."""
    ts = when.timestamp()
    os.utime(path, (ts, ts))
