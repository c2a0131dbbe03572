"""``terminate``, the upload every cause of termination shares (a host terminate, a
refused update, an upload request or upload-all), and the release of shared state that no
offloaded object references any more (``crates/core/src/engine/terminate.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._coerce import format_handle
from ..._enums import ConnectionState, Layer, Status
from ..._messages import error
from ..host.tree import Node
from ..host.walk import offloaded_post_order
from ..model.fields import RCV_NXT
from ..model.handle import NEIGHBOR, PATH, TCP
from ..target.admission import take_corruption
from .build import first_dependent_outside
from .traffic import deliver
from .types import Outcome

if TYPE_CHECKING:
    from . import Engine

__all__ = ["release", "terminate", "upload"]


def terminate(e: Engine, handles: list[int], cascade: bool) -> Outcome:
    """Upload ``handles`` and (with ``cascade``) their offloaded dependents, dependents first;
    then the paths and neighbors this left unreferenced."""
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
    """Upload the objects of ``order``, in that order (offloaded, dependents first), then
    release what they leave unreferenced. The host copies take back the delegated state; the
    outcome carries it with every received byte. Every upload counts as a terminate,
    whatever caused it."""
    outcome = Outcome()
    dropped: list[Node] = []
    for node in order:
        parent = _upload_one(e, node, outcome)
        if parent is not None:
            dropped.append(parent)
    release(e, outcome, dropped)
    return outcome


def release(e: Engine, outcome: Outcome, candidates: list[Node]) -> None:
    """Terminate, under the host's policy, every offloaded path and then every offloaded
    neighbor of ``candidates`` whose reference count is zero, appending them to ``outcome``
    (NDIS "Terminate Offload Initiated by the Host Stack")."""
    if not e.policy.release_unreferenced:
        return
    neighbors: list[Node] = []
    released = e.counts.released
    for node in candidates:
        if node.layer == PATH:
            if node.offloaded and node.refs == 0:
                parent = _upload_one(e, node, outcome)
                if parent is not None:
                    neighbors.append(parent)
                released[PATH] += 1
        elif node.layer == NEIGHBOR:
            neighbors.append(node)
    for node in neighbors:
        if node.offloaded and node.refs == 0:
            _upload_one(e, node, outcome)
            released[NEIGHBOR] += 1


def _upload_one(e: Engine, node: Node, outcome: Outcome) -> Node | None:
    """Upload one offloaded object whose dependents are not offloaded, appending it to
    ``outcome``; returns the object it depended on if that lost its last reference.

    A terminate fault aimed at the object stands for corrupt hardware state: the upload
    completes with FAILURE and a connection comes back aborted (CLOSED), with the target's
    last values and every buffered byte (``crates/core/src/engine/terminate.rs``)."""
    corrupt = take_corruption(e.target, node.handle)
    delegated, data, sent, placed, late = e.target.upload(node.handle)
    # bytes in receive requests that were not full: they complete with them (the host's now)
    deliver(e, node.handle, placed)
    if corrupt and node.layer == TCP:
        delegated = (ConnectionState.CLOSED.value, *delegated[1:])
    if late:
        # The host's stack took the segments indicated on the non-offload path.
        values = list(delegated)
        values[RCV_NXT] = (values[RCV_NXT] + late) & 0xFFFF_FFFF
        delegated = tuple(values)
    node.delegated = delegated
    status = Status.FAILURE if corrupt else Status.SUCCESS
    outcome.push(node.handle, node.layer, delegated, data, status, sent)
    e.counts.bytes_returned += len(data)
    e.counts.bytes_send_returned += len(sent)
    counter = e.counts.terminate
    counter.requested += 1
    if corrupt:
        counter.fail(Status.FAILURE)
    else:
        counter.succeeded += 1
    return e.host.set_offloaded(node, False)
