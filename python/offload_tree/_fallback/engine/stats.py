"""``counters``: what the engine counts, read in one piece (docs/DESIGN.md §9;
``crates/core/src/engine/stats.rs``). ``offload_tree._stats`` arranges them into
``tree.stats()`` and ``target.stats()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._enums import Operation
from ..model.handle import NEIGHBOR, PATH

if TYPE_CHECKING:
    from . import Engine

__all__ = ["counters"]


def counters(e: Engine) -> dict[str, Any]:
    """Every counter by name, in the order of ``offload_tree._stats.COUNTERS``."""
    host, target, counts = e.host, e.target, e.counts
    t = target.counters
    held = [0, 0, 0]
    unreferenced = [0, 0, 0]
    for layer in (NEIGHBOR, PATH):
        for node in host.arenas[layer].items:
            if node is None:
                continue
            held[layer] += node.refs
            if node.offloaded and node.refs == 0:
                unreferenced[layer] += 1
    return {
        "live": tuple(host.live(layer) for layer in (0, 1, 2)),
        "offloaded": tuple(host.offloaded),
        "target_offloaded": tuple(target.offloaded(layer) for layer in (0, 1, 2)),
        "initiate_offload": counts.initiate_offload.as_tuple(),
        "terminate": counts.terminate.as_tuple(),
        "update": counts.update.as_tuple(),
        "query": counts.query.as_tuple(),
        "invalidate": counts.invalidate.as_tuple(),
        "bytes_buffered": t.bytes_buffered,
        "bytes_returned": counts.bytes_returned,
        "bytes_held_back": t.bytes_held_back,
        "bytes_upload_in_progress": t.bytes_upload_in_progress,
        "bytes_received": t.bytes_received,
        "bytes_sent": t.bytes_sent,
        "bytes_posted": counts.bytes_posted,
        "bytes_acknowledged": t.bytes_acknowledged,
        "bytes_send_queued": t.bytes_send_queued,
        "bytes_send_returned": counts.bytes_send_returned,
        "bytes_send_aborted": t.bytes_send_aborted,
        "bytes_delivered": counts.bytes_delivered,
        "bytes_read": counts.bytes_read,
        "bytes_unread": sum(len(data) for data in e.delivered.values()),
        "bytes_discarded": counts.bytes_discarded,
        "bytes_placed": t.bytes_placed,
        "bytes_handed_over": t.bytes_handed_over,
        "bytes_non_offload": t.bytes_non_offload,
        "bytes_beyond_window": t.bytes_beyond_window,
        "events_seen": counts.events_seen,
        "events_processed": counts.events_processed,
        "events_pending": len(e.events),
        "events_indicated": t.events_indicated,
        "contexts_allocated": t.contexts_allocated,
        "contexts_freed": t.contexts_freed,
        "invalid": len(target.invalid),
        "paused": target.paused,
        "faults_pending": tuple(
            sum(op == operation for op, _ in target.faults) for operation in Operation
        ),
        "corrupt": len(target.corrupt),
        "references_held": tuple(held),
        "unreferenced": tuple(unreferenced),
        "released": tuple(counts.released),
    }
