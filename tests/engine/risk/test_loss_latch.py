"""The daily-loss latch: per strategy and global, flattens, persists, and lifts only by command."""

from __future__ import annotations

from engine.events import CommandAction, Product, Side
from engine.risk.loss_latch import GLOBAL_LATCH
from engine.risk.manager import FLATTEN_REASON
from tests.engine.risk.conftest import INFY, RELIANCE, TCS, RiskRig, new_rig

DAY = 86_400.0


async def open_positions(rig: RiskRig) -> None:
    for token, price in ((RELIANCE, 1400.0), (TCS, 3100.0), (INFY, 1500.0)):
        await rig.tick(token, price, price)
    await rig.fill(strategy_id="s1", token=RELIANCE, side=Side.BUY, quantity=10)
    await rig.fill(strategy_id="s1", token=TCS, side=Side.SELL, quantity=5, price=3100.0)
    await rig.fill(strategy_id="s2", token=INFY, side=Side.BUY, quantity=7, price=1500.0)


async def test_a_strategy_latches_at_its_daily_loss_and_is_flattened(rig: RiskRig) -> None:
    manager = await rig.add_manager(max_daily_loss_per_strategy=25_000.0)
    await open_positions(rig)
    assert rig.flattens(await rig.pnl("s1", 0.0)) == []  # start of day
    assert rig.flattens(await rig.pnl("s1", -20_000.0, -4_000.0, 900.0)) == []  # day P&L -24900
    cause = await rig.pnl("s1", -20_000.0, -4_500.0, 600.0)  # day P&L -25100
    reason = "day loss 25100.00 reached max_daily_loss_per_strategy 25000.00"
    assert dict(manager.latches) == {"s1": reason}

    closing = rig.flattens(cause)
    assert {(s.instrument_token, s.side, s.quantity) for s in closing} == {
        (RELIANCE, Side.SELL, 10),
        (TCS, Side.BUY, 5),
    }
    assert all(s.strategy_id == "s1" and s.reason == FLATTEN_REASON for s in closing)
    assert all(s.product is Product.MIS for s in closing)
    assert {s.reference_price for s in closing} == {1400.0, 3100.0}
    assert manager.flattened == 2

    rejected = await rig.rejected(strategy_id="s1")
    assert (rejected.rule, rejected.reason) == ("loss_limit", f"strategy s1 daily loss latch: {reason}")
    await rig.validated(strategy_id="s2", instrument_token=INFY, reference_price=1500.0)
    assert await rig.store.get_state("risk:paper:latch") == {"global": None, "strategies": {"s1": reason}}


async def test_a_latched_strategy_is_not_flattened_twice(rig: RiskRig) -> None:
    await rig.add_manager(max_daily_loss_per_strategy=1_000.0)
    await open_positions(rig)
    await rig.pnl("s1", 0.0)
    assert len(rig.flattens(await rig.pnl("s1", -1_500.0))) == 2
    assert rig.flattens(await rig.pnl("s1", -2_500.0)) == []


async def test_day_loss_counts_from_the_first_snapshot_of_the_day(rig: RiskRig) -> None:
    manager = await rig.add_manager(max_daily_loss_per_strategy=25_000.0)
    await rig.pnl("s1", -40_000.0)  # carried in from before today: not today's loss
    await rig.pnl("s1", -64_000.0)
    assert manager.day_pnl("s1") == -24_000.0
    assert dict(manager.latches) == {}
    await rig.pnl("s1", -65_000.0)
    assert "s1" in manager.latches


async def test_the_global_latch_sums_strategies_and_flattens_everything(rig: RiskRig) -> None:
    manager = await rig.add_manager(max_daily_loss_per_strategy=25_000.0, max_daily_loss=30_000.0)
    await open_positions(rig)
    await rig.pnl("s1", 0.0)
    await rig.pnl("s2", 0.0)
    assert rig.flattens(await rig.pnl("s1", -20_000.0)) == []
    cause = await rig.pnl("s2", -15_000.0)
    reason = "total day loss 35000.00 reached max_daily_loss 30000.00"
    assert dict(manager.latches) == {GLOBAL_LATCH: reason}
    assert {(s.strategy_id, s.instrument_token, s.side, s.quantity) for s in rig.flattens(cause)} == {
        ("s1", RELIANCE, Side.SELL, 10),
        ("s1", TCS, Side.BUY, 5),
        ("s2", INFY, Side.SELL, 7),
    }
    rejected = await rig.rejected(strategy_id="s3")
    assert (rejected.rule, rejected.reason) == ("loss_limit", f"global daily loss latch: {reason}")
    assert rig.flattens(await rig.pnl("s1", -30_000.0)) == []  # s1 now latched too, but already closed


async def test_the_global_latch_does_not_reflatten_a_strategy_latched_before(rig: RiskRig) -> None:
    manager = await rig.add_manager(max_daily_loss_per_strategy=10_000.0, max_daily_loss=30_000.0)
    await open_positions(rig)
    await rig.pnl("s1", 0.0)
    await rig.pnl("s2", 0.0)
    assert len(rig.flattens(await rig.pnl("s1", -12_000.0))) == 2
    closing = rig.flattens(await rig.pnl("s2", -19_000.0))  # s2 and global latch together
    assert [(s.strategy_id, s.instrument_token) for s in closing] == [("s2", INFY)]
    assert set(manager.latches) == {"s1", "s2", GLOBAL_LATCH}


async def test_no_flatten_when_it_is_switched_off(rig: RiskRig) -> None:
    manager = await rig.add_manager(max_daily_loss_per_strategy=1_000.0, flatten_on_loss_halt=False)
    await open_positions(rig)
    await rig.pnl("s1", 0.0)
    assert rig.flattens(await rig.pnl("s1", -5_000.0)) == []
    assert "s1" in manager.latches
    assert (await rig.rejected(strategy_id="s1")).rule == "loss_limit"


async def test_a_latch_and_the_days_baseline_survive_a_restart(rig: RiskRig) -> None:
    await rig.add_manager(max_daily_loss_per_strategy=10_000.0)
    await rig.pnl("s1", 0.0)
    await rig.pnl("s1", -12_000.0)
    await rig.pnl("s2", -3_000.0)  # s2's day starts at -3000
    await rig.pnl("s2", -9_000.0)

    restarted = new_rig(store=rig.store)
    restarted.clock.set(rig.clock.now() + 600.0)
    manager = await restarted.add_manager(max_daily_loss_per_strategy=10_000.0)
    assert set(manager.latches) == {"s1"}
    await restarted.tick()
    assert (await restarted.rejected(strategy_id="s1")).rule == "loss_limit"
    # s2 keeps its start-of-day value: a restart is no fresh loss budget
    await restarted.pnl("s2", -14_000.0)
    assert manager.day_pnl("s2") == -11_000.0
    assert set(manager.latches) == {"s1", "s2"}


async def test_a_latch_holds_into_a_new_day_until_reset_by_command(rig: RiskRig) -> None:
    manager = await rig.add_manager(max_daily_loss_per_strategy=10_000.0, max_daily_loss=50_000.0)
    await rig.pnl("s1", 0.0)
    await rig.pnl("s1", -12_000.0)
    rig.clock.advance(DAY)  # Tuesday
    await rig.tick()
    await rig.pnl("s1", -12_000.0)
    assert manager.day_pnl("s1") == 0.0  # a new day's P&L starts from its first snapshot
    assert (await rig.rejected(strategy_id="s1")).rule == "loss_limit"

    results = await rig.command(CommandAction.RESET_LOSS_LATCH, target="s1")
    assert [r.message for r in results] == [
        "paper: daily loss latch reset for strategy s1; day P&L now counts from here"
    ]
    assert dict(manager.latches) == {}
    assert await rig.store.get_state("risk:paper:latch") == {"global": None, "strategies": {}}
    await rig.validated(strategy_id="s1")


async def test_reset_gives_a_fresh_budget_from_the_current_value(rig: RiskRig) -> None:
    manager = await rig.add_manager(max_daily_loss_per_strategy=10_000.0)
    await rig.pnl("s1", 0.0)
    await rig.pnl("s1", -12_000.0)
    await rig.command(CommandAction.RESET_LOSS_LATCH, target="s1")
    await rig.pnl("s1", -12_500.0)  # -500 since the reset: no new latch
    assert dict(manager.latches) == {}
    await rig.pnl("s1", -22_000.0)
    assert set(manager.latches) == {"s1"}


async def test_reset_of_one_strategy_keeps_the_others_and_the_global_latch(rig: RiskRig) -> None:
    manager = await rig.add_manager(max_daily_loss_per_strategy=10_000.0, max_daily_loss=20_000.0)
    for name in ("s1", "s2"):
        await rig.pnl(name, 0.0)
        await rig.pnl(name, -11_000.0)
    assert set(manager.latches) == {"s1", "s2", GLOBAL_LATCH}
    await rig.command(CommandAction.RESET_LOSS_LATCH, target="s1")
    assert set(manager.latches) == {"s2", GLOBAL_LATCH}
    await rig.tick()
    assert (await rig.rejected(strategy_id="s1")).rule == "loss_limit"  # still globally latched

    (result,) = await rig.command(CommandAction.RESET_LOSS_LATCH)
    assert result.message == (
        "paper: daily loss latch reset for all strategies and global; day P&L now counts from here"
    )
    assert dict(manager.latches) == {}
    await rig.validated(strategy_id="s2")
    (result,) = await rig.command(CommandAction.RESET_LOSS_LATCH, target="s9")
    assert result.ok and result.message == "paper: no daily loss latch set for strategy s9"


async def test_daily_counters_reset_on_a_new_ist_day(rig: RiskRig) -> None:
    manager = await rig.add_manager()
    await rig.tick()
    await rig.validated()
    await rig.rejected(quantity=0)
    assert (manager.validated, manager.rejected, dict(manager.rejections_by_rule)) == (1, 1, {"lot_size": 1})

    rig.clock.advance(13.0 * 3600)  # 23:00 IST, still Monday
    await rig.rejected()
    assert (manager.validated, manager.rejected) == (1, 2)

    rig.clock.advance(1.5 * 3600)  # 00:30 IST Tuesday (19:00 UTC Monday)
    await rig.rejected()
    assert (manager.validated, manager.rejected, dict(manager.rejections_by_rule)) == (
        0,
        1,
        {"market_hours": 1},
    )


async def test_a_reset_with_no_latch_set_says_so_and_changes_nothing(rig: RiskRig) -> None:
    manager = await rig.add_manager(max_daily_loss_per_strategy=10_000.0)
    await rig.pnl("s1", 0.0)
    await rig.pnl("s1", -6_000.0)
    stored = await rig.store.get_state("risk:paper:latch")

    (one,) = await rig.command(CommandAction.RESET_LOSS_LATCH, target="s1")
    (every,) = await rig.command(CommandAction.RESET_LOSS_LATCH)
    assert (one.ok, one.message) == (True, "paper: no daily loss latch set for strategy s1")
    assert (every.ok, every.message) == (True, "paper: no daily loss latch set for all strategies and global")
    assert manager.day_pnl("s1") == -6_000.0  # no fresh loss budget from a reset of nothing
    assert await rig.store.get_state("risk:paper:latch") == stored
    await rig.pnl("s1", -10_500.0)
    assert set(manager.latches) == {"s1"}


async def test_a_strategy_reset_under_the_global_latch_says_what_still_blocks_it(rig: RiskRig) -> None:
    await rig.add_manager(max_daily_loss_per_strategy=50_000.0, max_daily_loss=20_000.0)
    await rig.pnl("s1", 0.0)
    await rig.pnl("s1", -21_000.0)
    (result,) = await rig.command(CommandAction.RESET_LOSS_LATCH, target="s1")
    assert result.message == (
        "paper: no daily loss latch set for strategy s1"
        " (the global latch is set: resetting every latch lifts it)"
    )
