"""Tree ids, unique among the live trees of both backends in this process.

A handle carries its tree's id in bits 63..48 so that a tree can refuse another tree's
handles; that works only while no two live trees share an id. Both engines take the id they
are given from here, so a native tree and a fallback tree never collide, and an id comes back
when the engine that held it is gone: with its ``OffloadStateTree`` (the tree's
``SimulatedTarget`` lets go of the engine then), unless a result still holds it. Ids are
handed out round-robin from the last one given, so a freed id is reused as late as possible:
a stale handle of a dead tree is unlikely to name a live one. Id 0 is never given, so that
no handle is 0 and a small int is never any tree's handle.

A tree restored from a snapshot (a copy, an unpickled or loaded tree) keeps its id, so that
its handles are the original's: the id is then shared, and comes back when the last engine
holding it is gone. Only trees of one *family* (a tree and its copies, which a snapshot file
names by a random token) share an id: a file loaded where an unrelated tree holds its id gets
a fresh one, so that the unrelated tree's handles are never taken for its own.
"""

from __future__ import annotations

import secrets
import threading
import weakref

from ._errors import StateError

__all__ = ["TREE_ID_MAX", "acquire", "bind", "family_of", "live_count", "share"]

#: Ids are 16 bits; 0 is never used, so that no valid handle is 0.
TREE_ID_MAX = 0xFFFF

_lock = threading.Lock()
_live: dict[int, int] = {}  # id -> how many live engines hold it
_families: dict[int, int] = {}  # id -> the family token of the trees holding it
_last = 0


def acquire(family: int | None = None) -> int:
    """A tree id no live tree has, for a new family (``family``: its token, else a new
    random one); ``StateError`` when all 65,535 are taken."""
    global _last
    token = secrets.randbits(63) if family is None else family
    with _lock:
        for step in range(1, TREE_ID_MAX + 1):
            candidate = (_last + step - 1) % TREE_ID_MAX + 1
            if candidate not in _live:
                _live[candidate] = 1
                _families[candidate] = token
                _last = candidate
                return candidate
    raise StateError(
        f"no free tree id: {TREE_ID_MAX:,} trees are alive in this process (ids are 16 bits); "
        "drop some trees and their targets first"
    )


def share(tree_id: int, family: int) -> int:
    """The id a restored tree of ``family`` takes: ``tree_id`` when it is free or held by
    that family (then shared), else a fresh one."""
    with _lock:
        holder = _families.get(tree_id)
        if tree_id in _live and holder == family:
            _live[tree_id] += 1
            return tree_id
        if tree_id not in _live:
            _live[tree_id] = 1
            _families[tree_id] = family
            return tree_id
    return acquire(family)


def family_of(tree_id: int) -> int:
    """The family token of the live trees holding ``tree_id``."""
    with _lock:
        return _families[tree_id]


def release(tree_id: int) -> None:
    """Give ``tree_id`` back (one engine holding it is gone)."""
    with _lock:
        left = _live.get(tree_id, 0) - 1
        if left > 0:
            _live[tree_id] = left
        else:
            _live.pop(tree_id, None)
            _families.pop(tree_id, None)


def bind(engine: object, tree_id: int) -> None:
    """Give ``tree_id`` back when ``engine`` is garbage-collected."""
    weakref.finalize(engine, release, tree_id)


def live_count() -> int:
    """How many tree ids are taken now."""
    with _lock:
        return len(_live)
