"""An attached console's keys and header, on a real bus: read-only refuses and sends nothing,
detach and stop are offered only where they mean something, the replay dialog says where it runs."""

from __future__ import annotations

from alpha_panda_tui.screens.confirm import ConfirmScreen
from alpha_panda_tui.screens.login import LoginScreen
from alpha_panda_tui.screens.replay_dialog import ReplayFileDialog
from engine.settings import Settings, load_settings
from tests.alpha_panda_tui.attach_harness import attached_link
from tests.alpha_panda_tui.harness import console
from viewmodels.link import BadgeTone, LinkPhase, LinkView, link_badge
from widgets.strategy_list import StrategyList


async def test_a_read_only_console_sends_nothing_whatever_is_pressed() -> None:
    async with console(link=attached_link(read_only=True)) as c:
        await c.press("1", "2", "exclamation_mark", "ctrl+k", "p", "R", "L", "M", "F", "c", "X", "ctrl+l")
        c.app.screen.query_one(StrategyList).focus()
        await c.press("down", "space", "enter")
        assert c.probe.commands == []
        assert not isinstance(c.app.screen, ConfirmScreen)
        notices = [str(n.message) for n in c.app._notifications]
        assert notices and all("read-only console" in n for n in notices)
        palette = [entry.name for entry in c.app.palette_entries()]
        assert not any("strategy sma_fast" in name and "Open" not in name for name in palette)
        assert "Open strategy sma_fast" in palette  # looking is allowed
        assert any(name.startswith("Detach") for name in palette)
        assert not any(name.startswith("Stop the engine") for name in palette)


async def test_an_attached_console_that_may_act_sends_its_commands() -> None:
    async with console(link=attached_link(read_only=False)) as c:
        await c.press("1")
        assert len(c.probe.commands) == 1
        await c.press("X")
        dialog = c.app.screen
        assert isinstance(dialog, ConfirmScreen) and "pid 4242 on /srv/alpha" in dialog.message
        await c.press("n")
        assert not c.app.engine_stopping and c.app.is_running
        await c.press("b")  # the login belongs to the engine's machine
        assert not isinstance(c.app.screen, LoginScreen)
        assert any("`alpha-panda-tui login` on its machine" in str(n.message) for n in c.app._notifications)


async def test_detach_and_stop_need_an_engine_link() -> None:
    async with console() as c:  # a console on a bare bus: no engine to leave running or to stop
        palette = [entry.name for entry in c.app.palette_entries()]
        assert not any(name.startswith(("Detach", "Stop the engine")) for name in palette)
        await c.press("D")
        assert c.app.is_running and not c.app.detached


async def test_replay_in_an_attached_console_says_it_runs_here() -> None:
    async with console(link=attached_link(read_only=True)) as c:
        c.app.settings = _settings()
        await c.press("ctrl+o")
        dialog = c.app.screen
        assert isinstance(dialog, ReplayFileDialog)
        assert "not involved and keeps trading" in dialog.note
        assert dialog.query("#replay-note")
    async with console() as c:
        c.app.settings = _settings()
        await c.press("ctrl+o")
        assert isinstance(c.app.screen, ReplayFileDialog) and not c.app.screen.query("#replay-note")


def _settings() -> Settings:
    return load_settings()


def test_the_badge_says_attached_read_only_and_how_long_the_engine_is_gone() -> None:
    attached = LinkView(LinkPhase.ATTACHED, pid=4242, data_dir="/srv/alpha", read_only=True, attaches=1)
    assert [(p.text, p.tone) for p in link_badge(attached, 0.0)] == [
        ("ATTACHED pid 4242", BadgeTone.ATTACHED),
        ("READ-ONLY", BadgeTone.READ_ONLY),
    ]
    lost = LinkView(LinkPhase.LOST, pid=4242, since=100.0, attaches=1)
    assert [p.text for p in link_badge(lost, 112.4)] == ["engine gone 12 s — reconnecting, last picture kept"]
    cut = LinkView(LinkPhase.CUT_OFF, detail="fell 20,000 events behind", since=100.0, attaches=2)
    assert [p.text for p in link_badge(cut, 101.0)] == [
        "cut off (fell 20,000 events behind) — re-attaching, last picture kept"
    ]
    never = LinkView(LinkPhase.LOST, since=100.0)
    assert [p.text for p in link_badge(never, 103.0)] == ["engine gone 3 s — reconnecting"]
    assert link_badge(LinkView(LinkPhase.EMBEDDED, pid=1), 0.0) == ()
