"""``invalidate``: the target stops using the cached state of offloaded objects and asks for
the upload of every connection that relies on it (``crates/core/src/engine/invalidate.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._enums import EventKind, UploadReason
from ..host.tree import Node
from ..host.walk import pre_order
from ..model.handle import TCP
from .events import indicate
from .types import Event

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
                kind, reason = EventKind.UPLOAD_REQUESTED.value, UploadReason.INVALID_STATE.value
                indicate(e, Event(kind, tcp.handle, reason))
    counter = e.counts.invalidate
    counter.requested += len(nodes)
    counter.succeeded += len(nodes)
