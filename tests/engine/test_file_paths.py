"""A path that cannot be read as a file is described as what it is, on the real file system."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.file_paths import not_a_file
from engine.market.tick_files import TickFileError, read_ticks
from engine.settings import StrategySettings, load_settings
from engine.strategies.errors import StrategyConfigError
from engine.strategies.loader import strategies_file


def test_a_file_a_folder_a_fifo_and_nothing_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "ticks.csv").write_text("x\n", encoding="utf-8")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "pipe")
    assert not_a_file(tmp_path / "ticks.csv") is None
    assert not_a_file(tmp_path / "folder") == "is a folder, not a file"
    assert not_a_file(tmp_path / "pipe") == "is not a regular file"
    assert not_a_file(tmp_path / "nope.csv") == "does not exist"


def test_a_folder_given_as_a_tick_file_is_called_a_folder(tmp_path: Path) -> None:
    with pytest.raises(TickFileError) as err:
        read_ticks(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a folder, not a file"


def test_a_folder_given_as_the_strategies_file_is_called_a_folder(isolated_dirs: Path) -> None:
    settings = load_settings(strategies=StrategySettings(file=isolated_dirs))
    with pytest.raises(StrategyConfigError) as err:
        strategies_file(settings)
    assert f"strategies.file is set to {isolated_dirs}, which is a folder, not a file;" in str(err.value)
