"""The replay screen: a recorded file through the real pipeline, its panes as it runs, then the report."""

from __future__ import annotations

import csv
import gc
import html
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input, Static
from textual.worker import WorkerState

from alpha_panda_tui.screens.replay import (
    APP_CSS_PATH,
    ReplayScreen,
    count_ticks,
    replay_screen_for,
)
from alpha_panda_tui.screens.replay_app import ReplayApp
from alpha_panda_tui.screens.replay_dialog import ReplayFileDialog, ReplayRequest
from engine.bus.base import Bus
from engine.bus.direct import DirectBus
from engine.clock import ManualClock
from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST
from engine.market.simulated import SimulatedFeed
from engine.market.tick_files import read_ticks, write_ticks
from engine.research.replay import REPLAY_GC_THRESHOLD, ReplayDriver, ReplayResult
from engine.research.report import ALL_INSTRUMENTS
from engine.research.report_files import SUMMARY_FILE, money
from engine.research.selection import select_strategies
from engine.research.session import ResearchOptions, default_report_dir
from engine.settings import Settings, load_settings
from widgets.fill_list import FillList
from widgets.replay_progress import Phase, Progress, progress_parts
from widgets.replay_report import ReportSummary
from widgets.tick_table import TickTable

SnapCompare = Callable[..., bool]
SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])

INSTRUMENTS = InstrumentRegistry.sample()
OPEN = datetime(2026, 11, 23, 9, 15, tzinfo=IST).timestamp()  # a Monday, a trading day
SYMBOLS = ("RELIANCE", "INFY", "TCS", "HDFCBANK")
STRATEGY = "ema_5_20"  # from the shipped strategies file: trades the four SYMBOLS
ROUNDS = 500  # ticks per symbol in the small file
STEP_S = 5.0
MAX_PAUSES = 2_000  # a bound on waiting for the UI, never a speed assertion


def write_session(path: Path, rounds: int, *, step_s: float = STEP_S, seed: int = 11) -> Path:
    """A seeded simulated session: `rounds` ticks of each symbol, `step_s` feed seconds apart."""
    chosen = [INSTRUMENTS.by_symbol(symbol) for symbol in SYMBOLS]
    clock = ManualClock(OPEN)
    feed = SimulatedFeed(chosen, clock=clock, seed=seed)
    ticks = []
    for _ in range(rounds):
        ticks.extend(feed.next_batch(len(chosen)))
        clock.advance(step_s)
    write_ticks(path, ticks, INSTRUMENTS)
    return path


@pytest.fixture
def tick_file(tmp_path: Path) -> Path:
    return write_session(tmp_path / "ticks.csv", ROUNDS)


class Host(App[None]):
    """A bare app with the console's styles that opens the replay screen over its own."""

    CSS_PATH = APP_CSS_PATH

    def __init__(self, screen: ReplayScreen) -> None:
        super().__init__()
        self.replay = screen

    def compose(self) -> ComposeResult:
        yield Static("host", id="host")

    def on_mount(self) -> None:
        self.push_screen(self.replay)


async def until_started(pilot: Pilot[None], screen: ReplayScreen) -> None:
    for _ in range(MAX_PAUSES):
        if screen.worker is not None:
            return
        await pilot.pause()
    raise AssertionError("the replay screen never started its worker")


async def until_over(pilot: Pilot[None], screen: ReplayScreen) -> None:
    await until_started(pilot, screen)
    assert screen.worker is not None
    await screen.worker.wait()
    await pilot.pause()


def screen_text(app: App[None]) -> str:
    """What the terminal shows, as plain text (from the app's own screenshot)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


async def direct_replay(settings: Settings, path: Path, strategy: str) -> ReplayResult:
    """The same replay without any UI: the figures the screen must show."""
    strategies = select_strategies(settings, INSTRUMENTS, strategy)
    return await ReplayDriver(settings, strategies, INSTRUMENTS).run(read_ticks(path, INSTRUMENTS))


# ---------------------------------------------------------------------------------------------
# a whole replay
# ---------------------------------------------------------------------------------------------


async def test_a_file_replays_to_the_end_and_shows_the_same_report_as_the_driver(tick_file: Path) -> None:
    settings = load_settings()
    screen = ReplayScreen(tick_file, settings, STRATEGY, show_timing=False)
    async with Host(screen).run_test(size=(160, 48)) as pilot:
        await until_over(pilot, screen)
        assert screen.phase is Phase.FINISHED, screen.error
        shown = screen.query_one(ReportSummary).cell_texts()
        files_line = str(screen.query_one("#report-files", Static).render())
        feed_line = screen.query_one("#replay-progress").render()

    expected = (await direct_replay(settings, tick_file, STRATEGY)).report()
    assert expected.trips, "the strategy should trade on this file, or there is nothing to compare"
    assert [(row[0], row[2], row[5]) for row in shown] == [
        (
            s.strategy_id,
            str(s.trades) + (f"+{s.open_trades} open" if s.open_trades else ""),
            money(s.net_pnl),
        )
        for s in expected.summaries
    ]
    assert [row[1] for row in shown] == ["ALL", "HDFCBANK", "INFY", "RELIANCE", "TCS"]

    out = default_report_dir(settings, tick_file, STRATEGY)
    with (out / SUMMARY_FILE).open() as fh:
        written = {(r["strategy"], r["symbol"]): r["net_pnl"] for r in csv.DictReader(fh)}
    assert written == {(row[0], row[1]): row[5] for row in shown}
    assert "data/reports/ticks-ema_5_20" in files_line and "report.html" in files_line
    assert "FINISHED" in str(feed_line) and f"{ROUNDS * len(SYMBOLS):,} ticks" in str(feed_line)
    assert "ticks/s" not in str(feed_line)


async def test_the_panes_saw_every_event_of_the_run_and_stay_viewable(tick_file: Path) -> None:
    settings = load_settings()
    screen = ReplayScreen(tick_file, settings, STRATEGY)
    async with Host(screen).run_test(size=(160, 48)) as pilot:
        await until_over(pilot, screen)
        assert screen.phase is Phase.FINISHED, screen.error
        assert "ticks/s" in str(screen.query_one("#replay-progress").render())
        await pilot.press("v")
        await pilot.pause()
        ticks = screen.query_one(TickTable)
        assert ticks.display and ticks.region.height > 0
        assert sorted(row.symbol for row in ticks.rows) == sorted(SYMBOLS)
        fills_shown = len(screen.query_one(FillList).rows)
        await pilot.press("v")
        await pilot.pause()
        assert screen.query_one(ReportSummary).has_focus
        state = screen.state

    result = await direct_replay(settings, tick_file, STRATEGY)
    assert state.ticks.seen == result.ticks == ROUNDS * len(SYMBOLS)
    assert len(state.signals.rows) == min(len(result.signals), state.signals.rows.maxlen or 0)
    assert fills_shown == min(len(result.fills), state.orders.fills.maxlen or 0)
    assert state.orders.fills[-1].trade_id == result.fills[-1].trade_id


async def test_moving_down_the_summary_charts_that_row(tick_file: Path) -> None:
    screen = ReplayScreen(tick_file, load_settings(), STRATEGY, show_timing=False)
    async with Host(screen).run_test(size=(160, 48)) as pilot:
        await until_over(pilot, screen)
        table = screen.query_one(ReportSummary)
        assert table.selected == (STRATEGY, ALL_INSTRUMENTS)
        await pilot.press("down")
        await pilot.pause()
        token = INSTRUMENTS.by_symbol("HDFCBANK").instrument_token
        assert table.selected == (STRATEGY, token)
        assert "ema_5_20 HDFCBANK: equity" in screen_text(pilot.app)


async def test_the_clis_switches_apply_time_window_research_options_and_folder(
    tick_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "elsewhere"
    screen = ReplayScreen(
        tick_file,
        load_settings(),
        STRATEGY,
        options=ResearchOptions(charges=False),
        start=OPEN + 600,
        end=OPEN + 1800,
        out_dir=out,
    )
    async with Host(screen).run_test(size=(160, 48)) as pilot:
        await until_over(pilot, screen)
        assert screen.phase is Phase.FINISHED, screen.error
        shown = screen.query_one(ReportSummary).cell_texts()
        details = str(screen.query_one("#report-details", Static).render())
    assert screen.outcome is not None
    result = screen.outcome.result
    assert result.ticks == int((1800 - 600) / STEP_S) * len(SYMBOLS)
    assert result.first_ts == OPEN + 600 and result.last_ts < OPEN + 1800
    assert {row[4] for row in shown} == {"0.00"}  # charges
    assert "charges off" in details
    assert (out / SUMMARY_FILE).is_file()


# ---------------------------------------------------------------------------------------------
# errors are shown, not raised
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "params", "message"),
    [
        ("ema_crosover", {}, "unknown strategy 'ema_crosover'. Did you mean 'ema_crossover'?"),
        ("ema_crossover", {"nope": "1"}, "unknown param 'nope'"),
        ("ema_crossover", {"fast": "abc"}, "param 'fast' must be an int"),
        ("ema_crossover", {"fast": "30", "slow": "20"}, "must be less than"),
    ],
)
async def test_a_bad_strategy_or_param_is_shown_plainly(
    tick_file: Path, strategy: str, params: dict[str, str], message: str
) -> None:
    screen = ReplayScreen(tick_file, load_settings(), strategy, params)
    async with Host(screen).run_test(size=(100, 30)) as pilot:
        await until_over(pilot, screen)
        assert screen.phase is Phase.FAILED
        text = str(screen.query_one("#replay-error-text", Static).render())
        assert message in text
        assert "Traceback" not in text
        assert screen.query_one("#replay-error").display
        await pilot.press("escape")
        await pilot.pause()
        assert pilot.app.screen is not screen


async def test_a_missing_file_is_named(tmp_path: Path) -> None:
    screen = replay_screen_for(tmp_path / "nope.csv", load_settings(), STRATEGY)
    async with Host(screen).run_test(size=(100, 30)) as pilot:
        await until_over(pilot, screen)
        assert screen.phase is Phase.FAILED
        assert "Cannot replay nope.csv: there is no such file." in str(
            screen.query_one("#replay-error-text", Static).render()
        )


async def test_a_broken_row_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = write_session(tmp_path / "broken.csv", 50)
    lines = path.read_text().splitlines(keepends=True)
    header = lines[0].split(",")
    cells = lines[30].split(",")
    cells[header.index("last_price")] = "abc"
    lines[30] = ",".join(cells)
    path.write_text("".join(lines))
    screen = ReplayScreen(path, load_settings(), STRATEGY)
    async with Host(screen).run_test(size=(100, 30)) as pilot:
        await until_over(pilot, screen)
        assert screen.phase is Phase.FAILED
        text = str(screen.query_one("#replay-error-text", Static).render())
        assert text.startswith("Cannot read the tick file:")
        assert "broken.csv:line 31" in text and "last_price" in text
    assert not default_report_dir(load_settings(), path, STRATEGY).exists()


# ---------------------------------------------------------------------------------------------
# leaving
# ---------------------------------------------------------------------------------------------


async def test_escape_during_a_replay_cancels_it(tmp_path: Path) -> None:
    path = write_session(tmp_path / "long.csv", 6_000, step_s=1.0)
    total = 6_000 * len(SYMBOLS)
    settings = load_settings()
    thresholds = gc.get_threshold()
    screen = ReplayScreen(path, settings, STRATEGY, progress_every=20)
    async with Host(screen).run_test(size=(100, 30)) as pilot:
        for _ in range(MAX_PAUSES):
            if screen.ticks_done:
                break
            await pilot.pause()
        assert 0 < screen.ticks_done < total
        assert gc.get_threshold()[0] == REPLAY_GC_THRESHOLD  # raised while the replay runs
        await pilot.press("escape")
        assert screen.worker is not None
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.worker.state is WorkerState.CANCELLED
        assert screen.phase is Phase.CANCELLED
        assert pilot.app.screen is not screen
        assert pilot.app.query_one("#host", Static)
    assert screen.ticks_done < total
    assert gc.get_threshold() == thresholds
    assert not default_report_dir(settings, path, STRATEGY).exists()


async def test_the_standalone_replay_app_exits_0_after_a_finished_replay(tick_file: Path) -> None:
    app = ReplayApp(replay_screen_for(str(tick_file), load_settings(), STRATEGY))
    async with app.run_test(size=(100, 30)) as pilot:
        await until_over(pilot, app.replay_screen)  # type: ignore[arg-type]
        assert app.replay_screen.phase is Phase.FINISHED
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


# ---------------------------------------------------------------------------------------------
# the "Replay a file" dialog
# ---------------------------------------------------------------------------------------------


class DialogHost(App[None]):
    CSS_PATH = APP_CSS_PATH

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[ReplayRequest | None] = []

    def on_mount(self) -> None:
        self.push_screen(ReplayFileDialog(), self.answers.append)


async def test_the_dialog_asks_again_until_the_file_exists_and_the_params_parse(tick_file: Path) -> None:
    app = DialogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ReplayFileDialog)
        await pilot.press(*"nope.csv", "enter")
        assert app.screen is dialog
        assert "nope.csv is not a file." in str(dialog.query_one("#replay-path-error", Static).render())

        dialog.query_one("#replay-path", Input).value = tick_file.name
        dialog.query_one("#replay-strategy", Input).value = STRATEGY
        dialog.query_one("#replay-params", Input).value = "fast=3,5"
        await pilot.press("enter")
        assert app.screen is dialog
        assert "one value per param" in str(dialog.query_one("#replay-params-error", Static).render())

        dialog.query_one("#replay-params", Input).value = "fast=3 slow=12"
        await pilot.click("#replay-go")
        await pilot.pause()
        assert app.screen is not dialog
    assert app.answers == [ReplayRequest(Path(tick_file.name), STRATEGY, {"fast": "3", "slow": "12"})]


async def test_escape_closes_the_dialog_without_a_request() -> None:
    app = DialogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert app.answers == [None]


# ---------------------------------------------------------------------------------------------
# the parts
# ---------------------------------------------------------------------------------------------


async def test_the_driver_reports_progress_and_hands_over_its_bus(tick_file: Path) -> None:
    settings = load_settings()
    seen: list[int] = []
    buses: list[Bus] = []

    async def on_progress(ticks: int) -> None:
        seen.append(ticks)

    strategies = select_strategies(settings, INSTRUMENTS, STRATEGY)
    driver = ReplayDriver(settings, strategies, INSTRUMENTS, bus_hook=buses.append)
    watched = await driver.run(
        read_ticks(tick_file, INSTRUMENTS), on_progress=on_progress, progress_every=300
    )
    plain = await direct_replay(settings, tick_file, STRATEGY)
    total = ROUNDS * len(SYMBOLS)
    assert seen == [*range(300, total, 300), total]
    assert len(buses) == 1 and isinstance(buses[0], DirectBus)
    assert watched.fills == plain.fills and watched.equity == plain.equity


def test_counting_a_files_ticks(tick_file: Path, tmp_path: Path) -> None:
    assert count_ticks(tick_file) == ROUNDS * len(SYMBOLS)
    assert count_ticks(tmp_path / "missing.csv") is None
    unterminated = tmp_path / "short.csv"
    unterminated.write_text("timestamp,instrument_token,last_price\n1,2,3\n4,5,6")
    assert count_ticks(unterminated) == 2


def test_the_progress_line() -> None:
    running = Progress(Phase.RUNNING, ticks=500, total=2_000, feed_ts=OPEN + 60, elapsed_s=0.25)
    text = "".join(t for t, _ in progress_parts(running))
    assert "RUNNING" in text and "500 of 2,000 ticks" in text and "25%" in text
    assert "feed 09:16:00 IST" in text and "2,000 ticks/s" in text
    done = Progress(Phase.FINISHED, ticks=2_000, total=2_000, first_ts=OPEN, feed_ts=OPEN + 600)
    text = "".join(t for t, _ in progress_parts(done))
    assert "2,000 ticks" in text and "feed 09:15:00-09:25:00 IST" in text
    assert "ticks/s" not in text and "of" not in text


# ---------------------------------------------------------------------------------------------
# snapshots of the finished report
# ---------------------------------------------------------------------------------------------


@SIZES
def test_finished_report(snap_compare: SnapCompare, tick_file: Path, size: tuple[int, int]) -> None:
    screen = ReplayScreen(tick_file, load_settings(), STRATEGY, show_timing=False)
    app = Host(screen)
    app.animation_level = "none"

    async def run_before(pilot: Pilot[None]) -> None:
        await until_over(pilot, screen)
        assert screen.phase is Phase.FINISHED, screen.error
        # the report's text lands in one update; wait until the screen has been laid out with it
        for _ in range(1500):  # up to 30 s: a loaded CI machine lays the report out slowly
            if "Report files:" in screen_text(pilot.app):
                break
            await pilot.pause(0.02)
        else:
            raise AssertionError("the report never showed where its files went")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
