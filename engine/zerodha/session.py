"""A Kite session (the daily access token) and the file that keeps it between runs.

The file lives in the data dir, is written atomically and is private to this user
(0600). A token lasts until the next 06:00 IST; the clock alone is never trusted,
though: a TokenException or a 403 from Kite expires it whenever it comes.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from pathlib import Path

from engine.market.calendar import IST

log = logging.getLogger(__name__)

TOKEN_ROLLOVER = time(6, 0)  # IST: Kite flushes access tokens the next morning
SESSION_FILE_MODE = 0o600
KITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def session_expiry(login_time: datetime) -> datetime:
    """The first 06:00 IST after `login_time` (an aware datetime)."""
    local = login_time.astimezone(IST)
    rollover = datetime.combine(local.date(), TOKEN_ROLLOVER, IST)
    return rollover if local < rollover else rollover + timedelta(days=1)


def parse_login_time(text: str) -> datetime:
    """Kite's `login_time` ("YYYY-MM-DD HH:MM:SS", IST) as an aware datetime."""
    return datetime.strptime(text, KITE_TIME_FORMAT).replace(tzinfo=IST)


@dataclass(frozen=True, slots=True)
class KiteSession:
    user_id: str
    user_name: str
    api_key: str
    access_token: str = field(repr=False)
    login_time: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def with_expiry(self, when: datetime) -> KiteSession:
        return replace(self, expires_at=when)

    def to_json(self) -> dict[str, str]:
        return {
            "user_id": self.user_id,
            "user_name": self.user_name,
            "api_key": self.api_key,
            "access_token": self.access_token,
            "login_time": self.login_time.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> KiteSession:
        def text(name: str) -> str:
            value = data.get(name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"missing {name}")
            return value

        return cls(
            user_id=text("user_id"),
            user_name=str(data.get("user_name") or ""),
            api_key=text("api_key"),
            access_token=text("access_token"),
            login_time=datetime.fromisoformat(text("login_time")),
            expires_at=datetime.fromisoformat(text("expires_at")),
        )


class SessionFileError(Exception):
    """The session file exists but cannot be read; the message says what to do."""


class SessionStore:
    """The saved Kite session: one JSON file, 0600, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> KiteSession | None:
        """The saved session, or None when there is none; SessionFileError when it is unreadable."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SessionFileError(f"cannot read the Kite session file {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return KiteSession.from_json(data)
        except ValueError as exc:
            raise SessionFileError(
                f"the Kite session file {self.path} is damaged ({exc}): run `alpha-panda-tui login` again"
            ) from None

    def save(self, session: KiteSession) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SESSION_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(session.to_json(), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, SESSION_FILE_MODE)  # O_CREAT's mode is only used for a new file
        os.replace(tmp, self.path)

    def delete(self) -> bool:
        """Remove the saved session; False if there was none."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def stamp(self) -> int | None:
        """The file's modification time (ns), to notice a login made by another process; None if absent."""
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
