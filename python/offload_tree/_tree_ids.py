"""Tree ids, unique among the live trees of both backends in this process.

A handle carries its tree's id in bits 63..48 so that a tree can refuse another tree's
handles; that works only while no two live trees share an id. Both engines take the id they
are given from here, so a native tree and a fallback tree never collide, and an id comes back
only when the engine that held it is gone (not when its ``OffloadStateTree`` is: the
``SimulatedTarget`` keeps driving the engine). Ids are handed out round-robin from the last
one given, so a freed id is reused as late as possible: a stale handle of a dead tree is
unlikely to name a live one.
"""

from __future__ import annotations

import threading
import weakref

from ._errors import StateError

__all__ = ["TREE_ID_MAX", "acquire", "bind", "live_count"]

#: Ids are 16 bits; 0 is never used, so that no valid handle is 0.
TREE_ID_MAX = 0xFFFF

_lock = threading.Lock()
_live: set[int] = set()
_last = 0


def acquire() -> int:
    """A tree id no live tree has; ``StateError`` when all 65,535 are taken."""
    global _last
    with _lock:
        for step in range(1, TREE_ID_MAX + 1):
            candidate = (_last + step - 1) % TREE_ID_MAX + 1
            if candidate not in _live:
                _live.add(candidate)
                _last = candidate
                return candidate
    raise StateError(
        f"no free tree id: {TREE_ID_MAX:,} trees are alive in this process (ids are 16 bits); "
        "drop some trees and their targets first"
    )


def release(tree_id: int) -> None:
    """Give ``tree_id`` back (its engine is gone)."""
    with _lock:
        _live.discard(tree_id)


def bind(engine: object, tree_id: int) -> None:
    """Give ``tree_id`` back when ``engine`` is garbage-collected."""
    weakref.finalize(engine, release, tree_id)


def live_count() -> int:
    """How many tree ids are taken now."""
    with _lock:
        return len(_live)
