"""Traffic the target handles on an offloaded connection: ``target_receive`` and
``target_send``; and the chimney statistics it keeps of that traffic per IP family,
``offload_stats`` and ``reset_offload_stats`` (``crates/core/src/engine/traffic.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._coerce import format_handle
from ..._enums import ConnectionState
from ..._messages import error
from ..host.tree import Node
from ..model.fields import INITIAL_RCV_WND, LAYOUTS, PATH_MTU, check_range
from ..model.handle import PATH, TCP
from ..model.value import to_int
from ..target import traffic
from ..target.statistics import IP_FIELDS, TCP_FIELDS, OffloadStats, family_index, mss
from .types import Event

if TYPE_CHECKING:
    from . import Engine

__all__ = [
    "deliver",
    "forward",
    "offload_stats",
    "post_receive",
    "read",
    "reset_offload_stats",
    "send",
    "target_acknowledge",
    "target_receive",
    "target_send",
    "wire",
    "wire_out",
]

U32 = 0xFFFF_FFFF
SOURCE = LAYOUTS[PATH].index("source")  # in const
REMOTE_MSS = LAYOUTS[TCP].index("remote_mss")  # in const
STATE = LAYOUTS[TCP].index("state")  # in delegated
ESTABLISHED = (int(ConnectionState.ESTABLISHED), int(ConnectionState.CLOSE_WAIT))
#: The states in which the host's send half is closed (``ConnectionState::send_closed``).
_SEND_CLOSED = frozenset(
    int(s)
    for s in (
        ConnectionState.FIN_WAIT_1,
        ConnectionState.FIN_WAIT_2,
        ConnectionState.CLOSING,
        ConnectionState.LAST_ACK,
        ConnectionState.TIME_WAIT,
        ConnectionState.CLOSED,
    )
)


def wire(node: Node) -> tuple[int, int]:
    """The IP family index of connection ``node`` and the MSS of its path."""
    path = node.parent
    assert path is not None
    family = family_index(path.const[SOURCE])
    return family, mss(family, path.cached[PATH_MTU])


def target_receive(e: Engine, handle: int, data: bytes, psh: bool = False) -> int:
    """The target receives ``data`` on connection ``handle``, with the PSH bit when ``psh``:
    the host's posted receive requests first, the rest buffered until a request is posted
    or a terminate; the bytes taken (0: beyond the window, dropped)."""
    node = e.resolve_offloaded_one(handle, TCP, "connection", "receive on it")
    return apply_receive(e, node, data, psh)


def apply_receive(e: Engine, node: Node, data: bytes, psh: bool = False) -> int:
    """``target_receive`` once its checks passed; the bytes taken."""
    context = e.target.contexts[node.handle]
    if context.upload_requested or e.target.upload_all:
        traffic.indicate_non_offload(e.target, context, data)
        return len(data)
    take = e.policy.accept_indicated
    if not traffic.fits_window(e.target, context, len(data), take):
        return 0
    return process_received(e, node, data, psh)


def process_received(e: Engine, node: Node, data: bytes, psh: bool = False) -> int:
    """Received bytes the target takes (``Engine::process_received``); the bytes taken."""
    take = e.policy.accept_indicated
    flags = (psh, take)
    traffic.receive(e.target, node.handle, data, wire(node), e.delivered, e.counts, flags)
    # A FIN that waited for the buffered data goes once the host has taken it all.
    if take and traffic.take_ready_fin(e.target, node.handle):
        from ..._enums import EventKind
        from .events import indicate_close  # events imports terminate, which imports us

        indicate_close(e, node, EventKind.DISCONNECT)
    return len(data)


def forward(e: Engine, handle: int, data: bytes) -> int:
    """The host forwards segments to offloaded connection ``handle``; the target processes
    them as received (``Engine::forward``); the bytes taken."""
    node = e.resolve_offloaded_one(handle, TCP, "connection", "forward data to it")
    return apply_receive(e, node, data)


def deliver(e: Engine, handle: int, data: bytes) -> None:
    """Received bytes reach the host's connection ``handle`` (a receive request completed)."""
    if data:
        e.delivered[handle] = e.delivered.get(handle, b"") + data
        e.counts.bytes_delivered += len(data)


def post_receive(e: Engine, handle: int, size: object, push: bool = False) -> int:
    """The host posts a receive request of ``size`` bytes on ``handle``, in push mode when
    ``push``; the bytes of the requests this completed (``Engine::post_receive``)."""
    node = e.resolve_offloaded_one(handle, TCP, "connection", "post a receive request on it")
    return apply_post_receive(e, node, check_receive_size(to_int(size, "size")), push)


def check_receive_size(size: int) -> int:
    """A receive request's size: 1..2**32-1 bytes."""
    return check_range("size", size, 1, U32)


def apply_post_receive(e: Engine, node: Node, n: int, push: bool = False) -> int:
    """``post_receive`` once its checks passed."""
    handle = node.handle
    max_window = node.cached[INITIAL_RCV_WND]
    completed = traffic.post_receive(e.target, handle, (n, push), max_window)
    deliver(e, handle, completed)
    # A FIN that waited for the buffered data goes once the host has taken it all.
    if traffic.take_ready_fin(e.target, handle):
        from ..._enums import EventKind
        from .events import indicate_close  # events imports terminate, which imports us

        indicate_close(e, node, EventKind.DISCONNECT)
    return len(completed)


def read(e: Engine, handle: int) -> bytes:
    """The bytes delivered to connection ``handle`` not read yet; reading takes them."""
    e.host.resolve_layer(handle, TCP, "connection")
    return take_delivered(e, handle)


def take_delivered(e: Engine, handle: int) -> bytes:
    """``read`` once its check passed."""
    data = e.delivered.pop(handle, b"")
    e.counts.bytes_read += len(data)
    return data


def wire_out(node: Node) -> tuple[int, int]:
    """The family of connection ``node`` and the largest segment it sends: no larger than
    the peer's MSS (RemoteMss, when set) or the path's."""
    family, path_mss = wire(node)
    remote = node.const[REMOTE_MSS]
    return family, path_mss if remote == 0 else min(remote, path_mss)


def target_send(e: Engine, handle: int, nbytes: object) -> int:
    """The target sends ``nbytes`` without a payload on connection ``handle``; the bytes
    sent (0 if held back)."""
    node = e.resolve_offloaded_one(handle, TCP, "connection", "send on it")
    n = check_range("nbytes", to_int(nbytes, "nbytes"), 0, U32)
    return traffic.send(e.target, handle, n, wire_out(node))


def send(e: Engine, handle: int, data: bytes) -> int:
    """The host posts ``data`` on offloaded connection ``handle``; the bytes transmitted now
    (``Engine::send``)."""
    return apply_send(e, check_send(e, handle), data)


def check_send(e: Engine, handle: int) -> Node:
    """``send``'s checks: ``handle`` is an offloaded connection whose send half is open."""
    node = e.resolve_offloaded_one(handle, TCP, "connection", "send on it")
    # RFC 793: after the host's FIN (and in CLOSED) SEND is "connection closing".
    state = e.target.contexts[handle].delegated[STATE]
    if state in _SEND_CLOSED:
        raise error("send_closed", handle=format_handle(handle), state=ConnectionState(state).name)
    return node


def apply_send(e: Engine, node: Node, data: bytes) -> int:
    """``send`` once its checks passed."""
    sent = traffic.post(e.target, node.handle, data, wire_out(node))
    e.counts.bytes_posted += len(data)
    return sent


def target_acknowledge(e: Engine, handle: int, nbytes: object, window: object = None) -> int:
    """The peer acknowledges ``nbytes`` more bytes on connection ``handle``, at most the
    bytes in flight; the send requests completed (``Engine::target_acknowledge``)."""
    node = e.resolve_offloaded_one(handle, TCP, "connection", "acknowledge on it")
    n = check_range("nbytes", to_int(nbytes, "nbytes"), 0, U32)
    advertised = None if window is None else check_range("window", to_int(window, "window"), 0, U32)
    check_in_flight(e, handle, n, 0)
    return apply_acknowledge(e, node, n, advertised)


def check_in_flight(e: Engine, handle: int, n: int, earlier: int) -> None:
    """``target_acknowledge``'s last check: ``n`` more bytes are in flight on ``handle`` once
    ``earlier`` bytes (acknowledged earlier in the same batch) are taken off."""
    at_start = traffic.in_flight(e.target, handle)
    if n + earlier <= at_start:
        return
    if not earlier:
        raise error("ack_beyond_sent", nbytes=n, handle=format_handle(handle), in_flight=at_start)
    raise error(
        "ack_beyond_batch",
        nbytes=n,
        handle=format_handle(handle),
        in_flight=at_start,
        earlier=earlier,
    )


def apply_acknowledge(e: Engine, node: Node, n: int, advertised: int | None) -> int:
    """``target_acknowledge`` once its checks passed."""
    handle = node.handle
    completed, fin, backlog = traffic.acknowledge(
        e.target, handle, n, advertised, wire(node), wire_out(node)
    )
    from ..._enums import EventKind
    from .clock import timers_on_ack, timers_on_segment
    from .events import indicate, indicate_close  # events imports terminate, which imports us

    context = e.target.contexts[handle]
    if n > 0:
        timers_on_ack(e, context)
    timers_on_segment(e, context)

    if backlog is not None:
        indicate(e, Event(EventKind.SEND_BACKLOG_CHANGE.value, handle, None, context, backlog))
    if fin:
        # The host's FIN is acknowledged: NdisTcpOffloadDisconnectComplete.
        indicate_close(e, node, EventKind.DISCONNECT_COMPLETE)
    return completed


def _family(version: int) -> int:
    """The statistics index of IP version ``version``: ``ValidationError`` unless 4 or 6."""
    if version == 4:
        return 0
    if version == 6:
        return 1
    raise error("ip_version", value=version)


def offload_stats(e: Engine, version: int) -> dict[str, dict[str, int]]:
    """What OID_IPx_OFFLOAD_STATS and OID_TCPx_OFFLOAD_STATS report for IP version
    ``version``, with CurrentlyEstablished counted now: the offloaded connections of that
    family whose live state is ESTABLISHED or CLOSE-WAIT."""
    family = _family(version)
    stats = e.target.offload_stats[family]
    established = 0
    for node in e.host.arenas[TCP].items:
        if node is None or not node.offloaded:
            continue
        path = node.parent
        assert path is not None
        if family_index(path.const[SOURCE]) != family:
            continue
        if e.target.contexts[node.handle].delegated[STATE] in ESTABLISHED:
            established += 1
    ip = {name: stats.ip[name] for name, _ in IP_FIELDS}
    tcp = {name: stats.tcp[name] for name, _ in TCP_FIELDS}
    tcp["currently_established"] = established & U32
    return {"ip": ip, "tcp": tcp}


def reset_offload_stats(e: Engine, version: int) -> None:
    """Reset the counters of IP version ``version``, as setting OID_IPx_OFFLOAD_STATS and
    OID_TCPx_OFFLOAD_STATS does (CurrentlyEstablished is a gauge, not a counter)."""
    family = _family(version)
    stats = list(e.target.offload_stats)
    stats[family] = OffloadStats()
    e.target.offload_stats = (stats[0], stats[1])
