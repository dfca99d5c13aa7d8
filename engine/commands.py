"""Commands as request and response: every command is answered by one `CommandReply`.

Whoever sends a command (the console, the control socket, a client elsewhere on the
bus) publishes it on control.commands; each service it concerns answers with a
`CommandResult` on engine.status. The router knows which services must answer each
action (every namespace's risk manager for a halt, the strategy runner for a toggle,
whichever broker owns the order for a cancel ...), collects their results and
publishes one `CommandReply` on engine.status the moment the last of them has
answered, or, if the timeout passes first, one carrying the results it has and
naming the services that did not answer. The timeout is the
only wait: a sender waits for the reply, never for a fixed while. An action no
service of this engine handles is answered at once by the router itself, failed,
with the reason (`unavailable`) when the engine gave one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from engine.bus.base import Bus
from engine.events import Command, CommandAction, CommandReply, CommandResult, Event, Namespace
from engine.service import Service
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 3.0  # for every service that must answer a command to have answered
MAX_EARLY = 256  # results held for a command the router has not seen yet (bus groups race)
GROUP = "commands"
SOURCE = "commands"

Responders = Mapping[CommandAction, Sequence[str]]


@dataclass(slots=True)
class _Pending:
    event: Event
    action: CommandAction
    expected: tuple[str, ...]
    any_of: bool  # one answer from any of `expected` is enough
    results: list[CommandResult] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None

    def answered(self) -> set[str]:
        return {r.service for r in self.results}

    def missing(self) -> tuple[str, ...]:
        answered = self.answered()
        if self.any_of and answered & set(self.expected):
            return ()
        return tuple(name for name in self.expected if name not in answered)


class CommandRouter(Service):
    """Publishes one CommandReply per command, with the results of every service that must answer it."""

    name = "commands"

    def __init__(
        self,
        bus: Bus,
        responders: Responders,
        *,
        any_of: Collection[CommandAction] = (),
        unavailable: Mapping[CommandAction, str] | None = None,
        timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> None:
        """`responders`: the services that must answer each action; for an action in `any_of`,
        the first answer from one of them is enough (a cancel is answered by the broker owning
        the order; the others ignore it). `unavailable`: why this engine cannot do an action
        that no service answers (said in the router's own failed result)."""
        super().__init__(bus)
        self.responders = {action: tuple(names) for action, names in responders.items()}
        self.any_of = frozenset(any_of)
        self.unavailable = dict(unavailable or {})
        self.timeout_s = timeout_s
        self._pending: dict[str, _Pending] = {}
        self._early: dict[str, list[CommandResult]] = {}
        self._publishing: set[asyncio.Task[None]] = set()
        self.replied = 0
        self.timed_out = 0

    def wire(self) -> None:
        self.bus.subscribe([CONTROL_COMMANDS, ENGINE_STATUS], GROUP, self._on_event)

    async def stop(self) -> None:
        for pending in self._pending.values():
            if pending.timer is not None:
                pending.timer.cancel()
        self._pending.clear()
        tasks, self._publishing = list(self._publishing), set()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _on_event(self, event: Event) -> None:
        payload = event.payload
        if isinstance(payload, CommandResult):
            await self._on_result(event, payload)
        elif isinstance(payload, Command):
            await self._on_command(event, payload)

    async def _on_command(self, event: Event, command: Command) -> None:
        if event.id in self._pending:
            return  # delivered again
        action = command.action
        pending = _Pending(event, action, self.responders.get(action, ()), action in self.any_of)
        pending.results.extend(self._early.pop(event.id, ()))
        if not pending.expected and not pending.results:
            why = self.unavailable.get(action, f"this engine has no service that handles {action.value}")
            pending.results.append(
                CommandResult(command_id=event.id, action=action, ok=False, message=why, service=self.name)
            )
        if not pending.missing():
            await self._reply(pending)
            return
        self._pending[event.id] = pending
        loop = asyncio.get_running_loop()
        pending.timer = loop.call_later(self.timeout_s, self._expire, event.id)

    async def _on_result(self, event: Event, result: CommandResult) -> None:
        if not result.service:  # from a service that does not name itself: the envelope does
            result = CommandResult(
                command_id=result.command_id,
                action=result.action,
                ok=result.ok,
                message=result.message,
                service=event.source,
            )
        pending = self._pending.get(result.command_id)
        if pending is None:
            # its command has not reached the router yet (or was answered already: then it is
            # dropped when the bounded store overflows)
            self._early.setdefault(result.command_id, []).append(result)
            while len(self._early) > MAX_EARLY:
                del self._early[next(iter(self._early))]
            return
        pending.results.append(result)
        if not pending.missing():
            del self._pending[result.command_id]
            if pending.timer is not None:
                pending.timer.cancel()
            await self._reply(pending)

    def _expire(self, command_id: str) -> None:
        pending = self._pending.pop(command_id, None)
        if pending is None:
            return
        self.timed_out += 1
        log.warning(
            "command %s: no answer from %s within %g s",
            pending.action.value,
            ", ".join(pending.missing()),
            self.timeout_s,
        )
        task = asyncio.get_running_loop().create_task(self._reply(pending), name="command-timeout-reply")
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _reply(self, pending: _Pending) -> None:
        missing = pending.missing()
        results = tuple(pending.results)
        reply = CommandReply(
            command_id=pending.event.id,
            action=pending.action,
            ok=bool(results) and not missing and all(r.ok for r in results),
            results=results,
            missing=missing,
            timeout_s=self.timeout_s,
        )
        self.replied += 1
        await self.bus.publish(
            ENGINE_STATUS,
            pending.event.child(reply, source=SOURCE, key=pending.action.value, namespace=Namespace.SHARED),
        )
