"""Change tracking for the pane models: a `revision` that moves whenever the model changed.

A screen remembers the revision of each pane it last drew and repaints a pane only when it moved.
A model's mutators are marked `@changes`, so the revision moves by itself: no caller keeps a
counter by hand, and no mutator can forget to.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar


class Revised:
    """A model with a revision; its `@changes` methods move it."""

    def __init__(self) -> None:
        self.revision = 0


M = TypeVar("M", bound=Revised)
P = ParamSpec("P")
T = TypeVar("T")


def changes(method: Callable[Concatenate[M, P], T]) -> Callable[Concatenate[M, P], T]:
    """Mark a mutator: the model's revision moves once it returns, unless it returned False
    (it looked and found nothing to change)."""

    @functools.wraps(method)
    def mutator(self: M, /, *args: P.args, **kwargs: P.kwargs) -> T:
        result = method(self, *args, **kwargs)
        if result is not False:
            self.revision += 1
        return result

    return mutator
