"""Why a path the user named cannot be read as a file, in words: missing, a folder, or something else."""

from __future__ import annotations

from pathlib import Path


def not_a_file(path: Path) -> str | None:
    """None for a regular file (or a link to one); else what the path is instead."""
    try:
        if path.is_file():
            return None
        if path.is_dir():
            return "is a folder, not a file"
        if path.exists():
            return "is not a regular file"
    except OSError as exc:  # a parent we may not enter, a name too long ...
        return f"cannot be reached ({exc.strerror or exc})"
    return "does not exist"
