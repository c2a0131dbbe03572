"""Reading the tree without changing it: counts, walks, the block list an offload would
send, an object's variables, and the target's links (``crates/core/src/engine/read.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..._fields import CACHED, CONSTANT, DELEGATED, FIELDS, IP, MAC
from ..host.blocks import BlockList, build
from ..host.walk import walk_all, walk_roots
from ..model.fields import LAYOUTS
from ..model.state import state_dict

if TYPE_CHECKING:
    from . import Engine

__all__ = ["block_list", "count", "edges", "handles", "state", "states", "target_links", "walk"]

_NO_MAC = 2**64 - 1


def count(e: Engine, layer: int | None, offloaded: bool | None) -> int:
    """The number of live objects, of one layer and/or one offload state when given."""
    layers = (0, 1, 2) if layer is None else (layer,)
    total = 0
    for each in layers:
        live, off = e.host.live(each), e.host.offloaded[each]
        total += live if offloaded is None else off if offloaded else live - off
    return total


def handles(e: Engine, layer: int | None) -> list[int]:
    """The live handles in pre-order, of one layer when given."""
    nodes = walk_all(e.host, post=False)
    return [node.handle for node in nodes if layer is None or node.layer == layer]


def walk(e: Engine, post: bool, roots: list[int] | None) -> list[int]:
    """The whole tree, or the subtrees of ``roots``, in pre- or post-order."""
    if roots is None:
        return [node.handle for node in walk_all(e.host, post)]
    return [node.handle for node in walk_roots(e.resolve_all(roots), post)]


def block_list(e: Engine, requested: list[int]) -> BlockList:
    """The block list an offload of ``requested`` would send, without sending it."""
    nodes = e.resolve_all(requested)
    return build(nodes)


def state(e: Engine, h: int) -> dict[str, Any]:
    """The host copy of ``h``'s variables, after its handle, layer and offload state."""
    node = e.host.resolve(h)
    invalidated = node.offloaded and e.target.is_invalid(node.handle)
    values = (node.const, node.cached, node.delegated)
    return state_dict(node.handle, node.layer, node.offloaded, invalidated, values)


def target_links(e: Engine) -> tuple[list[int], list[int]]:
    """Every object the target holds, in walk pre-order, and aligned with it the handle of
    the object its context is linked to (0 for a neighbor)."""
    contexts = e.target.contexts
    out: list[int] = []
    parents: list[int] = []
    for node in walk_all(e.host, post=False):
        context = contexts.get(node.handle)
        if context is not None:
            out.append(node.handle)
            parents.append(0 if context.parent is None else context.parent.handle)
    return out, parents


def states(e: Engine, layer: int) -> dict[str, npt.NDArray[Any]]:
    """Every object of ``layer`` as columns, in walk pre-order: ``handle``, ``parent`` (0 for
    a neighbor), ``offloaded``, ``invalidated``, then one column per variable (MACs as
    48-bit integers, ``source_mac`` all ones when unset; a path's addresses as ``family``
    and 16 octets a row)."""
    nodes = [node for node in walk_all(e.host, post=False) if node.layer == layer]
    columns: dict[str, npt.NDArray[Any]] = {
        "handle": np.array([node.handle for node in nodes], dtype=np.uint64),
        "parent": np.array([0 if node.parent is None else node.parent.handle for node in nodes],
                           dtype=np.uint64),
        "offloaded": np.array([node.offloaded for node in nodes], dtype=np.bool_),
        "invalidated": np.array([node.offloaded and e.target.is_invalid(node.handle)
                                 for node in nodes], dtype=np.bool_),
    }  # fmt: skip
    values: dict[str, list[Any]] = {}
    layout = LAYOUTS[layer]
    for k, kind in enumerate((CONSTANT, CACHED, DELEGATED)):
        for j, spec in enumerate(layout.by_kind[kind]):
            values[spec.name] = [_values(node, k)[j] for node in nodes]
    for spec in FIELDS[layer]:
        column = values[spec.name]
        if spec.value_type == MAC:
            columns[spec.name] = np.array(
                [_NO_MAC if v is None else v for v in column], dtype=np.uint64
            )
        elif spec.value_type == IP:
            if "family" not in columns:
                columns["family"] = np.array(
                    [4 if len(bytes(v)) == 4 else 6 for v in column], dtype=np.uint8
                )
            octets = b"".join(bytes(v).ljust(16, b"\0") for v in column)
            columns[spec.name] = np.frombuffer(octets, dtype=np.uint8).copy()
        else:
            columns[spec.name] = np.array(column, dtype=spec.dtype)
    return columns


def _values(node: Any, kind: int) -> tuple[Any, ...]:
    return (node.const, node.cached, node.delegated)[kind]  # type: ignore[no-any-return]


def edges(e: Engine) -> tuple[list[int], list[int]]:
    """Every path and connection in walk pre-order, and the object it depends on."""
    dependents: list[int] = []
    parents: list[int] = []
    for node in walk_all(e.host, post=False):
        if node.parent is not None:
            dependents.append(node.handle)
            parents.append(node.parent.handle)
    return dependents, parents
