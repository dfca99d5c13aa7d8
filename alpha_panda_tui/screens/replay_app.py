"""`alpha-panda-tui replay FILE --tui`: the replay screen as an app of its own."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from textual.app import App

from alpha_panda_tui.screens.replay import APP_CSS_PATH, ReplayScreen
from engine.research.replay import DEFAULT_SAMPLE_INTERVAL_S
from engine.research.session import ResearchOptions
from engine.settings import Settings
from widgets.replay_progress import Phase


class ReplayApp(App[int]):
    """`alpha-panda-tui replay FILE --tui`: the replay screen on its own; exits with 0 when the
    replay finished, 1 otherwise, once the user leaves it."""

    CSS_PATH = APP_CSS_PATH
    TITLE = "Alpha Panda replay"

    def __init__(self, screen: ReplayScreen) -> None:
        super().__init__()
        self.replay_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.replay_screen, self._left)

    def _left(self, _: None) -> None:
        self.exit(0 if self.replay_screen.phase is Phase.FINISHED else 1)


def run_replay_tui(
    path: Path | str,
    settings: Settings,
    strategy: str | None = None,
    params: Mapping[str, str] | None = None,
    *,
    options: ResearchOptions | None = None,
    start: float | None = None,
    end: float | None = None,
    out_dir: Path | None = None,
    sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
) -> int:
    """`alpha-panda-tui replay FILE --tui`: the replay screen as the whole app (blocking), with the
    CLI's switches; returns ReplayApp's exit code."""
    screen = ReplayScreen(
        Path(path).expanduser(),
        settings,
        strategy or None,
        params,
        options=options,
        start=start,
        end=end,
        out_dir=out_dir,
        sample_interval_s=sample_interval_s,
    )
    code = ReplayApp(screen).run()
    return code if code is not None else 1
