"""``tree.stats()`` and ``target.stats()``: the engine's counters in the documented shape.

Engines only count; they report one flat dict (``Engine.counters()``) whose keys are
:data:`COUNTERS`, in the order of ``Counters::entries`` in ``crates/core/src/engine/types.rs``
(``tests/test_parity.py`` checks both engines against this list). The nested dicts users read
(docs/DESIGN.md §9) are built here, once, for both backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._enums import Operation, Status

__all__ = ["COUNTERS", "OPERATIONS", "target_stats", "tree_stats"]

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


def _per_layer(values: Any) -> dict[str, Any]:
    return dict(zip(_LAYER_KEYS, values, strict=True))


def _operation(counts: tuple[int, int, tuple[int, ...]]) -> dict[str, Any]:
    requested, succeeded, failed = counts
    return {
        "requested": requested,
        "succeeded": succeeded,
        # By status name, in status-code order, zero counts omitted (docs/DESIGN.md §11).
        "failed": {_STATUS_NAMES[code]: n for code, n in enumerate(failed) if n},
    }


def tree_stats(counters: Mapping[str, Any], capacities: Capacities) -> dict[str, Any]:
    """The host's view: layers, operations, bytes and events (docs/DESIGN.md §9)."""
    return {
        "layers": {
            key: {"live": live, "offloaded": offloaded, "capacity": capacity}
            for key, live, offloaded, capacity in zip(
                _LAYER_KEYS, counters["live"], counters["offloaded"], capacities, strict=True
            )
        },
        "operations": {name: _operation(counters[name]) for name in OPERATIONS},
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
        # (terminate-offload-initiated-by-the-host-stack.md): per neighbor and path layer, the
        # references held (offloaded dependents), the offloaded objects holding none, and
        # how many the host released when their count reached zero.
        "references": {
            key: {
                "held": counters["references_held"][layer],
                "unreferenced": counters["unreferenced"][layer],
                "released": counters["released"][layer],
            }
            for layer, key in enumerate(_LAYER_KEYS[:2])
        },
    }


def target_stats(counters: Mapping[str, Any], capacities: Capacities) -> dict[str, Any]:
    """The target's view: what it holds, its capacities and its running totals
    (docs/DESIGN.md §9)."""
    return {
        "offloaded": _per_layer(counters["target_offloaded"]),
        "capacity": _per_layer(capacities),
        "contexts_allocated": counters["contexts_allocated"],
        "contexts_freed": counters["contexts_freed"],
        "invalid": counters["invalid"],
        "paused": counters["paused"],
        "faults_pending": sum(counters["faults_pending"]),
        "faults_pending_by_operation": {
            operation.name.lower(): count
            for operation, count in zip(Operation, counters["faults_pending"], strict=True)
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
