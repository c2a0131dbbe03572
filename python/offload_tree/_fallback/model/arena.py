"""A generational arena: one per layer, holding that layer's objects in numbered slots
(docs/DESIGN.md §2; ``crates/core/src/model/arena.rs``).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from .handle import GENERATION_LIMIT

__all__ = ["Arena"]

T = TypeVar("T")


class Arena(Generic[T]):
    """Numbered slots with generations and a LIFO free list.

    A new item takes the most recently freed slot, or else a new slot at the end. Freeing a
    slot bumps its generation; a slot whose generation would reach 2**14 is retired instead
    (never reused), so a handle is never repeated.
    """

    __slots__ = ("free", "generations", "items", "live", "retired")

    def __init__(self) -> None:
        """An empty arena."""
        self.items: list[T | None] = []
        self.generations: list[int] = []
        self.free: list[int] = []  # a stack: the last freed slot is reused first
        self.live = 0
        self.retired = 0

    def peek(self) -> tuple[int, int]:
        """The ``(slot, generation)`` the next :meth:`allocate` returns."""
        if self.free:
            slot = self.free[-1]
            return slot, self.generations[slot]
        return len(self.items), 0

    def allocate(self) -> tuple[int, int]:
        """Reserve a slot; returns ``(slot, generation)``. Fill it with :meth:`put`."""
        if self.free:
            slot = self.free.pop()
        else:
            slot = len(self.items)
            self.items.append(None)
            self.generations.append(0)
        return slot, self.generations[slot]

    def put(self, slot: int, item: T) -> None:
        """Store ``item`` in a slot reserved by :meth:`allocate`."""
        self.items[slot] = item
        self.live += 1

    def mark(self) -> tuple[int, int, int]:
        """The arena's shape, for :meth:`restore` to undo the allocations that follow."""
        return len(self.items), len(self.free), self.live

    def restore(self, mark: tuple[int, int, int], slots: list[int]) -> None:
        """Undo whatever ran since ``mark`` of :meth:`allocate` and :meth:`put` for
        ``slots`` (in allocation order; the last may have stopped at any step), as if none
        of it had happened: new slots go, reused ones are free again in the same order."""
        items, free, live = mark
        del self.items[items:]
        del self.generations[items:]
        reused = [slot for slot in slots if slot < items]
        for slot in reused:
            self.items[slot] = None
        popped = free - len(self.free)  # the reused slots allocate() took off the stack
        self.free.extend(reversed(reused[:popped]))
        self.live = live

    def get(self, slot: int, generation: int) -> T | None:
        """The item in ``slot`` if the slot is occupied at ``generation``, else None."""
        if slot < len(self.items) and self.generations[slot] == generation:
            return self.items[slot]
        return None

    def release(self, slot: int) -> None:
        """Empty ``slot``: bump its generation and free it, or retire it when exhausted."""
        self.items[slot] = None
        self.live -= 1
        generation = self.generations[slot] + 1
        if generation == GENERATION_LIMIT:
            self.retired += 1  # stays empty forever: its handles may never come back
        else:
            self.generations[slot] = generation
            self.free.append(slot)
