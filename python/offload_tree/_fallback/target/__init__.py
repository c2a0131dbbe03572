"""The simulated offload target of the fallback (docs/SPEC.md §5;
``crates/core/src/target/``).

It keeps its own contexts in its own arenas (``contexts``), linked into an internal tree
that mirrors the host's links for offloaded objects; decides whether it takes an object
(``admission``: injected faults, capacities, limits, random faults drawn from ``rng``); owns
the delegated state of offloaded connections and buffers what they receive (``traffic``);
and marks objects invalid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..host.tree import Node
from ..model.arena import Arena
from .clock import Clock
from .config import TargetConfig
from .contexts import Context
from .rng import SplitMix64
from .statistics import OffloadStats

__all__ = ["Target", "TargetConfig", "TargetCounters"]


@dataclass(slots=True)
class TargetCounters:
    """Running totals of the target."""

    contexts_allocated: int = 0
    contexts_freed: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    bytes_buffered: int = 0
    bytes_held_back: int = 0
    bytes_upload_in_progress: int = 0
    bytes_acknowledged: int = 0  # posted send bytes the peer acknowledged (ever)
    bytes_send_queued: int = 0  # posted send bytes held now
    bytes_placed: int = 0  # received bytes in receive requests not full yet (now)
    bytes_send_aborted: int = 0  # posted send bytes a reset dropped (ever)
    bytes_handed_over: int = 0  # received bytes the host handed over with an offload (ever)
    bytes_non_offload: int = 0  # received bytes on the non-offload path, not back yet (now)
    bytes_beyond_window: int = 0  # bytes of segments dropped: beyond the receive window (ever)
    events_indicated: int = 0


class Target:
    """Everything the simulated target holds."""

    __slots__ = (
        "arenas",
        "clock",
        "config",
        "contexts",
        "corrupt",
        "counters",
        "faults",
        "invalid",
        "offload_stats",
        "paused",
        "rng",
        "upload_all",
    )

    def __init__(self, config: TargetConfig) -> None:
        """An empty target configured by ``config``."""
        self.config = config
        self.rng = SplitMix64(config.seed)
        self.arenas: tuple[Arena[Context], Arena[Context], Arena[Context]] = (
            Arena(),
            Arena(),
            Arena(),
        )
        self.contexts: dict[int, Context] = {}  # by host handle
        # (operation, host handle) -> injected status (one-shot)
        self.faults: dict[tuple[int, int], int] = {}
        self.invalid: set[int] = set()  # host handles carrying an invalid mark
        # host handles whose hardware state a failed query or invalidate found corrupt
        self.corrupt: set[int] = set()
        # offload-pause or upload-all was indicated and not yet followed by resume
        self.paused = False
        # upload-all was indicated and not yet followed by resume: no sends processed
        self.upload_all = False
        self.counters = TargetCounters()
        # the chimney statistics of IPv4 and IPv6 (target/statistics.py)
        self.offload_stats = (OffloadStats(), OffloadStats())
        # the NIC's current time and the host's timer parameters (target/clock.py)
        self.clock = Clock()

    def offloaded(self, layer: int) -> int:
        """The number of objects of ``layer`` the target holds."""
        return self.arenas[layer].live

    def add(self, node: Node) -> Context:
        """Take admitted ``node``: allocate a context linked under its parent's context."""
        parent = None if node.parent is None else self.contexts[node.parent.handle]
        arena = self.arenas[node.layer]
        slot, _generation = arena.allocate()
        context = Context(node.handle, node.layer, slot, parent, node)
        arena.put(slot, context)
        self.contexts[node.handle] = context
        if parent is not None:
            assert parent.children is not None
            parent.children[node.handle] = context
        self.counters.contexts_allocated += 1
        return context

    def is_invalid(self, handle: int) -> bool:
        """Whether the object ``handle`` is marked invalid."""
        return handle in self.invalid

    def set_invalid(self, handle: int, invalid: bool) -> None:
        """Mark or clear the invalid mark of an offloaded object."""
        self.contexts[handle].invalid = invalid
        if invalid:
            self.invalid.add(handle)
        else:
            self.invalid.discard(handle)

    def relink(self, path: int, neighbor: int) -> None:
        """Move a path's context under another neighbor's context."""
        context = self.contexts[path]
        new_parent = self.contexts[neighbor]
        assert context.parent is not None and context.parent.children is not None
        assert new_parent.children is not None
        del context.parent.children[path]
        new_parent.children[path] = context
        context.parent = new_parent

    def delegated_of(self, handle: int) -> tuple[Any, ...]:
        """The live delegated values of an offloaded object (query: no change)."""
        return tuple(self.contexts[handle].delegated)

    def upload(self, handle: int) -> tuple[tuple[Any, ...], bytes, bytes, bytes, int]:
        """Release a context: its delegated values (field order), buffered receive data
        followed by the segments indicated on the non-offload path, posted send data not
        acknowledged (transmitted bytes first), the bytes placed in receive requests that
        were not full (the host's now), and how many bytes came on the non-offload path."""
        context = self.contexts.pop(handle)
        assert not context.children, "dependents are uploaded first"
        if context.parent is not None:
            assert context.parent.children is not None
            del context.parent.children[handle]
        self.arenas[context.layer].release(context.slot)
        self.invalid.discard(handle)
        self.counters.contexts_freed += 1
        data = b""
        if context.received:
            data = bytes(context.received)
            self.counters.bytes_buffered -= len(data)
        sent = b""
        if context.sends is not None:
            sent = bytes(context.sends.data)
            self.counters.bytes_send_queued -= len(sent)
        in_requests = b"".join(placed for _, placed, _ in context.posted)
        self.counters.bytes_placed -= len(in_requests)
        late = context.non_offload
        self.counters.bytes_non_offload -= len(late)
        return tuple(context.delegated), data + late, sent, in_requests, len(late)
