"""The host's keys: one path per (source, destination) and one connection per 4-tuple, and
the lookups by key (``crates/core/src/host/keys.rs``).

A path's key is its address pair; a connection's packs its path's slot (the path stands for
the address pair) and its two ports into one int, as the core's ``TcpKey`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model.handle import PATH, TCP

if TYPE_CHECKING:
    from .tree import Node

__all__ = ["KeyConflict", "Keys", "tcp_key"]


def tcp_key(path_slot: int, local_port: int, remote_port: int) -> int:
    """A connection's key from its path's slot and its ports."""
    return path_slot << 32 | local_port << 16 | remote_port


class KeyConflict(Exception):
    """An insert found its key taken by ``holder``; nothing was added. A batch insert adds
    the item's position (``index``) and, when the holder came earlier in the same batch,
    its position there (``first``)."""

    def __init__(self, holder: Node) -> None:
        super().__init__(holder)
        self.holder = holder
        self.index: int | None = None
        self.first: int | None = None


class Keys:
    """Paths by address pair and connections by 4-tuple."""

    __slots__ = ("paths", "tcps")

    def __init__(self) -> None:
        """Empty indexes."""
        self.paths: dict[tuple[bytes, bytes], Node] = {}
        self.tcps: dict[int, Node] = {}

    def holder(self, layer: int, parent: Node | None, const: tuple[object, ...]) -> Node | None:
        """The live object that has the key an object of ``layer`` with these constants
        under ``parent`` would have (None for a neighbor, which has no key)."""
        if layer == PATH:
            return self.paths.get(const)  # type: ignore[arg-type]
        if layer == TCP:
            assert parent is not None
            return self.tcps.get(tcp_key(parent.slot, const[0], const[1]))  # type: ignore[arg-type]
        return None

    def index(self, node: Node) -> None:
        """Index a path or connection just created, whose key :meth:`holder` found free."""
        if node.layer == PATH:
            self.paths[node.const] = node
        elif node.layer == TCP:
            assert node.parent is not None
            self.tcps[tcp_key(node.parent.slot, node.const[0], node.const[1])] = node

    def unindex(self, node: Node) -> None:
        """Drop a path's or connection's key, while it is still linked to its parent."""
        if node.layer == PATH:
            self.paths.pop(node.const, None)
        elif node.layer == TCP:
            assert node.parent is not None
            self.tcps.pop(tcp_key(node.parent.slot, node.const[0], node.const[1]), None)
