"""A one-line bar naming the views of a small terminal, the shown one highlighted; click to switch.

Plain text on the line API's terms: switching repaints one line, with no
underline animation (Textual's Tabs animate, at a frame per 1/60 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

SEPARATOR = " │ "


class ViewBar(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"view-bar--active", "view-bar--inactive", "view-bar--hint"}

    class Chosen(Message):
        def __init__(self, view: str) -> None:
            super().__init__()
            self.view = view

    def __init__(
        self,
        views: Sequence[tuple[str, str]],
        *,
        hint: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.views = tuple(views)
        self.hint = hint
        self.active = self.views[0][0]
        self._spans: list[tuple[int, int, str]] = []  # (start, end, view) of each label, for clicks

    def show(self, view: str) -> None:
        if view != self.active:
            self.active = view
            self.refresh()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def render(self) -> Text:
        line = Text(" ", no_wrap=True, overflow="ellipsis")
        spans = []
        for n, (view, label) in enumerate(self.views):
            if n:
                line.append(SEPARATOR, self._style("view-bar--inactive"))
            start = line.cell_len
            name = "view-bar--active" if view == self.active else "view-bar--inactive"
            line.append(f" {label} ", self._style(name))
            spans.append((start, line.cell_len, view))
        if self.hint:
            line.append(f"   {self.hint}", self._style("view-bar--hint"))
        self._spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, view in self._spans:
            if start <= event.x < end:
                self.post_message(self.Chosen(view))
                return
