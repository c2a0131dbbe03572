"""Neighbor reachability as time passes (NDIS "Making a NeighborReachabilityQuery Indication";
``crates/core/src/target/reachability.rs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model.fields import NIC_REACHABILITY

if TYPE_CHECKING:
    from . import Target
    from .contexts import Context

__all__ = ["age_neighbors"]

U32 = 0xFFFF_FFFF


def age_neighbors(target: Target, ticks: int) -> list[Context]:
    """Time moves on: every offloaded neighbor's reachability deltas grow (mod 2**32); the
    neighbors now stale, with no query outstanding, in context order
    (``Target::age_neighbors``)."""
    stale = target.clock.nce_stale_ticks
    asking = []
    for context in target.arenas[0].items:
        if context is None:
            continue
        d = context.delegated
        nrd = d[NIC_REACHABILITY] = (d[NIC_REACHABILITY] + ticks) & U32
        hrd = context.host_reachability = (context.host_reachability + ticks) & U32
        if nrd > stale and hrd > stale and not context.query_pending:
            context.query_pending = True
            asking.append(context)
    return asking
