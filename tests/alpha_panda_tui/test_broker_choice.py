"""`--broker sandbox`: sandbox.json (0600) read into settings overrides, and the errors without it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from alpha_panda_tui.broker_choice import (
    BrokerChoiceError,
    SandboxEndpoints,
    broker_overrides,
    merge_overrides,
    read_sandbox_file,
    remove_sandbox_file,
    sandbox_file,
    write_sandbox_file,
)
from alpha_panda_tui.cli import main
from alpha_panda_tui.exit_codes import EXIT_CONFIG
from engine.settings import FeedSource, load_settings

ENDPOINTS = SandboxEndpoints(
    root_url="http://127.0.0.1:41234",
    ws_url="ws://127.0.0.1:41234",
    login_url="http://127.0.0.1:41234/connect/login",
    redirect_url="http://127.0.0.1:5010/",
    api_key="sandbox-abcd",
    api_secret="a-random-secret",
    pid=4321,
)


def test_the_sandbox_file_round_trips_and_is_private(tmp_path: Path) -> None:
    path = sandbox_file(tmp_path / "data")
    write_sandbox_file(path, ENDPOINTS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_sandbox_file(path) == ENDPOINTS
    assert "a-random-secret" not in repr(ENDPOINTS)


def test_sandbox_overrides_point_zerodha_and_the_feed_at_it(isolated_dirs: Path) -> None:
    settings = load_settings()
    write_sandbox_file(sandbox_file(settings.data_dir), ENDPOINTS)
    sandboxed = load_settings(**broker_overrides("sandbox", settings.data_dir))
    zerodha = sandboxed.zerodha
    assert zerodha.enabled
    assert (zerodha.root_url, zerodha.ws_url, zerodha.login_url) == (
        ENDPOINTS.root_url,
        ENDPOINTS.ws_url,
        ENDPOINTS.login_url,
    )
    assert zerodha.api_key is not None and zerodha.api_key.get_secret_value() == "sandbox-abcd"
    assert zerodha.api_secret is not None and zerodha.api_secret.get_secret_value() == "a-random-secret"
    assert sandboxed.feed.source is FeedSource.ZERODHA
    assert broker_overrides("zerodha", settings.data_dir) == {}
    assert broker_overrides(None, settings.data_dir) == {}


def test_without_a_running_sandbox_the_choice_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(BrokerChoiceError, match="start `alpha-panda-tui sandbox` in another terminal"):
        broker_overrides("sandbox", tmp_path)


@pytest.mark.parametrize(
    "content", ["{not json", "[]", '{"root_url": "x"}', '{"root_url": 1, "ws_url": "w"}']
)
def test_a_damaged_sandbox_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    sandbox_file(tmp_path).write_text(content, encoding="utf-8")
    with pytest.raises(BrokerChoiceError, match="is damaged"):
        read_sandbox_file(sandbox_file(tmp_path))


def test_launch_with_the_sandbox_broker_but_no_sandbox_exits_with_a_config_error(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["launch", "--headless", "--broker", "sandbox", "--duration", "0.1"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "no Kite sandbox is running for this data dir" in err
    assert "Traceback" not in err


def test_a_sandbox_file_is_removed_only_by_its_own_sandbox(tmp_path: Path) -> None:
    path = sandbox_file(tmp_path)
    write_sandbox_file(path, ENDPOINTS)
    other = SandboxEndpoints(**{**ENDPOINTS.__dict__, "pid": 9999})
    remove_sandbox_file(path, other)
    assert path.exists()
    remove_sandbox_file(path, ENDPOINTS)
    assert not path.exists()


def test_overrides_merge_section_by_section() -> None:
    merged = merge_overrides(
        {"feed": {"record": True}, "log": {"format": "json"}}, {"feed": {"source": "zerodha"}}
    )
    assert merged == {"feed": {"record": True, "source": "zerodha"}, "log": {"format": "json"}}


def test_live_orders_set_for_the_sandbox_are_completed_by_the_sandbox_broker(
    isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # zerodha.live_orders alone is a config error (Zerodha is not enabled); --broker sandbox enables it
    monkeypatch.setenv("ALPHA_PANDA_ZERODHA__LIVE_ORDERS", "true")
    assert main(["doctor"]) == EXIT_CONFIG
    capsys.readouterr()
    write_sandbox_file(
        sandbox_file(load_settings(zerodha={"enabled": True, "api_key": "k"}).data_dir), ENDPOINTS
    )
    assert main(["doctor", "--broker", "sandbox"]) != EXIT_CONFIG
    out = capsys.readouterr()
    assert "Invalid configuration" not in out.err + out.out
