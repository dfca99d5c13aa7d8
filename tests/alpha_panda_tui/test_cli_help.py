"""Every subcommand and option of `alpha-panda-tui` says what it is for, and numbers out of bounds
are refused by name before anything starts."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from alpha_panda_tui.cli import _parser, main
from alpha_panda_tui.exit_codes import EXIT_CONFIG


def _commands(
    parser: argparse.ArgumentParser, path: str
) -> Iterator[tuple[str, argparse.ArgumentParser, str]]:
    """(the command line, its parser, its one-line help in the parent's list) for every subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{path} {name}", sub, listed.get(name, "")
                yield from _commands(sub, f"{path} {name}")


def _undocumented(parser: argparse.ArgumentParser) -> list[str]:
    found = []
    if not parser.description:
        found.append(f"{parser.prog}: no description")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        if not action.help or action.help == argparse.SUPPRESS:
            found.append(f"{parser.prog}: {'/'.join(action.option_strings) or action.dest} has no help")
    return found


def test_every_subcommand_and_option_has_help() -> None:
    root = _parser()
    commands = list(_commands(root, root.prog))
    assert len(commands) > 15  # the walk found the tree
    missing = _undocumented(root)
    for line, parser, listed in commands:
        if not listed:
            missing.append(f"{line}: no help in its parent's list")
        missing.extend(_undocumented(parser))
    assert missing == []


def test_launch_help_has_a_description(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["launch", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "Start the trading engine with its keyboard console" in out
    assert "stop after this long" in out


GREATER = "must be a number greater than 0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["launch", "--headless", "--duration", "-1"], f"argument --duration: {GREATER}, not -1"),
        (["launch", "--headless", "--duration", "0"], f"argument --duration: {GREATER}, not 0"),
        (["launch", "--headless", "--duration", "nan"], f"argument --duration: {GREATER}, not nan"),
        (["launch", "--headless", "--duration", "inf"], f"argument --duration: {GREATER}, not inf"),
        (["launch", "--headless", "--duration", "soon"], "argument --duration: not a number: 'soon'"),
        (["launch", "--ticks-per-second", "0"], f"argument --ticks-per-second: {GREATER}, not 0"),
        (["launch", "--ticks-per-second", "-5"], f"argument --ticks-per-second: {GREATER}, not -5"),
        (["login", "--wait", "0"], f"argument --wait: {GREATER}, not 0"),
    ],
)
def test_numbers_out_of_bounds_are_refused_by_name(
    isolated_dirs: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code == 2
    assert message in capsys.readouterr().err
    assert not (isolated_dirs / "data" / "alpha_panda.db").exists(), "something started"


@pytest.mark.parametrize("limit", ["0", "-3"])
def test_an_audit_limit_below_one_is_refused(
    isolated_dirs: Path, limit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--limit", limit]) == EXIT_CONFIG
    assert "--limit must be from 1 to 10,000" in capsys.readouterr().err
