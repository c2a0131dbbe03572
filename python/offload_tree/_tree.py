"""``OffloadStateTree``: the public face of the offload state tree.

The facade holds no semantics: it normalises user input (``_coerce``), calls the engine
(Rust or Python, the protocol of ``_engine.Engine``) and wraps what comes back in the
public result classes.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, Literal, overload

import numpy as np
import numpy.typing as npt

from . import _backend, _draw, _snapshot, _trace, _tree_ids
from ._blocks import BlockList, readonly
from ._coerce import (
    Handles,
    as_bool,
    as_field_array,
    as_handle,
    as_handles,
    as_int_array,
    as_layer,
    as_optional_bool,
    as_payload,
    as_required_layer,
    bounded_list,
    check_batch,
    check_length,
    format_handle,
    known_length,
    plain_scalar,
    refuse_masked,
)
from ._columns import flatten, state_columns
from ._engine import Engine, HandleArray, IntArray
from ._enums import Layer, UploadReason
from ._errors import InvalidHandleError, LayerError, ValidationError
from ._interrupts import atomic
from ._messages import error
from ._policy import HostPolicy, policy_from_columns
from ._results import (
    InvalidateResult,
    OffloadResult,
    ProcessedEvent,
    QueryResult,
    TerminateResult,
    UpdateResult,
)
from ._states import (
    NeighborHandle,
    NeighborState,
    PathHandle,
    PathState,
    StateRecord,
    TcpHandle,
    TcpState,
    record_from_state,
)
from ._stats import FlatStats, TreeStats, tree_stats
from ._target import SimulatedTarget
from ._text import iter_handles

__all__ = ["OffloadStateTree"]

_IP_OBJECTS = (ipaddress.IPv4Address, ipaddress.IPv6Address)
_SCALAR_ADDRESS = (str, bytes, int, np.integer, *_IP_OBJECTS)


#: A thread count above this means "as many as help": the engines take a 64-bit count.
_INT64_MAX = 2**63 - 1
_U32_MAX = 2**32 - 1


def _int_arg(name: str, value: object) -> int:
    """An int argument (NumPy integers too, not bools); range checks are the engine's."""
    value = plain_scalar(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def _engine_value(value: object) -> object:
    """A keyword value for the engine: NumPy scalars and IntEnums become plain ints/bools."""
    value = plain_scalar(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return value


def _address(value: object) -> object:
    """One IP address for the engine: ``ipaddress`` objects are passed as packed bytes."""
    if isinstance(value, _IP_OBJECTS):
        return value.packed
    return plain_scalar(value)


def _addresses(name: str, values: object, n: int) -> list[object] | npt.NDArray[np.uint64]:
    """A batch of IP addresses: a list for the engine, or a ``uint64`` array of IPv4 ints."""
    if isinstance(values, np.ndarray):
        refuse_masked(name, values)
        if values.ndim != 1:
            raise ValidationError(f"{name} must be 1-D, got {values.ndim} dimensions")
        check_length(name, len(values), n)  # before a huge broadcast view is copied or listed
        if values.dtype.kind in "iu":
            if values.dtype.kind == "i" and values.size and int(values.min()) < 0:
                raise ValidationError(f"{name} holds a negative address {int(values.min())}")
            return np.ascontiguousarray(values, dtype=np.uint64)
        items = values.tolist()
    elif isinstance(values, _SCALAR_ADDRESS):
        check_batch(n)
        items = [values] * n  # one address for every path
    elif isinstance(values, Iterable):
        length = known_length(values)
        if length is not None:
            check_length(name, length, n)
        items = bounded_list(values)
    else:
        raise ValidationError(
            f"{name} must be an address or a sequence of addresses, got {type(values).__name__}"
        )
    check_length(name, len(items), n)
    return [_address(item) for item in items]


def _lookup_batch(*columns: object) -> tuple[int, list[object]]:
    """The length of a lookup batch: that of its first sequence (an address or a port alone
    is meant for every item), with unsized iterables read into lists (up to the limit)."""
    read: list[object] = []
    n: int | None = None
    for column in columns:
        if isinstance(column, Iterable) and not isinstance(column, _SCALAR_ADDRESS):
            length = known_length(column)
            if length is None:
                column = bounded_list(column)
                length = len(column)
            if n is None:
                n = length
        read.append(column)
    if n is None:
        raise ValidationError("a batch lookup needs at least one sequence; use find_path/find_tcp")
    check_batch(n)
    return n, read


_QUERY_KINDS = ("constant", "cached", "delegated")


def _buffered_pieces(buffered_data: object, requested: HandleArray) -> dict[int, bytes]:
    """``initiate_offload``'s ``buffered_data``, checked: requested handles to bytes."""
    if not isinstance(buffered_data, Mapping):
        raise ValidationError(
            f"buffered_data must map connection handles to bytes, got "
            f"{type(buffered_data).__name__}"
        )
    wanted = set(requested.tolist())
    pieces: dict[int, bytes] = {}
    for key, data in buffered_data.items():
        h = as_handle(key)
        if h not in wanted:
            raise ValidationError(
                f"buffered_data names {format_handle(h)}, which is not a requested handle"
            )
        pieces[h] = as_payload(data)
    return pieces


def _query_kinds(variables: Iterable[str]) -> frozenset[str]:
    """The non-delegated kinds a query asks for; ``ValidationError`` for anything else."""
    if isinstance(variables, str):
        variables = (variables,)
    kinds = set()
    for kind in bounded_list(variables):
        if kind not in _QUERY_KINDS:
            raise ValidationError(
                f"variables: {kind!r} is no kind of variable; expected some of {_QUERY_KINDS}"
            )
        kinds.add(kind)
    return frozenset(kinds - {"delegated"})


class OffloadStateTree:
    """The host's offload state tree: neighbors, the paths over them, the TCP connections.

    Every object is named by an int handle. The tree is bound to one ``SimulatedTarget``
    (a default one when none is given); ``backend`` picks the engine of this tree,
    ``"native"`` or ``"python"`` (default: ``offload_tree.BACKEND``).

    ``release_unreferenced`` is the host's policy for shared state: like the NDIS host
    stack, which keeps a reference count per offloaded neighbor and path, the tree
    terminates a path or neighbor as soon as no offloaded object depends on it (the default),
    and reports it in the result of the operation that dropped the count to zero. ``False``
    keeps shared state offloaded until the caller terminates it.
    """

    __slots__ = (
        "__weakref__",
        "_backend",
        "_engine",
        "_policy",
        "_release_unreferenced",
        "_target",
        "_trace",
    )

    def __init__(
        self,
        target: SimulatedTarget | None = None,
        *,
        backend: str | None = None,
        release_unreferenced: bool = True,
        threads: int = 1,
        ticks_per_second: int = 1000,
        nce_stale_ticks: int | None = None,
        policy: HostPolicy | None = None,
    ) -> None:
        """Build an empty tree on ``target`` (which may not be attached to another tree).

        ``threads``: how many threads a large batch may use (see :attr:`threads`).
        ``policy``: what the host decides on its own (:class:`HostPolicy`; see
        :attr:`policy`).
        ``ticks_per_second`` (10, 100 or 1000) and ``nce_stale_ticks`` (default: 30 seconds'
        worth) are the timer parameters the host stack gives the target with
        OID_TCP_TASK_OFFLOAD (TicksPerSecond and NceStaleTicks): the unit of
        :meth:`advance` and of every timer variable, and how long a neighbor may go
        unconfirmed before the target asks about it.
        """
        backend = _backend.BACKEND if backend is None else backend
        engine_class = _backend.engine_class(backend)
        if target is None:
            target = SimulatedTarget()
        elif not isinstance(target, SimulatedTarget):
            raise ValidationError(f"target must be a SimulatedTarget, got {type(target).__name__}")
        release = as_bool("release_unreferenced", release_unreferenced)
        thread_count = min(_int_arg("threads", threads), _INT64_MAX)
        if thread_count < 1:  # before the target is attached: a failed tree holds nothing
            raise error("thread_count", value=thread_count)
        if policy is not None and not isinstance(policy, HostPolicy):
            raise ValidationError(f"policy must be a HostPolicy, got {type(policy).__name__}")
        tps = _int_arg("ticks_per_second", ticks_per_second)
        if tps not in (10, 100, 1000):
            raise error("ticks_per_second", value=tps)
        stale = (
            30 * tps if nce_stale_ticks is None else _int_arg("nce_stale_ticks", nce_stale_ticks)
        )
        if not 0 <= stale <= _U32_MAX:
            raise error("out_of_range", name="nce_stale_ticks", value=stale, min=0, max=_U32_MAX)
        self._engine: Engine = target._attach(engine_class, release)
        self._engine.set_threads(thread_count)
        self._engine.set_clock(tps, stale)
        self._policy = HostPolicy()
        self.policy = policy
        self._target = target
        self._backend = backend
        self._release_unreferenced = release
        self._trace: _trace.Recording | None = None
        target._bind_tree(self)

    # -- snapshots (docs/DESIGN.md §12): copies, pickles and files

    def __copy__(self) -> OffloadStateTree:
        """An independent tree with this one's handles, state, target, pending events,
        injected faults and random position: every later call gives the same results on
        both. (A shallow copy would share the engine, an alias rather than a copy, so
        ``copy.copy`` makes the same deep copy as ``copy.deepcopy``.)"""
        columns = self._engine.snapshot()
        family = _tree_ids.family_of(self.tree_id)
        return _restore(columns, self._backend, self._engine.threads, self._policy, family)

    def __deepcopy__(self, memo: dict[int, Any]) -> OffloadStateTree:
        """See :meth:`__copy__`; the copy's target is the copy of this tree's target."""
        copy = self.__copy__()
        memo[id(self)] = copy
        memo[id(self._target)] = copy._target
        return copy

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as the bytes of its snapshot file (:meth:`save`), which an unpickle
        restores on the same backend."""
        return (_unpickle, (_snapshot.to_bytes(self._engine.snapshot(), self._facade()),))

    def _facade(self) -> dict[str, Any]:
        """What the facade adds to the engine's columns in a file: its backend, threads,
        family (§12a) and the policy as the user wrote it (the columns hold its meaning)."""
        return {
            "backend": self._backend,
            "threads": self._engine.threads,
            "family": _tree_ids.family_of(self.tree_id),
            "policy": _trace.encode(self._policy),
        }

    def record(self, path: str | os.PathLike[str] | IO[str]) -> _trace.Recording:
        """Start a trace at ``path`` (a path or a text file): this tree's snapshot now, then
        every call that changes the tree or its target, with its arguments and result, one
        JSON line each, flushed as it returns (docs/DESIGN.md §12b). ``offload_tree.replay``
        re-executes it on either backend. Stop with the returned recording's ``close()``,
        or use it in a ``with`` block."""
        return _trace.start(self, path)

    def save(self, path: str | os.PathLike[str] | IO[bytes]) -> None:
        """Write the tree, its target and everything pending to ``path`` (a path or a
        binary file), in the snapshot format of docs/DESIGN.md §12a: a ZIP of NumPy arrays,
        which either backend loads with :meth:`load` and nothing executes when read."""
        _snapshot.write(path, self._engine.snapshot(), self._facade())

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | IO[bytes], *, backend: str | None = None
    ) -> OffloadStateTree:
        """The tree a :meth:`save` wrote, on ``backend`` (default: the default backend,
        whichever wrote the file), with its handles, state and target: every later call gives
        the results the saved tree would have given. ``SnapshotError`` names what is wrong
        with a truncated, corrupted, foreign or inconsistent file; nothing is built then."""
        columns, facade = _snapshot.read(path)
        backend = _backend.BACKEND if backend is None else backend
        policy = _facade_policy(facade)
        return _restore(columns, backend, _facade_threads(facade), policy, _facade_family(facade))

    @contextmanager
    def _parents_checked_first(self, parents: HandleArray, child: Layer) -> Iterator[None]:
        """Run the facade's conversion of a batch add's values; if it fails, a bad parent
        handle or layer wins (docs/DESIGN.md §8, check order): the engine's checks decide."""
        try:
            yield
        except ValidationError:
            self._engine.check_parents(parents, int(child))
            raise

    # -- properties
    @property
    def target(self) -> SimulatedTarget:
        """The simulated offload target this tree offloads to."""
        return self._target

    @property
    def threads(self) -> int:
        """How many threads a large batch may use (at least 1; 1 by default).

        Results do not depend on it: the threads split work that writes disjoint state, so
        every call returns and leaves exactly what it would on one thread. The native engine
        runs a large ``add_tcps`` and the offload of many new objects on two when allowed; the
        fallback runs on one.
        """
        return int(self._engine.threads)

    @threads.setter
    def threads(self, threads: int) -> None:
        self._engine.set_threads(min(_int_arg("threads", threads), _INT64_MAX))

    @property
    def release_unreferenced(self) -> bool:
        """Whether the host terminates shared state that no offloaded object depends on."""
        return self._release_unreferenced

    @property
    def backend(self) -> str:
        """The engine of this tree: ``"native"`` or ``"python"``."""
        return self._backend

    @property
    def tree_id(self) -> int:
        """The 16-bit id this tree puts into the top bits of its handles."""
        return int(self._engine.tree_id)

    # -- the host's policy
    @property
    def policy(self) -> HostPolicy:
        """What the host stack decides on its own (:class:`HostPolicy`): the upload reasons
        it declines, how fast it uploads, whether it takes indicated data, what a link down
        does, and which connections it offloads. Assign a new one to change it (None: the
        default); it applies from the next call on."""
        return self._policy

    @policy.setter
    def policy(self, policy: HostPolicy | None) -> None:
        policy = HostPolicy() if policy is None else policy
        if not isinstance(policy, HostPolicy):
            raise ValidationError(f"policy must be a HostPolicy, got {type(policy).__name__}")
        self._engine.set_policy(
            [int(r) for r in sorted(policy.decline)],
            policy.uploads_per_call,
            policy.accept_indicated,
            policy.on_link_down == "terminate",
            [rule._args() for rule in policy.offload_rules],
        )
        self._policy = policy

    @atomic(long=True)
    def link_down(self) -> TerminateResult:
        """The link went down (the miniport indicated a media disconnect). The host decides
        what becomes of the offloads, not the target
        (NDIS "Terminate Offload Initiated by the Host Stack"): by default it terminates every
        offloaded object, as for upload-all; with ``HostPolicy(on_link_down="keep")`` it
        keeps them (an empty result)."""
        return TerminateResult(self._engine.link_down())

    # -- time
    @property
    def now(self) -> int:
        """The target's current time: ticks :meth:`advance` has moved it since the tree was
        built (the NIC's current time, NCT)."""
        return int(self._engine.clock()[0])

    @property
    def ticks_per_second(self) -> int:
        """TicksPerSecond: the unit of :meth:`advance` and of every timer variable."""
        return int(self._engine.clock()[1])

    @property
    def nce_stale_ticks(self) -> int:
        """NceStaleTicks: how long a neighbor may go unconfirmed before the target asks."""
        return int(self._engine.clock()[2])

    @atomic(long=True)
    def advance(self, ticks: int) -> int:
        """Move the target's clock on by ``ticks`` (0..2**32-1) and run what time drives
        (docs/DESIGN.md §8, "Time"). Nothing reads the wall clock: the same calls give the
        same results. Returns the number of events this indicated (``process_events``
        handles them).

        - Reachability (NDIS "Making a NeighborReachabilityQuery Indication"): each offloaded
          neighbor's NicReachabilityDelta and the target's HostReachabilityDelta grow by
          ``ticks``; forward progress on a connection (a received segment or ACK) resets
          the first, the host's answer to a query the second. When both exceed
          ``nce_stale_ticks`` the target indicates ``NEIGHBOR_REACHABILITY_QUERY``, once
          until the host answers.
        - Timers of each offloaded connection whose I/O the target is not holding back (an
          invalid mark, a mandatory upload request), in its delegated variables: while bytes
          are in flight the retransmit timer (NDIS "Retransmit Timer"; 1 s, doubling, at most
          60 s; ``retransmit_count``, ``total_rt``), which after ``max_rt`` retransmissions
          gives up; in FIN_WAIT_2 the FIN_WAIT_2 timer (NDIS "FIN_WAIT_2 Timer", 120 s), which
          closes the connection; otherwise, with ``keep_alive`` set, the keepalive timer
          (NDIS "Keepalive Timer"): ``ka_timeout`` idle, then probes every ``ka_interval``,
          giving up after ``ka_probe_count`` unanswered. A timer that gives up asks for the
          connection's upload with ``UploadReason.TIMEOUT_EXPIRATION``. A TimeoutDelta of
          2**32-1 (-1 in NDIS) is a stopped timer; 0 one that expires at once.
        """
        return int(self._engine.advance(_int_arg("ticks", ticks)))

    # -- building the tree
    def add_neighbor(
        self,
        mac: str | bytes | int,
        vlan_id: int = 0,
        *,
        source_mac: str | bytes | int | None = None,
        host_reachability_delta: int = 0,
        nic_reachability_delta: int = 0,
    ) -> NeighborHandle:
        """Add a neighbor (next hop) with link-layer address ``mac``; returns its handle (an
        int, typed ``NeighborHandle`` for type checkers)."""
        handle = self._engine.add_neighbor(
            plain_scalar(mac),
            _int_arg("vlan_id", vlan_id),
            plain_scalar(source_mac),
            _int_arg("host_reachability_delta", host_reachability_delta),
            _int_arg("nic_reachability_delta", nic_reachability_delta),
        )
        return NeighborHandle(int(handle))

    def add_path(
        self,
        neighbor: int,
        source: Any,
        destination: Any,
        path_mtu: int = 1500,
    ) -> PathHandle:
        """Add a path from ``source`` to ``destination`` over ``neighbor``; returns its handle
        (an int, typed ``PathHandle`` for type checkers)."""
        handle = self._engine.add_path(
            as_handle(neighbor),
            _address(source),
            _address(destination),
            _int_arg("path_mtu", path_mtu),
        )
        return PathHandle(int(handle))

    def add_tcp(self, path: int, local_port: int, remote_port: int, **fields: Any) -> TcpHandle:
        """Add a TCP connection over ``path``; returns its handle (an int, typed ``TcpHandle``
        for type checkers).

        Any constant, cached or delegated TCP variable may be given as a keyword (delegated
        ones are the initial values handed to the target at offload).
        """
        handle = self._engine.add_tcp(
            as_handle(path),
            _int_arg("local_port", local_port),
            _int_arg("remote_port", remote_port),
            {name: _engine_value(value) for name, value in fields.items()},
        )
        return TcpHandle(int(handle))

    @atomic(long=True)
    def add_neighbors(self, macs: Any, vlan_ids: Any = None) -> HandleArray:
        """Add many neighbors at once; returns their handles (``uint64`` array).

        ``macs`` is a sequence of MACs or an integer array of 48-bit values; ``vlan_ids`` an
        int, a sequence or an array. Every item is validated before anything is added.
        """
        if isinstance(macs, np.ndarray):
            refuse_masked("macs", macs)
            if macs.ndim != 1:
                raise ValidationError(f"macs must be 1-D, got {macs.ndim} dimensions")
            check_batch(macs.size)  # before a huge broadcast view is copied or listed
        if isinstance(macs, np.ndarray) and macs.dtype.kind in "iu":
            if macs.dtype.kind == "i" and macs.size and int(macs.min()) < 0:
                raise ValidationError(f"macs holds a negative MAC {int(macs.min())}")
            mac_input: Any = np.ascontiguousarray(macs, dtype=np.uint64)
        elif isinstance(macs, np.ndarray):
            mac_input = macs.tolist()
        elif isinstance(macs, str | bytes) or not isinstance(macs, Iterable):
            raise ValidationError(f"macs must be a sequence of MACs, got {type(macs).__name__}")
        else:
            length = known_length(macs)
            if length is not None:
                check_batch(length)
            mac_input = [plain_scalar(m) for m in bounded_list(macs)]
            check_batch(len(mac_input))
        n = len(mac_input)
        vlans = None if vlan_ids is None else as_int_array("vlan_ids", vlan_ids, n, per="MACs")
        return self._engine.add_neighbors(mac_input, vlans)

    @atomic(long=True)
    def add_paths(
        self, neighbors: Any, sources: Any, destinations: Any, path_mtus: Any = None
    ) -> HandleArray:
        """Add many paths at once; returns their handles (``uint64`` array).

        ``sources``/``destinations`` are sequences of addresses (or one address for all, or
        an integer array of IPv4 values); ``path_mtus`` an int, a sequence or an array.
        """
        parents = as_handles(neighbors)
        n = len(parents)
        with self._parents_checked_first(parents, Layer.PATH):
            srcs = _addresses("sources", sources, n)
            dsts = _addresses("destinations", destinations, n)
            mtus = None if path_mtus is None else as_int_array("path_mtus", path_mtus, n)
        return self._engine.add_paths(parents, srcs, dsts, mtus)

    @atomic(long=True)
    def add_tcps(self, paths: Handles, local_ports: Any, remote_ports: Any) -> HandleArray:
        """Add many TCP connections (other fields at their defaults); returns their handles."""
        parents = as_handles(paths)
        n = len(parents)
        with self._parents_checked_first(parents, Layer.TCP):
            local = as_int_array("local_ports", local_ports, n)
            remote = as_int_array("remote_ports", remote_ports, n)
        return self._engine.add_tcps(parents, local, remote)

    # -- lookups by key
    def find_path(self, source: Any, destination: Any) -> PathHandle | None:
        """The path from ``source`` to ``destination``, or None.

        A host keeps one path per address pair: adding a second raises ``DuplicateKeyError``.
        """
        found = self._engine.find_path(_address(source), _address(destination))
        return None if found is None else PathHandle(int(found))

    def find_tcp(
        self, source: Any, destination: Any, local_port: int, remote_port: int
    ) -> TcpHandle | None:
        """The connection with this 4-tuple (its path's addresses and its ports), or None.

        A host keeps one connection per 4-tuple: adding a second raises ``DuplicateKeyError``.
        """
        found = self._engine.find_tcp(
            _address(source),
            _address(destination),
            _int_arg("local_port", local_port),
            _int_arg("remote_port", remote_port),
        )
        return None if found is None else TcpHandle(int(found))

    def find_paths(self, sources: Any, destinations: Any) -> HandleArray:
        """:meth:`find_path` for many pairs at once: a ``uint64`` array, 0 where there is no
        such path (0 is never a handle). Either column may be one address for every item."""
        n, (sources, destinations) = _lookup_batch(sources, destinations)
        return self._engine.find_paths(
            _addresses("sources", sources, n), _addresses("destinations", destinations, n)
        )

    def find_tcps(
        self, sources: Any, destinations: Any, local_ports: Any, remote_ports: Any
    ) -> HandleArray:
        """:meth:`find_tcp` for many 4-tuples at once: a ``uint64`` array, 0 where there is no
        such connection. Any column may be one value for every item."""
        n, (sources, destinations, local_ports, remote_ports) = _lookup_batch(
            sources, destinations, local_ports, remote_ports
        )
        return self._engine.find_tcps(
            _addresses("sources", sources, n),
            _addresses("destinations", destinations, n),
            as_int_array("local_ports", local_ports, n, per="lookups"),
            as_int_array("remote_ports", remote_ports, n, per="lookups"),
        )

    @atomic(long=True)
    def remove(self, handles: Handles, cascade: bool = False) -> HandleArray:
        """Delete host objects that are not offloaded; returns the removed handles.

        Without ``cascade`` every dependent of a removed object must be removed in the same
        call (``DependencyError``); with it, dependents go too (dependents first).
        """
        return self._engine.remove(as_handles(handles), as_bool("cascade", cascade))

    # -- inspecting the tree
    def layer(self, h: int) -> Layer:
        """The layer of object ``h``."""
        return Layer(self._engine.layer(as_handle(h)))

    @overload
    def depends_on(self, h: TcpHandle) -> PathHandle: ...
    @overload
    def depends_on(self, h: PathHandle) -> NeighborHandle: ...
    @overload
    def depends_on(self, h: int) -> int | None: ...
    def depends_on(self, h: int) -> int | None:
        """The object ``h`` depends on (a path's neighbor, a connection's path), or None (a
        neighbor). Typed: a ``TcpHandle`` gives a ``PathHandle``, a ``PathHandle`` a
        ``NeighborHandle``."""
        parent = self._engine.depends_on(as_handle(h))
        return None if parent is None else int(parent)

    def dependents(self, h: int) -> HandleArray:
        """The objects that depend on ``h``, in insertion order (``uint64`` array)."""
        return self._engine.dependents(as_handle(h))

    def is_offloaded(self, h: int) -> bool:
        """True when object ``h`` is offloaded to the target."""
        return bool(self._engine.is_offloaded(as_handle(h)))

    @overload
    def state(self, h: TcpHandle) -> TcpState: ...
    @overload
    def state(self, h: PathHandle) -> PathState: ...
    @overload
    def state(self, h: NeighborHandle) -> NeighborState: ...
    @overload
    def state(self, h: int) -> StateRecord: ...
    def state(self, h: int) -> StateRecord:
        """The host copy of object ``h``'s variables, as a frozen record: a ``TcpState``,
        ``PathState`` or ``NeighborState`` by the layer of ``h``. Type checkers know which
        from a typed handle (what ``add_tcp``, ``add_path`` and ``add_neighbor`` return);
        for a plain int the record is the union ``StateRecord``, which ``isinstance``
        narrows."""
        return record_from_state(self._engine.state(as_handle(h)))

    def __len__(self) -> int:
        return int(self._engine.count(None, None))

    def __iter__(self) -> Iterator[int]:
        """Every live handle, as Python ints, in the order of :meth:`handles`: block-list
        order (docs/DESIGN.md §3), each neighbor, then each of its paths followed by that
        path's connections.

        The handles are read when iteration begins, in one call: changing the tree while
        iterating changes nothing of what the iteration yields (an object added meanwhile
        does not come, one removed still does, stale by then). ``len(tree)`` counts them
        and ``h in tree`` asks about one.
        """
        return iter_handles(self.handles())

    def count(self, layer: Layer | int | str | None = None, offloaded: bool | None = None) -> int:
        """The number of live objects, optionally of one layer and/or offload state."""
        return int(self._engine.count(as_layer(layer), as_optional_bool("offloaded", offloaded)))

    def __contains__(self, h: object) -> bool:
        try:
            handle = as_handle(h)
        except InvalidHandleError:
            return False
        return bool(self._engine.contains(handle))

    def handles(self, layer: Layer | int | str | None = None) -> HandleArray:
        """The live handles in block-list order, optionally of one layer only."""
        return self._engine.handles(as_layer(layer))

    def walk(self, order: str = "pre", roots: Handles | None = None) -> HandleArray:
        """The handles in pre-order (``"pre"``) or dependents first (``"post"``).

        With ``roots``, only their subtrees, each object once.
        """
        if not isinstance(order, str) or order not in ("pre", "post"):
            raise ValidationError(f"order must be 'pre' or 'post', got {order!r}")
        root_array = None if roots is None else as_handles(roots)
        return self._engine.walk(order == "post", root_array)

    def block_list(self, handles: Handles) -> BlockList:
        """The block list an offload of ``handles`` would send (nothing is offloaded)."""
        return BlockList(self._engine.block_list(as_handles(handles)))

    # -- operations
    @atomic(long=True)
    def initiate_offload(
        self,
        handles: Handles,
        *,
        buffered_data: Mapping[int, bytes | bytearray | memoryview] | None = None,
    ) -> OffloadResult:
        """Offload objects together with whatever they depend on that is not offloaded.

        The result carries the status the target wrote into every block. Connections the
        host's offload rules keep on the host (:attr:`policy`) are left out before anything
        else: ``result.declined``.

        ``buffered_data``: by requested connection, the bytes the host received, processed
        and acknowledged but has not delivered (the BufferedData of the delegated state,
        NDIS "Handling Buffered Receive Data During and After an Offload Operation"; for instance
        what an earlier terminate returned, ``result.received_data(tc)``). A connection whose
        offload succeeds takes them to the target, which puts them into the first receive
        requests posted, before anything it receives later
        (``target.stats()["bytes_handed_over"]``); for one that stays on the host they stay
        with the caller. A key that is not a requested handle is a ``ValidationError``
        before anything is offloaded.
        """
        requested = as_handles(handles)
        pieces = None if buffered_data is None else _buffered_pieces(buffered_data, requested)
        for h in pieces or ():
            layer = Layer(self._engine.layer(h))
            if layer != Layer.TCP:
                raise LayerError(
                    f"buffered_data names {format_handle(h)}, a {layer.name.lower()}: only "
                    "connections carry BufferedData"
                )
        declined = None
        if self._policy.offload_rules:
            # The host's offload rules decide first: a connection they keep on the host is
            # not offered to the target at all.
            allowed = self._engine.offload_policy(requested)
            if not allowed.all():
                declined, requested = requested[~allowed], requested[allowed]
        buffered = None
        if pieces:
            # Connections the policy declined keep their data; the others hand it over with
            # the offload, in the same engine call (all or nothing).
            kept = set(requested.tolist())
            tcs = [h for h in pieces if h in kept]
            buffered = (
                np.array(tcs, dtype=np.uint64),
                b"".join(pieces[h] for h in tcs),
                np.array([len(pieces[h]) for h in tcs], dtype=np.int64),
            )
        arrays, released = self._engine.initiate_offload(requested, buffered)
        return OffloadResult(arrays, released, declined)

    def forward(self, tc: int, data: bytes | bytearray | memoryview) -> int:
        """Forward ``data`` to offloaded connection ``tc`` (MiniportTcpOffloadForward,
        NDIS "Forwarding Data to an Offload Target"): segments the host received but did not
        acknowledge, on another interface or while the connection was being offloaded, or
        after it reassembled fragments the target indicated. The target processes them as
        segments it received itself (``target.receive``), and returns the bytes taken."""
        return int(self._engine.forward(as_handle(tc), as_payload(data)))

    @atomic(long=True)
    def terminate(self, handles: Handles, cascade: bool = True) -> TerminateResult:
        """Upload offloaded objects back to the host (dependents first).

        With ``cascade`` (the default) offloaded dependents are terminated too; without it
        they raise ``DependencyError`` unless requested as well.
        """
        outcome = self._engine.terminate(as_handles(handles), as_bool("cascade", cascade))
        return TerminateResult(outcome)

    @atomic(long=True)
    def update(self, handles: Handles, **cached: Any) -> UpdateResult:
        """Change cached variables on the host copy and, when offloaded, on the target.

        Values may be scalars or arrays (one value per handle). Each object's update
        completes with SUCCESS or FAILURE, as NDIS reports it; ``reason(h)`` keeps why the
        target refused (PATH_MTU, TCP_RCV_WINDOW, ...). The host terminates what the target
        refused: ``terminated`` lists it, with its delegated state, received data and
        unacknowledged send data.
        """
        array = as_handles(handles)
        try:
            fields = {
                name: as_field_array(name, value, len(array)) for name, value in cached.items()
            }
        except ValidationError:
            # A bad handle, an invalidated object or a bad name wins over a bad value
            # (docs/DESIGN.md §8, check order): the engine's own checks decide.
            self._engine.check_update(array, list(cached))
            raise
        codes, terminated = self._engine.update(array, fields)
        return UpdateResult(array, codes, terminated)

    @atomic(long=False)
    def send(self, tc: int, data: bytes | bytearray | memoryview) -> int:
        """Post ``data`` on offloaded connection ``tc`` (MiniportTcpOffloadSend).

        The target queues it behind earlier posts and transmits first in, first out, as
        much as its send window allows (SndWnd less the bytes in flight, SndNxt - SndUna;
        nothing while the connection is invalid or its upload was asked for a mandatory
        reason). Returns the bytes transmitted now; the rest goes out as the peer's
        acknowledgements (``target.acknowledge``) open the window. A send request completes
        once every byte of it is acknowledged. Until then the target holds the bytes, and a
        terminate hands every unacknowledged and unsent byte back, in order:
        ``result.send_data(tc)``
        (NDIS "Handling Outstanding Send Data During a Terminate Offload Operation"). Empty
        ``data`` posts nothing. Once the host's send half is closed (after its FIN:
        FIN_WAIT_1, FIN_WAIT_2, CLOSING, LAST_ACK, TIME_WAIT; or CLOSED), ``StateError``, as
        RFC 793's "connection closing".
        """
        return int(self._engine.send(as_handle(tc), as_payload(data)))

    @atomic(long=False)
    def post_receive(self, tc: int, size: int, *, push: bool = False) -> int:
        """Post a receive request of ``size`` bytes (1..2**32-1) on offloaded connection
        ``tc`` (NDIS "Posting and Completing Receive Requests").

        The target uses posted requests before it indicates anything, oldest first, and
        puts data it already buffered into them before any new data (NDIS "Delivery Algorithm").
        A request completes when full; its bytes are then the host's, to ``read``. In push
        mode (``push=True``; TcpReceiveNoPush false) it also completes partly filled when a
        segment with the PSH bit arrives (``target.receive(tc, data, push=True)``) or when
        the push timer expires: it starts with the first byte placed in the request,
        restarts with every segment and runs 500 ms of the target's clock (NDIS "Push Timer";
        ``tree.advance``). In nonpush mode the PSH bit is ignored. Moving buffered data into
        a request reopens the receive window (up to the connection's ``initial_rcv_wnd``).
        Returns the bytes of the requests this call completed. A terminate completes the
        requests left with the bytes placed in them.
        """
        h = as_handle(tc)
        push_mode = as_bool("push", push)
        return int(self._engine.post_receive(h, _int_arg("size", size), push_mode))

    @atomic(long=False)
    def read(self, tc: int) -> bytes:
        """The received bytes delivered to connection ``tc`` (completed receive requests)
        that have not been read, in order; reading takes them. Any live connection, offloaded
        or not: a terminate leaves them. Removing the connection discards what is unread
        (``stats()["bytes"]["discarded"]``)."""
        return bytes(self._engine.read(as_handle(tc)))

    # -- the data path in batches: one call for many connections (docs/DESIGN.md §8)
    @atomic(long=True)
    def send_many(
        self, tcs: Handles, data: bytes | bytearray | memoryview, lengths: Any
    ) -> IntArray:
        """``send`` on many connections in one call: ``data`` cut into consecutive pieces of
        ``lengths`` (an int for pieces of one length), piece ``i`` posted on ``tcs[i]``.

        Every item is checked first (an offloaded connection with its send half open, a
        length not negative, the lengths adding up to ``len(data)``), and a failure names
        the first failing item and changes nothing. Then the items are posted in order, as
        ``send`` one after another would, and the bytes each transmitted at once come back
        as an ``int64`` array. A connection may appear more than once: its pieces queue in
        order.
        """
        handles = as_handles(tcs)
        pieces = as_int_array("lengths", lengths, len(handles))
        return self._engine.send_many(handles, as_payload(data), pieces)

    @atomic(long=True)
    def post_receive_many(self, tcs: Handles, sizes: Any, *, push: bool = False) -> IntArray:
        """``post_receive`` on many connections in one call: a request of ``sizes[i]`` bytes
        (1..2**32-1; an int for one size) on ``tcs[i]``, all in push mode when ``push``.
        Every item is checked before any is posted. Returns the bytes each item's post
        completed (``int64`` array)."""
        handles = as_handles(tcs)
        sizes_array = as_int_array("sizes", sizes, len(handles))
        return self._engine.post_receive_many(handles, sizes_array, as_bool("push", push))

    @atomic(long=True)
    def read_many(self, tcs: Handles) -> tuple[bytes, IntArray]:
        """``read`` on many connections in one call: ``(data, lengths)``, the bytes read from
        ``tcs[i]`` being the ``lengths[i]`` bytes that follow those of the items before it
        (split with ``numpy.cumsum(lengths)``). Every handle is checked before anything is
        taken; a connection listed twice gives its bytes to its first item."""
        return self._engine.read_many(as_handles(tcs))

    @overload
    def disconnect(self, tc: int, *, abortive: Literal[False] = False) -> None: ...
    @overload
    def disconnect(self, tc: int, *, abortive: Literal[True]) -> TerminateResult: ...
    @overload
    def disconnect(self, tc: int, *, abortive: bool) -> TerminateResult | None: ...
    @atomic(long=False)
    def disconnect(self, tc: int, *, abortive: bool = False) -> TerminateResult | None:
        """Disconnect offloaded connection ``tc`` (NDIS "Responding to a Disconnect Request").

        Graceful (the default): the target sends a FIN after every byte posted with
        ``send``, and the connection moves from ESTABLISHED to FIN_WAIT_1, or from CLOSE_WAIT
        to LAST_ACK (any other state: ``StateError``). The disconnect completes when the
        peer acknowledges the FIN (``target.acknowledge`` covering it: a
        ``DISCONNECT_COMPLETE`` event). ``process_events`` then terminates the offload of a
        connection with both halves closed (CLOSED or TIME_WAIT), and leaves one in
        FIN_WAIT_2 offloaded (action ``"disconnected"``) until the peer's FIN. Returns None.

        Abortive: an RST goes out (any state but CLOSED), the connection is CLOSED, its
        outstanding sends complete with NDIS_STATUS_REQUEST_ABORTED (their data is dropped:
        ``stats()["bytes"]["send_aborted"]``), its receive requests complete with what they
        hold (``read``), and the host terminates the offload at once: the returned
        ``TerminateResult`` (with what the target buffered, and the shared state this left
        unreferenced).
        """
        abort = as_bool("abortive", abortive)
        outcome = self._engine.disconnect(as_handle(tc), abort)
        return TerminateResult(outcome) if abort else None

    @atomic(long=False)
    def relink(self, path: int, neighbor: int) -> TerminateResult:
        """Move ``path`` to ``neighbor`` (the next hop changed).

        Returns what the host released: the old neighbor, when the offloaded path was its
        last reference (empty otherwise).
        """
        return TerminateResult(self._engine.relink(as_handle(path), as_handle(neighbor)))

    @atomic(long=True)
    def query(self, handles: Handles, *, variables: Iterable[str] = ("delegated",)) -> QueryResult:
        """Read the target's state of offloaded objects.

        A query changes nothing, unless the target fails it for an object whose hardware
        state is corrupt (an injected fault): the host then terminates that object with its
        dependents, as NDIS's host stack does (``result.terminated``, ``result.upload``).

        The host can query constant, cached and delegated state (NDIS "Querying Offloaded State"):
        ``variables`` names the kinds wanted; delegated state is always read (the target's
        live values), ``"constant"`` and ``"cached"`` add ``result.constant(h)`` and
        ``result.cached(h)``. The target's copies of those equal the host's at every
        moment (an update reaches both, or the target refuses it and the host terminates
        the object), so they are read from the host copy as the query runs.
        """
        kinds = _query_kinds(variables)
        array = as_handles(handles)
        outcome, terminated = self._engine.query(array)
        extra: dict[int, dict[str, Any]] | None = None
        if kinds:
            extra = {}
            for h in outcome.handles.tolist():
                if h not in extra:
                    extra[h] = self._engine.state(h)
        return QueryResult(outcome, terminated, extra, kinds)

    @atomic(long=True)
    def invalidate(self, handles: Handles) -> InvalidateResult:
        """Tell the target that the cached state of offloaded objects is no longer valid.

        Their connections' sends are held back and each affected connection gets an upload
        request (reason INVALID_STATE); an invalidated object cannot be updated: the way back
        is terminate and offload again. The result has a status per object: FAILURE when
        the target found the object's hardware state corrupt (its connections then get
        HARDWARE_FAILURE upload requests instead).
        """
        handle_array, statuses = self._engine.invalidate(as_handles(handles))
        return InvalidateResult(handle_array, statuses)

    @atomic(long=True)
    def process_events(
        self, decline: Iterable[UploadReason | int] | None = None
    ) -> list[ProcessedEvent]:
        """Apply the host's response to every queued target event, oldest first.

        ``decline``: the optional ``UploadReason`` values whose upload requests the host
        declines in this call (the connection stays offloaded and the event's action is
        ``"declined"``); None (the default) takes the policy's (:attr:`policy`). A mandatory
        reason cannot be declined (``ValidationError``). With the policy's
        ``uploads_per_call`` set, the call stops after that many uploads for upload requests
        and the later events wait for the next call.
        """
        if decline is None:
            return [ProcessedEvent.from_engine(e) for e in self._engine.process_events(None)]
        if isinstance(decline, str | bytes | Mapping) or not isinstance(decline, Iterable):
            raise ValidationError(
                f"decline must be a collection of UploadReason values, got {type(decline).__name__}"
            )
        reasons = [_int_arg("decline", reason) for reason in bounded_list(decline)]
        return [ProcessedEvent.from_engine(e) for e in self._engine.process_events(reasons)]

    @overload
    def stats(self, *, flat: Literal[False] = False) -> TreeStats: ...
    @overload
    def stats(self, *, flat: Literal[True]) -> FlatStats: ...
    @overload
    def stats(self, *, flat: bool) -> TreeStats | FlatStats: ...
    def stats(self, *, flat: bool = False) -> TreeStats | FlatStats:
        """Counters per layer, per operation, of bytes and of events (docs/DESIGN.md §9), a
        ``TreeStats`` (nested ``TypedDict``s: the keys are known to type checkers).
        ``flat``: one level, keys joined with dots (``layers.tcp.live``), a DataFrame row."""
        stats = tree_stats(self._engine.counters(), self._target._capacities)
        return flatten(stats) if flat else stats

    def states(self, layer: Layer | int | str) -> dict[str, npt.NDArray[Any]]:
        """Every object of ``layer`` as columns, in one call: ``handle``, ``parent`` (0 for a
        neighbor), ``offloaded``, ``invalidated``, then one column per variable of
        docs/DESIGN.md §5 (the host copy, as :meth:`state` reads it), in walk order.
        Variables are NumPy integers of their range's width or bools; a neighbor's ``mac``
        and ``source_mac`` are 48-bit integers (``source_mac`` 2**64-1 when unset); a path's
        ``source`` and ``destination`` are address text beside their ``family``. pandas,
        polars and pyarrow take the dict as it is: ``pd.DataFrame(tree.states("tcp"))``."""
        return state_columns(self._engine.states(as_required_layer(layer)))

    def edges(self) -> dict[str, HandleArray]:
        """The tree's links as two columns in walk order: ``dependent`` (every path and
        connection) and ``depends_on`` (its neighbor or path)."""
        dependents, parents = self._engine.edges()
        return {"dependent": readonly(dependents), "depends_on": readonly(parents)}

    # -- drawings (Graphviz)
    def to_dot(
        self,
        roots: Handles | None = None,
        *,
        max_objects: int = _draw.DEFAULT_MAX_OBJECTS,
        states: bool = False,
        compare_target: bool = False,
    ) -> str:
        """The tree as Graphviz DOT text: the whole tree, or the subtrees of ``roots`` (a
        handle or handles). Render it with ``dot -Tsvg``; no Graphviz is needed for the text.

        Layers are ranks, neighbors on top; an edge goes from each path or connection to
        what it depends on. A node shows the layer, the handle, the key facts (a neighbor's
        MAC and VLAN, a path's addresses and MTU, a connection's ports and state) and the
        offload status, in words and as its colour: green offloaded, white host only, orange
        with a dashed border offloaded but invalidated. ``states=True`` adds every variable
        of the host copy. A legend explains the colours.

        ``compare_target=True`` also compares the drawn objects with the target's internal
        tree (``target.internal_tree()``): an object offloaded on the host but absent at the
        target, held by the target but not offloaded on the host, or linked differently
        there, gets a red border and a ``DIFFERS`` line, and the target's own link is a red
        dashed edge. By invariant 5 nothing differs, and the legend then says "host and
        target agree".

        More than ``max_objects`` objects are not drawn: the graph is one summary node
        (counts per layer, how many are offloaded) that asks for ``roots=`` or a larger
        ``max_objects=``. The drawing reads the tree in a few batch calls; draw a tree no
        other thread is changing.
        """
        return _draw.tree_dot(
            self, roots, max_objects=max_objects, states=states, compare_target=compare_target
        )

    def _repr_svg_(self) -> str | None:
        """The drawing (:meth:`to_dot`) as SVG for notebooks, when the ``graphviz`` package
        and the ``dot`` program are installed; None otherwise (IPython shows the repr)."""
        return _draw.repr_svg(self.to_dot)

    def __repr__(self) -> str:
        counts = ", ".join(
            f"{layer.name.lower()}s={self._engine.count(int(layer), None)}" for layer in Layer
        )
        offloaded = self._engine.count(None, True)
        return f"<OffloadStateTree {self._backend}: {counts}, offloaded={offloaded}>"


def _restore(
    columns: Mapping[str, Any],
    backend: str,
    threads: int,
    policy: HostPolicy | None,
    family: int | None,
) -> OffloadStateTree:
    """A tree on ``backend`` from snapshot columns (checked by the engine's restore), with
    its own target. A tree of the snapshot's family keeps its tree id, so the original's
    handles name the same objects in it; where an unrelated live tree holds that id, it
    takes a fresh one (docs/DESIGN.md §12a)."""
    saved = _saved_tree_id(columns)
    if saved is None:  # the engine's restore names what is wrong with the column
        _backend.engine_class(backend).restore(columns)
        raise AssertionError("a restore accepted a snapshot without a tree id")
    tree_id = _tree_ids.share(saved, secrets.randbits(63) if family is None else family)
    try:
        if tree_id != saved:
            columns = _with_tree_id(columns, tree_id)
        engine = _backend.engine_class(backend).restore(columns)
    except BaseException:
        _tree_ids.release(tree_id)
        raise
    _tree_ids.bind(engine, tree_id)
    limits = tuple(
        int(value) if set_ else None
        for value, set_ in zip(columns["target.limits"], columns["target.limits_set"], strict=True)
    )
    target = SimulatedTarget._restored(
        engine, limits, float(columns["target.fail_rate"][0]), int(columns["target.seed"][0])
    )
    tree = OffloadStateTree.__new__(OffloadStateTree)
    tree._engine = engine
    tree._target = target
    tree._backend = backend
    tree._release_unreferenced = bool(columns["policy"][0])
    meant = policy_from_columns(columns)
    # The user's own object (its forms: 443, not (443, 443)) when it means what the
    # engine holds; the columns decide otherwise.
    tree._policy = policy if policy is not None and _same_policy(policy, meant) else meant
    tree._trace = None
    target._bind_tree(tree)
    engine.set_threads(max(1, min(threads, _INT64_MAX)))
    return tree


def _same_policy(a: HostPolicy, b: HostPolicy) -> bool:
    """Whether two policies decide the same, whatever forms their rules were written in."""
    fields = ("decline", "uploads_per_call", "accept_indicated", "on_link_down")
    same = all(getattr(a, name) == getattr(b, name) for name in fields)
    rules = [rule._args() for rule in a.offload_rules] == [r._args() for r in b.offload_rules]
    return same and rules


#: Snapshot columns that hold this tree's handles (docs/DESIGN.md §12).
_HANDLE_COLUMNS = re.compile(r".*\.(handle|neighbor|path)$")
_MASK48 = (1 << 48) - 1


def _saved_tree_id(columns: Mapping[str, Any]) -> int | None:
    """The tree id a snapshot holds, if its column is one."""
    value = columns.get("tree.id") if isinstance(columns, Mapping) else None
    if isinstance(value, np.ndarray) and value.dtype == np.uint16 and value.shape == (1,):
        return int(value[0]) or None
    return None


def _with_tree_id(columns: Mapping[str, Any], tree_id: int) -> dict[str, Any]:
    """The columns with every handle moved to ``tree_id`` ("none" values stay)."""
    moved = dict(columns)
    moved["tree.id"] = np.array([tree_id], dtype=np.uint16)
    for name, values in columns.items():
        if _HANDLE_COLUMNS.match(name) and isinstance(values, np.ndarray):
            if values.dtype == np.uint64 and values.ndim == 1:
                rehomed = (values & np.uint64(_MASK48)) | np.uint64(tree_id << 48)
                moved[name] = np.where(values == np.uint64(2**64 - 1), values, rehomed)
    return moved


def _unpickle(data: bytes) -> OffloadStateTree:
    """A pickled tree: its snapshot file's bytes, restored on the backend that wrote them."""
    columns, facade = _snapshot.from_bytes(data)
    backend = facade.get("backend")
    backend = backend if isinstance(backend, str) else _backend.BACKEND
    policy = _facade_policy(facade)
    return _restore(columns, backend, _facade_threads(facade), policy, _facade_family(facade))


def _facade_policy(facade: dict[str, Any]) -> HostPolicy | None:
    """The policy object a file names, if it reads as one (else the columns' is used)."""
    try:
        policy = _trace.decode(facade.get("policy"))
    except Exception:  # a foreign or damaged value, whatever it raises: the columns decide
        return None
    return policy if isinstance(policy, HostPolicy) else None


def _facade_threads(facade: dict[str, Any]) -> int:
    threads = facade.get("threads")
    return threads if isinstance(threads, int) and not isinstance(threads, bool) else 1


def _facade_family(facade: dict[str, Any]) -> int | None:
    family = facade.get("family")
    valid = isinstance(family, int) and not isinstance(family, bool) and 0 <= family < 2**63
    return family if valid else None


def _target_of(tree: OffloadStateTree) -> SimulatedTarget:
    """A tree's target: what a target pickles as (it travels with its tree)."""
    return tree.target
