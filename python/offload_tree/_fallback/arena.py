"""Generational arenas and the bit layout of handles (DESIGN.md section 2).

One arena per layer holds that layer's objects in numbered slots. A handle packs the tree
id, the layer, the slot and the slot's generation, so a handle of a removed object (its
slot freed, its generation moved on) is recognised as stale even after the slot is reused.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

__all__ = [
    "GENERATION_LIMIT",
    "Arena",
    "handle_generation",
    "handle_layer",
    "handle_slot",
    "handle_tree_id",
    "next_tree_id",
    "pack_handle",
]

TREE_ID_SHIFT = 48
LAYER_SHIFT = 46
GENERATION_SHIFT = 32
GENERATION_LIMIT = 1 << 14  # generations are 14 bits: 0..16383
SLOT_MASK = 0xFFFF_FFFF
TREE_ID_MAX = 0xFFFF


def pack_handle(tree_id: int, layer: int, generation: int, slot: int) -> int:
    """The handle of slot ``slot`` at ``generation`` in layer ``layer`` of tree ``tree_id``."""
    return (
        (tree_id << TREE_ID_SHIFT)
        | (layer << LAYER_SHIFT)
        | (generation << GENERATION_SHIFT)
        | slot
    )


def handle_tree_id(h: int) -> int:
    """Bits 63..48: the tree id."""
    return h >> TREE_ID_SHIFT


def handle_layer(h: int) -> int:
    """Bits 47..46: the layer (3 is never valid)."""
    return (h >> LAYER_SHIFT) & 3


def handle_generation(h: int) -> int:
    """Bits 45..32: the generation of the slot."""
    return (h >> GENERATION_SHIFT) & (GENERATION_LIMIT - 1)


def handle_slot(h: int) -> int:
    """Bits 31..0: the slot in the layer's arena."""
    return h & SLOT_MASK


_tree_id_lock = threading.Lock()
_last_tree_id = 0


def next_tree_id() -> int:
    """The next tree id of the Python backend: 1, 2, ..., 0xFFFF, then 1 again."""
    global _last_tree_id
    with _tree_id_lock:
        _last_tree_id = _last_tree_id % TREE_ID_MAX + 1
        return _last_tree_id


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
