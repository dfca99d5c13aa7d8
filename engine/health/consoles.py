"""Informative: the consoles attached to the engine through its control socket. Never critical."""

from __future__ import annotations

from engine.control_stream import ConsoleStreams
from engine.health.registry import CheckResult, CheckStatus


class ConsolesCheck:
    name = "consoles"
    critical = False

    def __init__(self, streams: ConsoleStreams) -> None:
        self.streams = streams

    async def check(self) -> CheckResult:
        consoles = self.streams.consoles()
        names = [f"{c.client or '?'}{' (read-only)' * c.read_only}" for c in consoles]
        message = f"{len(consoles)} attached: {', '.join(names)}" if consoles else "none attached"
        if self.streams.cut_off:
            message += f"; {self.streams.cut_off} cut off for falling behind since the engine started"
        details = {
            "attached": len(consoles),
            "cut_off": self.streams.cut_off,
            "behind": {c.client: c.behind for c in consoles},
        }
        return CheckResult(self.name, CheckStatus.OK, message, self.critical, details)
