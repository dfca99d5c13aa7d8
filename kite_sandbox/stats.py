"""Counters of what the sandbox saw and sent, for tests and the admin endpoint."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SandboxStats:
    connections_opened: int = 0
    connections_open: int = 0
    upgrades_refused: int = 0
    subscribe_messages: list[tuple[int, list[int]]] = field(default_factory=list)  # (connection no, tokens)
    unsubscribe_messages: list[tuple[int, list[int]]] = field(default_factory=list)
    mode_messages: list[tuple[int, str, list[int]]] = field(default_factory=list)  # (conn no, mode, tokens)
    rest_calls: Counter[str] = field(default_factory=Counter)  # by route, e.g. "GET /quote"
    frames_sent: int = 0
    ticks_sent: int = 0
    heartbeats_sent: int = 0
    text_messages_sent: int = 0
    order_updates_sent: int = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "connections_opened": self.connections_opened,
            "connections_open": self.connections_open,
            "upgrades_refused": self.upgrades_refused,
            "subscribe_messages": [[no, tokens] for no, tokens in self.subscribe_messages],
            "unsubscribe_messages": [[no, tokens] for no, tokens in self.unsubscribe_messages],
            "mode_messages": [[no, mode, tokens] for no, mode, tokens in self.mode_messages],
            "rest_calls": dict(self.rest_calls),
            "frames_sent": self.frames_sent,
            "ticks_sent": self.ticks_sent,
            "heartbeats_sent": self.heartbeats_sent,
            "text_messages_sent": self.text_messages_sent,
            "order_updates_sent": self.order_updates_sent,
        }
