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
from .statistics import count_received, count_sent

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


def receive(target: Target, handle: int, data: bytes, wire: tuple[int, int]) -> None:
    """Buffer received bytes and advance the receive sequence (mod 2**32). A received
    segment (even an empty one: an ACK) is forward progress: the connection's neighbor's
    NicReachabilityDelta restarts at zero (making-a-neighborreachabilityquery-indication.md).
    ``wire`` is the connection's (family index, path MSS), for the statistics."""
    context = target.contexts[handle]
    neighbor = context.parent.parent if context.parent is not None else None
    assert neighbor is not None
    n = len(data)
    d, counters = context.delegated, target.counters
    rcv_nxt, rcv_wnd = (d[RCV_NXT] + n) & U32, d[RCV_WND] - min(n, d[RCV_WND])
    received = bytearray() if context.received is None else context.received
    family, size = wire
    stats = target.offload_stats[family]
    ip, tcp = count_received(stats, family, n, size)
    # The commit: stores only, no call, so no signal handler can run between two of them
    # (Python checks for signals at calls and loop jumps): a Ctrl-C lands before or after.
    neighbor.delegated[NIC_REACHABILITY] = 0
    received += data
    context.received = received
    d[RCV_NXT] = rcv_nxt
    d[RCV_WND] = rcv_wnd
    counters.bytes_received += n
    counters.bytes_buffered += n
    stats.ip, stats.tcp = ip, tcp


def send(target: Target, handle: int, nbytes: int, wire: tuple[int, int]) -> int:
    """Advance the send sequence by ``nbytes`` and return it; or send nothing and return 0:
    on an invalid connection (the bytes are held back), or once the target has asked for the
    connection's upload for a mandatory reason (the send completes with UPLOAD_IN_PROGRESS).
    ``wire`` is the connection's (family index, segment size), for the statistics."""
    context = target.contexts[handle]
    if held_back(context):
        target.counters.bytes_held_back += nbytes
        return 0
    if context.upload_requested:
        target.counters.bytes_upload_in_progress += nbytes
        return 0
    d, counters = context.delegated, target.counters
    snd_nxt = (d[SND_NXT] + nbytes) & U32
    ahead = 1 <= (snd_nxt - d[SND_MAX]) & U32 <= 2**31 - 1  # snd_nxt passes snd_max, mod 2**32
    snd_max = snd_nxt if ahead else d[SND_MAX]
    backlog = (snd_nxt - d[SND_UNA]) & U32
    family, size = wire
    stats = target.offload_stats[family]
    ip, tcp = count_sent(stats, family, nbytes, size)
    # The commit: stores only (see receive).
    d[SND_NXT] = snd_nxt
    d[SND_MAX] = snd_max
    d[SEND_BACKLOG_SIZE] = backlog
    counters.bytes_sent += nbytes
    stats.ip, stats.tcp = ip, tcp
    return nbytes
