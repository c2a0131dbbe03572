"""Traffic on offloaded connections: the target buffers what it receives and advances the
receive and send sequences of the connection's delegated state (docs/DESIGN.md §8;
``crates/core/src/target/traffic.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._enums import ConnectionState
from ..model.fields import (
    CWND,
    INITIAL_RCV_WND,
    MAX_SND_WND,
    NIC_REACHABILITY,
    RCV_NXT,
    RCV_WND,
    SEND_BACKLOG_SIZE,
    SND_MAX,
    SND_NXT,
    SND_UNA,
    SND_WND,
    STATE,
)
from ..model.handle import TCP
from . import Target
from .clock import KA_COUNT, KA_DELTA, RT_DELTA, on_segment
from .contexts import Context
from .receives import expire_push, fill, placed, room, settle_push
from .sends import NO_FIN, SendQueue
from .statistics import count_received, count_sent, count_sent_bare

if TYPE_CHECKING:
    from ..engine.types import RunningCounts

#: The state after the peer acknowledged the host's FIN, by the state before (RFC 793).
_AFTER_FIN_ACKED = {
    int(ConnectionState.FIN_WAIT_1): int(ConnectionState.FIN_WAIT_2),
    int(ConnectionState.CLOSING): int(ConnectionState.TIME_WAIT),
    int(ConnectionState.LAST_ACK): int(ConnectionState.CLOSED),
}
#: A reset from these states counts in ResetEstablished (TCP_OFFLOAD_STATS).
_RESETS_ESTABLISHED = (int(ConnectionState.ESTABLISHED), int(ConnectionState.CLOSE_WAIT))

__all__ = [
    "acknowledge",
    "disconnect",
    "expire_push_timers",
    "fits_window",
    "fresh_receive_side",
    "hand_over",
    "held_back",
    "in_flight",
    "indicate_non_offload",
    "peer_fin",
    "peer_rst",
    "post",
    "post_receive",
    "receive",
    "reset",
    "send",
    "take_non_offload",
    "take_ready_fin",
    "transmit_waiting",
]

U32 = 0xFFFF_FFFF


def held_back(context: Context) -> bool:
    """True when a connection, its path or its neighbor carries an invalid mark."""
    current: Context | None = context
    while current is not None:
        if current.invalid:
            return True
        current = current.parent
    return False


def receive(
    target: Target,
    handle: int,
    data: bytes,
    wire: tuple[int, int],
    unread: dict[int, bytes],
    counts: RunningCounts,
    flags: tuple[bool, bool] = (False, False),
) -> None:
    """Place received bytes in the host's posted receive requests, then buffer the rest, and
    advance the receive sequence (mod 2**32). Filled requests complete: their bytes join the
    host's ``unread`` bytes of the connection and ``counts.bytes_delivered`` (host state,
    passed in so that one stores-only commit covers both halves). A received segment (even
    an empty one: an ACK) is forward progress: the connection's neighbor's
    NicReachabilityDelta restarts at zero (NDIS "Making a NeighborReachabilityQuery Indication").
    ``wire`` is the connection's (family index, path MSS), for the statistics.
    ``flags``: the segment's PSH bit (a push-mode request partly filled completes), and
    whether the host takes what the target indicates (then nothing is buffered)."""
    context = target.contexts[handle]
    neighbor = context.parent.parent if context.parent is not None else None
    assert neighbor is not None
    n = len(data)
    psh, take_indicated = flags
    posted, taken, completed = fill(context.posted, data) if context.posted else ((), 0, b"")
    deadline = context.push_deadline
    if context.posted:
        posted, deadline, pushed = settle_push(
            posted, deadline, psh, taken > 0, target.clock.push_timer()
        )
        completed += pushed
    placed_change = placed(posted) - placed(context.posted)
    rest = data[taken:]
    held = b""
    if take_indicated:
        # The target indicates what it holds before anything new; the host takes both.
        held = bytes(context.received or b"")
        completed, rest = completed + held + rest, b""
    n_rest, n_completed, n_held = len(rest), len(completed), len(held)
    d, counters = context.delegated, target.counters
    # Only what the target keeps narrows the window: posted buffers are the host's.
    rcv_nxt, rcv_wnd = (d[RCV_NXT] + n) & U32, d[RCV_WND] - min(n_rest, d[RCV_WND])
    if n_held:  # reopened by what the host took, up to InitialRcvWnd as a post does
        rcv_wnd = min(rcv_wnd + n_held, max(context.cached[INITIAL_RCV_WND], rcv_wnd))
    received = bytearray() if context.received is None or n_held else context.received
    delivered = unread.get(handle, b"") + completed
    family, size = wire
    stats = target.offload_stats[family]
    ip, tcp = count_received(stats, family, n, size)
    timers = on_segment(d, context.cached, target.clock)
    # The commit: stores only, no call (not even len()), so no signal handler can run
    # between two of them (Python checks for signals at calls and loop jumps): a Ctrl-C
    # lands before or after.
    neighbor.delegated[NIC_REACHABILITY] = 0
    context.posted = posted
    context.push_deadline = deadline
    if n_held:
        context.received = None
    if n_rest:
        received += rest
        context.received = received
    if n_completed:
        unread[handle] = delivered
        counts.bytes_delivered += n_completed
    d[RCV_NXT] = rcv_nxt
    d[RCV_WND] = rcv_wnd
    d[KA_COUNT], d[KA_DELTA], d[RT_DELTA] = timers
    counters.bytes_received += n
    counters.bytes_buffered += n_rest - n_held
    counters.bytes_placed += placed_change
    stats.ip, stats.tcp = ip, tcp


def expire_push_timers(target: Target) -> list[tuple[Context, bytes]]:
    """The push timers that expired by now: each such connection's oldest request completes
    with what it holds, unless its upload is under way (``Target::expire_push_timers``)."""
    now = target.clock.now
    done = []
    for context in target.arenas[TCP].items:
        if context is None or context.push_deadline is None or context.push_deadline > now:
            continue
        if context.upload_requested or target.upload_all:
            continue  # its upload is under way: its timers wait
        before = placed(context.posted)
        posted, deadline, completed = expire_push(context.posted, context.push_deadline, now)
        if completed:
            context.posted, context.push_deadline = posted, deadline
            target.counters.bytes_placed -= before - placed(posted)
            done.append((context, completed))
    return done


def indicate_non_offload(target: Target, context: Context, data: bytes) -> None:
    """A segment arrived while the connection's I/O is stopped (its upload under way): not
    processed, indicated on the non-offload path (``Target::indicate_non_offload``)."""
    context.non_offload += data
    target.counters.bytes_received += len(data)
    target.counters.bytes_non_offload += len(data)


def fits_window(target: Target, context: Context, n: int, take_indicated: bool) -> bool:
    """Whether a segment of ``n`` bytes fits: what the posted requests cannot hold must fit
    the receive window, unless the host takes indicated data; one that does not is dropped
    whole and counted (``Target::fits_window``)."""
    if take_indicated or n - room(context.posted) <= context.delegated[RCV_WND]:
        return True
    target.counters.bytes_beyond_window += n
    return False


def take_non_offload(target: Target, context: Context) -> bytes:
    """The bytes held for the host, taken back to be received again
    (``Target::take_non_offload``)."""
    data, context.non_offload = context.non_offload, b""
    target.counters.bytes_non_offload -= len(data)
    target.counters.bytes_received -= len(data)
    return data


def fresh_receive_side(context: Context) -> bool:
    """Nothing received and no receive request posted since the offload
    (``Target::fresh_receive_side``)."""
    return not context.received and not context.posted


def hand_over(target: Target, context: Context, data: bytes) -> None:
    """The host's BufferedData for a fresh connection: kept as buffered data
    (``Target::hand_over``)."""
    if data:
        context.received = bytearray(data)
        target.counters.bytes_buffered += len(data)
        target.counters.bytes_handed_over += len(data)


def post_receive(target: Target, handle: int, request: tuple[int, bool], max_window: int) -> bytes:
    """Post a receive request of ``size`` bytes, in push mode when ``push`` (``request``);
    buffered data goes into it first, and the bytes it moves reopen the receive window (up
    to ``max_window``). Returns the bytes of the requests this completed (the caller
    delivers them; the facade defers Ctrl-C)."""
    context = target.contexts[handle]
    size, push = request
    requests = (*context.posted, (size, b"", push))
    buffered = bytes(context.received or b"")
    posted, taken, completed = fill(requests, buffered)
    if taken:
        timer = target.clock.push_timer()
        posted, context.push_deadline, pushed = settle_push(
            posted, context.push_deadline, False, True, timer
        )
        completed += pushed
    d = context.delegated
    target.counters.bytes_placed += placed(posted) - placed(requests)
    context.posted = posted
    if taken:
        rest = buffered[taken:]
        context.received = bytearray(rest) if rest else None
        target.counters.bytes_buffered -= taken
        d[RCV_WND] = min(d[RCV_WND] + taken, max(max_window, d[RCV_WND]))
    return completed


def send(target: Target, handle: int, nbytes: int, wire: tuple[int, int]) -> int:
    """Advance the send sequence by ``nbytes`` and return it; or send nothing and return 0:
    on an invalid connection (the bytes are held back), or once the target has asked for the
    connection's upload for a mandatory reason (the send completes with UPLOAD_IN_PROGRESS).
    ``wire`` is the connection's (family index, segment size), for the statistics."""
    context = target.contexts[handle]
    if held_back(context):
        target.counters.bytes_held_back += nbytes
        return 0
    if context.upload_requested or target.upload_all:
        target.counters.bytes_upload_in_progress += nbytes
        return 0
    _advance_snd_nxt(target, context, nbytes, wire, opaque=True)
    return nbytes


def _advance_snd_nxt(
    target: Target, context: Context, nbytes: int, wire: tuple[int, int], opaque: bool = False
) -> None:
    """``nbytes`` go out: SndNxt (and SndMax when passed) advance; they count as sent.
    ``opaque``: they carry no posted data, and take their place after the queue's runs
    (the core's ``SendQueue::transmit_opaque``, inlined so that the commit stays stores
    only)."""
    queue = context.sends
    record = opaque and nbytes > 0 and queue is not None and len(queue.runs) > 0
    last = queue.runs[-1] if record and queue is not None else None
    merge = last is not None and last[1] is False
    merged = int(last[0]) + nbytes if merge and last is not None else 0
    d, counters = context.delegated, target.counters
    snd_nxt = (d[SND_NXT] + nbytes) & U32
    ahead = 1 <= (snd_nxt - d[SND_MAX]) & U32 <= 2**31 - 1  # snd_nxt passes snd_max, mod 2**32
    snd_max = snd_nxt if ahead else d[SND_MAX]
    family, size = wire
    stats = target.offload_stats[family]
    ip, tcp = count_sent(stats, family, nbytes, size)
    # The commit: stores only (see receive; an in-place add on a deque calls no Python code).
    if record and queue is not None:
        if merge and last is not None:
            last[0] = merged
        else:
            queue.runs += ([nbytes, False],)
        queue.in_runs += nbytes
    d[SND_NXT] = snd_nxt
    d[SND_MAX] = snd_max
    counters.bytes_sent += nbytes
    stats.ip, stats.tcp = ip, tcp


def in_flight(target: Target, handle: int) -> int:
    """Bytes in flight on connection ``handle``: SndNxt - SndUna (mod 2**32)."""
    d = target.contexts[handle].delegated
    return int((d[SND_NXT] - d[SND_UNA]) & U32)


def post(target: Target, handle: int, data: bytes, wire: tuple[int, int]) -> int:
    """Queue a send request of ``data`` and transmit what the send window allows; the bytes
    transmitted now. Every byte stays queued until acknowledged or uploaded."""
    if not data:
        return 0
    context = target.contexts[handle]
    if context.sends is None:
        context.sends = SendQueue()
    context.sends.post(data)
    target.counters.bytes_send_queued += len(data)
    return _transmit(target, context, wire)


def transmit_waiting(target: Target, context: Context, wire: tuple[int, int]) -> int:
    """Transmit what waits, as the send window allows (``Target::transmit_waiting``)."""
    return _transmit(target, context, wire)


def _transmit(target: Target, context: Context, wire: tuple[int, int]) -> int:
    """Transmit queued bytes within the send window (SndWnd less the bytes in flight),
    unless the connection's I/O is held back (invalid, or a mandatory upload request); then
    a FIN the host asked for, once every posted byte has gone (it takes no window)."""
    queue = context.sends
    if queue is None or (queue.unsent == 0 and queue.fin == NO_FIN):
        return 0
    if held_back(context) or context.upload_requested or target.upload_all:
        return 0
    d = context.delegated
    window = max(d[SND_WND] - ((d[SND_NXT] - d[SND_UNA]) & U32), 0)
    n = queue.transmit(window)
    if n > 0:
        _advance_snd_nxt(target, context, n, wire)
    if queue.transmit_fin():
        d[SND_NXT] = (d[SND_NXT] + 1) & U32
        if 1 <= (d[SND_NXT] - d[SND_MAX]) & U32 <= 2**31 - 1:
            d[SND_MAX] = d[SND_NXT]
        family = wire[0]
        stats = target.offload_stats[family]
        stats.ip, stats.tcp = count_sent_bare(stats, family, False)
    return n


def disconnect(target: Target, handle: int, state: int, wire: tuple[int, int]) -> None:
    """The host's graceful disconnect: the connection moves to ``state`` (FIN_WAIT_1 or
    LAST_ACK) and a FIN follows every posted byte."""
    context = target.contexts[handle]
    context.delegated[STATE] = state
    if context.sends is None:
        context.sends = SendQueue()
    context.sends.queue_fin()
    _transmit(target, context, wire)


def reset(target: Target, handle: int, wire: tuple[int, int]) -> bytes:
    """The host's abortive disconnect: an RST goes out, then as a received reset
    (``peer_rst`` without the received segment); the bytes of the completed receive
    requests."""
    family = wire[0]
    stats = target.offload_stats[family]
    stats.ip, stats.tcp = count_sent_bare(stats, family, True)
    return _close_on_reset(target, target.contexts[handle], family)


def acknowledge(
    target: Target,
    handle: int,
    n: int,
    window: int | None,
    wire_in: tuple[int, int],
    wire_out: tuple[int, int],
) -> tuple[int, bool, int | None]:
    """The peer acknowledges ``n`` more bytes (at most those in flight, as the engine
    checked): SndUna advances, the posted bytes it covers leave the queue, and the opened
    window lets waiting bytes out. An ACK is a received segment: forward progress for the
    neighbor, counted in the statistics. ``window``: the send window the peer advertises, if
    any. Returns the send requests completed, whether it covered the host's FIN, and the new
    send backlog to indicate, if any."""
    context = target.contexts[handle]
    before = in_flight(target, handle)
    neighbor = context.parent.parent if context.parent is not None else None
    assert neighbor is not None
    neighbor.delegated[NIC_REACHABILITY] = 0
    family, size = wire_in
    stats = target.offload_stats[family]
    stats.ip, stats.tcp = count_received(stats, family, 0, size)
    d = context.delegated
    d[SND_UNA] = (d[SND_UNA] + n) & U32
    completed, fin = 0, False
    queue = context.sends
    if queue is not None:
        acked, completed, fin = queue.acknowledge(n, before)
        target.counters.bytes_acknowledged += acked
        target.counters.bytes_send_queued -= acked
        if queue.is_empty():
            context.sends = None
    if fin:
        # The host's FIN is acknowledged: its disconnect completes, the state moves on.
        d[STATE] = _AFTER_FIN_ACKED.get(d[STATE], d[STATE])
    backlog = None if window is None else _advertise(d, window, wire_out[1])
    _transmit(target, context, wire_out)
    return completed, fin, backlog


def _advertise(d: list[Any], window: int, mss: int) -> int | None:
    """The peer advertises ``window`` (SndWnd; MaxSndWnd keeps the largest). The preferred
    send backlog, min(Cwnd, SndWnd), moves SendBacklogSize and is returned for an indication
    only when it differs from the last by at least a quarter of that and one segment
    (``Target::advertise``)."""
    d[SND_WND] = window
    d[MAX_SND_WND] = max(d[MAX_SND_WND], window)
    preferred = min(d[CWND], window)
    last = d[SEND_BACKLOG_SIZE]
    if abs(preferred - last) < max(last // 4, mss):
        return None
    d[SEND_BACKLOG_SIZE] = preferred
    return int(preferred)


def peer_fin(target: Target, handle: int, state: int, wire: tuple[int, int]) -> bool:
    """The peer's FIN: one sequence number, the receive half closed (``state`` is the next
    one), a received segment. Whether TcpIndicateDisconnect may go now: only once nothing
    received before it is buffered; else it waits (``fin_pending``)."""
    context = target.contexts[handle]
    neighbor = context.parent.parent if context.parent is not None else None
    assert neighbor is not None
    family, size = wire
    stats = target.offload_stats[family]
    stats.ip, stats.tcp = count_received(stats, family, 0, size)
    neighbor.delegated[NIC_REACHABILITY] = 0
    d = context.delegated
    d[RCV_NXT] = (d[RCV_NXT] + 1) & U32
    d[STATE] = state
    now = not context.received
    context.fin_pending = not now
    return now


def take_ready_fin(target: Target, handle: int) -> bool:
    """Whether a FIN that waited for buffered data may be indicated now (and stops waiting)."""
    context = target.contexts[handle]
    if context.fin_pending and not context.received:
        context.fin_pending = False
        return True
    return False


def peer_rst(target: Target, handle: int, wire: tuple[int, int]) -> bytes:
    """The peer's acceptable RST: CLOSED; outstanding sends complete with REQUEST_ABORTED
    (their data dropped and counted); receive requests complete with what was placed in
    them, which is returned for the host; a received segment (and ResetEstablished from
    ESTABLISHED or CLOSE-WAIT)."""
    context = target.contexts[handle]
    neighbor = context.parent.parent if context.parent is not None else None
    assert neighbor is not None
    family, size = wire
    stats = target.offload_stats[family]
    ip, tcp = count_received(stats, family, 0, size)
    stats.ip, stats.tcp = ip, tcp
    neighbor.delegated[NIC_REACHABILITY] = 0
    return _close_on_reset(target, context, family)


def _close_on_reset(target: Target, context: Context, family: int) -> bytes:
    """What a reset, sent or received, does: CLOSED (counted in ResetEstablished from
    ESTABLISHED or CLOSE-WAIT), sends aborted, receive requests completed (their bytes)."""
    d = context.delegated
    if d[STATE] in _RESETS_ESTABLISHED:
        stats = target.offload_stats[family]
        tcp = dict(stats.tcp)
        tcp["reset_established"] = (tcp["reset_established"] + 1) & U32
        stats.tcp = tcp
    d[STATE] = int(ConnectionState.CLOSED)
    if context.sends is not None:
        dropped = len(context.sends)
        target.counters.bytes_send_queued -= dropped
        target.counters.bytes_send_aborted += dropped
        context.sends = None
    context.fin_pending = False
    placed_bytes = b"".join(data for _, data, _ in context.posted)
    target.counters.bytes_placed -= len(placed_bytes)
    context.posted = ()
    context.push_deadline = None
    return placed_bytes
