"""Target-initiated events (docs/SPEC.md §4): upload requests, upload-all and resume, and
neighbor reachability in doubt. They queue on the host; :func:`process_events` applies the
default host response (``crates/core/src/engine/events.rs``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..._coerce import format_handle
from ..._engine import Limits
from ..._enums import ConnectionState, EventKind, UploadReason
from ..._messages import error
from ..host.tree import Node
from ..host.walk import offloaded_post_order
from ..model.fields import HOST_REACHABILITY, STATE
from ..model.handle import NEIGHBOR, TCP
from ..model.value import to_int
from ..target import traffic
from .terminate import upload
from .types import (
    BACKLOG_NOTED,
    DECLINED,
    DISCONNECTED,
    IGNORED,
    PAUSED,
    PEER_CLOSED,
    REACHABILITY_ANSWERED,
    RESUMED,
    TERMINATED,
    TERMINATED_ALL,
    Event,
    Outcome,
    Processed,
)

if TYPE_CHECKING:
    from . import Engine

__all__ = [
    "disconnect",
    "indicate",
    "indicate_close",
    "process_events",
    "request_upload",
    "target_indicate_neighbor_reachability_query",
    "target_peer_close",
    "target_request_upload",
    "target_request_upload_all",
    "target_resume",
]

_INVALID_STATE = UploadReason.INVALID_STATE.value


def indicate(e: Engine, event: Event) -> None:
    """Queue an event for the host."""
    e.events.append(event)
    e.counts.events_seen += 1
    e.target.counters.events_indicated += 1


def target_request_upload(e: Engine, handle: int, reason: object) -> None:
    """The target asks for the upload of connection ``handle``, for ``reason``."""
    node = e.resolve_offloaded_one(handle, TCP, "connection", "request its upload")
    request_upload(e, node, _upload_reason(reason))


def request_upload(e: Engine, node: Node, reason: UploadReason) -> None:
    """Queue the target's request to upload offloaded connection ``node``. For a mandatory
    reason the target stops processing the connection's I/O until the upload."""
    if reason.mandatory:
        e.target.contexts[node.handle].upload_requested = True
    context = e.target.contexts[node.handle]
    indicate(e, Event(EventKind.UPLOAD_REQUESTED.value, node.handle, reason.value, context))


def _upload_reason(value: object) -> UploadReason:
    code = to_int(value, "reason")
    try:
        return UploadReason(code)
    except ValueError:
        raise error("not_an_upload_reason", value=code) from None


def target_pause(e: Engine) -> None:
    """The target indicates offload-pause: the host offloads nothing more until it resumes
    (``Engine::target_pause``)."""
    if e.target.paused:
        raise error("already_paused")
    e.target.paused = True
    indicate(e, Event(EventKind.OFFLOAD_PAUSE.value))


def target_request_upload_all(e: Engine) -> None:
    """The target indicates upload-all: it pauses (if it had not) and asks for everything
    back; until it resumes it processes no sends."""
    if e.target.upload_all:
        raise error("upload_all_pending")
    e.target.paused = True
    e.target.upload_all = True
    indicate(e, Event(EventKind.UPLOAD_ALL.value))


def target_resume(e: Engine, limits: Limits | None = None) -> None:
    """The target indicates offload-resume: it accepts offloads again, with the
    capabilities ``limits`` when given (``Engine::target_resume``)."""
    if not e.target.paused:
        raise error("not_paused")
    if limits is not None:
        neighbors, paths, tcps, mtu, window = limits
        config = replace(
            e.target.config,
            neighbor_capacity=neighbors,
            path_capacity=paths,
            tcp_capacity=tcps,
            max_path_mtu=mtu,
            max_rcv_window=window,
        )
        for layer, name in enumerate(("neighbor", "path", "tcp")):
            capacity, held = config.capacity(layer), e.target.offloaded(layer)
            if capacity is not None and capacity < held:
                raise error("capacity_below_held", layer=name, capacity=capacity, held=held)
        e.target.config = config
    e.target.paused = False
    e.target.upload_all = False
    _resume_io(e)
    indicate(e, Event(EventKind.OFFLOAD_RESUME.value))


def _resume_io(e: Engine) -> None:
    """The upload-all ended without the upload: the segments indicated on the non-offload
    path come back to the target, which processes them now, in the host's order
    (``Engine::resume_io``)."""
    from .traffic import process_received, wire_out  # traffic imports our users: import late

    nodes = [node for node in e.host.arenas[TCP].items if node is not None and node.offloaded]
    for node in nodes:
        context = e.target.contexts[node.handle]
        if context.non_offload and not context.upload_requested:
            # Taken when they came (``receive`` said so): no window check again.
            process_received(e, node, traffic.take_non_offload(e.target, context))
    # Sends (and a FIN) that waited go out as the send window allows.
    for node in nodes:
        context = e.target.contexts[node.handle]
        if context.sends is not None and not context.upload_requested:
            traffic.transmit_waiting(e.target, context, wire_out(node))


def target_indicate_neighbor_reachability_query(e: Engine, handle: int) -> None:
    """The target asks the host about the reachability of offloaded neighbor ``handle``
    (NeighborReachabilityQuery, NDIS "Making a NeighborReachabilityQuery Indication")."""
    node = e.resolve_offloaded_one(handle, NEIGHBOR, "neighbor", "query its reachability")
    context = e.target.contexts[node.handle]
    context.query_pending = True
    indicate(e, Event(EventKind.NEIGHBOR_REACHABILITY_QUERY.value, node.handle, None, context))


#: The state the host's graceful disconnect moves a connection to (RFC 793).
_AFTER_DISCONNECT = {
    int(ConnectionState.ESTABLISHED): int(ConnectionState.FIN_WAIT_1),
    int(ConnectionState.CLOSE_WAIT): int(ConnectionState.LAST_ACK),
}
#: The state a FIN moves a connection to, by the state it arrives in (RFC 793).
_AFTER_FIN = {
    ConnectionState.ESTABLISHED: ConnectionState.CLOSE_WAIT,
    ConnectionState.FIN_WAIT_1: ConnectionState.CLOSING,
    ConnectionState.FIN_WAIT_2: ConnectionState.TIME_WAIT,
}


def indicate_close(e: Engine, node: Node, kind: EventKind) -> None:
    """Queue TcpIndicateDisconnect or TcpIndicateAbort for offloaded connection ``node``."""
    indicate(e, Event(kind.value, node.handle, None, e.target.contexts[node.handle]))


def target_peer_close(e: Engine, handle: int, abortive: bool) -> None:
    """The peer closes offloaded connection ``handle`` with a FIN or, ``abortive``, an RST
    (``Engine::target_peer_close``)."""
    from .clock import timers_on_segment  # clock imports this module: import late
    from .traffic import deliver, wire  # traffic imports this module's users: import late

    node = e.resolve_offloaded_one(handle, TCP, "connection", "close it")
    context = e.target.contexts[handle]
    state = context.delegated[STATE]

    def refuse(segment: str) -> Exception:
        name = ConnectionState(state).name if 0 <= state <= 10 else "an unknown state"
        return error("peer_close_state", handle=format_handle(handle), state=name, segment=segment)

    if abortive:
        if state == ConnectionState.CLOSED:
            raise refuse("RST")
        deliver(e, handle, traffic.peer_rst(e.target, handle, wire(node)))
        indicate_close(e, node, EventKind.ABORT)
        return
    after = _AFTER_FIN.get(ConnectionState(state)) if 0 <= state <= 10 else None
    if after is None:
        raise refuse("FIN")
    now = traffic.peer_fin(e.target, handle, int(after), wire(node))
    timers_on_segment(e, context)
    if now:
        indicate_close(e, node, EventKind.DISCONNECT)


def disconnect(e: Engine, handle: int, abortive: bool) -> Outcome:
    """The host disconnects offloaded connection ``handle`` (``Engine::disconnect``):
    gracefully, a FIN after every posted byte; abortively, an RST and at once the upload."""
    from .traffic import deliver, wire, wire_out  # traffic imports this module's users

    node = e.resolve_offloaded_one(handle, TCP, "connection", "disconnect it")
    state = e.target.contexts[handle].delegated[STATE]
    name = ConnectionState(state).name if 0 <= state <= 10 else "an unknown state"
    kind = "abortive" if abortive else "graceful"
    refused = error("disconnect_state", handle=format_handle(handle), state=name, kind=kind)
    if abortive:
        if state == ConnectionState.CLOSED:
            raise refused
        deliver(e, handle, traffic.reset(e.target, handle, wire(node)))
        return upload(e, [node])
    after = _AFTER_DISCONNECT.get(state)
    if after is None:
        raise refused
    traffic.disconnect(e.target, handle, after, wire_out(node))
    return Outcome()


def optional_reasons(values: list[object]) -> int:
    """The decline bits of ``values``: optional upload reasons only."""
    bits = 0
    for value in values:
        reason = _upload_reason(value)
        if reason.mandatory:
            raise error("mandatory_reason", reason=reason.name)
        bits |= 1 << reason.value
    return bits


def process_events(e: Engine, decline: list[object] | None) -> list[Processed]:
    """Drain the event queue in order, applying the host's response to each. ``decline``:
    the optional upload reasons whose requests the host declines (None: its policy's). After
    the policy's ``uploads_per_call`` uploads the rest of the queue waits."""
    bits = e.policy.decline if decline is None else optional_reasons(decline)
    declined = {reason for reason in range(16) if bits >> reason & 1}
    limit = e.policy.uploads_per_call
    uploads = 0
    done: list[Processed] = []
    while e.events and (limit is None or uploads < limit):
        event = e.events.popleft()
        e.counts.events_processed += 1
        processed = _respond(e, event, declined)
        if processed.event.kind == EventKind.UPLOAD_REQUESTED and processed.action == TERMINATED:
            uploads += 1
        done.append(processed)
    return done


def _current(e: Engine, event: Event) -> Node | None:
    """The object an event names, if it is still offloaded by the offload the event was
    about (``event_is_current`` in the core): an event queued before a terminate must not
    act on the next offload."""
    assert event.handle is not None
    node = e.host.find(event.handle)
    if node is None or not node.offloaded:
        return None
    return node if e.target.contexts.get(node.handle) is event.offload else None


def _respond(e: Engine, event: Event, declined: set[int]) -> Processed:
    kind = event.kind
    if kind == EventKind.UPLOAD_REQUESTED:
        assert event.handle is not None
        if event.reason == _INVALID_STATE:
            e.invalid_pending.discard(event.handle)
        node = _current(e, event)
        if node is None:
            return Processed(event, IGNORED, None)
        if event.reason in declined:
            return Processed(event, DECLINED, None)
        return Processed(event, TERMINATED, upload(e, [node]))
    if kind == EventKind.UPLOAD_ALL:
        # Offloaded neighbors root everything offloaded (invariant 2).
        roots = [nb for nb in e.host.neighbors.values() if nb.offloaded]
        return Processed(event, TERMINATED_ALL, upload(e, offloaded_post_order(roots)))
    if kind == EventKind.OFFLOAD_RESUME:
        return Processed(event, RESUMED, None)
    if kind == EventKind.OFFLOAD_PAUSE:
        return Processed(event, PAUSED, None)
    if kind == EventKind.SEND_BACKLOG_CHANGE:
        current = _current(e, event) is not None
        return Processed(event, BACKLOG_NOTED if current else IGNORED, None)
    if kind == EventKind.DISCONNECT_COMPLETE:
        # The host's FIN was acknowledged: done when both halves are closed (CLOSED after
        # LAST-ACK, or TIME-WAIT); else the connection waits for the peer's FIN (FIN-WAIT-2).
        node = _current(e, event)
        if node is None:
            return Processed(event, IGNORED, None)
        state = e.target.contexts[node.handle].delegated[STATE]
        if state in (ConnectionState.CLOSED, ConnectionState.TIME_WAIT):
            return Processed(event, TERMINATED, upload(e, [node]))
        return Processed(event, DISCONNECTED, None)
    if kind in (EventKind.DISCONNECT, EventKind.ABORT):
        # A reset connection is dead, and so is one whose both halves are closed
        # (TIME-WAIT): the host terminates its offload. After a FIN alone it stays, and the
        # host may still send.
        node = _current(e, event)
        if node is None:
            return Processed(event, IGNORED, None)
        state = e.target.contexts[node.handle].delegated[STATE]
        if kind == EventKind.ABORT or state == ConnectionState.TIME_WAIT:
            return Processed(event, TERMINATED, upload(e, [node]))
        return Processed(event, PEER_CLOSED, None)
    assert kind == EventKind.NEIGHBOR_REACHABILITY_QUERY and event.handle is not None
    node = _current(e, event)
    if node is None:
        return Processed(event, IGNORED, None)
    # The host answers with its HostReachabilityDelta (0 when its neighbor cache entry is
    # stale: the caller sets it with update); the target takes it as its HostReachabilityTime.
    # Only forward progress resets the NicReachabilityDelta (target/traffic.py).
    context = e.target.contexts[node.handle]
    context.host_reachability = node.cached[HOST_REACHABILITY]
    context.query_pending = False
    return Processed(event, REACHABILITY_ANSWERED, None)
