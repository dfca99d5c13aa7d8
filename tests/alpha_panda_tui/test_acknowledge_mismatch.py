"""The console shows a live position mismatch in its health and offers M to acknowledge it, only
while there is one; the acknowledgement releases the held strategies and is audited."""

from __future__ import annotations

from pathlib import Path

from alpha_panda_tui.app import make_app
from alpha_panda_tui.bridge import UI_SOURCE
from alpha_panda_tui.screens.live_confirm import LiveConfirmScreen
from engine.events import Charges, Namespace, OrderFilled, Product, Side, make_event
from engine.settings import load_settings
from engine.storage.audit import AuditLog
from engine.topics import TopicMap
from tests.alpha_panda_tui.harness import WIDE, wait_for
from tests.engine.zerodha.kite_login import log_in
from tests.engine.zerodha.test_reconcile_engine import LiveEngine
from tests.kite_sandbox.matching.helpers import INFY, STILL, pin
from tests.sandbox import running_sandbox, sandbox_settings
from widgets.key_footer import KeyFooter


def footer_actions(screen: object) -> set[str]:
    return {action for _, _, action, _ in KeyFooter.shown_keys(screen)}  # type: ignore[arg-type]


async def test_m_acknowledges_a_live_position_mismatch(tmp_path: Path) -> None:
    async with running_sandbox(**STILL) as sandbox:
        settings = load_settings(**sandbox_settings(sandbox, tmp_path / "data"))
        await log_in(sandbox, settings)
        pin(sandbox, last=1500.0)
        engine = LiveEngine(settings)
        reconciler = engine.reconciler
        assert reconciler is not None
        app = make_app(engine, debounce_s=0.0, animate=False)
        await engine.start()
        try:
            async with app.run_test(size=WIDE) as pilot:
                await wait_for(lambda: isinstance(app.screen, LiveConfirmScreen))  # asked at start
                await pilot.press("escape")  # live orders stay off: reconciliation runs all the same
                await wait_for(lambda: not isinstance(app.screen, LiveConfirmScreen))
                await wait_for(lambda: reconciler.runs >= 1)
                assert "acknowledge_mismatch" not in footer_actions(app.screen)
                fill = OrderFilled(
                    order_id="Zlost2",
                    trade_id="66666666",
                    strategy_id="momentum",
                    instrument_token=INFY,
                    side=Side.SELL,
                    quantity=1,
                    price=1500.0,
                    product=Product.MIS,
                    charges=Charges(),
                )
                event = make_event(fill, namespace=Namespace.ZERODHA, source="test", key="momentum")
                await engine.bus.publish(TopicMap(Namespace.ZERODHA).orders_filled, event)
                await engine.bus.drain()
                assert engine.writer is not None
                await engine.writer.flush()
                await reconciler.reconcile("test")
                await engine.check_health()
                await wait_for(lambda: app.has_mismatch)
                await pilot.pause()
                assert "INFY MIS: Kite holds +0, our fills make -1" in app.state.mismatch
                assert "acknowledge_mismatch" in footer_actions(app.screen)
                await pilot.press("M", "y")
                zerodha_risk = engine.risk[Namespace.ZERODHA]
                await wait_for(lambda: not zerodha_risk.holds)
                await engine.check_health()
                await wait_for(lambda: not app.has_mismatch)
                await pilot.pause()
                assert "acknowledge_mismatch" not in footer_actions(app.screen)
                assert engine.db is not None
                audit = await AuditLog(engine.db).recent(10)
        finally:
            await engine.stop()
    assert (UI_SOURCE, "mismatch_acknowledged") in [(e.actor, e.action) for e in audit]
