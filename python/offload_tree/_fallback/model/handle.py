"""Handles: the bit layout of the 64-bit names of state objects, and tree ids
(docs/DESIGN.md §2; ``crates/core/src/model/handle.rs``).

A handle packs the tree id, the layer, the slot and the slot's generation, so a handle of a
removed object (its slot freed, its generation moved on) is recognised as stale even after
the slot is reused.
"""

from __future__ import annotations

__all__ = [
    "GENERATION_LIMIT",
    "LAYER_SHIFT",
    "NEIGHBOR",
    "PATH",
    "SLOT_MASK",
    "TCP",
    "TREE_ID_SHIFT",
    "handle_generation",
    "handle_layer",
    "handle_slot",
    "handle_tree_id",
    "pack_handle",
]

#: The layers, bottom to top (``Layer`` values).
NEIGHBOR, PATH, TCP = 0, 1, 2

TREE_ID_SHIFT = 48
LAYER_SHIFT = 46
GENERATION_SHIFT = 32
GENERATION_LIMIT = 1 << 14  # generations are 14 bits: 0..16383
SLOT_MASK = 0xFFFF_FFFF


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
