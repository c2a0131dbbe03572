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

__all__ = ["Keys", "tcp_key"]


def tcp_key(path_slot: int, local_port: int, remote_port: int) -> int:
    """A connection's key from its path's slot and its ports."""
    return path_slot << 32 | local_port << 16 | remote_port


class Keys:
    """Paths by address pair and connections by 4-tuple."""

    __slots__ = ("paths", "tcps")

    def __init__(self) -> None:
        """Empty indexes."""
        self.paths: dict[tuple[bytes, bytes], Node] = {}
        self.tcps: dict[int, Node] = {}

    def index(self, node: Node) -> None:
        """Index a path or connection just created, whose key the caller checked is new."""
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
