"""Traffic on offloaded connections: the target buffers what it receives and advances the
receive and send sequences of the connection's delegated state (docs/DESIGN.md §8;
``crates/core/src/target/traffic.rs``).
"""

from __future__ import annotations

from ..model.fields import (
    NIC_REACHABILITY,
    RCV_NXT,
    RCV_WND,
    SEND_BACKLOG_SIZE,
    SND_MAX,
    SND_NXT,
    SND_UNA,
)
from . import Target
from .contexts import Context

__all__ = ["held_back", "receive", "send"]

U32 = 0xFFFF_FFFF


def held_back(context: Context) -> bool:
    """True when a connection, its path or its neighbor carries an invalid mark."""
    current: Context | None = context
    while current is not None:
        if current.invalid:
            return True
        current = current.parent
    return False


def receive(target: Target, handle: int, data: bytes) -> None:
    """Buffer received bytes and advance the receive sequence (mod 2**32). A received
    segment (even an empty one: an ACK) is forward progress: the connection's neighbor's
    NicReachabilityDelta restarts at zero (making-a-neighborreachabilityquery-indication.md)."""
    context = target.contexts[handle]
    neighbor = context.parent.parent if context.parent is not None else None
    assert neighbor is not None
    neighbor.delegated[NIC_REACHABILITY] = 0
    n = len(data)
    if context.received is None:
        context.received = bytearray()
    context.received += data
    d = context.delegated
    d[RCV_NXT] = (d[RCV_NXT] + n) & U32
    d[RCV_WND] -= min(n, d[RCV_WND])
    target.counters.bytes_received += n
    target.counters.bytes_buffered += n


def send(target: Target, handle: int, nbytes: int) -> int:
    """Advance the send sequence by ``nbytes`` and return it; or send nothing and return 0:
    on an invalid connection (the bytes are held back), or once the target has asked for the
    connection's upload for a mandatory reason (the send completes with UPLOAD_IN_PROGRESS)."""
    context = target.contexts[handle]
    if held_back(context):
        target.counters.bytes_held_back += nbytes
        return 0
    if context.upload_requested:
        target.counters.bytes_upload_in_progress += nbytes
        return 0
    d = context.delegated
    d[SND_NXT] = (d[SND_NXT] + nbytes) & U32
    if 1 <= (d[SND_NXT] - d[SND_MAX]) & U32 <= 2**31 - 1:  # snd_nxt is ahead, mod 2**32
        d[SND_MAX] = d[SND_NXT]
    d[SEND_BACKLOG_SIZE] = (d[SND_NXT] - d[SND_UNA]) & U32
    target.counters.bytes_sent += nbytes
    return nbytes
