"""The kill switch: global, answered per namespace, persisted across a restart."""

from __future__ import annotations

from engine.events import CommandAction, Namespace, Side
from engine.risk.kill_switch import HALT_STATE_KEY
from engine.risk.manager import RiskManager
from engine.settings import RiskSettings
from engine.state import MemoryStateStore
from tests.engine.risk.conftest import PAPER, ZERODHA, RiskRig, new_rig


async def test_halt_rejects_every_new_signal_and_resume_lifts_it(rig: RiskRig) -> None:
    manager = await rig.add_manager()
    await rig.tick()
    (result,) = await rig.command(CommandAction.HALT, reason="broker outage")
    assert result.ok and result.action is CommandAction.HALT
    assert result.message == "paper: trading halted (broker outage)"
    assert manager.halted and manager.halt_reason == "broker outage"

    assert (await rig.rejected()).rule == "kill_switch"
    assert (await rig.rejected(strategy_id="s2", side=Side.SELL)).rule == "kill_switch"

    (result,) = await rig.command(CommandAction.RESUME)
    assert result.message == "paper: trading resumed"
    assert not manager.halted and manager.halt_reason == ""
    await rig.validated()


async def test_halt_without_a_reason_names_who_halted(rig: RiskRig) -> None:
    manager = await rig.add_manager()
    await rig.command(CommandAction.HALT)
    assert manager.halt_reason == "halted by tester"


async def test_halt_is_global_and_every_namespace_answers(rig: RiskRig) -> None:
    paper = await rig.add_manager(PAPER)
    zerodha = await rig.add_manager(ZERODHA)
    results = await rig.command(CommandAction.HALT, reason="stop")
    assert sorted(r.message for r in results) == [
        "paper: trading halted (stop)",
        "zerodha: trading halted (stop)",
    ]
    assert paper.halted and zerodha.halted
    await rig.tick()
    assert (await rig.rejected(ZERODHA)).rule == "kill_switch"


async def test_halt_survives_a_restart(rig: RiskRig) -> None:
    await rig.add_manager()
    await rig.command(CommandAction.HALT, reason="end of day")
    assert await rig.store.get_state(HALT_STATE_KEY) == {"halted": True, "reason": "end of day"}

    restarted = new_rig(store=rig.store)
    manager = await restarted.add_manager()
    assert manager.halted and manager.halt_reason == "end of day"
    await restarted.tick()
    rejected = await restarted.rejected()
    assert rejected.rule == "kill_switch"
    assert rejected.reason == "trading halted by the kill switch: end of day"

    await restarted.command(CommandAction.RESUME)
    assert await rig.store.get_state(HALT_STATE_KEY) == {"halted": False, "reason": ""}
    again = new_rig(store=rig.store)
    assert not (await again.add_manager()).halted


async def test_a_signal_before_start_is_judged_against_the_persisted_halt() -> None:
    store = MemoryStateStore()
    await store.put_state(HALT_STATE_KEY, {"halted": True, "reason": "persisted"})
    rig = new_rig(store=store)
    await rig.add_manager(ZERODHA)  # only so the recorder rig has a started manager too
    early = RiskManager(rig.bus, PAPER, RiskSettings(), rig.instruments, rig.calendar, rig.clock, store)
    early.wire()  # wired and fed before start(), as when the feed starts first
    await rig.tick()
    rejected = await rig.rejected()
    assert (rejected.rule, rejected.reason) == ("kill_switch", "trading halted by the kill switch: persisted")


async def test_commands_risk_does_not_own_get_no_answer_from_it(rig: RiskRig) -> None:
    await rig.add_manager()
    assert await rig.command(CommandAction.STRATEGY_DISABLE, target="s1") == []
    assert await rig.command(CommandAction.FEED_PAUSE) == []


async def test_resume_when_not_halted_says_so(rig: RiskRig) -> None:
    await rig.add_manager()
    (result,) = await rig.command(CommandAction.RESUME)
    assert result.ok and result.message == "paper: trading was not halted"


async def test_command_results_travel_on_the_shared_status_topic(rig: RiskRig) -> None:
    await rig.add_manager()
    await rig.command(CommandAction.HALT)
    assert rig.bus.stats.published["engine.status"] == 1
    status_events = [e for e in rig.published if e.namespace is Namespace.SHARED]
    assert len(status_events) == 1 and status_events[0].source == "risk.paper"
