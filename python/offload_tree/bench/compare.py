"""Result equality across implementations: every operation's observable result as columns.

An adapter whose results can be compared with offload-tree's (``Adapter.comparable``) turns
each operation's result into a dict of NumPy columns (``Adapter.canonical``); this module does
that for offload-tree's own result objects (:func:`canonical_offload_tree`) and compares two
such dicts (:func:`differences`). All of it runs outside the timing.

The columns per operation:

* build: ``neighbors``, ``paths``, ``tcps`` (the handles each batch add returned);
* walk: ``handles``;
* offload_all: the block list's seven arrays (``layers``, ``handles``, ``depths``,
  ``referenced``, ``next``, ``dependent``, ``statuses``) and ``released``;
* query_all: ``handles``, ``statuses``, ``terminated`` and one ``delegated.<name>`` column per
  delegated TCP variable;
* update_mtu: ``handles``, ``statuses``, ``reasons``, ``terminated``;
* terminate_1pct: ``handles`` (upload order), ``statuses`` and ``delegated.<name>`` columns over
  every uploaded object, :data:`ABSENT` where the object's layer has no such variable (a path
  has none, a neighbor only ``nic_reachability_delta``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from offload_tree._fields import DELEGATED, TCP_FIELDS

__all__ = [
    "ABSENT",
    "HANDLE_COLUMNS",
    "canonical_offload_tree",
    "differences",
    "handle_layers",
    "tree_id_of",
]

#: The value of a ``delegated.<name>`` column where the object has no such variable.
ABSENT = -1
#: Columns that hold handles: compared without their tree-id bits when asked to.
HANDLE_COLUMNS = frozenset({"neighbors", "paths", "tcps", "handles", "released", "terminated"})
#: Bits 47..0 of a handle: layer, generation and slot, without the tree id.
NO_TREE_MASK = np.uint64((1 << 48) - 1)

_TCP_DELEGATED = tuple(s.name for s in TCP_FIELDS if s.kind == DELEGATED)
_TERMINATE_DELEGATED = (*_TCP_DELEGATED, "nic_reachability_delta")


def handle_layers(handles: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """The layer bits (47..46) of each handle."""
    h = np.asarray(handles, dtype=np.uint64)
    layers: npt.NDArray[np.uint8] = ((h >> np.uint64(46)) & np.uint64(3)).astype(np.uint8)
    return layers


def tree_id_of(handles: npt.ArrayLike) -> int | None:
    """The tree id (bits 63..48) of the first handle, or None for an empty array."""
    h = np.asarray(handles, dtype=np.uint64)
    return int(h[0]) >> 48 if len(h) else None


def _outcome_columns(outcome: Any, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``delegated.<name>`` columns of an engine outcome, read object by object."""
    n = len(outcome)
    columns = {name: np.full(n, ABSENT, dtype=np.int64) for name in names}
    for i in range(n):
        for name, value in outcome.delegated_at(i).items():
            columns[name][i] = value
    return {f"delegated.{name}": col for name, col in columns.items()}


def canonical_offload_tree(op: str, result: Any) -> dict[str, np.ndarray]:
    """The columns of an offload-tree result of ``op`` (either backend).

    ``build`` takes the ``(neighbors, paths, tcps)`` handle arrays the adapter returns.
    Private arrays of a ``BlockList`` (depths, links) are read directly: they are what its
    ``Block`` objects are made of, and materialising a million blocks would only be slower.
    """
    if op == "build":
        neighbors, paths, tcps = result
        return {"neighbors": neighbors, "paths": paths, "tcps": tcps}
    if op == "walk":
        return {"handles": np.asarray(result)}
    if op == "offload_all":
        blocks = result.blocks
        return {
            "layers": blocks.layers, "handles": blocks.handles, "depths": blocks._depths,
            "referenced": blocks.referenced, "next": blocks._next,
            "dependent": blocks._dependent, "statuses": blocks.statuses,
            "released": result.released.terminated,
        }  # fmt: skip
    if op == "query_all":
        columns = {
            "handles": result.handles,
            "statuses": result.statuses,
            "terminated": result.terminated,
        }
        columns.update(_outcome_columns(result._outcome, _TCP_DELEGATED))
        return columns
    if op == "update_mtu":
        return {
            "handles": result.handles, "statuses": result.statuses, "reasons": result.reasons,
            "terminated": result.terminated,
        }  # fmt: skip
    if op == "terminate_1pct":
        columns = {"handles": result.terminated, "statuses": result.statuses}
        columns.update(_outcome_columns(result._outcome, _TERMINATE_DELEGATED))
        return columns
    raise ValueError(f"unknown operation {op!r}")


def differences(
    op: str,
    reference: dict[str, np.ndarray],
    got: dict[str, np.ndarray],
    ignore_tree_id: bool = False,
    limit: int = 5,
) -> list[str]:
    """How ``got`` differs from ``reference`` (empty when equal), at most ``limit`` lines.

    Columns must be the same set, of the same length, and equal element by element; values
    are compared as integers, so a uint8 status equals an int64 one. ``ignore_tree_id``
    compares handle columns without bits 63..48 (two trees of different ids).
    """
    out: list[str] = []
    if set(reference) != set(got):
        missing = sorted(set(reference) - set(got))
        extra = sorted(set(got) - set(reference))
        out.append(f"{op}: columns differ (missing {missing}, unexpected {extra})")
    for name in reference:
        if name not in got or len(out) >= limit:
            continue
        a = np.asarray(reference[name])
        b = np.asarray(got[name])
        if a.shape != b.shape:
            out.append(f"{op}.{name}: length {b.shape} where the reference has {a.shape}")
            continue
        if name in HANDLE_COLUMNS and ignore_tree_id:
            a = a.astype(np.uint64) & NO_TREE_MASK
            b = b.astype(np.uint64) & NO_TREE_MASK
        if a.dtype == np.uint64 or b.dtype == np.uint64:
            a, b = a.astype(np.uint64), b.astype(np.uint64)
        else:
            a, b = a.astype(np.int64), b.astype(np.int64)
        unequal = np.flatnonzero(a != b)
        if len(unequal):
            i = int(unequal[0])
            out.append(
                f"{op}.{name}: {len(unequal)} of {len(a)} values differ, first at [{i}]: "
                f"{_show(b[i], name)} where the reference has {_show(a[i], name)}"
            )
    return out[:limit]


def _show(value: Any, name: str) -> str:
    return f"0x{int(value):016x}" if name in HANDLE_COLUMNS else str(int(value))
