"""The target's records of offloaded objects ("contexts"), each linked to the context of the
object it depends on: the target's internal state tree, which invariant 5 of docs/SPEC.md
says mirrors the host's links (``crates/core/src/target/contexts.rs``).
"""

from __future__ import annotations

from typing import Any

from ..host.tree import Node
from ..model.fields import HOST_REACHABILITY
from ..model.handle import NEIGHBOR, TCP
from .receives import Requests
from .sends import SendQueue

__all__ = ["Context"]


class Context:
    """The target's state for one offloaded object, a node of its internal tree.

    One class serves the three layers (the core has one record per layer). It holds copies
    of the object's cached and delegated state: the fallback keeps plain copies where the
    core shares the host's frozen delegated state until traffic changes it.
    """

    __slots__ = ("cached", "children", "delegated", "fin_pending", "handle", "host_reachability",
                 "invalid", "layer", "non_offload", "parent", "posted", "push_deadline",
                 "query_pending", "received", "sends", "slot", "upload_requested")  # fmt: skip

    def __init__(
        self, handle: int, layer: int, slot: int, parent: Context | None, node: Node
    ) -> None:
        """A context for host object ``node``, with copies of its cached and delegated state."""
        self.handle = handle
        self.layer = layer
        self.slot = slot
        self.parent = parent
        self.children: dict[int, Context] | None = {} if layer != TCP else None
        self.cached: tuple[Any, ...] = node.cached  # immutable: sharing is copying
        self.delegated: list[Any] = list(node.delegated)  # owned by the target from now on
        self.invalid = False
        self.received: bytearray | None = None  # a connection's receive buffer, once used
        # segments indicated on the non-offload path during the upload, for the host's stack
        self.non_offload = b""
        self.sends: SendQueue | None = None  # posted send data not acknowledged, if any
        self.posted: Requests = ()  # the host's receive requests not completed yet
        # when the push timer expires (the target's clock), while it runs
        self.push_deadline: int | None = None
        # the target asked for the upload for a mandatory reason: it processes no more I/O
        self.upload_requested = False
        # the peer's FIN came while received data was buffered: the indication waits for it
        self.fin_pending = False
        # a neighbor's HostReachabilityDelta as the target counts it (the core's
        # TargetNeighbor keeps it apart from the cached copy, which is the host's)
        self.host_reachability = node.cached[HOST_REACHABILITY] if layer == NEIGHBOR else 0
        # a NeighborReachabilityQuery is indicated and not answered yet
        self.query_pending = False
