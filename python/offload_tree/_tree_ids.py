"""Tree ids, unique among the live trees of both backends in this process.

A handle carries its tree's id in bits 63..48 so that a tree can refuse another tree's
handles; that works only while no two live trees share an id. Both engines take the id they
are given from here, so a native tree and a fallback tree never collide, and an id comes back
only when the engine that held it is gone (not when its ``OffloadStateTree`` is: the
``SimulatedTarget`` keeps driving the engine). Ids are handed out round-robin from the last
one given, so a freed id is reused as late as possible: a stale handle of a dead tree is
unlikely to name a live one.

A tree restored from a snapshot (a copy, an unpickled or loaded tree) keeps its id, so that
its handles are the original's: the id is then shared, and comes back when the last engine
holding it is gone.
"""

from __future__ import annotations

import threading
import weakref

from ._errors import StateError

__all__ = ["TREE_ID_MAX", "acquire", "bind", "live_count", "share"]

#: Ids are 16 bits; 0 is never used, so that no valid handle is 0.
TREE_ID_MAX = 0xFFFF

_lock = threading.Lock()
_live: dict[int, int] = {}  # id -> how many live engines hold it
_last = 0


def acquire() -> int:
    """A tree id no live tree has; ``StateError`` when all 65,535 are taken."""
    global _last
    with _lock:
        for step in range(1, TREE_ID_MAX + 1):
            candidate = (_last + step - 1) % TREE_ID_MAX + 1
            if candidate not in _live:
                _live[candidate] = 1
                _last = candidate
                return candidate
    raise StateError(
        f"no free tree id: {TREE_ID_MAX:,} trees are alive in this process (ids are 16 bits); "
        "drop some trees and their targets first"
    )


def share(tree_id: int) -> None:
    """Take ``tree_id`` for one more engine (a restored tree), whether or not it is taken."""
    with _lock:
        _live[tree_id] = _live.get(tree_id, 0) + 1


def release(tree_id: int) -> None:
    """Give ``tree_id`` back (one engine holding it is gone)."""
    with _lock:
        left = _live.get(tree_id, 0) - 1
        if left > 0:
            _live[tree_id] = left
        else:
            _live.pop(tree_id, None)


def bind(engine: object, tree_id: int) -> None:
    """Give ``tree_id`` back when ``engine`` is garbage-collected."""
    weakref.finalize(engine, release, tree_id)


def live_count() -> int:
    """How many tree ids are taken now."""
    with _lock:
        return len(_live)
