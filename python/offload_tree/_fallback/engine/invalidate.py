"""``invalidate``: the target stops using the cached state of offloaded objects and asks for
the upload of every connection that relies on it; an invalidate that finds an object's
hardware state corrupt completes with FAILURE and asks for HARDWARE_FAILURE uploads instead
(``crates/core/src/engine/invalidate.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._enums import Operation, Status, UploadReason
from ..host.tree import Node
from ..host.walk import pre_order
from ..model.handle import TCP
from ..target.admission import corrupt, take_fault
from .events import request_upload

if TYPE_CHECKING:
    from . import Engine

__all__ = ["invalidate"]


def invalidate(e: Engine, handles: list[int]) -> tuple[list[int], list[int]]:
    """Mark offloaded objects invalid; queue one INVALID_STATE upload request per affected
    connection (none while one is pending for it), per object in request order, its
    connections in subtree pre-order. Returns the objects and their statuses."""
    nodes = e.resolve_offloaded(handles, "invalidate it")
    statuses: list[int] = []
    for node in nodes:
        if take_fault(e.target, Operation.INVALIDATE, node.handle) is not None:
            corrupt(e.target, node.handle)
            statuses.append(Status.FAILURE.value)
        else:
            e.target.set_invalid(node.handle, True)
            statuses.append(Status.SUCCESS.value)
    for node, status in zip(nodes, statuses, strict=True):
        failed = status != Status.SUCCESS
        subtree: list[Node] = []
        pre_order(node, subtree)
        for tcp in subtree:
            if tcp.layer != TCP or not tcp.offloaded:
                continue
            if failed:
                request_upload(e, tcp, UploadReason.HARDWARE_FAILURE)
            elif tcp.handle not in e.invalid_pending:
                e.invalid_pending.add(tcp.handle)
                request_upload(e, tcp, UploadReason.INVALID_STATE)
    failures = sum(status != Status.SUCCESS for status in statuses)
    counter = e.counts.invalidate
    counter.requested += len(nodes)
    counter.succeeded += len(nodes) - failures
    counter.fail(Status.FAILURE, failures)
    return [node.handle for node in nodes], statuses
