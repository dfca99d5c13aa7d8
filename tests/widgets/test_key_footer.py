"""The footer is rebuilt only when the keys it shows change."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Footer

from widgets.key_footer import KeyFooter


class Pane(Widget, can_focus=True):
    pass


class Special(Widget, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("x", "noop", "Special")]

    def action_noop(self) -> None:
        pass


class FooterApp(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Pane(id="a")
        yield Pane(id="b")
        yield Special(id="c")
        yield KeyFooter()


def keys(app: FooterApp) -> list[Widget]:
    return list(app.query_one(Footer).children)


async def test_moving_between_panes_with_the_same_keys_keeps_the_footer() -> None:
    app = FooterApp()
    async with app.run_test() as pilot:
        app.query_one("#a").focus()
        await pilot.pause()
        before = keys(app)
        app.query_one("#b").focus()
        await pilot.pause()
        assert keys(app) == before and all(x is y for x, y in zip(keys(app), before, strict=True))
        app.query_one("#c").focus()
        await pilot.pause()
        labels = [str(getattr(k, "description", "")) for k in keys(app)]
        assert "Special" in labels
