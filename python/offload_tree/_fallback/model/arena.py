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
        """The arena's shape, for :meth:`restore` to undo one :meth:`allocate` and
        :meth:`put` stopped at any step."""
        return len(self.items), len(self.free), self.live

    def restore(self, mark: tuple[int, int, int], slot: int) -> None:
        """Undo whatever of ``allocate()``/``put(slot, ...)`` ran since ``mark``."""
        items, free, live = mark
        if slot >= items:  # a new slot: drop whatever was appended
            del self.items[items:]
            del self.generations[items:]
        else:
            self.items[slot] = None
            if len(self.free) < free:
                self.free.append(slot)
        self.live = live

    def unallocate(self, slot: int, fresh: bool) -> None:
        """Undo the latest :meth:`allocate` of ``slot`` (``fresh``: it made a new slot), as
        if it never happened: rolling back a batch, latest first, restores the arena exactly."""
        if self.items[slot] is not None:
            self.items[slot] = None
            self.live -= 1
        if fresh:
            self.items.pop()
            self.generations.pop()
        else:
            self.free.append(slot)

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
