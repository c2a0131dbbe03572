"""The host's state tree: three arenas (one per layer), the dependency links, and the
resolution of raw handles into live objects (``crates/core/src/host/tree.rs``).

Neighbors are kept in creation order, each object's dependents in insertion order. Both
are dicts keyed by handle: ordered like lists, but removing an object is O(1). One
:class:`Node` class serves the three layers (the core has one link record per layer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._coerce import format_handle
from ..._enums import Layer
from ..._errors import OffloadTreeError
from ..._messages import error
from ..model.arena import Arena
from ..model.budget import Budget
from ..model.handle import (
    LAYER_SHIFT,
    SLOT_MASK,
    TCP,
    TREE_ID_SHIFT,
    handle_layer,
    handle_tree_id,
    pack_handle,
)
from .keys import KeyConflict, Keys

if TYPE_CHECKING:
    from ..engine.interrupt import Interrupts

__all__ = ["HostTree", "Node", "expect_layer"]


class Node:
    """One state object on the host: its links and the host copy of its variables.

    ``children`` is None for a connection (the top layer has no dependents). ``offloaded``
    mirrors whether the target holds a context for the object; ``refs`` is the host's
    reference count of a neighbor or path: how many of its dependents are offloaded.
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
        "refs",
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
        self.refs = 0
        self.seq = seq  # creation number: orders neighbors without scanning the tree

    def __repr__(self) -> str:
        return f"<Node {Layer(self.layer).name} {format_handle(self.handle)}>"


class HostTree:
    """All host objects of one tree: three arenas and the links."""

    __slots__ = ("_seq", "arenas", "budget", "keys", "neighbors", "offloaded", "tree_id")

    def __init__(self, tree_id: int) -> None:
        """An empty tree whose handles carry ``tree_id``."""
        self.tree_id = tree_id
        self.arenas: tuple[Arena[Node], Arena[Node], Arena[Node]] = (Arena(), Arena(), Arena())
        self.neighbors: dict[int, Node] = {}  # creation order: the roots of every walk
        self.offloaded = [0, 0, 0]  # offloaded objects per layer
        self._seq = 0
        #: one path per (source, destination) and one connection per 4-tuple
        self.keys = Keys()
        #: testing: how many more objects may be created (``Engine.set_allocation_budget``)
        self.budget = Budget()

    def set_offloaded(self, node: Node, offloaded: bool) -> Node | None:
        """Record that ``node`` is (or no longer is) offloaded, keeping the counts and the
        reference count of its parent (``set_context`` in the core, whose host objects hold
        their context's number). Returns the parent when this dropped its count to zero."""
        if node.offloaded == offloaded:
            return None
        node.offloaded = offloaded
        self.offloaded[node.layer] += 1 if offloaded else -1
        parent = node.parent
        if parent is None:
            return None
        parent.refs += 1 if offloaded else -1
        return parent if parent.refs == 0 else None

    # -- handles
    def find(self, h: int) -> Node | None:
        """The live object of handle ``h`` (any int), or None (``contains`` in the core)."""
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
            raise self.invalid(h)
        return node

    def resolve_all(self, handles: list[int]) -> list[Node]:
        """Resolve every handle (in order), raising on the first invalid one."""
        find = self.find
        nodes: list[Node] = []
        for h in handles:
            node = find(h)
            if node is None:
                raise self.invalid(h)
            nodes.append(node)
        return nodes

    def resolve_layer(self, h: int, layer: int, role: str) -> Node:
        """Resolve ``h`` and check its layer, for an argument with a fixed role."""
        node = self.resolve(h)
        expect_layer(node, layer, role)
        return node

    def invalid(self, h: int) -> OffloadTreeError:
        """The ``InvalidHandleError`` for ``h``: which check it fails."""
        if handle_tree_id(h) == 0:
            return error("no_tree_id", handle=format_handle(h))
        if handle_tree_id(h) != self.tree_id:
            return error("foreign_handle", handle=format_handle(h), tree_id=handle_tree_id(h))
        if handle_layer(h) > TCP:
            return error("no_such_layer", handle=format_handle(h))
        return error("stale_handle", handle=format_handle(h))

    # -- structure
    def insert(
        self,
        layer: int,
        parent: Node | None,
        values: tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]],
    ) -> Node:
        """Create an object under ``parent`` (None for a neighbor); returns it. Raises
        ``KeyConflict`` (nothing added) when its key is taken (``insert_path``/``insert_tcp``
        in the core).

        All or nothing: an exception part-way (Ctrl-C between two steps, a ``MemoryError``)
        is undone before it propagates, so a single add needs no deferred interrupt."""
        self.budget.charge()
        holder = self.keys.holder(layer, parent, values[0])
        if holder is not None:
            raise KeyConflict(holder)
        arena = self.arenas[layer]
        siblings = self.neighbors if parent is None else parent.children
        assert siblings is not None
        slot, generation = arena.peek()
        node = Node(
            pack_handle(self.tree_id, layer, generation, slot),
            layer,
            slot,
            parent,
            values,
            self._seq,
        )
        mark = arena.mark()
        try:
            arena.allocate()
            arena.put(slot, node)
            siblings[node.handle] = node
            self.keys.index(node)
        except BaseException:
            self.keys.unindex(node)
            siblings.pop(node.handle, None)
            arena.restore(mark, [slot])
            raise
        self._seq += 1
        return node

    def insert_all(
        self,
        layer: int,
        parents: list[Node] | list[None],
        values: list[tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]],
        interrupts: Interrupts,
    ) -> list[int]:
        """:meth:`insert` for a batch, all or nothing: whatever stops it part-way (an
        interrupt at a poll, a ``MemoryError``) is rolled back exactly before it propagates.
        Returns the handles."""
        arena = self.arenas[layer]
        mark, seq = arena.mark(), self._seq
        added: list[Node] = []
        insert = self.insert
        poll, mask = interrupts.poll, interrupts.mask()
        try:
            for i, (parent, value) in enumerate(zip(parents, values, strict=True)):
                if i & mask == mask:
                    poll(i)
                added.append(insert(layer, parent, value))
            return [node.handle for node in added]
        except BaseException as exc:
            if isinstance(exc, KeyConflict):
                exc.index = len(added)
                exc.first = next((i for i, n in enumerate(added) if n is exc.holder), None)
            for node in reversed(added):
                self._unlink(node)
            arena.restore(mark, [node.slot for node in added])
            self._seq = seq
            raise

    def remove_all(self, order: list[Node]) -> None:
        """Remove objects that the caller has checked have no remaining dependents, in the
        given order (dependents first)."""
        for node in order:
            self.remove(node)

    def remove(self, node: Node) -> None:
        """Delete an object that has no dependents left."""
        assert not node.children, "dependents are removed first"
        self._unlink(node)
        self.arenas[node.layer].release(node.slot)
        node.parent = None

    def _unlink(self, node: Node) -> None:
        """Take ``node`` out of its parent's dependents and out of the key index."""
        parent = node.parent
        siblings = self.neighbors if parent is None else parent.children
        assert siblings is not None
        siblings.pop(node.handle, None)
        self.keys.unindex(node)

    def relink(self, path: Node, neighbor: Node) -> Node | None:
        """Relink ``path`` to ``neighbor``, at the end of its dependents; an offloaded path
        moves its reference too. Returns the old neighbor when that dropped its count to
        zero."""
        old = path.parent
        assert old is not None and old.children is not None
        assert neighbor.children is not None
        del old.children[path.handle]
        neighbor.children[path.handle] = path
        path.parent = neighbor
        if not path.offloaded:
            return None
        old.refs -= 1
        neighbor.refs += 1
        return old if old.refs == 0 else None

    def __len__(self) -> int:
        return sum(arena.live for arena in self.arenas)

    def live(self, layer: int) -> int:
        """The number of live objects of a layer."""
        return self.arenas[layer].live


def expect_layer(node: Node, layer: int, role: str) -> None:
    """``LayerError`` unless ``node`` is of ``layer``; ``role`` names the argument."""
    if node.layer != layer:
        raise error(
            "wrong_layer",
            role=role,
            handle=format_handle(node.handle),
            actual=Layer(node.layer).name,
            expected=Layer(layer).name,
        )
