"""What the log says when the engine's status changes: state, feed, dead letters, latches."""

from __future__ import annotations

import msgspec

from engine.events import EngineState, EngineStatus
from viewmodels.engine_status import status_changes
from viewmodels.rows import LogLevel

RUNNING = EngineStatus(state=EngineState.RUNNING)


def test_an_unchanged_status_says_nothing() -> None:
    assert status_changes(RUNNING, msgspec.structs.replace(RUNNING, ticks=10, status_ts=1.0)) == []


def test_a_halt_is_an_error_with_its_reason_and_a_resume_is_info() -> None:
    halted = msgspec.structs.replace(RUNNING, state=EngineState.HALTED, halted_reason="kill switch")
    assert status_changes(RUNNING, halted) == [(LogLevel.ERROR, "engine HALTED: kill switch")]
    assert status_changes(halted, RUNNING) == [(LogLevel.INFO, "engine running")]
    no_reason = msgspec.structs.replace(RUNNING, state=EngineState.HALTED)
    assert status_changes(RUNNING, no_reason) == [(LogLevel.ERROR, "engine HALTED: no reason given")]


def test_feed_dead_letters_and_latches_each_say_so_in_order() -> None:
    after = msgspec.structs.replace(
        RUNNING, state=EngineState.LATCHED, feed_paused=True, dead_letters=3, loss_latches=("paper:sma",)
    )
    before = msgspec.structs.replace(RUNNING, dead_letters=1)
    assert status_changes(before, after) == [
        (LogLevel.INFO, "engine latched"),
        (LogLevel.INFO, "feed paused"),
        (LogLevel.ERROR, "2 new dead letter(s); 3 in total"),
        (LogLevel.ERROR, "daily-loss latch tripped: paper:sma"),
    ]
    assert status_changes(after, before)[1:] == [(LogLevel.INFO, "feed resumed")]


def test_a_live_feed_that_stops_streaming_says_why_and_when_it_streams_again() -> None:
    waiting = msgspec.structs.replace(RUNNING, feed_detail="waiting for a Zerodha login (no saved session)")
    assert status_changes(RUNNING, waiting) == [
        (LogLevel.WARNING, "feed waiting for a Zerodha login (no saved session)")
    ]
    assert status_changes(waiting, waiting) == []
    assert status_changes(waiting, RUNNING) == [(LogLevel.INFO, "feed streaming")]
    stopped = msgspec.structs.replace(RUNNING, state=EngineState.STOPPED)
    assert (LogLevel.INFO, "feed streaming") not in status_changes(waiting, stopped)


def test_the_brokers_feed_messages_are_logged_once_each() -> None:
    error = msgspec.structs.replace(
        RUNNING, feed_source="zerodha", feed_message="error: Market depth unavailable"
    )
    assert status_changes(RUNNING, error) == [
        (LogLevel.WARNING, "zerodha says error: Market depth unavailable")
    ]
    assert status_changes(error, error) == []
    notice = msgspec.structs.replace(error, feed_message="message: Exchange maintenance at 17:00")
    assert status_changes(error, notice) == [
        (LogLevel.INFO, "zerodha says message: Exchange maintenance at 17:00")
    ]
