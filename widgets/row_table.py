"""A fast table on Textual's line API: a fixed header, one cached Strip per row.

Each row has a key and a version. `set_rows` compares what each visible line
shows with what it showed when last painted and repaints only the lines that
changed; a line is rebuilt only when its row's version, the width or the
cursor moved. A DataTable renders every visible row again on any change, so
with ticks arriving many times a second it costs the same whatever changed;
this costs what changed (`benchmarks/tui.py` measures the console's share of
a core).

The table scrolls itself (a window of rows moved by the cursor, the keys and
the mouse wheel) instead of through a scrolling container: a container's
virtual size changes whenever a row is added, and each change costs Textual
a full layout and repaint of the screen. Where the window is shows in the
border subtitle.

Columns have a drop priority: on a narrow pane the least important go first,
so the same pane reads well at 80 columns and at 200.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import BindingType
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from viewmodels.keys import Scope
from widgets.bindings import bindings
from widgets.format import fit

RowT = TypeVar("RowT")

Cell = tuple[str, Style | None]

WHEEL_ROWS = 3


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int
    right: bool = False
    flex: bool = False  # takes whatever width is left over
    drop: int = 0  # on a narrow pane, higher numbers are hidden first; 0 = always shown
    tail: bool = False  # when cut, keep the end (sparklines: the newest points)


class RowTable(Widget, Generic[RowT], can_focus=True):
    """Subclasses set COLUMNS and implement `row_key`, `row_version` and `cells`."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    SHOW_CURSOR: ClassVar[bool] = True
    EMPTY_TEXT: ClassVar[str] = "nothing yet"

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "row-table--header",
        "row-table--cursor",
        "row-table--cursor-blurred",
        "row-table--empty",
    }

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.PANE))

    class RowChosen(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, table: RowTable[object], key: Hashable) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RowTable[object]:
            return self.table

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._rows: list[RowT] = []
        self._strips: dict[Hashable, tuple[int, int, Strip]] = {}  # key -> (version, cursor state, strip)
        self._painted: dict[int, tuple[Hashable, int, int]] = {}  # screen line -> what it showed
        self._header: Strip | None = None
        self._base: Style | None = None  # the widget's own style, looked up once per style change
        self._combined: dict[tuple[Style, Style | None], Style] = {}
        self._layout_width = -1
        self._layout: list[tuple[int, int]] = []  # (column index, width)
        self.top = 0  # index of the first row in view
        self.cursor = 0
        self._cursor_key: Hashable | None = None
        self.hint = ""  # shown in the border subtitle, before the scroll position
        self._subtitle = ""
        self.strips_built = 0  # for tests and benchmarks: rendering work really done

    # -- what subclasses provide ----------------------------------------------
    def row_key(self, row: RowT) -> Hashable:
        raise NotImplementedError

    def row_version(self, row: RowT) -> int:
        raise NotImplementedError

    def cells(self, row: RowT) -> Sequence[Cell]:
        """One (text, style) per column, in COLUMNS order."""
        raise NotImplementedError

    def row_style(self, row: RowT) -> Style | None:
        return None

    # -- data -----------------------------------------------------------------
    @property
    def rows(self) -> Sequence[RowT]:
        return self._rows

    @property
    def cursor_row(self) -> RowT | None:
        if self.SHOW_CURSOR and 0 <= self.cursor < len(self._rows):
            return self._rows[self.cursor]
        return None

    @property
    def visible_rows(self) -> int:
        return max(self.size.height - 1, 0)

    def set_rows(self, rows: Sequence[RowT]) -> None:
        """Show these rows; repaint only the visible lines that now show something else."""
        self._rows = list(rows)
        if self.SHOW_CURSOR:
            self._follow_cursor_key()
        self._clamp_top()
        if len(self._strips) > 2 * len(self._rows) + 64:
            live = {self.row_key(r) for r in self._rows}
            self._strips = {k: v for k, v in self._strips.items() if k in live}
        self._update_subtitle()
        self._refresh_changed_lines()

    def _follow_cursor_key(self) -> None:
        """Once the user has picked a row, keep the cursor on it (and in view) as rows come and go.

        Until then the cursor stays on the first row, so a newest-first list keeps showing the newest.
        """
        rows = self._rows
        key = self._cursor_key
        if key is not None and not (0 <= self.cursor < len(rows) and self.row_key(rows[self.cursor]) == key):
            for index, row in enumerate(rows):
                if self.row_key(row) == key:
                    self.cursor = index
                    break
            else:
                self._cursor_key = None  # the row is gone
        self.cursor = min(max(self.cursor, 0), max(len(rows) - 1, 0))
        if self._cursor_key is not None:
            shown = max(self.visible_rows, 1)
            if self.cursor < self.top:
                self.top = self.cursor
            elif self.cursor >= self.top + shown:
                self.top = self.cursor - shown + 1

    def _clamp_top(self) -> None:
        self.top = min(max(self.top, 0), max(len(self._rows) - self.visible_rows, 0))

    def _update_subtitle(self) -> None:
        count = len(self._rows)
        shown = self.visible_rows
        position = f"{self.top + 1}-{min(self.top + shown, count)} of {count}" if count > shown else ""
        subtitle = " · ".join(part for part in (self.hint, position) if part)
        if subtitle != self._subtitle:
            self._subtitle = subtitle
            self.border_subtitle = subtitle

    def _line_signature(self, index: int) -> tuple[Hashable, int, int]:
        if index >= len(self._rows):
            return (None, -1, 0)
        row = self._rows[index]
        return (self.row_key(row), self.row_version(row), self._cursor_state(index))

    def _refresh_changed_lines(self) -> None:
        height = self.size.height
        if height <= 1:
            return
        top = self.top
        first = last = -1
        painted = self._painted
        for y in range(1, height):
            if painted.get(y) != self._line_signature(top + y - 1):
                if first < 0:
                    first = y
                last = y
        if first >= 0:
            self.refresh(Region(0, first, self.size.width, last - first + 1))

    # -- rendering ------------------------------------------------------------
    def _cursor_state(self, index: int) -> int:
        if not self.SHOW_CURSOR or index != self.cursor:
            return 0
        return 2 if self.has_focus else 1

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._invalidate()

    def _invalidate(self) -> None:
        self._strips.clear()
        self._painted.clear()
        self._header = None
        self._base = None
        self._combined.clear()

    def _combine(self, base: Style, style: Style | None) -> Style:
        key = (base, style)
        combined = self._combined.get(key)
        if combined is None:
            combined = self._combined[key] = base + style if style is not None else base
        return combined

    def _columns_for(self, width: int) -> list[tuple[int, int]]:
        if width == self._layout_width:
            return self._layout
        shown = list(range(len(self.COLUMNS)))

        def needed() -> int:
            return sum(self.COLUMNS[i].width for i in shown) + max(len(shown) - 1, 0)

        while needed() > width:
            droppable = [i for i in shown if self.COLUMNS[i].drop > 0]
            if not droppable:
                break
            shown.remove(max(droppable, key=lambda i: (self.COLUMNS[i].drop, i)))
        spare = max(width - needed(), 0)
        layout = []
        for i in shown:
            column = self.COLUMNS[i]
            layout.append((i, column.width + (spare if column.flex else 0)))
            if column.flex:
                spare = 0
        self._invalidate()
        self._layout_width = width
        self._layout = layout
        return layout

    def _line(self, texts: Sequence[Cell], base: Style, width: int) -> Strip:
        """Cells padded to their columns; the panes show single-width characters, so length = cells."""
        layout = self._columns_for(width)
        segments: list[Segment] = []
        space = Segment(" ", base)
        used = 0
        for n, (i, column_width) in enumerate(layout):
            if n:
                segments.append(space)
                used += 1
            text, style = texts[i]
            column = self.COLUMNS[i]
            if column.tail and len(text) > column_width:
                text = text[-column_width:]
            segments.append(Segment(fit(text, column_width, right=column.right), self._combine(base, style)))
            used += column_width
        if used < width:
            segments.append(Segment(" " * (width - used), base))
            used = width
        strip = Strip(segments, used)
        return strip if used == width else strip.crop(0, width)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self._columns_for(width)
        base = self._base
        if base is None:
            base = self._base = self.rich_style
        if y == 0:
            if self._header is None:
                header_style = self._combine(base, self.get_component_rich_style("row-table--header"))
                self._header = self._line([(c.title, None) for c in self.COLUMNS], header_style, width)
            return self._header
        index = self.top + y - 1
        signature = self._line_signature(index)
        self._painted[y] = signature
        if index >= len(self._rows):
            if index == 0 and self.EMPTY_TEXT:
                style = self._combine(base, self.get_component_rich_style("row-table--empty"))
                return Strip([Segment(fit(" " + self.EMPTY_TEXT, width), style)], width)
            return Strip.blank(width, base)
        key, version, cursor_state = signature
        cached = self._strips.get(key)
        if cached is not None and cached[0] == version and cached[1] == cursor_state:
            return cached[2]
        row = self._rows[index]
        strip = self._line(self.cells(row), self._combine(base, self.row_style(row)), width)
        if cursor_state:
            strip = self._with_cursor(strip, cursor_state)
        self._strips[key] = (version, cursor_state, strip)
        self.strips_built += 1
        return strip

    def _with_cursor(self, strip: Strip, cursor_state: int) -> Strip:
        """The cursor's style laid over the row's, so a row's own colours never hide where the cursor is."""
        name = "row-table--cursor" if cursor_state == 2 else "row-table--cursor-blurred"
        cursor = self.get_component_rich_style(name)
        return Strip(Segment.apply_style(strip, post_style=cursor), strip.cell_length)

    def on_resize(self, event: events.Resize) -> None:
        self._layout_width = -1
        self._invalidate()
        self._clamp_top()
        self._update_subtitle()
        self.refresh()

    def on_focus(self, event: events.Focus) -> None:
        self._refresh_changed_lines()

    def on_blur(self, event: events.Blur) -> None:
        self._refresh_changed_lines()

    # -- moving around ------------------------------------------------------------
    def scroll_rows(self, delta: int) -> None:
        old = self.top
        self.top += delta
        self._clamp_top()
        if self.top != old:
            self._update_subtitle()
            self.refresh()

    def move_cursor(self, index: int) -> None:
        if not self.SHOW_CURSOR:
            self.scroll_rows(index - self.top)
            return
        if not self._rows:
            return
        self.cursor = min(max(index, 0), len(self._rows) - 1)
        self._cursor_key = self.row_key(self._rows[self.cursor])
        shown = max(self.visible_rows, 1)
        if self.cursor < self.top:
            self.scroll_rows(self.cursor - self.top)
        elif self.cursor >= self.top + shown:
            self.scroll_rows(self.cursor - shown + 1 - self.top)
        self._refresh_changed_lines()

    def _position(self) -> int:
        return self.cursor if self.SHOW_CURSOR else self.top

    def action_cursor_up(self) -> None:
        self.move_cursor(self._position() - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._position() + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._position() - max(self.visible_rows - 1, 1))

    def action_page_down(self) -> None:
        self.move_cursor(self._position() + max(self.visible_rows - 1, 1))

    def action_first_row(self) -> None:
        self.move_cursor(0)

    def action_last_row(self) -> None:
        self.move_cursor(len(self._rows) - 1)

    def action_choose(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.RowChosen(self, self.row_key(row)))  # type: ignore[arg-type]

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_rows(WHEEL_ROWS)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_rows(-WHEEL_ROWS)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = self.top + offset.y - 1
        if index < len(self._rows):
            self.move_cursor(index)
            if event.chain >= 2:
                self.action_choose()
