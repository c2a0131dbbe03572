"""The host's offload state tree: objects, their links and traversals (DESIGN.md section 3).

Neighbors are kept in creation order, each object's dependents in insertion order. Both
are dicts keyed by handle: ordered like lists, but removing an object is O(1). The tree
has exactly three layers, so traversals are nested loops: no recursion, no depth limit.
"""

from __future__ import annotations

from typing import Any

from .._enums import Layer
from .._errors import InvalidHandleError
from .._handles import format_handle
from .arena import (
    LAYER_SHIFT,
    SLOT_MASK,
    TREE_ID_SHIFT,
    Arena,
    handle_layer,
    handle_tree_id,
    pack_handle,
)

__all__ = ["HostTree", "Node"]

NEIGHBOR, PATH, TCP = Layer.NEIGHBOR.value, Layer.PATH.value, Layer.TCP.value


class Node:
    """One state object on the host: its links and the host copy of its variables.

    ``children`` is None for a connection (the top layer has no dependents). ``offloaded``
    mirrors whether the target holds a context for the object.
    """

    __slots__ = (
        "cached",
        "children",
        "const",
        "delegated",
        "handle",
        "layer",
        "offloaded",
        "parent",
        "seq",
        "slot",
    )

    def __init__(
        self,
        handle: int,
        layer: int,
        slot: int,
        parent: Node | None,
        values: tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]],
        seq: int,
    ) -> None:
        """A new object, not offloaded, with no dependents yet."""
        self.handle = handle
        self.layer = layer
        self.slot = slot
        self.parent = parent
        self.children: dict[int, Node] | None = {} if layer != TCP else None
        self.const, self.cached, self.delegated = values
        self.offloaded = False
        self.seq = seq  # creation number: orders neighbors without scanning the tree

    def __repr__(self) -> str:
        return f"<Node {Layer(self.layer).name} {format_handle(self.handle)}>"


class HostTree:
    """All host objects of one tree: three arenas, the links, and traversal helpers."""

    __slots__ = ("_seq", "arenas", "neighbors", "tree_id")

    def __init__(self, tree_id: int) -> None:
        """An empty tree whose handles carry ``tree_id``."""
        self.tree_id = tree_id
        self.arenas: tuple[Arena[Node], Arena[Node], Arena[Node]] = (Arena(), Arena(), Arena())
        self.neighbors: dict[int, Node] = {}  # creation order
        self._seq = 0

    # -- handles
    def find(self, h: int) -> Node | None:
        """The live object of handle ``h`` (any int), or None."""
        # The hottest function of the engine, so the bit fields are decoded inline. A live
        # node stores its full handle: comparing it checks tree id, layer and generation.
        if h >> TREE_ID_SHIFT != self.tree_id or h < 0:
            return None
        layer = (h >> LAYER_SHIFT) & 3
        if layer > TCP:
            return None
        items = self.arenas[layer].items
        slot = h & SLOT_MASK
        if slot < len(items):
            node = items[slot]
            if node is not None and node.handle == h:
                return node
        return None

    def resolve(self, h: int) -> Node:
        """The live object of handle ``h``; ``InvalidHandleError`` when there is none."""
        node = self.find(h)
        if node is None:
            raise InvalidHandleError(self.why_invalid(h))
        return node

    def resolve_all(self, handles: list[int]) -> list[Node]:
        """Resolve every handle (in order), raising on the first invalid one."""
        find = self.find
        nodes = [find(h) for h in handles]
        if None in nodes:
            raise InvalidHandleError(self.why_invalid(handles[nodes.index(None)]))
        return nodes  # type: ignore[return-value]

    def resolve_unique(self, handles: list[int]) -> list[Node]:
        """Resolve every handle, then drop duplicates keeping the first occurrence."""
        nodes = self.resolve_all(handles)
        if len(set(handles)) == len(handles):
            return nodes
        first: dict[int, Node] = {}
        for node in nodes:
            first.setdefault(node.handle, node)
        return list(first.values())

    def why_invalid(self, h: int) -> str:
        """The message of ``InvalidHandleError`` for ``h``: which check it fails."""
        text = format_handle(h) if h >= 0 else str(h)
        if h < 0 or h >= 2**64:
            return f"invalid handle {h}: handles are in 0..2**64-1"
        if handle_tree_id(h) != self.tree_id:
            return f"handle {text} belongs to another tree (tree id {handle_tree_id(h)})"
        if handle_layer(h) > TCP:
            return f"invalid handle {text}: no such layer"
        return f"stale or unknown handle {text}: no live object"

    # -- structure
    def add(
        self,
        layer: int,
        parent: Node | None,
        values: tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]],
    ) -> Node:
        """Create an object under ``parent`` (None for a neighbor); returns it."""
        arena = self.arenas[layer]
        slot, generation = arena.allocate()
        node = Node(
            pack_handle(self.tree_id, layer, generation, slot),
            layer,
            slot,
            parent,
            values,
            self._seq,
        )
        self._seq += 1
        arena.put(slot, node)
        siblings = self.neighbors if parent is None else parent.children
        assert siblings is not None
        siblings[node.handle] = node
        return node

    def remove(self, node: Node) -> None:
        """Delete an object that has no dependents left."""
        assert not node.children, "dependents are removed first"
        siblings = self.neighbors if node.parent is None else node.parent.children
        assert siblings is not None
        del siblings[node.handle]
        self.arenas[node.layer].release(node.slot)
        node.parent = None

    def move(self, path: Node, neighbor: Node) -> None:
        """Relink ``path`` to ``neighbor``, at the end of its dependents."""
        assert path.parent is not None and path.parent.children is not None
        assert neighbor.children is not None
        del path.parent.children[path.handle]
        neighbor.children[path.handle] = path
        path.parent = neighbor

    def live(self, layer: int) -> int:
        """The number of live objects of a layer."""
        return self.arenas[layer].live

    # -- traversal (three layers: nested loops, never recursion)
    @staticmethod
    def pre_order(node: Node, out: list[Node]) -> None:
        """Append ``node`` and its subtree to ``out``: each object before its dependents."""
        out.append(node)
        if node.children:
            for child in node.children.values():
                out.append(child)
                if child.children:
                    out.extend(child.children.values())

    @staticmethod
    def post_order(node: Node, out: list[Node], offloaded_only: bool = False) -> None:
        """Append ``node``'s subtree to ``out`` with dependents first, ``node`` last.

        With ``offloaded_only`` only offloaded objects are visited; it prunes whole
        subtrees safely, as an object that is not offloaded has no offloaded dependent.
        """
        if node.children:
            for child in node.children.values():
                if offloaded_only and not child.offloaded:
                    continue
                if child.children:
                    if offloaded_only:
                        out.extend(g for g in child.children.values() if g.offloaded)
                    else:
                        out.extend(child.children.values())
                out.append(child)
        out.append(node)

    def walk(self, post: bool) -> list[Node]:
        """Every object, neighbor by neighbor in creation order, in pre- or post-order."""
        out: list[Node] = []
        visit = self.post_order if post else self.pre_order
        for neighbor in self.neighbors.values():
            visit(neighbor, out)
        return out

    def walk_roots(self, roots: list[Node], post: bool) -> list[Node]:
        """The subtrees of ``roots`` in order, each object once (DESIGN.md section 3)."""
        out: list[Node] = []
        emitted: set[int] = set()
        visit = self.post_order if post else self.pre_order
        for root in roots:
            if root.handle in emitted:
                continue  # in either order, an emitted object came with its whole subtree
            subtree: list[Node] = []
            visit(root, subtree)
            for node in subtree:  # parts may have been emitted under an earlier root
                if node.handle not in emitted:
                    emitted.add(node.handle)
                    out.append(node)
        return out
