"""Textual bindings from the key table (`viewmodels/keys.py`): every widget and screen takes its keys here."""

from __future__ import annotations

from textual.binding import Binding

from viewmodels.keys import KEYMAP, Scope


def bindings(scope: Scope) -> list[Binding]:
    """Textual bindings for one scope, with ids so users can remap them (`App.set_keymap`)."""
    result: list[Binding] = []
    for command in KEYMAP:
        if command.scope is not scope:
            continue
        if command.per_key:
            for key in command.keys.split(","):
                result.append(
                    Binding(
                        key,
                        command.action.format(key=key),
                        command.label,
                        show=command.show,
                        priority=command.priority,
                        id=f"{command.id}-{key}",
                    )
                )
        else:
            result.append(
                Binding(
                    command.keys,
                    command.action,
                    command.label,
                    show=command.show,
                    priority=command.priority,
                    tooltip=command.help,
                    id=command.id,
                )
            )
    return result
