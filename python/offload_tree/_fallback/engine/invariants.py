"""A full check of the invariants of docs/SPEC.md §2 over the host tree and the target's own
store (``crates/core/src/engine/invariants.rs``). For tests: the lockstep machine runs it
after every step. O(n).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..host.walk import walk_all
from ..model.handle import NEIGHBOR

if TYPE_CHECKING:
    from . import Engine

__all__ = ["check_invariants"]


def check_invariants(e: Engine) -> None:
    """Raise ``AssertionError`` naming the first broken invariant."""
    host, target = e.host, e.target
    offloaded = [0, 0, 0]
    for node in walk_all(host, post=False):
        parent = node.parent
        assert (parent is None) == (node.layer == NEIGHBOR), node
        if parent is not None:
            # invariant 1: a live object of the layer just below, that lists this one
            assert host.find(parent.handle) is parent and parent.layer == node.layer - 1
            assert parent.children is not None and parent.children.get(node.handle) is node
        context = target.contexts.get(node.handle)
        assert node.offloaded == (context is not None), node
        if context is not None:
            offloaded[node.layer] += 1
            # invariant 2: no offloaded orphan; invariant 5: the target mirrors the links
            assert parent is None or parent.offloaded, f"offloaded orphan {node}"
            expected = None if parent is None else target.contexts[parent.handle]
            assert context.parent is expected, f"target tree differs at {node}"
            assert context.cached is node.cached or context.cached == node.cached
        if node.children is not None:
            # reference counts: a neighbor or path counts its offloaded dependents; while
            # the host releases unreferenced state, no offloaded one is left without any
            refs = sum(1 for child in node.children.values() if child.offloaded)
            assert node.refs == refs, f"{node} counts {node.refs} references, {refs} offloaded"
            assert not (e.policy.release_unreferenced and node.offloaded and refs == 0), (
                f"{node} is offloaded with no offloaded dependent"
            )
    assert offloaded == host.offloaded, (offloaded, host.offloaded)
    assert len(target.contexts) == sum(target.offloaded(layer) for layer in (0, 1, 2))
    for layer in (0, 1, 2):
        assert target.offloaded(layer) == offloaded[layer]
        # invariant 4: capacity respected
        capacity = target.config.capacity(layer)
        assert capacity is None or offloaded[layer] <= capacity
    buffered = sum(len(c.received or b"") for c in target.contexts.values())
    assert buffered == target.counters.bytes_buffered, (buffered, target.counters)
    # posted send data: every byte acknowledged, held by the target, or returned
    queued = sum(len(c.sends) for c in target.contexts.values() if c.sends is not None)
    assert queued == target.counters.bytes_send_queued, (queued, target.counters)
    assert e.counts.bytes_posted == (
        target.counters.bytes_acknowledged
        + queued
        + e.counts.bytes_send_returned
        + target.counters.bytes_send_aborted
    ), "posted bytes went missing"
    assert all(c.sends is None or not c.sends.is_empty() for c in target.contexts.values())
    # received data: delivered, placed in a request, buffered, or returned; and delivered
    # bytes read, unread, or discarded with their connection
    placed = sum(len(data) for c in target.contexts.values() for _, data, _ in c.posted)
    assert placed == target.counters.bytes_placed, (placed, target.counters)
    counts = e.counts
    late = sum(len(c.non_offload) for c in target.contexts.values())
    assert late == target.counters.bytes_non_offload, (late, target.counters)
    assert target.counters.bytes_received + target.counters.bytes_handed_over == (
        counts.bytes_delivered + buffered + placed + late + counts.bytes_returned
    ), "received bytes went missing"
    unread = sum(len(data) for data in e.delivered.values())
    assert counts.bytes_delivered == counts.bytes_read + unread + counts.bytes_discarded
    assert all(data for data in e.delivered.values()), "an empty unread entry"
    assert all(not (c.posted and c.received) for c in target.contexts.values()), (
        "posted receive requests beside buffered data"
    )
    assert target.invalid == {h for h, c in target.contexts.items() if c.invalid}
    # corruption marks only offloaded objects: the upload that meets it clears it
    assert target.corrupt <= set(target.contexts), "a corrupt object is not offloaded"
    pending = {ev.handle for ev in e.events if ev.reason == 9 and ev.handle is not None}
    assert e.invalid_pending <= pending, "an INVALID_STATE request is pending without its event"
