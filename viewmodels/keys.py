"""Every key of the console in one table; bindings, help and the command palette are built from it.

Plain data, no Textual: `widgets.bindings` turns a scope's rows into Textual bindings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    """Where a key works; also the help screen's sections, in this order."""

    GLOBAL = "Everywhere (a dialog takes only ctrl+k, ! and ctrl+p)"
    DASHBOARD = "Dashboard"
    PANE = "Any list pane"
    STRATEGIES = "Strategies pane"
    ORDERS = "Orders pane"
    DETAIL = "Strategy detail and order trace"
    STRATEGY_DETAIL = "Strategy detail"
    CONFIRM = "Confirmation dialogs"
    LIVE_CONFIRM = "Live orders confirmation (type LIVE or your Zerodha user id, then enter)"
    FLATTEN = "Flatten dialog"
    LOGIN = "Broker login dialog"
    REPLAY = "Replay screen"
    AUDIT = "Audit log"
    HELP = "This help"


@dataclass(frozen=True, slots=True)
class KeyCommand:
    id: str
    keys: str  # Textual key names, comma separated
    action: str  # an action string; "{key}" is replaced by the key when `per_key`
    label: str  # short, for the footer
    help: str  # one sentence, for the help screen and the command palette
    scope: Scope
    show: bool = True  # in the footer
    priority: bool = False  # works even when a widget would take the key
    palette: bool = False  # offered in the command palette (which runs the same app action)
    per_key: bool = False  # one binding per key, the key filled into the action
    display: str = ""  # how the keys read in help; default: the keys themselves
    destructive: bool = False  # debounced, and confirmed before it acts
    acts: bool = False  # changes the engine: hidden, and refused, in a read-only console
    shared_help: str = ""  # help's one line for this and the next commands on the same keys

    @property
    def shown_keys(self) -> str:
        if self.display:
            return self.display
        return " / ".join(_KEY_NAMES.get(k, k) for k in self.keys.split(","))


_KEY_NAMES = {
    "exclamation_mark": "!",
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "space": "space",
}

KEYMAP: tuple[KeyCommand, ...] = (
    # -- everywhere ---------------------------------------------------------------
    KeyCommand(
        "kill-switch",
        "ctrl+k,exclamation_mark",
        "kill_switch",
        "Halt",
        "Kill switch: halt all trading now (asks to confirm)",
        Scope.GLOBAL,
        priority=True,
        palette=True,
        destructive=True,
        acts=True,
    ),
    KeyCommand(
        "resume-trading",
        "R",
        "resume_trading",
        "Resume",
        "Resume trading after a halt (asks to confirm)",
        Scope.GLOBAL,
        palette=True,
        destructive=True,
        acts=True,
    ),
    KeyCommand(
        "flatten",
        "F",
        "flatten",
        "Flatten",
        "Flatten: close positions with MARKET orders: all, the selected strategy's or one symbol's",
        Scope.GLOBAL,
        show=False,
        palette=True,
        destructive=True,
        acts=True,
    ),
    KeyCommand(
        "confirm-live",
        "ctrl+l",
        "confirm_live",
        "Confirm live",
        "Allow live orders: type LIVE (or your Zerodha user id) to let them reach Kite",
        Scope.GLOBAL,
        show=False,
        palette=True,
        acts=True,
    ),
    KeyCommand(
        "pause-feed",
        "p",
        "pause_feed",
        "Pause feed",
        "Pause the market feed",
        Scope.GLOBAL,
        palette=True,
        acts=True,
        shared_help="Pause the market feed, or resume it when paused",
    ),
    KeyCommand(
        "resume-feed",
        "p",
        "resume_feed",
        "Resume feed",
        "Resume the market feed",
        Scope.GLOBAL,
        palette=True,
        acts=True,
    ),
    KeyCommand(
        "toggle-strategy",
        "1,2,3,4,5,6,7,8,9",
        "toggle_strategy({key})",
        "Toggle",
        "Turn strategy 1-9 (the strategies pane's #) on or off; turning on a LIVE one asks first",
        Scope.GLOBAL,
        show=False,
        per_key=True,
        display="1-9",
        acts=True,
    ),
    KeyCommand(
        "reset-latches",
        "L",
        "reset_latches",
        "Reset latches",
        "Reset every daily-loss latch (asks to confirm)",
        Scope.GLOBAL,
        palette=True,
        destructive=True,
        acts=True,
    ),
    KeyCommand(
        "acknowledge-mismatch",
        "M",
        "acknowledge_mismatch",
        "Ack mismatch",
        "Acknowledge a live position mismatch: the strategies it held trade again (asks to confirm)",
        Scope.GLOBAL,
        palette=True,
        destructive=True,
        acts=True,
    ),
    KeyCommand(
        "strategy-detail",
        "s",
        "strategy_detail",
        "Strategy",
        "Open the selected strategy: params, instruments, signals, P&L chart",
        Scope.GLOBAL,
        show=False,
        palette=True,
    ),
    KeyCommand(
        "order-trace",
        "t",
        "order_trace",
        "Trace",
        "Trace the selected order: tick, signal, risk decision, order, fills",
        Scope.GLOBAL,
        show=False,
        palette=True,
    ),
    KeyCommand(
        "cancel-order",
        "c",
        "cancel_order",
        "Cancel order",
        "Cancel the selected open order",
        Scope.GLOBAL,
        show=False,
        palette=True,
        destructive=True,
        acts=True,
    ),
    KeyCommand(
        "broker-login",
        "b",
        "broker_login",
        "Login",
        "Zerodha login: API key, secret and request token",
        Scope.GLOBAL,
        show=False,
        palette=True,
        acts=True,
    ),
    KeyCommand(
        "audit-log",
        "A",
        "audit_log",
        "Audit",
        "Show the audit log of live actions: placed, cancelled, halted, flattened, logged in, confirmed",
        Scope.GLOBAL,
        show=False,
        palette=True,
    ),
    KeyCommand(
        "replay-file",
        "ctrl+o",
        "replay_file",
        "Replay",
        "Replay a tick file through the pipeline and show its report",
        Scope.GLOBAL,
        show=False,
        palette=True,
    ),
    KeyCommand(
        "next-view",
        "right_square_bracket",
        "next_view",
        "Next view",
        "Show the next view (small terminals show one group of panes at a time)",
        Scope.GLOBAL,
        palette=True,
    ),
    KeyCommand(
        "previous-view",
        "left_square_bracket",
        "previous_view",
        "Prev view",
        "Show the previous view",
        Scope.GLOBAL,
        show=False,
        palette=True,
    ),
    KeyCommand("help", "question_mark,f1", "help", "Help", "List every key", Scope.GLOBAL, palette=True),
    KeyCommand(
        "command-palette",
        "ctrl+p",
        "command_palette",
        "Commands",
        "Search and run any command",
        Scope.GLOBAL,
        show=False,
        priority=True,
    ),
    KeyCommand(
        "detach",
        "D",
        "detach",
        "Detach",
        "Detach: close the console and leave the engine running (attach again with `alpha-panda-tui attach`)",
        Scope.GLOBAL,
        palette=True,
    ),
    KeyCommand(
        "stop-engine",
        "X",
        "stop_engine",
        "Stop engine",
        "Stop the engine: it stops trading, flushes and exits (asks to confirm, naming the engine)",
        Scope.GLOBAL,
        show=False,
        palette=True,
        destructive=True,
        acts=True,
    ),
    KeyCommand(
        "quit",
        "q",
        "quit",
        "Quit",
        (
            "Quit: close the console; an engine it runs stops cleanly (asking first while positions "
            "are open or orders work), an engine it is attached to keeps running"
        ),
        Scope.GLOBAL,
        palette=True,
        display="q / ctrl+q",
    ),
    # -- dashboard ------------------------------------------------------------------
    KeyCommand(
        "next-pane", "tab", "next_pane", "Next pane", "Focus the next pane", Scope.DASHBOARD, show=False
    ),
    KeyCommand(
        "previous-pane",
        "shift+tab",
        "previous_pane",
        "Prev pane",
        "Focus the previous pane",
        Scope.DASHBOARD,
        show=False,
    ),
    # -- list panes -------------------------------------------------------------------
    KeyCommand("cursor-up", "up,k", "cursor_up", "Up", "Move up", Scope.PANE, show=False),
    KeyCommand("cursor-down", "down,j", "cursor_down", "Down", "Move down", Scope.PANE, show=False),
    KeyCommand("page-up", "pageup", "page_up", "Page up", "Page up", Scope.PANE, show=False),
    KeyCommand("page-down", "pagedown", "page_down", "Page down", "Page down", Scope.PANE, show=False),
    KeyCommand("first-row", "home", "first_row", "First", "First row", Scope.PANE, show=False),
    KeyCommand("last-row", "end", "last_row", "Last", "Last row", Scope.PANE, show=False),
    KeyCommand(
        "choose-row", "enter", "choose", "Open", "Open the row under the cursor", Scope.PANE, show=False
    ),
    KeyCommand(
        "toggle-selected",
        "space,enter",
        "toggle_selected",
        "On/off",
        "Turn the strategy under the cursor on or off",
        Scope.STRATEGIES,
        show=False,  # the pane's border says so: the footer stays the same from pane to pane
        acts=True,
    ),
    KeyCommand(
        "trace-selected",
        "enter",
        "choose",
        "Trace",
        "Trace the order under the cursor",
        Scope.ORDERS,
        show=False,  # the pane's border says so
    ),
    # -- detail screens ---------------------------------------------------------------
    KeyCommand("back", "escape", "back", "Back", "Back to the dashboard", Scope.DETAIL),
    KeyCommand(
        "detail-toggle",
        "space",
        "toggle_this",
        "On/off",
        "Turn this strategy on or off",
        Scope.STRATEGY_DETAIL,
        acts=True,
    ),
    # -- dialogs ----------------------------------------------------------------------
    KeyCommand("confirm-yes", "y", "confirm", "Yes", "Confirm", Scope.CONFIRM),
    KeyCommand("confirm-no", "n,escape", "cancel", "No", "Cancel", Scope.CONFIRM),
    KeyCommand(
        "live-confirm-cancel", "escape", "cancel", "Keep off", "Keep live orders off", Scope.LIVE_CONFIRM
    ),
    KeyCommand("flatten-all", "a", "flatten_all", "All", "Flatten every position", Scope.FLATTEN),
    KeyCommand(
        "flatten-strategy",
        "s",
        "flatten_strategy",
        "Strategy",
        "Flatten the selected strategy",
        Scope.FLATTEN,
    ),
    KeyCommand("flatten-cancel", "escape", "cancel", "Cancel", "Close without flattening", Scope.FLATTEN),
    KeyCommand(
        "login-reveal",
        "ctrl+r",
        "toggle_secret",
        "Show/hide secret",
        "Show or hide the API secret",
        Scope.LOGIN,
    ),
    KeyCommand("login-cancel", "escape", "cancel", "Cancel", "Close the dialog", Scope.LOGIN),
    KeyCommand(
        "replay-back",
        "escape,q",
        "back",
        "Back",
        "Stop the replay (if it runs) and go back",
        Scope.REPLAY,
    ),
    KeyCommand(
        "replay-view", "v", "toggle_view", "Panes/report", "Show the panes or the report", Scope.REPLAY
    ),
    KeyCommand("audit-close", "escape,q", "close", "Close", "Close the audit log", Scope.AUDIT),
    KeyCommand("help-close", "escape,q,question_mark,f1", "close", "Close", "Close this help", Scope.HELP),
)

BY_ID: dict[str, KeyCommand] = {c.id: c for c in KEYMAP}
if len(BY_ID) != len(KEYMAP):
    raise RuntimeError("duplicate key command ids in KEYMAP")


def palette_commands() -> list[KeyCommand]:
    return [c for c in KEYMAP if c.palette]


@dataclass(frozen=True, slots=True)
class HelpLine:
    keys: str
    help: str
    palette: bool
    confirms: bool
    priority: bool


def help_sections() -> list[tuple[Scope, list[HelpLine]]]:
    """Help's lines by scope: commands on the same keys (pause and resume the feed) share one line."""
    sections: list[tuple[Scope, list[HelpLine]]] = []
    for scope in Scope:
        lines: dict[str, HelpLine] = {}
        for command in KEYMAP:
            if command.scope is not scope:
                continue
            keys = command.shown_keys
            if keys in lines:
                continue  # said by the first command on these keys (its shared_help)
            lines[keys] = HelpLine(
                keys=keys,
                help=command.shared_help or command.help,
                palette=command.palette,
                confirms=command.destructive and command.action != "cancel_order",
                priority=command.priority,
            )
        sections.append((scope, list(lines.values())))
    return sections


def keys_markdown() -> str:
    """docs/keys.md, from the same table (regenerate it with `python -m viewmodels.keys`)."""
    lines = [
        "# Keys",
        "",
        "Every key of the console, by where it works. The help screen (`?` or F1) and the command",
        "palette (ctrl+p) are built from the same table (`viewmodels/keys.py`); commands marked",
        "*palette* can also be searched and run from the palette. Destructive commands ask to confirm",
        "and ignore a repeat within 0.6 s.",
    ]
    for scope, commands in help_sections():
        if not commands:
            continue
        lines += ["", f"## {scope.value}", "", "| Keys | Does | |", "|---|---|---|"]
        for line in commands:
            keys = " / ".join(f"`{k.strip()}`" for k in line.keys.split(" / "))
            notes = ", ".join(
                note
                for note, flag in (
                    ("palette", line.palette),
                    ("confirms", line.confirms),
                    ("works in dialogs too", line.priority),
                )
                if flag
            )
            lines.append(f"| {keys} | {line.help} | {notes} |")
    return "\n".join(lines) + "\n"


DEBOUNCE_S = 0.6


class Debounce:
    """Ignores a repeat of the same destructive key within a short window (a held or bounced key)."""

    def __init__(self, window_s: float = DEBOUNCE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._last: dict[str, float] = {}

    def allow(self, name: str) -> bool:
        now = self._clock()
        last = self._last.get(name)
        if last is not None and now - last < self.window_s:
            return False
        self._last[name] = now
        return True


if __name__ == "__main__":
    print(keys_markdown(), end="")
