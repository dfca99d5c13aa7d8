"""A pane model's revision moves by itself when one of its mutators ran, and only then."""

from __future__ import annotations

from viewmodels.revision import Revised, changes


class Counter(Revised):
    def __init__(self) -> None:
        super().__init__()
        self.value = 0

    @changes
    def add(self, n: int) -> None:
        self.value += n

    @changes
    def set(self, value: int) -> bool:
        if value == self.value:
            return False
        self.value = value
        return True


def test_a_mutator_moves_the_revision_once_per_call() -> None:
    counter = Counter()
    assert counter.revision == 0
    counter.add(2)
    counter.add(3)
    assert (counter.value, counter.revision) == (5, 2)


def test_a_mutator_that_finds_nothing_to_change_leaves_the_revision() -> None:
    counter = Counter()
    assert counter.set(0) is False
    assert counter.revision == 0
    assert counter.set(7) is True
    assert (counter.value, counter.revision) == (7, 1)


def test_each_model_has_its_own_revision() -> None:
    a, b = Counter(), Counter()
    a.add(1)
    assert (a.revision, b.revision) == (1, 0)
