"""``SimulatedTarget``: the public face of the simulated offload target.

The target's state lives in the engine next to the host tree (one engine, one lock, so
every operation is atomic). A ``SimulatedTarget`` records its configuration until a tree
is built on it, then forwards its calls to that tree's engine.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import warnings
import weakref
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Literal, overload

from . import _draw, _tree_ids
from ._coerce import (
    Handles,
    as_bool,
    as_handle,
    as_handles,
    as_int_array,
    as_payload,
    plain_scalar,
)
from ._columns import flatten
from ._engine import Engine, EngineClass, IntArray
from ._enums import Operation, Status, UploadReason
from ._errors import StateError, ValidationError
from ._interrupts import atomic
from ._messages import error
from ._stats import Capacities, FlatStats, TargetStats, target_stats

__all__ = ["SimulatedTarget"]

_U64_MAX = 2**64 - 1


def _limit(name: str, value: object) -> int | None:
    """A capacity or limit: None (unlimited) or an int in 0..2**64-1."""
    value = plain_scalar(value)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U64_MAX:
        raise ValidationError(f"{name} must be None or an int in 0..2**64-1, got {value!r}")
    return int(value)


def _int_arg(name: str, value: object) -> int:
    """An int argument (NumPy integers too, not bools); range checks are the engine's."""
    value = plain_scalar(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def _family_arg(value: object) -> int:
    """An IP version, 4 or 6: ``ValidationError`` otherwise (the engine checks it again)."""
    version = _int_arg("family", value)
    if version not in (4, 6):
        raise error("ip_version", value=version)
    return version


#: What a call on a target whose tree is gone says: why it cannot act, and what to do.
_TREE_GONE = (
    "target is not attached to a tree: the tree built on it is gone, and with it the state "
    "that tree had offloaded (build a new tree on the target: OffloadStateTree(target))"
)


def _operation_arg(value: object) -> int:
    """An ``Operation``, its code, or its name in any case; ``ValidationError`` otherwise
    (a member of another enum too: it would pass as a code by accident)."""
    if isinstance(value, str):
        name = value.upper()
        if value.isascii() and name in Operation.__members__:
            return int(Operation[name])
        raise error("not_an_operation", value=repr(value))
    if isinstance(value, Enum) and not isinstance(value, Operation):
        raise error("not_an_operation", value=repr(value))
    return _int_arg("operation", value)


@dataclass(frozen=True, slots=True)
class _Config:
    """A validated configuration, in the order of the engine constructor's first parameters.

    This is the one place a configuration is validated: engines trust what they are given
    (the contract of ``_engine.Engine``).
    """

    neighbor_capacity: int | None
    path_capacity: int | None
    tcp_capacity: int | None
    max_path_mtu: int | None
    max_rcv_window: int | None
    fail_rate: float
    seed: int


#: The capabilities a target reports, which :meth:`SimulatedTarget.resume` may change.
_LIMITS = ("neighbor_capacity", "path_capacity", "tcp_capacity", "max_path_mtu", "max_rcv_window")


class SimulatedTarget:
    """A simulated offload target: per-layer capacities, limits and fault injection.

    ``None`` capacities and limits mean unlimited. ``fail_rate`` (0..1) makes each offload
    attempt fail at random, reproducibly for a given ``seed``. Build a tree on the target
    with ``OffloadStateTree(target)``; until then the traffic and event methods raise
    ``StateError``. A target serves one tree at a time.

    A target lives as long as its tree does, and no longer: once the tree is garbage
    collected the target is detached (:attr:`attached` is False). What it held for that
    tree (the offloaded objects' delegated state, buffered data, pending events, injected
    faults) is dropped, as a NIC's offloaded state goes with the host stack that offloaded
    it: no host is left to terminate it. Its calls then raise ``StateError`` saying so, and
    ``OffloadStateTree(target)`` builds a new tree on it, which finds the target empty, with
    the configuration it has now (capabilities given to :meth:`resume` included). Targets
    can be weakly referenced.
    """

    __slots__ = ("__weakref__", "_attach_lock", "_config", "_engine", "_trace", "_tree")

    def __init__(
        self,
        neighbor_capacity: int | None = None,
        path_capacity: int | None = None,
        tcp_capacity: int | None = None,
        max_path_mtu: int | None = None,
        max_rcv_window: int | None = None,
        fail_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        """Record and validate the configuration (``ValidationError`` when out of range)."""
        rate = plain_scalar(fail_rate)
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not math.isfinite(rate)
            or not 0.0 <= rate <= 1.0
        ):
            raise ValidationError(f"fail_rate must be a float in [0, 1], got {fail_rate!r}")
        seed = plain_scalar(seed)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _U64_MAX:
            raise ValidationError(f"seed must be an int in 0..2**64-1, got {seed!r}")
        # The configuration is fixed: the engine is built from it, changing it later would lie.
        self._config = _Config(
            neighbor_capacity=_limit("neighbor_capacity", neighbor_capacity),
            path_capacity=_limit("path_capacity", path_capacity),
            tcp_capacity=_limit("tcp_capacity", tcp_capacity),
            max_path_mtu=_limit("max_path_mtu", max_path_mtu),
            max_rcv_window=_limit("max_rcv_window", max_rcv_window),
            fail_rate=float(rate),
            seed=int(seed),
        )
        self._engine: Engine | None = None
        self._attach_lock = threading.Lock()
        self._trace: Any = None  # the tree's recording (_trace.py), while it records
        self._tree: Any = None  # a weak reference to the tree built on it, once there is one

    def _own_tree(self) -> Any:
        """The tree built on this target, if it is alive (None: unattached or detached)."""
        return None if self._tree is None else self._tree()

    def _tree_gone(self) -> bool:
        """True when a tree was built on this target and has been garbage collected (its
        weak reference is dead); False while none is, or while one is being built."""
        return self._tree is not None and self._tree() is None

    def _bind_tree(self, tree: Any) -> None:
        """Note ``tree`` as this target's tree: weakly, so that the target does not keep it
        alive, and with a callback that detaches the target when the tree is collected."""
        self._tree = weakref.ref(tree, _detach_callback(self))

    def _detach(self, gone: Any) -> None:
        """Drop the engine of the collected tree whose weak reference is ``gone`` (if it is
        still this target's tree: a new one may have been built since)."""
        if self._tree is gone:
            self._engine = None
            self._trace = None

    def __copy__(self) -> SimulatedTarget:
        """The target of a copy of its tree (a target travels with its tree); an unattached
        or detached target: a new one with the same configuration."""
        return self.__deepcopy__({})

    def __deepcopy__(self, memo: dict[int, Any]) -> SimulatedTarget:
        """The target of the deep copy of its tree, the same one the tree's copy holds."""
        import copy

        tree = self._own_tree()
        if tree is None:
            return SimulatedTarget(*dataclasses.astuple(self._config))
        copied: SimulatedTarget = copy.deepcopy(tree, memo).target
        return copied

    def __reduce__(self) -> Any:
        """Pickled as its tree's target: unpickling makes (or reuses) the tree's copy.
        Pickled alone, nothing holds that copy, so the unpickled target is detached once the
        copy is collected: a target with this one's configuration."""
        tree = self._own_tree()
        if tree is None:
            return (SimulatedTarget, dataclasses.astuple(self._config))
        from ._tree import _target_of

        return (_target_of, (tree,))

    @property
    def neighbor_capacity(self) -> int | None:
        """How many neighbors may be offloaded at once (None: unlimited)."""
        return self._config.neighbor_capacity

    @property
    def path_capacity(self) -> int | None:
        """How many paths may be offloaded at once (None: unlimited)."""
        return self._config.path_capacity

    @property
    def tcp_capacity(self) -> int | None:
        """How many TCP connections may be offloaded at once (None: unlimited)."""
        return self._config.tcp_capacity

    @property
    def max_path_mtu(self) -> int | None:
        """The largest path MTU the target accepts (None: any)."""
        return self._config.max_path_mtu

    @property
    def max_rcv_window(self) -> int | None:
        """The largest initial receive window the target accepts (None: any)."""
        return self._config.max_rcv_window

    @property
    def fail_rate(self) -> float:
        """The probability that an offload attempt fails at random."""
        return self._config.fail_rate

    @property
    def seed(self) -> int:
        """The seed of the target's random faults."""
        return self._config.seed

    @property
    def _capacities(self) -> Capacities:
        config = self._config
        return (config.neighbor_capacity, config.path_capacity, config.tcp_capacity)

    # -- attachment (used by OffloadStateTree)
    def _attach(self, engine_class: EngineClass, release_unreferenced: bool) -> Engine:
        """Create the engine of a new tree from this configuration and the host's policy;
        once only."""
        # Check and set under one lock: two threads building trees on one target must not
        # both succeed (the loser's tree would drive the winner's engine).
        with self._attach_lock:
            if self._engine is not None and not self._tree_gone():
                raise StateError(
                    "target is already attached to a tree: a target serves one tree at a time "
                    "(drop that tree first, or build the new one on another SimulatedTarget)"
                )
            # A detached target starts over: the collected tree's engine goes (the callback
            # that drops it may not have run yet), and with it the state it held.
            self._detach(self._tree)
            c = self._config
            tree_id = _tree_ids.acquire()
            try:
                engine = engine_class(
                    c.neighbor_capacity, c.path_capacity, c.tcp_capacity, c.max_path_mtu,
                    c.max_rcv_window, c.fail_rate, c.seed, release_unreferenced, tree_id,
                )  # fmt: skip
            except BaseException:
                _tree_ids.release(tree_id)
                raise
            _tree_ids.bind(engine, tree_id)
            self._tree = None  # until the new tree binds itself: attached, being built
            self._engine = engine
            return engine

    @classmethod
    def _restored(cls, engine: Engine, limits: tuple[int | None, ...], fail_rate: float,
                  seed: int) -> SimulatedTarget:  # fmt: skip
        """The target of a tree restored from a snapshot: attached to ``engine`` already,
        configured as the snapshot says (its current limits, after any ``resume``)."""
        target = cls.__new__(cls)
        neighbor, path, tcp, mtu, window = limits
        target._config = _Config(neighbor, path, tcp, mtu, window, float(fail_rate), int(seed))
        target._engine = engine
        target._attach_lock = threading.Lock()
        target._trace = None
        target._tree = None  # set by the restore, once the tree exists
        return target

    @property
    def attached(self) -> bool:
        """True while a tree built on this target is alive; False before one is built and
        after it has been garbage collected (then a new tree may be built on it)."""
        return self._engine is not None and not self._tree_gone()

    def _attached_engine(self) -> Engine:
        engine = self._engine
        if self._tree_gone():
            raise StateError(_TREE_GONE)
        if engine is None:
            raise StateError("target is not attached to a tree")
        return engine

    # -- traffic
    # receive and send need no deferred Ctrl-C: natively they cannot be split, and the
    # fallback commits them with stores only (target/traffic.py), where no signal handler
    # runs. Deferring costs two signal.signal calls, more than the call itself. acknowledge
    # moves a send queue in several steps in the fallback: it defers Ctrl-C there (natively
    # a short call is never deferred, so that costs nothing).
    def receive(self, tc: int, data: bytes | bytearray | memoryview, *, push: bool = False) -> int:
        """Receive ``data`` on an offloaded connection, in a segment with the PSH bit when
        ``push``: it fills the host's posted receive requests first (a push-mode request
        partly filled completes on PSH), and the rest is indicated; what the host does not
        take stays buffered until a request is posted or a terminate returns it.

        Returns the bytes taken: all of them, or 0 when what the posted requests cannot hold
        does not fit the receive window (``rcv_wnd``): the target drops such a segment whole
        and does not acknowledge it, as TCP does (the peer sends it again;
        ``stats()["bytes_beyond_window"]``). While the connection's upload is under way the
        segment is not processed but passed to the host (``bytes_non_offload``)."""
        engine = self._attached_engine()
        payload = as_payload(data)
        return int(engine.target_receive(as_handle(tc), payload, as_bool("push", push)))

    def send(self, tc: int, nbytes: int) -> int:
        """Send ``nbytes`` without a payload on an offloaded connection; returns the bytes
        sent (0 if held back). The bytes take their place in the sequence space (SndNxt)
        after any data the host posted with ``tree.send``, and acknowledgements cover them
        in that order; they are not subject to the send window."""
        engine = self._attached_engine()
        h = as_handle(tc)
        if isinstance(nbytes, bytes | bytearray | memoryview):
            raise ValidationError(
                "nbytes must be an int, got bytes: the target sends a count of payload-less "
                "bytes; to post data, use tree.send(tc, data)"
            )
        return int(engine.target_send(h, _int_arg("nbytes", nbytes)))

    @atomic(long=False)
    def acknowledge(self, tc: int, nbytes: int, *, window: int | None = None) -> int:
        """The peer acknowledges ``nbytes`` more bytes on an offloaded connection: SndUna
        advances by ``nbytes`` (at most SndNxt - SndUna, the bytes in flight: else
        ``ValidationError``). Posted data it covers is done with: a send request completes
        once every byte of it is acknowledged (NdisTcpOffloadSendComplete). The window it
        opens lets waiting posted data out. An ACK is a received segment: it counts in the
        statistics and is forward progress for the connection's neighbor, as ``receive`` is.
        Returns the number of send requests it completed.

        ``window``: the send window the segment advertises (0..2**32-1), which becomes SndWnd
        (MaxSndWnd keeps the largest). The target's preferred send backlog is the smaller of
        Cwnd (standing for the bandwidth-delay product) and SndWnd, the DDI's example: it
        does not depend on what is posted. When it moves by at least a quarter of the last
        SendBacklogSize and at least one segment (the throttle NDIS asks for, against a storm
        of indications), SendBacklogSize takes it and a ``SEND_BACKLOG_CHANGE`` event carries
        it (``ProcessedEvent.size``)."""
        engine = self._attached_engine()
        h = as_handle(tc)
        w = None if window is None else _int_arg("window", window)
        return int(engine.target_acknowledge(h, _int_arg("nbytes", nbytes), w))

    # -- traffic in batches: one call for many connections (docs/DESIGN.md §8)
    @atomic(long=True)
    def receive_many(
        self, tcs: Handles, data: bytes | bytearray | memoryview, lengths: Any
    ) -> IntArray:
        """``receive`` on many connections in one call: ``data`` cut into consecutive pieces
        of ``lengths`` (an int for pieces of one length), piece ``i`` received on ``tcs[i]``,
        in order. Every item is checked first (an offloaded connection, a length not
        negative, the lengths adding up to ``len(data)``); a failure names the first failing
        item and changes nothing. Returns the bytes each item took (``int64``; 0 for a piece
        dropped beyond the receive window, as :meth:`receive`)."""
        engine = self._attached_engine()
        handles = as_handles(tcs)
        pieces = as_int_array("lengths", lengths, len(handles))
        return engine.target_receive_many(handles, as_payload(data), pieces)

    @atomic(long=True)
    def acknowledge_many(self, tcs: Handles, nbytes: Any, *, windows: Any = None) -> IntArray:
        """``acknowledge`` on many connections in one call: ``nbytes[i]`` more bytes on
        ``tcs[i]`` (an int for one count), advertising ``windows[i]`` if given. Returns the
        send requests each item completed (``int64`` array).

        Every item is checked before any is applied, so the items of one connection together
        acknowledge at most what it had in flight when the call began, as acknowledgements
        that arrive together would (one by one, ``acknowledge`` could also cover what an
        earlier acknowledgement let out).
        """
        engine = self._attached_engine()
        handles = as_handles(tcs)
        n = len(handles)
        counts = as_int_array("nbytes", nbytes, n)
        advertised = None if windows is None else as_int_array("windows", windows, n)
        return engine.target_acknowledge_many(handles, counts, advertised)

    # -- events
    @atomic(long=False)
    def request_upload(self, tc: int, reason: UploadReason | int) -> None:
        """Ask the host to upload one connection (queues an UPLOAD_REQUESTED event)."""
        engine = self._attached_engine()
        h = as_handle(tc)
        engine.target_request_upload(h, _int_arg("reason", reason))

    @atomic(long=False)
    def peer_close(self, tc: int, abortive: bool = False) -> None:
        """The peer closes an offloaded connection
        (NDIS "Responding to the Reception of a FIN or RST Segment").

        Graceful (a FIN): it takes one sequence number and closes the connection's receive
        half: ESTABLISHED becomes CLOSE_WAIT, FIN_WAIT_1 CLOSING, FIN_WAIT_2 TIME_WAIT (any
        other state: ``StateError``). The target indicates TcpIndicateDisconnect (a
        ``DISCONNECT`` event) once the host has taken every byte received before the FIN
        (``tree.post_receive``); until then it waits. ``tree.process_events()`` then
        terminates the offload of a connection whose both halves are closed (TIME_WAIT), and
        otherwise leaves it offloaded (action ``"peer_closed"``): the host may still send.

        Abortive (an acceptable RST; any state but CLOSED): the connection is CLOSED. Its
        outstanding sends complete with NDIS_STATUS_REQUEST_ABORTED, so the host does not
        process their data: it is dropped (``stats()["bytes"]["send_aborted"]``). Its receive
        requests complete with what was placed in them (``tree.read``). The target indicates
        TcpIndicateAbort (an ``ABORT`` event), and ``process_events`` terminates the offload,
        handing back what the target buffered.
        """
        engine = self._attached_engine()
        h = as_handle(tc)
        engine.target_peer_close(h, as_bool("abortive", abortive))

    @atomic(long=False)
    def pause(self) -> None:
        """Indicate NDIS_STATUS_OFFLOAD_PAUSE (the NDIS page of that name): the host
        offloads nothing more (offloads get ``Status.PAUSED``) until :meth:`resume`; what is
        offloaded goes on as normal, sends included. Already paused: ``StateError``.
        ``process_events`` notes it (action ``"paused"``)."""
        self._attached_engine().target_pause()

    @atomic(long=False)
    def request_upload_all(self) -> None:
        """Indicate NDIS_STATUS_UPLOAD_ALL: pause offloads (if :meth:`pause` had not) and
        ask for everything back. Until :meth:`resume` the target processes no sends: they
        complete with NDIS_STATUS_UPLOAD_IN_PROGRESS (NDIS "NDIS_STATUS_OFFLOAD_PAUSE"), their
        bytes held until the upload returns them. Asked twice before a resume:
        ``StateError``."""
        self._attached_engine().target_request_upload_all()

    @atomic(long=False)
    def resume(self, **capabilities: int | None) -> None:
        """Indicate NDIS_STATUS_OFFLOAD_RESUME: accept offloads again (not paused:
        ``StateError``).

        The host reads the target's capabilities again when it resumes
        (NDIS "NDIS_STATUS_OFFLOAD_RESUME"), so a target may report new ones: any of
        ``neighbor_capacity``, ``path_capacity``, ``tcp_capacity``, ``max_path_mtu`` and
        ``max_rcv_window`` (None: unlimited) given here replace the configured values, and
        offloads from now on obey them. What is offloaded stays; a capacity below what the
        target holds is a ``StateError`` (upload some first), and nothing changes.
        """
        unknown = sorted(set(capabilities) - set(_LIMITS))
        if unknown:
            raise ValidationError(
                f"resume() takes the capabilities {', '.join(_LIMITS)}; got {unknown[0]!r}"
            )
        engine = self._attached_engine()
        if not capabilities:
            engine.target_resume()
            return
        changed = {name: _limit(name, value) for name, value in capabilities.items()}

        def pick(name: str) -> int | None:
            value: int | None = changed[name] if name in changed else getattr(self._config, name)
            return value

        config = replace(
            self._config,
            neighbor_capacity=pick("neighbor_capacity"),
            path_capacity=pick("path_capacity"),
            tcp_capacity=pick("tcp_capacity"),
            max_path_mtu=pick("max_path_mtu"),
            max_rcv_window=pick("max_rcv_window"),
        )
        limits = (config.neighbor_capacity, config.path_capacity, config.tcp_capacity,
                  config.max_path_mtu, config.max_rcv_window)  # fmt: skip
        engine.target_resume(limits)
        self._config = config

    @atomic(long=False)
    def indicate_neighbor_reachability_query(self, nb: int) -> None:
        """Make a NeighborReachabilityQuery indication for an offloaded neighbor.

        The target asks whether the neighbor is still reachable (its NicReachabilityDelta and
        HostReachabilityDelta have both grown stale). ``tree.process_events()`` answers it:
        the host returns its HostReachabilityDelta (set it to 0 with ``update`` to model a
        stale neighbor cache entry), which the target takes; the NicReachabilityDelta is left
        alone: only forward progress (``receive`` or ``acknowledge`` on one of the neighbor's
        connections) resets it (NDIS "Making a NeighborReachabilityQuery Indication").
        """
        engine = self._attached_engine()
        engine.target_indicate_neighbor_reachability_query(as_handle(nb))

    @atomic(long=False)
    def indicate_neighbor_unreachable(self, nb: int) -> None:
        """Deprecated name of :meth:`indicate_neighbor_reachability_query`."""
        warnings.warn(
            "indicate_neighbor_unreachable is deprecated: the NDIS indication is "
            "NeighborReachabilityQuery, use indicate_neighbor_reachability_query",
            DeprecationWarning,
            stacklevel=2,
        )
        self.indicate_neighbor_reachability_query(nb)

    @atomic(long=False)
    def inject_fault(
        self,
        h: int,
        status: Status | int,
        operation: Operation | int | str = Operation.INITIATE_OFFLOAD,
    ) -> None:
        """Aim a one-shot failure at the next ``operation`` that reaches ``h``.

        ``operation`` is an ``Operation`` or its name, as in ``tree.stats()["operations"]``:
        ``"initiate_offload"`` (the default: the next offload attempt fails with ``status``,
        any failure a target reports), or ``"terminate"``, ``"update"``, ``"query"``,
        ``"invalidate"``, which NDIS completes with SUCCESS or FAILURE only, so ``status``
        must be ``Status.FAILURE``. A terminate, query or invalidate fault stands for
        corrupt hardware state, as the "Returning the completion status" pages describe:
        the operation completes with FAILURE for ``h`` and the host terminates it (see
        docs/DESIGN.md §8, "Faults").
        """
        engine = self._attached_engine()
        handle = as_handle(h)
        engine.layer(handle)  # the documented order: a bad handle wins, then the operation
        code = _operation_arg(operation)
        if isinstance(status, Enum) and not isinstance(status, Status):
            raise ValidationError(f"status must be a Status or an int, got {status!r}")
        engine.target_inject_fault(handle, _int_arg("status", status), code)

    def internal_tree(self) -> dict[int, int | None]:
        """The target's internal tree: every offloaded handle (in walk pre-order) mapped to
        the handle its context is linked to (None for a neighbor).

        By invariant 5 (docs/SPEC.md §2) it equals the host's links restricted to offloaded
        objects.
        """
        handles, parents = self._attached_engine().target_links()
        return {h: (p or None) for h, p in zip(handles.tolist(), parents.tolist(), strict=True)}

    def to_dot(self, *, max_objects: int = _draw.DEFAULT_MAX_OBJECTS) -> str:
        """The target's internal tree (:meth:`internal_tree`) as Graphviz DOT text: a node
        per context the target holds (layer and handle), ranked by layer with neighbors on
        top, an edge to the context it is linked to, and a legend. More than
        ``max_objects`` contexts: one summary node instead. ``StateError`` when no tree is
        attached. To see where it differs from the host's tree, draw the tree with
        ``tree.to_dot(compare_target=True)``."""
        return _draw.target_dot(self, max_objects=max_objects)

    @overload
    def stats(self, *, flat: Literal[False] = False) -> TargetStats: ...
    @overload
    def stats(self, *, flat: Literal[True]) -> FlatStats: ...
    @overload
    def stats(self, *, flat: bool) -> TargetStats | FlatStats: ...
    def stats(self, *, flat: bool = False) -> TargetStats | FlatStats:
        """The target's counters (docs/DESIGN.md §9), a ``TargetStats`` (a ``TypedDict``: the
        keys are known to type checkers). ``flat``: one level, keys joined with dots
        (``offloaded.tcp``), a DataFrame row."""
        stats = target_stats(self._attached_engine().counters(), self._capacities)
        return flatten(stats) if flat else stats

    def offload_stats(self, family: int = 4) -> dict[str, dict[str, int]]:
        """The chimney statistics of IP version ``family`` (4 or 6), as the target reports
        them for OID_IP4/6_OFFLOAD_STATS (``"ip"``: NDIS IP_OFFLOAD_STATS) and
        OID_TCP4/6_OFFLOAD_STATS (``"tcp"``: TCP_OFFLOAD_STATS), fields in snake case in the
        structures' order (InReceives is ``in_receives``).

        Only traffic on offloaded connections counts: ``receive`` and ``send``. A send of n
        bytes is ceil(n / MSS) segments, the MSS being the smaller of the connection's
        ``remote_mss`` (when not 0) and what its path MTU leaves after the IP and TCP
        headers; a receive is ceil(n / MSS of the path) segments, at least one (a bare ACK).
        Each segment is one IP datagram; octets include the IP (20 or 40 bytes) and TCP (20)
        headers. ``currently_established`` counts the offloaded connections of the family
        now in ESTABLISHED or CLOSE-WAIT. Counters wrap at their NDIS widths (64 bits for
        the byte and segment counts, 32 for the rest). Error counters stay 0: no corrupt
        segment, retransmission or reset is simulated yet.
        """
        family = _family_arg(family)
        return self._attached_engine().offload_stats(family)

    @atomic(long=False)
    def reset_offload_stats(self, family: int) -> None:
        """Reset the counters of IP version ``family`` (4 or 6) to zero, as setting
        OID_IP4/6_OFFLOAD_STATS and OID_TCP4/6_OFFLOAD_STATS does; the other family's stay.
        ``currently_established`` is a gauge, not a counter: it still counts."""
        family = _family_arg(family)
        self._attached_engine().reset_offload_stats(family)

    def __repr__(self) -> str:
        config = ", ".join(f"{name}={value!r}" for name, value in _config_items(self._config))
        return f"SimulatedTarget({config})" + ("" if self.attached else " (not attached)")


def _detach_callback(target: SimulatedTarget) -> Any:
    """The weak-reference callback that detaches ``target`` when its tree is collected. It
    holds the target weakly (a target may die first) and never waits for its lock: the
    garbage collector may run it in a thread that holds the lock, in the middle of
    ``_attach``; a target whose lock is busy is detached by the next ``_attach`` instead,
    and reads as detached meanwhile (``_tree_gone``)."""
    target_ref = weakref.ref(target)

    def detach(gone: Any) -> None:
        target = target_ref()
        if target is not None and target._attach_lock.acquire(blocking=False):
            try:
                target._detach(gone)
            finally:
                target._attach_lock.release()

    return detach


def _config_items(config: _Config) -> list[tuple[str, object]]:
    return [(name, getattr(config, name)) for name in _Config.__dataclass_fields__]
