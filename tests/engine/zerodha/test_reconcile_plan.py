"""The reconciliation plan on books built by hand: what a plan decides for rows the sandbox never
sends (a trade without its order) and how positions and mismatches are counted."""

from __future__ import annotations

from engine.events import Side
from engine.storage.models import OrderStatus
from engine.zerodha.broker_book import BrokerBook, BrokerOrder, BrokerPosition, BrokerTrade
from engine.zerodha.reconcile_plan import ADOPTED_STRATEGY, OurBook, OurOrder, plan_reconciliation

INFY = 408065
DAY = 1_800_000_000.0


def kite_order(order_id: str, tag: str = "", *, status: str = "COMPLETE", quantity: int = 2) -> BrokerOrder:
    return BrokerOrder(
        order_id=order_id,
        tag=tag,
        status=status,
        status_message="",
        instrument_token=INFY,
        exchange="NSE",
        tradingsymbol="INFY",
        side=Side.BUY,
        quantity=quantity,
        filled_quantity=quantity if status == "COMPLETE" else 0,
        order_type="LIMIT",
        product="MIS",
        price=1500.0,
        average_price=1500.0,
        placed_ts=DAY,
    )


def trade(trade_id: str, order_id: str, quantity: int = 2) -> BrokerTrade:
    return BrokerTrade(trade_id, order_id, INFY, Side.BUY, quantity, 1500.0, "MIS", DAY + 1)


def held(quantity: int) -> BrokerPosition:
    return BrokerPosition(INFY, "NSE", "INFY", "MIS", quantity, 1500.0, 1501.0, 0.0, 0.0, 0.0)


def ours(*orders: OurOrder, live_ids: set[str] | None = None) -> OurBook:
    return OurBook(orders={o.order_id: o for o in orders}, live_ids=live_ids or set())


def our_order(order_id: str, strategy_id: str = "momentum") -> OurOrder:
    return OurOrder(order_id, strategy_id, INFY, 2, "MIS", OrderStatus.PLACED, 0, "corr")


def test_a_trade_without_its_order_is_reported_not_booked_and_still_counted() -> None:
    book = BrokerBook((), (trade("T1", "999"),), (held(2),), DAY + 2)
    plan = plan_reconciliation(book, ours(), day_start_ts=DAY)
    assert plan.fills == [] and plan.adopt == []
    assert plan.unreadable == ["Kite trade T1 of order 999 has no order"]
    assert plan.mismatches == []  # Kite's position is explained by the trade: no false alarm


def test_an_order_known_only_to_the_live_order_store_is_on_its_way() -> None:
    book = BrokerBook((kite_order("111", "Zabc1"),), (trade("T1", "111"),), (held(2),), DAY + 2)
    plan = plan_reconciliation(book, ours(live_ids={"Zabc1"}), day_start_ts=DAY)
    assert (plan.adopt, plan.fills, plan.mismatches) == ([], [], [])


def test_fills_follow_the_order_and_end_it() -> None:
    book = BrokerBook(
        (kite_order("111", "Zabc1", quantity=3),),
        (trade("T1", "111", 1), trade("T2", "111", 2)),
        (held(3),),
        DAY + 2,
    )
    plan = plan_reconciliation(book, ours(our_order("Zabc1")), day_start_ts=DAY)
    assert [(f.trade.trade_id, f.order_id, f.remaining_quantity) for f in plan.fills] == [
        ("T1", "Zabc1", 2),
        ("T2", "Zabc1", 0),  # Kite's quantity (modified there from our 2 to 3): filled in full
    ]
    assert plan.mismatches == []


def test_a_mismatch_names_our_strategies_there_never_the_adopted_one() -> None:
    mine = our_order("Zabc1")
    book_of_ours = ours(mine)
    book_of_ours.day_positions[(INFY, "MIS")] = 5
    book_of_ours.day_strategies[(INFY, "MIS")] = {"momentum", ADOPTED_STRATEGY}
    book = BrokerBook((kite_order("111", "Zabc1"),), (), (held(2),), DAY + 2)
    plan = plan_reconciliation(book, book_of_ours, day_start_ts=DAY, strategies_trading={INFY: ["meanrev"]})
    [mismatch] = plan.mismatches
    assert (mismatch.ours, mismatch.broker, mismatch.strategies) == (5, 2, ("meanrev", "momentum"))
    assert mismatch.describe() == "INFY MIS: Kite holds +2, our fills make +5"


def test_an_instrument_kite_never_named_is_shown_by_our_symbol() -> None:
    book_of_ours = ours()
    book_of_ours.day_positions[(INFY, "MIS")] = -1
    book = BrokerBook((), (), (), DAY + 2)
    plan = plan_reconciliation(book, book_of_ours, day_start_ts=DAY, symbol=lambda token: "INFY")
    [mismatch] = plan.mismatches
    assert mismatch.describe() == "INFY MIS: Kite holds +0, our fills make -1"
