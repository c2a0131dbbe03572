"""``invalidate``: the target stops using the cached state of offloaded objects and asks for
the upload of every connection that relies on it (``crates/core/src/engine/invalidate.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._enums import UploadReason
from ..host.tree import Node
from ..host.walk import pre_order
from ..model.handle import TCP
from .events import request_upload

if TYPE_CHECKING:
    from . import Engine

__all__ = ["invalidate"]


def invalidate(e: Engine, handles: list[int]) -> None:
    """Mark offloaded objects invalid; queue one INVALID_STATE upload request per affected
    connection (none while one is pending for it), per object in request order, its
    connections in subtree pre-order."""
    nodes = e.resolve_offloaded(handles, "invalidate it")
    for node in nodes:
        e.target.set_invalid(node.handle, True)
    for node in nodes:
        subtree: list[Node] = []
        pre_order(node, subtree)
        for tcp in subtree:
            if tcp.layer == TCP and tcp.offloaded and tcp.handle not in e.invalid_pending:
                e.invalid_pending.add(tcp.handle)
                request_upload(e, tcp, UploadReason.INVALID_STATE)
    counter = e.counts.invalidate
    counter.requested += len(nodes)
    counter.succeeded += len(nodes)
