"""The operations between host and target (SPEC.md section 4, DESIGN.md section 8).

Each public method validates all of its input first, in the contract's check order
(handles, layers, offload state, dependencies, values), and only then changes anything,
so an exception always leaves the tree, the target and the counters as they were.
Inputs and outputs are plain Python lists and ints; ``engine.py`` does the NumPy side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._enums import EventKind, Layer, Status, UploadReason
from .._errors import DependencyError, LayerError, StateError, ValidationError
from .._fields import CACHED, DELEGATED
from .._handles import format_handle
from .blocks import BlockPlan, plan_block_list
from .state import (
    HOST_REACHABILITY,
    INITIAL_RCV_WND,
    LAYOUTS,
    NIC_REACHABILITY,
    PATH_MTU,
    RCV_NXT,
    RCV_WND,
    SEND_BACKLOG_SIZE,
    SND_MAX,
    SND_NXT,
    SND_UNA,
    check_stored,
)
from .target import Event, TargetStore
from .tree import HostTree, Node

__all__ = [
    "DELEGATED_NAMES",
    "OPERATIONS",
    "Counter",
    "Operations",
    "Uploads",
    "expect_layer",
    "expect_offloaded",
]

NEIGHBOR, PATH, TCP = Layer.NEIGHBOR.value, Layer.PATH.value, Layer.TCP.value
SUCCESS = Status.SUCCESS.value
PARTIAL_SUCCESS = Status.PARTIAL_SUCCESS.value
PAUSED = Status.PAUSED.value
NO_STATUS = 255
U32 = 0xFFFF_FFFF
_FAILURE_STATUSES = range(Status.FAILURE, Status.CONNECTION_REJECTED + 1)
_UPLOAD_REASONS = frozenset(r.value for r in UploadReason)

#: The names of each layer's delegated variables, in field order.
DELEGATED_NAMES: tuple[tuple[str, ...], ...] = tuple(
    tuple(f.name for f in layout.by_kind[DELEGATED]) for layout in LAYOUTS
)

#: The operations counted in ``stats()["operations"]``, in the contract's key order.
OPERATIONS = ("initiate_offload", "terminate", "update", "query", "invalidate")


@dataclass(slots=True)
class Counter:
    """The counters of one operation: objects requested, succeeded, failed by status."""

    requested: int = 0
    succeeded: int = 0
    failed: dict[int, int] = field(default_factory=dict)

    def fail(self, status: int, n: int = 1) -> None:
        """Count ``n`` failures with ``status``."""
        self.failed[status] = self.failed.get(status, 0) + n

    def as_dict(self) -> dict[str, Any]:
        """The stats shape; failures keyed by status name in status-code order."""
        return {
            "requested": self.requested,
            "succeeded": self.succeeded,
            "failed": {Status(s).name: n for s, n in sorted(self.failed.items()) if n},
        }


@dataclass(slots=True)
class Uploads:
    """Objects handed back by the target, in upload order (terminate's outcome).

    ``delegated`` holds each object's delegated values in field order; the names are
    those of its layer (``DELEGATED_NAMES``), zipped on demand.
    """

    handles: list[int] = field(default_factory=list)
    layers: list[int] = field(default_factory=list)
    delegated: list[tuple[Any, ...]] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)
    total_received: int = 0


def _layer_name(layer: int) -> str:
    return Layer(layer).name


def expect_layer(node: Node, layer: int, role: str) -> None:
    """``LayerError`` unless ``node`` is of ``layer``; ``role`` names it in the message."""
    if node.layer != layer:
        raise LayerError(
            f"{role} {format_handle(node.handle)} is a {_layer_name(node.layer)}, "
            f"expected a {_layer_name(layer)}"
        )


def expect_offloaded(node: Node, what: str) -> None:
    """``StateError`` unless ``node`` is offloaded; ``what`` says what needed it."""
    if not node.offloaded:
        raise StateError(
            f"{_layer_name(node.layer)} {format_handle(node.handle)} is not offloaded: "
            f"cannot {what}"
        )


class Operations:
    """The semantics of every operation over one host tree and its target."""

    def __init__(self, tree: HostTree, target: TargetStore) -> None:
        """Operations over ``tree`` and ``target``, with zeroed counters."""
        self.tree = tree
        self.target = target
        self.counters: dict[str, Counter] = {name: Counter() for name in OPERATIONS}
        self.bytes_returned = 0
        self.events_seen = 0
        self.events_processed = 0

    # -- initiate offload -------------------------------------------------------------------
    def initiate_offload(self, handles: list[int]) -> tuple[BlockPlan, list[int]]:
        """Offload objects with their not-offloaded ancestors; returns the block list and
        the status of every block."""
        requested = self.tree.resolve_unique(handles)
        for node in requested:
            if node.offloaded:
                raise StateError(
                    f"{_layer_name(node.layer)} {format_handle(node.handle)} is already offloaded"
                )
        plan = plan_block_list(requested)
        statuses = self._process(plan)
        counter = self.counters["initiate_offload"]
        for referenced, status in zip(plan.referenced, statuses, strict=True):
            if referenced:
                continue  # references are not offloads: not counted
            counter.requested += 1
            if status <= PARTIAL_SUCCESS:
                counter.succeeded += 1
            else:
                counter.fail(status)
        return plan, statuses

    def _process(self, plan: BlockPlan) -> list[int]:
        """The target's pass over a block list in pre-order; returns the statuses."""
        n = len(plan)
        if self.target.paused:
            return [PAUSED] * n  # nothing attempted, nothing changes
        statuses = [NO_STATUS] * n
        failed = [False] * n
        parents = plan.parents
        for i, node in enumerate(plan.nodes):
            parent = parents[i]
            if parent >= 0 and failed[parent]:
                statuses[i] = statuses[parent]  # not attempted: takes the parent's status
                failed[i] = True
            elif plan.referenced[i]:
                continue  # already offloaded: nothing to do
            else:
                status = self.target.attempt(node)
                if status is None:
                    self.target.offload(node)
                    node.offloaded = True
                else:
                    statuses[i] = status
                    failed[i] = True
        # A block that did not fail succeeded fully unless one of its children failed.
        for i in range(n):
            if not failed[i]:
                statuses[i] = SUCCESS
        for i in range(n):
            parent = parents[i]
            if failed[i] and parent >= 0 and not failed[parent]:
                statuses[parent] = PARTIAL_SUCCESS
        return statuses

    def block_list(self, handles: list[int]) -> BlockPlan:
        """The block list of an offload of ``handles``, without sending it."""
        return plan_block_list(self.tree.resolve_unique(handles))

    # -- terminate --------------------------------------------------------------------------
    def terminate(self, handles: list[int], cascade: bool) -> Uploads:
        """Upload offloaded objects and their offloaded dependents, dependents first."""
        requested = self.tree.resolve_unique(handles)
        for node in requested:
            expect_offloaded(node, "terminate it")
        if not cascade:
            # Name the first requested object (request order) with an offloaded dependent
            # that is not requested, and that dependent: the same pair as the Rust core.
            wanted = {node.handle for node in requested}
            for node in requested:
                for child in (node.children or {}).values():
                    if child.offloaded and child.handle not in wanted:
                        raise DependencyError(
                            f"{_layer_name(child.layer)} {format_handle(child.handle)} is "
                            f"offloaded and depends on {_layer_name(node.layer)} "
                            f"{format_handle(node.handle)}; terminate it too or use cascade=True"
                        )
        return self._upload(self._upload_order(requested))

    @staticmethod
    def _upload_order(roots: list[Node]) -> list[Node]:
        """For each root in order, the post-order of its offloaded subtree, each once."""
        order: list[Node] = []
        done: set[int] = set()
        for root in roots:
            if root.handle in done:
                continue
            subtree: list[Node] = []
            HostTree.post_order(root, subtree, offloaded_only=True)
            for node in subtree:
                if node.handle not in done:
                    done.add(node.handle)
                    order.append(node)
        return order

    def _upload(self, order: list[Node]) -> Uploads:
        """Hand ``order`` back to the host; the host copies take the delegated values.

        Every upload counts as a terminate, whatever asked for it (terminate, a refused
        update, an event).
        """
        result = Uploads()
        for node in order:
            delegated, data = self.target.upload(node.handle)
            node.delegated = delegated
            node.offloaded = False
            result.handles.append(node.handle)
            result.layers.append(node.layer)
            result.delegated.append(delegated)
            result.received.append(data)
            result.total_received += len(data)
        counter = self.counters["terminate"]
        counter.requested += len(order)
        counter.succeeded += len(order)
        self.bytes_returned += result.total_received
        return result

    # -- update -----------------------------------------------------------------------------
    def update(self, handles: list[int], fields: dict[str, list[Any]]) -> list[int]:
        """Change cached variables on the host copy and the target copy; returns statuses.

        ``fields`` maps names to one value per handle: ints (bools as 0/1), and raw MACs
        (str, bytes or int) for ``mac``.

        The target refuses a path MTU or an initial receive window above its limit: the
        host keeps the new value and terminates the object (with its dependents).
        """
        if not handles:
            return []
        nodes = self.tree.resolve_all(handles)
        n = len(nodes)
        layers = sorted({node.layer for node in nodes})
        # StateError before ValidationError: constant and delegated names first.
        for layer in layers:
            position = LAYOUTS[layer].position
            for name in fields:
                found = position.get(name)
                if found is not None and found[0].kind != CACHED:
                    raise StateError(
                        f"{name} is a {found[0].kind} variable of a {_layer_name(layer)}: "
                        "only cached variables can be updated"
                    )
        for layer in layers:
            for name in fields:
                if name not in LAYOUTS[layer].position:
                    raise ValidationError(f"{_layer_name(layer)} has no variable {name!r}")
        for name, values in fields.items():
            if len(values) != n:
                raise ValidationError(f"{name} has {len(values)} values but there are {n} handles")
        # Values, validated (and converted: bools) per handle before anything changes.
        changes: list[list[tuple[int, Any]]] = [[] for _ in range(n)]
        for name, values in fields.items():
            for i, node in enumerate(nodes):
                fld, index = LAYOUTS[node.layer].position[name]
                changes[i].append((index, check_stored(fld, values[i])))

        statuses: list[int] = []
        refused: list[Node] = []
        for node, change in zip(nodes, changes, strict=True):
            if change:
                cached = list(node.cached)
                for index, value in change:
                    cached[index] = value
                node.cached = tuple(cached)
            status = self._push_cached(node) if node.offloaded else SUCCESS
            if status != SUCCESS:
                refused.append(node)
            statuses.append(status)
        if refused:
            # The host terminates what the target could not take (NET updating-offloaded-state),
            # once every value is applied: a refused object stays offloaded until then.
            self._upload(self._upload_order(refused))
        counter = self.counters["update"]
        counter.requested += n
        for status in statuses:
            if status == SUCCESS:
                counter.succeeded += 1
            else:
                counter.fail(status)
        return statuses

    def _push_cached(self, node: Node) -> int:
        """Give an offloaded object's new cached state to the target and revalidate it.

        Returns SUCCESS, or the failure status when the new path MTU or initial receive
        window is above the target's limit (the target copy is then left as it was).
        """
        target = self.target
        if node.layer == PATH and target.max_path_mtu is not None:
            if node.cached[PATH_MTU] > target.max_path_mtu:
                return Status.PATH_MTU.value
        elif node.layer == TCP and target.max_rcv_window is not None:
            if node.cached[INITIAL_RCV_WND] > target.max_rcv_window:
                return Status.TCP_RCV_WINDOW.value
        target.contexts[node.handle].cached = node.cached
        target.revalidate(node.handle)
        return SUCCESS

    # -- relink -----------------------------------------------------------------------------
    def relink(self, path_handle: int, neighbor_handle: int) -> None:
        """Move a path to another neighbor, offloading the neighbor if the path is."""
        path = self.tree.resolve(path_handle)
        neighbor = self.tree.resolve(neighbor_handle)
        expect_layer(path, PATH, "path")
        expect_layer(neighbor, NEIGHBOR, "neighbor")
        if path.parent is neighbor:
            return
        if path.offloaded and not neighbor.offloaded:
            # A one-block offload of the neighbor, with the checks of initiate_offload.
            target = self.target
            saved_fault = target.faults.get(neighbor.handle)
            saved_rng = target.rng.state
            status = PAUSED if target.paused else target.attempt(neighbor)
            if status is not None:
                # A failed call changes nothing: not the fault it hit, not the generator.
                if saved_fault is not None:
                    target.faults[neighbor.handle] = saved_fault
                target.rng.state = saved_rng
                raise StateError(
                    f"cannot relink offloaded path {format_handle(path.handle)}: offloading "
                    f"neighbor {format_handle(neighbor.handle)} failed with {Status(status).name}"
                )
            target.offload(neighbor)  # not counted in stats()["operations"] (DESIGN section 11)
            neighbor.offloaded = True
        self.tree.move(path, neighbor)
        if path.offloaded:
            self.target.relink(path.handle, neighbor.handle)

    # -- query, invalidate ------------------------------------------------------------------
    def query(self, handles: list[int]) -> Uploads:
        """The target's live delegated state of offloaded objects (duplicates dropped).

        Returned in the shape of an upload, without receive data; nothing changes.
        """
        nodes = self.tree.resolve_unique(handles)
        for node in nodes:
            expect_offloaded(node, "query it")
        delegated_of = self.target.delegated_of
        result = Uploads(
            handles=[node.handle for node in nodes],
            layers=[node.layer for node in nodes],
            delegated=[delegated_of(node.handle) for node in nodes],
        )
        counter = self.counters["query"]
        counter.requested += len(nodes)
        counter.succeeded += len(nodes)
        return result

    def invalidate(self, handles: list[int]) -> None:
        """Mark offloaded objects invalid; ask for the upload of every connection that is
        invalid or depends on an invalid object (once while a request is pending)."""
        nodes = self.tree.resolve_unique(handles)
        for node in nodes:
            expect_offloaded(node, "invalidate it")
        target = self.target
        for node in nodes:
            target.mark_invalid(node.handle)
        # Requests go out per invalidated object in request order, its connections in
        # subtree pre-order, once per connection while an earlier one is pending.
        for node in nodes:
            subtree: list[Node] = []
            HostTree.pre_order(node, subtree)
            for tcp in subtree:
                if tcp.layer == TCP and tcp.offloaded and tcp.handle not in target.pending_invalid:
                    target.pending_invalid.add(tcp.handle)
                    self._indicate(
                        Event(
                            EventKind.UPLOAD_REQUESTED.value,
                            tcp.handle,
                            UploadReason.INVALID_STATE.value,
                        )
                    )
        counter = self.counters["invalidate"]
        counter.requested += len(nodes)
        counter.succeeded += len(nodes)

    # -- remove -----------------------------------------------------------------------------
    def remove(self, handles: list[int], cascade: bool) -> list[int]:
        """Delete objects that are not offloaded; returns the removed handles, dependents
        first."""
        requested = self.tree.resolve_unique(handles)
        for node in requested:
            if node.offloaded:
                raise StateError(
                    f"{_layer_name(node.layer)} {format_handle(node.handle)} is offloaded: "
                    "terminate it before removing it"
                )
        # With cascade, descendants need no offload check: an object that is not offloaded
        # has no offloaded dependent (invariant 2).
        if not cascade:
            wanted = {node.handle for node in requested}
            for node in requested:
                for child in (node.children or {}).values():
                    if child.handle not in wanted:
                        raise DependencyError(
                            f"{_layer_name(child.layer)} {format_handle(child.handle)} depends "
                            f"on {format_handle(node.handle)}; remove it too or use cascade=True"
                        )
        order: list[Node] = []
        done: set[int] = set()
        for root in requested:
            if root.handle in done:
                continue
            subtree: list[Node] = []
            HostTree.post_order(root, subtree)
            for node in subtree:
                if node.handle not in done:
                    done.add(node.handle)
                    order.append(node)
        for node in order:
            self.tree.remove(node)
            # A fault injected for a removed object can never fire: drop it.
            self.target.faults.pop(node.handle, None)
        return [node.handle for node in order]

    # -- traffic ----------------------------------------------------------------------------
    def _offloaded_tcp(self, handle: int, what: str) -> Node:
        node = self.tree.resolve(handle)
        expect_layer(node, TCP, "connection")
        expect_offloaded(node, what)
        return node

    def receive(self, handle: int, data: bytes) -> None:
        """Data arrives on an offloaded connection: buffered, receive sequence advanced."""
        self._offloaded_tcp(handle, "receive on it")
        if not isinstance(data, bytes):
            raise ValidationError(f"data must be bytes, got {type(data).__name__}")
        target = self.target
        context = target.contexts[handle]
        n = len(data)
        if context.received is None:
            context.received = bytearray()
        context.received += data
        d = context.delegated
        d[RCV_NXT] = (d[RCV_NXT] + n) & U32
        d[RCV_WND] -= min(n, d[RCV_WND])
        target.bytes_received += n
        target.bytes_buffered += n

    def send(self, handle: int, nbytes: int) -> int:
        """Send on an offloaded connection; returns the bytes sent (0 when held back)."""
        self._offloaded_tcp(handle, "send on it")
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or not 0 <= nbytes <= U32:
            raise ValidationError(f"nbytes={nbytes!r} is out of range 0..{U32}")
        target = self.target
        context = target.contexts[handle]
        if target.held_back(context):
            target.bytes_held_back += nbytes
            return 0
        d = context.delegated
        d[SND_NXT] = (d[SND_NXT] + nbytes) & U32
        if 1 <= (d[SND_NXT] - d[SND_MAX]) & U32 <= 2**31 - 1:  # snd_nxt is ahead, mod 2**32
            d[SND_MAX] = d[SND_NXT]
        d[SEND_BACKLOG_SIZE] = (d[SND_NXT] - d[SND_UNA]) & U32
        target.bytes_sent += nbytes
        return nbytes

    # -- target-initiated events ------------------------------------------------------------
    def _indicate(self, event: Event) -> None:
        self.target.indicate(event)
        self.events_seen += 1

    def request_upload(self, handle: int, reason: int) -> None:
        """The target asks for the upload of one connection."""
        self._offloaded_tcp(handle, "request its upload")
        if isinstance(reason, bool) or reason not in _UPLOAD_REASONS:
            raise ValidationError(f"reason={reason!r} is not an UploadReason (1..11)")
        self._indicate(Event(EventKind.UPLOAD_REQUESTED.value, handle, int(reason)))

    def request_upload_all(self) -> None:
        """The target indicates upload-all: it pauses and asks for everything back."""
        if self.target.paused:
            raise StateError("the target has already requested upload-all and not resumed")
        self.target.paused = True
        self._indicate(Event(EventKind.UPLOAD_ALL.value))

    def resume(self) -> None:
        """The target indicates offload-resume: offloads are accepted again."""
        if not self.target.paused:
            raise StateError("the target is not paused: nothing to resume")
        self.target.paused = False
        self._indicate(Event(EventKind.OFFLOAD_RESUME.value))

    def indicate_neighbor_unreachable(self, handle: int) -> None:
        """The target reports that an offloaded neighbor's reachability is in doubt."""
        node = self.tree.resolve(handle)
        expect_layer(node, NEIGHBOR, "neighbor")
        expect_offloaded(node, "report it unreachable")
        self._indicate(Event(EventKind.NEIGHBOR_UNREACHABLE.value, handle))

    def inject_fault(self, handle: int, status: int) -> None:
        """Make the next offload attempt of an object fail with ``status`` (one-shot)."""
        self.tree.resolve(handle)
        if isinstance(status, bool) or status not in _FAILURE_STATUSES:
            raise ValidationError(
                f"status={status!r} is not a failure status (FAILURE..CONNECTION_REJECTED)"
            )
        self.target.faults[handle] = int(status)

    def process_events(self) -> list[tuple[int, int | None, int | None, str, Uploads | None]]:
        """Apply the host's default response to every queued event, oldest first."""
        out: list[tuple[int, int | None, int | None, str, Uploads | None]] = []
        target = self.target
        while target.events:
            event = target.next_event()
            self.events_processed += 1
            action, result = self._respond(event)
            out.append((event.kind, event.handle, event.reason, action, result))
        return out

    def _respond(self, event: Event) -> tuple[str, Uploads | None]:
        kind = event.kind
        if kind == EventKind.UPLOAD_REQUESTED:
            assert event.handle is not None
            node = self.tree.find(event.handle)
            if node is None or not node.offloaded:
                return "ignored", None
            return "terminated", self._upload(self._upload_order([node]))
        if kind == EventKind.UPLOAD_ALL:
            # Offloaded neighbors root everything offloaded (invariant 2).
            roots = [nb for nb in self.tree.neighbors.values() if nb.offloaded]
            return "terminated_all", self._upload(self._upload_order(roots))
        if kind == EventKind.OFFLOAD_RESUME:
            return "resumed", None
        assert kind == EventKind.NEIGHBOR_UNREACHABLE and event.handle is not None
        node = self.tree.find(event.handle)
        if node is None or not node.offloaded:
            return "ignored", None
        # The host confirms reachability: both deltas restart from zero.
        cached = list(node.cached)
        cached[HOST_REACHABILITY] = 0
        node.cached = tuple(cached)
        context = self.target.contexts[node.handle]
        context.cached = node.cached
        context.delegated[NIC_REACHABILITY] = 0
        return "reachability_confirmed", None
