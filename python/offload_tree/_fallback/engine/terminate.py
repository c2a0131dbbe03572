"""``terminate``, and the upload every cause of termination shares: a host terminate, a
refused update, an upload request or upload-all (``crates/core/src/engine/terminate.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._coerce import format_handle
from ..._enums import Layer
from ..._messages import error
from ..host.tree import Node
from ..host.walk import offloaded_post_order
from .build import first_dependent_outside
from .types import Outcome

if TYPE_CHECKING:
    from . import Engine

__all__ = ["terminate", "upload"]


def terminate(e: Engine, handles: list[int], cascade: bool) -> Outcome:
    """Upload ``handles`` and (with ``cascade``) their offloaded dependents, dependents first."""
    requested = e.resolve_offloaded(handles, "terminate it")
    order = offloaded_post_order(requested)
    if not cascade and len(order) > len(requested):
        found = first_dependent_outside(requested, offloaded_only=True)
        if found is not None:
            node, child = found
            raise error(
                "terminate_dependent",
                layer=Layer(child.layer).name,
                dependent=format_handle(child.handle),
                parent_layer=Layer(node.layer).name,
                handle=format_handle(node.handle),
            )
    return upload(e, order)


def upload(e: Engine, order: list[Node]) -> Outcome:
    """Upload the objects of ``order``, in that order (offloaded, dependents first). The
    host copies take back the delegated state; the outcome carries it with every received
    byte. Every upload counts as a terminate, whatever caused it."""
    outcome = Outcome()
    for node in order:
        delegated, data = e.target.upload(node.handle)
        node.delegated = delegated
        e.host.set_offloaded(node, False)
        outcome.push(node.handle, node.layer, delegated, data)
    counter = e.counts.terminate
    counter.requested += len(order)
    counter.succeeded += len(order)
    e.counts.bytes_returned += outcome.total_received
    return outcome
