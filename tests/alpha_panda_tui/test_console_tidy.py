"""The console says each thing once and asks before it loses something: the palette lists our
commands once each, help lists each key once, a key with nothing to act on says so, and `q` in a
console that runs its engine asks first while positions are open or orders work."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from textual.command import CommandList, CommandPalette
from textual.widgets import Label

from alpha_panda_tui.engine_link import EmbeddedLink
from alpha_panda_tui.screens.confirm import ConfirmScreen
from alpha_panda_tui.screens.help import HelpScreen
from tests.alpha_panda_tui.attach_harness import attached_link
from tests.alpha_panda_tui.harness import console


def _stops(calls: list[str]) -> EmbeddedLink:
    return EmbeddedLink(Path("/srv/alpha"), lambda: calls.append("stop"))


async def test_the_palette_lists_each_command_once_and_none_of_textuals() -> None:
    async with console(link=_stops([])) as c:
        await c.press("ctrl+p")
        await c.pilot.pause(0.3)
        palette = c.app.screen
        assert isinstance(palette, CommandPalette)
        commands = palette.query_one(CommandList)
        shown = [str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count)]
        names = [line.splitlines()[0] for line in shown]
        assert names, "the palette shows nothing"
        assert [n for n, count in Counter(names).items() if count > 1] == []
        assert sum(name.startswith("Quit") for name in names) == 1
        for textuals in ("Maximize", "Screenshot", "Theme", "Keys"):
            assert not any(name.startswith(textuals) for name in names), textuals


async def test_help_lists_each_key_once_per_section() -> None:
    async with console() as c:
        await c.press("question_mark")
        help_screen = c.app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = [str(label.render()) for label in help_screen.query(".help-key").results(Label)]
        assert keys.count("p") == 1
        assert any(
            "resume" in str(text.render())
            for text in help_screen.query(".help-text")
            if "feed" in str(text.render())
        )


async def test_reset_latches_with_no_latch_says_so() -> None:
    async with console() as c:
        await c.press("L")
        assert not isinstance(c.app.screen, ConfirmScreen)
        assert c.probe.commands == []
        assert any("No daily-loss latch is set" in str(n.message) for n in c.app._notifications)


async def test_quit_with_a_position_open_asks_first_naming_it() -> None:
    calls: list[str] = []
    async with console(link=_stops(calls)) as c:  # the session leaves sma_fast holding 10
        await c.press("q")
        dialog = c.app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.message.startswith("1 open position.")
        await c.press("n")
        assert c.app.is_running
        await c.press("q")
        await c.press("y")
        assert c.app.return_code == 0 and not c.app.is_running


async def test_quit_with_nothing_open_quits_at_once() -> None:
    async with console(session=False, link=_stops([])) as c:
        await c.press("q")
        assert not isinstance(c.app.screen, ConfirmScreen)
        assert not c.app.is_running


async def test_an_attached_console_quits_without_asking_the_engine_keeps_its_positions() -> None:
    async with console(link=attached_link(read_only=False)) as c:
        assert c.app.state.pnl.portfolios  # positions are open, but this console does not stop the engine
        await c.press("q")
        assert not isinstance(c.app.screen, ConfirmScreen)
        assert not c.app.is_running
