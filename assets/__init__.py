"""Shipped data: sample instruments, the NSE holiday list, default strategies, stylesheets."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent


def asset_path(name: str) -> Path:
    """Path of a shipped asset file; raises FileNotFoundError with the name if missing."""
    path = ASSETS_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"asset {name!r} is missing from {ASSETS_DIR}")
    return path
