"""Reading the tree without changing it: counts, walks, the block list an offload would
send, an object's variables, and the target's links (``crates/core/src/engine/read.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..host.blocks import BlockList, build
from ..host.walk import walk_all, walk_roots
from ..model.state import state_dict

if TYPE_CHECKING:
    from . import Engine

__all__ = ["block_list", "count", "handles", "state", "target_links", "walk"]


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
