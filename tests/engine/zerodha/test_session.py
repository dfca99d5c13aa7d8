"""The saved Kite session: expiry at the next 06:00 IST, a private file replaced atomically, damage
reported."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.market.calendar import IST
from engine.zerodha.session import (
    KiteSession,
    SessionFileError,
    SessionStore,
    parse_login_time,
    session_expiry,
)

TOKEN = "accessTok3nSecretValue"


def ist(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=IST)


MORNING = ist(2026, 12, 2, 9, 5)


def a_session(login: datetime = MORNING, **changes: str) -> KiteSession:
    fields = {"user_id": "AB1234", "user_name": "Asha B", "api_key": "kiteapikey01", "access_token": TOKEN}
    fields.update(changes)
    return KiteSession(login_time=login, expires_at=session_expiry(login), **fields)


@pytest.mark.parametrize(
    ("login", "expires"),
    [
        (ist(2026, 12, 2, 9, 5), ist(2026, 12, 3, 6, 0)),  # the morning login lasts the night
        (ist(2026, 12, 2, 5, 59, 59), ist(2026, 12, 2, 6, 0)),  # before the flush: only till 06:00
        (ist(2026, 12, 2, 6, 0), ist(2026, 12, 3, 6, 0)),  # at 06:00 sharp: the next one
        (ist(2026, 12, 31, 23, 30), ist(2027, 1, 1, 6, 0)),  # across the year
    ],
)
def test_a_session_expires_at_the_next_six_oclock_ist(login: datetime, expires: datetime) -> None:
    assert session_expiry(login) == expires
    assert session_expiry(login).tzinfo is not None


def test_expiry_of_a_utc_login_is_reckoned_in_ist() -> None:
    # 00:15 UTC is 05:45 IST: the token dies at 06:00 IST that same morning
    assert session_expiry(datetime(2026, 12, 2, 0, 15, tzinfo=UTC)) == ist(2026, 12, 2, 6, 0)


def test_kites_login_time_is_ist() -> None:
    assert parse_login_time("2026-12-02 09:05:30") == ist(2026, 12, 2, 9, 5, 30)
    with pytest.raises(ValueError):
        parse_login_time("02/12/2026 09:05")


def test_the_session_knows_when_it_has_expired() -> None:
    session = a_session()
    assert not session.expired(ist(2026, 12, 3, 5, 59, 59))
    assert session.expired(ist(2026, 12, 3, 6, 0))


def test_the_token_never_shows_in_a_repr() -> None:
    assert TOKEN not in repr(a_session())


def test_a_saved_session_loads_back_equal(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "kite_session.json")
    assert store.load() is None
    store.save(a_session())
    assert store.load() == a_session()


def test_the_file_is_private_even_when_it_was_not(tmp_path: Path) -> None:
    path = tmp_path / "kite_session.json"
    path.write_text("{}", encoding="utf-8")
    os.chmod(path, 0o644)
    SessionStore(path).save(a_session())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_new_file_is_private_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        SessionStore(tmp_path / "sub" / "kite_session.json").save(a_session())
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "sub" / "kite_session.json").stat().st_mode) == 0o600


def test_saving_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "kite" / "kite_session.json"
    store = SessionStore(path)
    store.save(a_session())
    before = path.stat().st_ino
    store.save(a_session(user_id="CD5678"))
    assert path.stat().st_ino != before, "a new file renamed over the old, never rewritten in place"
    assert [p.name for p in path.parent.iterdir()] == ["kite_session.json"]
    assert store.load() == a_session(user_id="CD5678")


def test_a_failed_save_leaves_the_previous_session_intact(tmp_path: Path) -> None:
    path = tmp_path / "kite_session.json"
    store = SessionStore(path)
    store.save(a_session())
    (tmp_path / "kite_session.json.tmp").mkdir()  # the temporary cannot be written
    with pytest.raises(OSError):
        store.save(a_session(user_id="CD5678"))
    assert store.load() == a_session()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "damaged"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"user_id": "AB1234", "api_key": "k"}), "missing access_token"),
        (
            json.dumps({**a_session().to_json(), "expires_at": "tomorrow"}),
            "damaged",
        ),
    ],
)
def test_a_damaged_file_says_so_and_how_to_fix_it(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "kite_session.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SessionFileError) as caught:
        SessionStore(path).load()
    message = str(caught.value)
    assert why in message
    assert str(path) in message and "alpha-panda-tui login" in message


def test_a_damaged_file_never_echoes_the_token(tmp_path: Path) -> None:
    path = tmp_path / "kite_session.json"
    path.write_text(json.dumps({**a_session().to_json(), "login_time": "x"}), encoding="utf-8")
    with pytest.raises(SessionFileError) as caught:
        SessionStore(path).load()
    assert TOKEN not in str(caught.value)


def test_delete_and_stamp(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "kite_session.json")
    assert store.stamp() is None
    assert store.delete() is False
    store.save(a_session())
    first = store.stamp()
    assert first is not None
    os.utime(store.path, ns=(first + 1_000_000, first + 1_000_000))
    assert store.stamp() == first + 1_000_000
    assert store.delete() is True
    assert store.stamp() is None and store.load() is None
