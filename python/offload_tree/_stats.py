"""``tree.stats()`` and ``target.stats()``: the engine's counters in the documented shape.

Engines only count; they report one flat dict (``Engine.counters()``) whose keys are
:data:`COUNTERS`, in the order of ``Counters::entries`` in ``crates/core/src/engine/types.rs``
(``tests/test_parity.py`` checks both engines against this list). The nested dicts users read
(docs/DESIGN.md §9) are built here, once, for both backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from ._enums import Operation, Status

__all__ = [
    "COUNTERS",
    "OPERATIONS",
    "ByteStats",
    "EventStats",
    "FaultsByOperation",
    "FlatStats",
    "LayerCapacities",
    "LayerCounts",
    "LayerStats",
    "LayersStats",
    "OperationStats",
    "OperationsStats",
    "ReferenceStats",
    "ReferencesStats",
    "TargetStats",
    "TreeStats",
    "target_stats",
    "tree_stats",
]

#: The operations counted in ``stats()["operations"]``, in the contract's key order.
OPERATIONS = ("initiate_offload", "terminate", "update", "query", "invalidate")

#: The counters every engine reports, by name, in order. Per-layer counts are 3-tuples
#: (neighbor, path, TCP); an operation's are ``(requested, succeeded, failed by status code)``.
COUNTERS: tuple[str, ...] = (
    "live",
    "offloaded",
    "target_offloaded",
    *OPERATIONS,
    "bytes_buffered",
    "bytes_returned",
    "bytes_held_back",
    "bytes_upload_in_progress",
    "bytes_received",
    "bytes_sent",
    "bytes_posted",
    "bytes_acknowledged",
    "bytes_send_queued",
    "bytes_send_returned",
    "bytes_send_aborted",
    "bytes_delivered",
    "bytes_read",
    "bytes_unread",
    "bytes_discarded",
    "bytes_placed",
    "bytes_handed_over",
    "bytes_non_offload",
    "bytes_beyond_window",
    "events_seen",
    "events_processed",
    "events_pending",
    "events_indicated",
    "contexts_allocated",
    "contexts_freed",
    "invalid",
    "paused",
    "faults_pending",
    "corrupt",
    "references_held",
    "unreferenced",
    "released",
)

_LAYER_KEYS = ("neighbor", "path", "tcp")
_STATUS_NAMES = tuple(status.name for status in Status)

Capacities = tuple[int | None, int | None, int | None]


# --- the shapes of docs/DESIGN.md §9, for type checkers: ``tree.stats()["layers"]["tcp"]
# ["live"]`` is an int to them, and a misspelt key an error. At run time these are dicts.


class LayerStats(TypedDict):
    """``tree.stats()["layers"][layer]``: live and offloaded objects, the target's capacity
    (None: unlimited)."""

    live: int
    offloaded: int
    capacity: int | None


class LayersStats(TypedDict):
    """``tree.stats()["layers"]``: a :class:`LayerStats` per layer."""

    neighbor: LayerStats
    path: LayerStats
    tcp: LayerStats


class OperationStats(TypedDict):
    """``tree.stats()["operations"][operation]``: handles requested, those that succeeded,
    and failures by status name (``"RESOURCES"``, ``"FAILURE"``, ...; zero counts omitted)."""

    requested: int
    succeeded: int
    failed: dict[str, int]


class OperationsStats(TypedDict):
    """``tree.stats()["operations"]``: an :class:`OperationStats` per operation."""

    initiate_offload: OperationStats
    terminate: OperationStats
    update: OperationStats
    query: OperationStats
    invalidate: OperationStats


class ByteStats(TypedDict):
    """``tree.stats()["bytes"]`` (docs/DESIGN.md §9 says what each counts)."""

    buffered: int
    returned: int
    held_back: int
    upload_in_progress: int
    posted: int
    acknowledged: int
    send_queued: int
    send_returned: int
    send_aborted: int
    delivered: int
    read: int
    unread: int
    discarded: int


class EventStats(TypedDict):
    """``tree.stats()["events"]``: events queued ever, processed, pending now."""

    seen: int
    processed: int
    pending: int


class ReferenceStats(TypedDict):
    """``tree.stats()["references"][layer]``: references held now, offloaded objects holding
    none now, objects the host released ever."""

    held: int
    unreferenced: int
    released: int


class ReferencesStats(TypedDict):
    """``tree.stats()["references"]``: a :class:`ReferenceStats` per shared layer."""

    neighbor: ReferenceStats
    path: ReferenceStats


class TreeStats(TypedDict):
    """What ``tree.stats()`` returns: the host's view (docs/DESIGN.md §9)."""

    layers: LayersStats
    operations: OperationsStats
    bytes: ByteStats
    events: EventStats
    references: ReferencesStats


class LayerCounts(TypedDict):
    """``target.stats()["offloaded"]``: the contexts the target holds per layer."""

    neighbor: int
    path: int
    tcp: int


class LayerCapacities(TypedDict):
    """``target.stats()["capacity"]``: the target's capacity per layer (None: unlimited)."""

    neighbor: int | None
    path: int | None
    tcp: int | None


class FaultsByOperation(TypedDict):
    """``target.stats()["faults_pending_by_operation"]``: injected faults waiting, per
    operation."""

    initiate_offload: int
    terminate: int
    update: int
    query: int
    invalidate: int


class TargetStats(TypedDict):
    """What ``target.stats()`` returns: the target's view (docs/DESIGN.md §9)."""

    offloaded: LayerCounts
    capacity: LayerCapacities
    contexts_allocated: int
    contexts_freed: int
    invalid: int
    paused: bool
    faults_pending: int
    faults_pending_by_operation: FaultsByOperation
    corrupt: int
    bytes_received: int
    bytes_sent: int
    bytes_buffered: int
    bytes_upload_in_progress: int
    bytes_acknowledged: int
    bytes_send_queued: int
    bytes_placed: int
    bytes_handed_over: int
    bytes_non_offload: int
    bytes_beyond_window: int
    events_indicated: int


#: What ``stats(flat=True)`` returns: dotted keys (``layers.tcp.live``) to counts; a
#: capacity is None when unlimited, ``paused`` a bool.
FlatStats = dict[str, int | None]


def _operation(counts: tuple[int, int, tuple[int, ...]]) -> OperationStats:
    requested, succeeded, failed = counts
    return {
        "requested": requested,
        "succeeded": succeeded,
        # By status name, in status-code order, zero counts omitted (docs/DESIGN.md §11).
        "failed": {_STATUS_NAMES[code]: n for code, n in enumerate(failed) if n},
    }


def _layer(counters: Mapping[str, Any], layer: int, capacity: int | None) -> LayerStats:
    live, offloaded = counters["live"][layer], counters["offloaded"][layer]
    return {"live": live, "offloaded": offloaded, "capacity": capacity}


def _references(counters: Mapping[str, Any], layer: int) -> ReferenceStats:
    return {
        "held": counters["references_held"][layer],
        "unreferenced": counters["unreferenced"][layer],
        "released": counters["released"][layer],
    }


def tree_stats(counters: Mapping[str, Any], capacities: Capacities) -> TreeStats:
    """The host's view: layers, operations, bytes and events (docs/DESIGN.md §9)."""
    neighbors, paths, tcps = capacities
    return {
        "layers": {
            "neighbor": _layer(counters, 0, neighbors),
            "path": _layer(counters, 1, paths),
            "tcp": _layer(counters, 2, tcps),
        },
        "operations": {
            "initiate_offload": _operation(counters["initiate_offload"]),
            "terminate": _operation(counters["terminate"]),
            "update": _operation(counters["update"]),
            "query": _operation(counters["query"]),
            "invalidate": _operation(counters["invalidate"]),
        },
        "bytes": {
            "buffered": counters["bytes_buffered"],
            "returned": counters["bytes_returned"],
            "held_back": counters["bytes_held_back"],
            "upload_in_progress": counters["bytes_upload_in_progress"],
            # Posted send data: every byte is acknowledged, queued or returned.
            "posted": counters["bytes_posted"],
            "acknowledged": counters["bytes_acknowledged"],
            "send_queued": counters["bytes_send_queued"],
            "send_returned": counters["bytes_send_returned"],
            "send_aborted": counters["bytes_send_aborted"],
            # Received data the host took in receive requests: read by the application,
            # waiting to be read, or dropped with a removed connection.
            "delivered": counters["bytes_delivered"],
            "read": counters["bytes_read"],
            "unread": counters["bytes_unread"],
            "discarded": counters["bytes_discarded"],
        },
        "events": {
            "seen": counters["events_seen"],
            "processed": counters["events_processed"],
            "pending": counters["events_pending"],
        },
        # The host's reference counts of shared state
        # (NDIS "Terminate Offload Initiated by the Host Stack"): per neighbor and path layer, the
        # references held (offloaded dependents), the offloaded objects holding none, and
        # how many the host released when their count reached zero.
        "references": {"neighbor": _references(counters, 0), "path": _references(counters, 1)},
    }


def target_stats(counters: Mapping[str, Any], capacities: Capacities) -> TargetStats:
    """The target's view: what it holds, its capacities and its running totals
    (docs/DESIGN.md §9)."""
    neighbors, paths, tcps = counters["target_offloaded"]
    by_operation = {
        operation.name.lower(): count
        for operation, count in zip(Operation, counters["faults_pending"], strict=True)
    }
    return {
        "offloaded": {"neighbor": neighbors, "path": paths, "tcp": tcps},
        "capacity": {"neighbor": capacities[0], "path": capacities[1], "tcp": capacities[2]},
        "contexts_allocated": counters["contexts_allocated"],
        "contexts_freed": counters["contexts_freed"],
        "invalid": counters["invalid"],
        "paused": counters["paused"],
        "faults_pending": sum(counters["faults_pending"]),
        "faults_pending_by_operation": {
            "initiate_offload": by_operation["initiate_offload"],
            "terminate": by_operation["terminate"],
            "update": by_operation["update"],
            "query": by_operation["query"],
            "invalidate": by_operation["invalidate"],
        },
        "corrupt": counters["corrupt"],
        "bytes_received": counters["bytes_received"],
        "bytes_sent": counters["bytes_sent"],
        "bytes_buffered": counters["bytes_buffered"],
        "bytes_upload_in_progress": counters["bytes_upload_in_progress"],
        "bytes_acknowledged": counters["bytes_acknowledged"],
        "bytes_send_queued": counters["bytes_send_queued"],
        "bytes_placed": counters["bytes_placed"],
        "bytes_handed_over": counters["bytes_handed_over"],
        "bytes_non_offload": counters["bytes_non_offload"],
        "bytes_beyond_window": counters["bytes_beyond_window"],
        "events_indicated": counters["events_indicated"],
    }
