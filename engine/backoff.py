"""Backoff: how long a retry loop waits before its next attempt.

Every retry loop in the engine (a bus handler's retries, a Kafka send or
consumer poll, the storage writer's database attempts) takes its delays from
one of these: the first delay is `initial`, each next one `factor` times the
last, never more than `cap`; `jitter` spreads each delay by up to that
fraction either way so that many clients retrying at once do not retry in step.
"""

from __future__ import annotations

import math
import random


class Backoff:
    def __init__(
        self,
        initial: float,
        *,
        factor: float = 2.0,
        cap: float = math.inf,
        jitter: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        if initial < 0:
            raise ValueError(f"initial delay must be >= 0, not {initial}")
        if factor < 1:
            raise ValueError(f"factor must be >= 1, not {factor}")
        if cap < 0:
            raise ValueError(f"cap must be >= 0, not {cap}")
        if not 0 <= jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, not {jitter}")
        self.initial = initial
        self.factor = factor
        self.cap = cap
        self.jitter = jitter
        self._rng = rng if rng is not None else random.Random()
        self._next = min(initial, cap)
        self.attempts = 0  # delays handed out since the last reset

    def next_delay(self) -> float:
        """The delay before the next attempt, in seconds; each call moves one step on."""
        delay = self._next
        self._next = min(self.cap, delay * self.factor)
        self.attempts += 1
        if self.jitter and delay:
            delay = min(self.cap, delay * (1.0 + self._rng.uniform(-self.jitter, self.jitter)))
        return delay

    def reset(self) -> None:
        """Start again from `initial` (after an attempt succeeded)."""
        self._next = min(self.initial, self.cap)
        self.attempts = 0
