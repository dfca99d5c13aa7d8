"""Keeping a running engine's instruments current: each trading day's dumps, fetched once they are out.

An engine may run for days: the Kite session rolls over every morning and the engine runs on.
After each publication (`zerodha.instruments_published` on a trading day) this waits for a
valid Kite session, downloads the day's dumps into the cache and adds the instruments that are
new (the day's new contracts) to the engine's registry. Instruments already known keep their
objects, so whatever was resolved from them earlier (strategies, subscriptions) is untouched.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from engine.instruments import InstrumentRegistry
from engine.zerodha.broker_session import BrokerSession
from engine.zerodha.instruments_dump import InstrumentsDump

if TYPE_CHECKING:
    from engine.zerodha.rest import KiteRest

log = logging.getLogger(__name__)

MAX_SLEEP_S = 3600.0  # wake at least hourly: a suspended laptop's sleep is not the wall clock's
RETRY_S = 300.0  # after a failed download


class InstrumentsRefresher:
    def __init__(
        self,
        dump: InstrumentsDump,
        rest: KiteRest,
        registry: InstrumentRegistry,
        session: BrokerSession,
        *,
        retry_s: float = RETRY_S,
    ) -> None:
        self.dump = dump
        self.rest = rest
        self.registry = registry
        self.session = session
        self.retry_s = retry_s
        self.added = 0  # instruments added since the engine started

    async def refresh_once(self) -> int:
        """Download the stale dumps and add their new instruments to the registry; how many were added."""
        if not self.dump.stale():
            return 0
        result = await self.dump.refresh(self.rest)
        if not result.downloaded:
            return 0
        added = self.registry.add_new(self.dump.load())
        self.added += added
        log.info("instruments refreshed (%s): %d new", ", ".join(result.downloaded), added)
        return added

    async def run(self) -> None:
        while True:
            while not self.dump.stale():
                wait = (self.dump.next_publication() - self.dump.now()).total_seconds()
                await asyncio.sleep(min(MAX_SLEEP_S, max(1.0, wait)))
            await self.session.wait_valid()  # the dump is fetched with the session: after the day's login
            try:
                await self.refresh_once()
            except Exception:  # the refresher must outlive any surprise; the next day tries again
                log.exception("refreshing the instruments dumps failed")
            if self.dump.stale():
                await asyncio.sleep(self.retry_s)
