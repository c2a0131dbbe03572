"""The simulated offload target's store (SPEC.md section 5, DESIGN.md section 8).

The target keeps its own contexts in its own arenas, linked into an internal tree that
mirrors the host's links for offloaded objects; its copies of cached and delegated state;
the receive buffers of connections; capacities and limits; injected and random faults;
the paused flag of upload-all; invalid marks; and the queue of events it indicated.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from .._enums import EventKind, Layer, Status, UploadReason
from .arena import Arena
from .state import INITIAL_RCV_WND, PATH_MTU
from .tree import Node

__all__ = ["Context", "Event", "SplitMix64", "TargetStore"]

NEIGHBOR, PATH, TCP = Layer.NEIGHBOR.value, Layer.PATH.value, Layer.TCP.value
_U64 = 0xFFFF_FFFF_FFFF_FFFF
_ENTRIES_STATUS = (
    Status.NEIGHBOR_ENTRIES.value,
    Status.PATH_ENTRIES.value,
    Status.TCP_ENTRIES.value,
)


class SplitMix64:
    """The SplitMix64 generator, bit for bit as the Rust core's (DESIGN.md section 8)."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        """A generator seeded with ``seed`` (0..2**64-1)."""
        self.state = seed

    def next_u64(self) -> int:
        """The next 64-bit value."""
        self.state = (self.state + 0x9E3779B97F4A7C15) & _U64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _U64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _U64
        return z ^ (z >> 31)


class Context:
    """The target's state for one offloaded object, a node of its internal tree."""

    __slots__ = ("cached", "children", "delegated", "handle", "invalid", "layer", "parent",
                 "received", "slot")  # fmt: skip

    def __init__(
        self, handle: int, layer: int, slot: int, parent: Context | None, node: Node
    ) -> None:
        """A context for host object ``node``, holding copies of its cached and delegated
        state."""
        self.handle = handle
        self.layer = layer
        self.slot = slot
        self.parent = parent
        self.children: dict[int, Context] | None = {} if layer != TCP else None
        self.cached: tuple[Any, ...] = node.cached  # immutable: sharing is copying
        self.delegated: list[Any] = list(node.delegated)  # owned by the target from now on
        self.invalid = False
        self.received: bytearray | None = None  # a connection's receive buffer, once used


@dataclass(frozen=True, slots=True)
class Event:
    """A queued target-initiated event."""

    kind: int
    handle: int | None = None
    reason: int | None = None


class TargetStore:
    """Everything the simulated target holds."""

    def __init__(
        self,
        capacities: tuple[int | None, int | None, int | None],
        max_path_mtu: int | None,
        max_rcv_window: int | None,
        fail_rate: float,
        seed: int,
    ) -> None:
        """An empty target with the given capacities, limits and fault settings."""
        self.capacities = capacities
        self.max_path_mtu = max_path_mtu
        self.max_rcv_window = max_rcv_window
        self.fail_rate = fail_rate
        self.rng = SplitMix64(seed)
        self.arenas: tuple[Arena[Context], Arena[Context], Arena[Context]] = (
            Arena(),
            Arena(),
            Arena(),
        )
        self.contexts: dict[int, Context] = {}  # by host handle
        self.faults: dict[int, int] = {}  # host handle -> injected status (one-shot)
        self.invalid: set[int] = set()  # host handles carrying an invalid mark
        self.paused = False
        self.events: deque[Event] = deque()
        # connections with an INVALID_STATE upload request queued by invalidate, not yet
        # processed: invalidate does not ask twice
        self.pending_invalid: set[int] = set()
        self.contexts_allocated = 0
        self.contexts_freed = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.bytes_buffered = 0
        self.bytes_held_back = 0
        self.events_indicated = 0

    # -- offload
    def attempt(self, node: Node) -> int | None:
        """Whether the target would take ``node`` now: None, or the failure status.

        Checks in the contract's order: an injected fault (consumed), capacity, path MTU,
        receive window, then a random fault (the RNG is drawn only if ``fail_rate > 0``).
        """
        fault = self.faults.pop(node.handle, None)
        if fault is not None:
            return fault
        layer = node.layer
        capacity = self.capacities[layer]
        if capacity is not None and self.arenas[layer].live >= capacity:
            return _ENTRIES_STATUS[layer]
        if (
            layer == PATH
            and self.max_path_mtu is not None
            and node.cached[PATH_MTU] > self.max_path_mtu
        ):
            return Status.PATH_MTU.value
        if (
            layer == TCP
            and self.max_rcv_window is not None
            and node.cached[INITIAL_RCV_WND] > self.max_rcv_window
        ):
            return Status.TCP_RCV_WINDOW.value
        if self.fail_rate > 0.0:
            x = self.rng.next_u64()
            if (x >> 11) * 2.0**-53 < self.fail_rate:
                return Status.FAILURE.value if x & 1 == 0 else Status.RESOURCES.value
        return None

    def offload(self, node: Node) -> Context:
        """Take ``node``: allocate a context linked under its parent's context."""
        parent = None if node.parent is None else self.contexts[node.parent.handle]
        arena = self.arenas[node.layer]
        slot, _generation = arena.allocate()
        context = Context(node.handle, node.layer, slot, parent, node)
        arena.put(slot, context)
        self.contexts[node.handle] = context
        if parent is not None:
            assert parent.children is not None
            parent.children[node.handle] = context
        self.contexts_allocated += 1
        return context

    # -- upload
    def upload(self, handle: int) -> tuple[tuple[Any, ...], bytes]:
        """Hand an object back: its delegated values (field order) and buffered receive
        data; free its context."""
        context = self.contexts.pop(handle)
        assert not context.children, "dependents are uploaded first"
        if context.parent is not None:
            assert context.parent.children is not None
            del context.parent.children[handle]
        self.arenas[context.layer].release(context.slot)
        self.invalid.discard(handle)
        self.contexts_freed += 1
        data = b""
        if context.received:
            data = bytes(context.received)
            self.bytes_buffered -= len(data)
        return tuple(context.delegated), data

    def delegated_of(self, handle: int) -> tuple[Any, ...]:
        """The live delegated values of an offloaded object (query: no change)."""
        return tuple(self.contexts[handle].delegated)

    # -- internal tree
    def relink(self, path: int, neighbor: int) -> None:
        """Move a path's context under another neighbor's context."""
        context = self.contexts[path]
        new_parent = self.contexts[neighbor]
        assert context.parent is not None and context.parent.children is not None
        assert new_parent.children is not None
        del context.parent.children[path]
        new_parent.children[path] = context
        context.parent = new_parent

    def held_back(self, context: Context) -> bool:
        """True when a connection, its path or its neighbor carries an invalid mark."""
        while context is not None:
            if context.invalid:
                return True
            context = context.parent  # type: ignore[assignment]
        return False

    # -- invalid marks
    def mark_invalid(self, handle: int) -> None:
        """Stop using the cached state of an object until the host updates it."""
        self.contexts[handle].invalid = True
        self.invalid.add(handle)

    def revalidate(self, handle: int) -> None:
        """Clear an object's invalid mark (the host updated it)."""
        self.contexts[handle].invalid = False
        self.invalid.discard(handle)

    # -- events
    def indicate(self, event: Event) -> None:
        """Queue an event for the host."""
        self.events.append(event)
        self.events_indicated += 1

    def next_event(self) -> Event:
        """Dequeue the oldest event."""
        event = self.events.popleft()
        if event.kind == EventKind.UPLOAD_REQUESTED and event.reason == UploadReason.INVALID_STATE:
            assert event.handle is not None
            self.pending_invalid.discard(event.handle)
        return event

    def offloaded(self, layer: int) -> int:
        """The number of offloaded objects of a layer."""
        return self.arenas[layer].live
