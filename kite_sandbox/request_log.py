"""Every REST call the sandbox received, in order: method, path, route, query and form fields (an
order's `tag` among them), with credentials masked. Tests read it to prove what reached the broker,
and that nothing did."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MAX_ENTRIES = 100_000
SECRET_FIELDS = frozenset({"access_token", "request_token", "checksum", "api_secret", "refresh_token"})
MASK = "***"


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    method: str
    path: str
    route: str  # the route template, e.g. "POST /orders/{variety}"
    query: dict[str, str]
    form: dict[str, str]
    at: float = field(default_factory=time.time)  # epoch seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "route": self.route,
            "query": self.query,
            "form": self.form,
            "at": self.at,
        }


class RequestLog:
    """The latest `MAX_ENTRIES` REST calls."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=max_entries)

    def record(self, method: str, path: str, route: str, query: dict[str, str], form: dict[str, str]) -> None:
        self._entries.append(LoggedRequest(method, path, route, _masked(query), _masked(form)))

    @property
    def entries(self) -> list[LoggedRequest]:
        return list(self._entries)

    def order_calls(self) -> list[LoggedRequest]:
        """Place, modify and cancel calls: what reaches the broker's order desk."""
        return [
            e
            for e in self._entries
            if e.path.startswith("/orders/") and e.method in ("POST", "PUT", "DELETE")
        ]

    def clear(self) -> None:
        self._entries.clear()


def _masked(fields: dict[str, str]) -> dict[str, str]:
    return {key: MASK if key in SECRET_FIELDS else value for key, value in fields.items()}
