"""The fallback's engine: one host tree and one simulated target behind the engine protocol
(``offload_tree._engine.Engine``; ``crates/core/src/engine/``).

This module defines :class:`Engine` and the checks every operation starts with; as in the
core, each child module does one job, here as functions of the engine: ``build``,
``lookup``, ``read``, ``offload``, ``terminate``, ``update``, ``relink``, ``query``,
``invalidate``, ``traffic``, ``faults``, ``events``, ``stats``, ``snapshot``, ``restore`` and
``invariants``. The
values they exchange are in ``types``. The methods below are the protocol's adapter: they
take the engine's lock (host and target change together), turn NumPy arrays into lists and
input values into the core's shapes (``model.value.sort_value``, as the native bindings
do), and turn results back into arrays.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from ..._coerce import check_batch, format_handle
from ..._engine import (
    BlockArrays,
    Buffered,
    HandleArray,
    IntArray,
    Limits,
    ProcessedTuple,
    StatusArray,
)
from ..._enums import Layer
from ..._errors import InternalError, OffloadTreeError, StateError
from ..._messages import error
from ..host.policy import HostPolicy, OffloadRule
from ..host.tree import HostTree, Node, expect_layer
from ..model.value import sort_value
from ..target import Target, TargetConfig
from . import (
    build,
    clock,
    events,
    faults,
    invalidate,
    lookup,
    offload,
    policy,
    query,
    read,
    relink,
    restore,
    snapshot,
    stats,
    terminate,
    traffic,
    traffic_batch,
    update,
)
from .interrupt import POLL_EVERY, Interrupts
from .types import Column, Event, Outcome, RunningCounts

__all__ = ["Engine", "Outcome"]

P = ParamSpec("P")
R = TypeVar("R")


class _Guard:
    """The engine's lock and the thread holding it.

    It refuses re-entry from the thread holding it instead of deadlocking: a finalizer run
    by the garbage collector in the middle of an operation, or a user object called back
    during one, gets a ``StateError``. User input is converted before the lock is taken
    (``sort_value``), so no user code runs under it otherwise. The lock is taken by a
    ``with`` on the lock itself (``Engine._call``), whose C-level enter and exit leave no
    window where Ctrl-C could leave it held.
    """

    __slots__ = ("lock", "owner")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner: int | None = None


def _locked(method: Callable[Concatenate[Engine, P], R]) -> Callable[Concatenate[Engine, P], R]:
    """Run an engine method under the engine's lock: host and target change together."""

    def locked(self: Engine, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._call(lambda: method(self, *args, **kwargs))

    functools.update_wrapper(locked, method)
    return locked


def _handles_out(handles: list[int]) -> HandleArray:
    return np.array(handles, dtype=np.uint64)


def _ints_out(values: list[int]) -> IntArray:
    return np.array(values, dtype=np.int64)


def _batch(values: Any) -> list[Any]:
    """A batch as a list, refused before conversion when over ``MAX_BATCH``."""
    check_batch(len(values))
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def _layer(layer: int | None) -> int | None:
    """A layer argument, refused as the bindings refuse it (the facade never sends a bad one)."""
    if layer is not None and layer not in (0, 1, 2):
        raise ValueError(f"no layer {layer}")
    return layer


def _sorted_values(values: Any) -> list[Any]:
    """A batch of loose values, each sorted as the native bindings sort it: a ``uint64``
    array gives ints, anything else is read item by item (a NumPy scalar is no Python int,
    so an item of another array is refused by its type name, as natively)."""
    check_batch(len(values))
    if isinstance(values, np.ndarray) and values.dtype == np.uint64 and values.ndim == 1:
        ints: list[Any] = values.tolist()
        return ints
    return [sort_value(value) for value in values]


class Engine:
    """One host tree and its simulated target."""

    def __init__(
        self,
        neighbor_capacity: int | None,
        path_capacity: int | None,
        tcp_capacity: int | None,
        max_path_mtu: int | None,
        max_rcv_window: int | None,
        fail_rate: float,
        seed: int,
        release_unreferenced: bool,
        tree_id: int,
    ) -> None:
        """A new, empty tree with its target; the configuration and ``tree_id`` (unique among
        live trees: ``offload_tree._tree_ids``) are the facade's."""
        config = TargetConfig(
            neighbor_capacity, path_capacity, tcp_capacity, max_path_mtu, max_rcv_window,
            float(fail_rate), seed,
        )  # fmt: skip
        if not 0.0 <= config.fail_rate <= 1.0:  # the core's own guard (TargetConfig::validate)
            raise error("fail_rate_range", value=config.fail_rate)
        if tree_id == 0:  # the core's own guard (Engine::with_tree_id)
            raise error("tree_id_zero")
        self._lock = _Guard()
        self.interrupts = Interrupts()
        self._threads = 1
        self.host = HostTree(tree_id)
        self.target = Target(config)
        #: target-initiated events waiting for process_events
        self.events: deque[Event] = deque()
        #: connections with an INVALID_STATE upload request in ``events``
        self.invalid_pending: set[int] = set()
        self.policy = HostPolicy(release_unreferenced=bool(release_unreferenced))
        self.counts = RunningCounts()
        # received bytes delivered to the host (completed receive requests) and not read
        # yet, by connection handle
        self.delivered: dict[int, bytes] = {}

    def _call(self, work: Callable[[], R]) -> R:
        """Run ``work`` under the engine's lock (see :class:`_Guard`)."""
        guard, me = self._lock, threading.get_ident()
        # An owner left behind by an interrupt between two steps below holds no lock.
        if guard.owner == me and guard.lock.locked():
            raise StateError(
                "re-entrant call: this tree is in the middle of an operation on this thread "
                "(a finalizer or a callback called back into it); call it after that returns"
            )
        with guard.lock:
            try:
                guard.owner = me
                return work()
            finally:
                guard.owner = None

    @property
    def tree_id(self) -> int:
        """The id in bits 63..48 of this tree's handles."""
        return self.host.tree_id

    # -- the checks every operation starts with ---------------------------------------------
    def resolve_all(self, handles: list[int]) -> list[Node]:
        """Resolve every handle, so a bad handle anywhere is reported before anything else.
        Polls for an interrupt at each handle (``Engine::resolve_all``)."""
        check_batch(len(handles))
        if self.interrupts.after is None and len(handles) < POLL_EVERY:
            return self.host.resolve_all(handles)  # no poll due: no copies
        if self.interrupts.after is None:  # a real poll only every POLL_EVERY handles
            nodes: list[Node] = []
            for start in range(0, len(handles), POLL_EVERY):
                chunk = handles[start : start + POLL_EVERY]
                if len(chunk) < POLL_EVERY:
                    return nodes + self.host.resolve_all(chunk)
                nodes += self.host.resolve_all(chunk[:-1])
                self.interrupts.poll(start + POLL_EVERY - 1)
                nodes.append(self.host.resolve(chunk[-1]))
            return nodes
        poll, resolve = self.interrupts.poll, self.host.resolve
        out = []
        for i, h in enumerate(handles):
            poll(i)
            out.append(resolve(h))
        return out

    def resolve_expecting(
        self, handles: list[int], unique: bool, offloaded: bool
    ) -> tuple[list[Node], Node | None]:
        """Resolve every handle (an invalid one anywhere wins), drop duplicates when
        ``unique``, and return the first object whose offload state is not ``offloaded``."""
        nodes = self.resolve_all(handles)
        if unique and len(set(handles)) != len(handles):
            nodes = list({node.handle: node for node in nodes}.values())
        unexpected = next((node for node in nodes if node.offloaded != offloaded), None)
        return nodes, unexpected

    def resolve_offloaded(self, handles: list[int], operation: str) -> list[Node]:
        """Resolve without duplicates; every object must be offloaded."""
        nodes, unexpected = self.resolve_expecting(handles, True, True)
        if unexpected is not None:
            raise not_offloaded(unexpected, operation)
        return nodes

    def resolve_offloaded_one(self, h: int, layer: int, role: str, operation: str) -> Node:
        """Resolve one offloaded object of ``layer`` in the role ``role``."""
        node = self.host.resolve_layer(h, layer, role)
        if not node.offloaded:
            raise not_offloaded(node, operation)
        return node

    @staticmethod
    def check_layers(nodes: list[Node], layer: int, role: str) -> None:
        """``LayerError`` for the first node not of ``layer``, named ``role[i]``."""
        for i, node in enumerate(nodes):
            if node.layer != layer:
                expect_layer(node, layer, f"{role}[{i}]")

    # -- building ---------------------------------------------------------------------------
    def add_neighbor(
        self,
        mac: object,
        vlan_id: object,
        source_mac: object | None,
        host_reachability_delta: object,
        nic_reachability_delta: object,
    ) -> int:
        """Add one neighbor; returns its handle."""
        values = (
            sort_value(mac),
            sort_value(vlan_id),
            None if source_mac is None else sort_value(source_mac),
            sort_value(host_reachability_delta),
            sort_value(nic_reachability_delta),
        )
        return self._call(lambda: build.add_neighbor(self, *values))

    def add_neighbors(self, macs: Any, vlan_ids: IntArray | None) -> HandleArray:
        """Add many neighbors (all validated first); returns their handles."""
        vlans = None if vlan_ids is None else vlan_ids.tolist()
        sorted_macs = _sorted_values(macs)
        return self._call(lambda: _handles_out(build.add_neighbors(self, sorted_macs, vlans)))

    def add_path(self, neighbor: int, source: object, destination: object, path_mtu: object) -> int:
        """Add one path over ``neighbor``; returns its handle."""
        values = sort_value(source), sort_value(destination), sort_value(path_mtu)
        return self._call(lambda: build.add_path(self, neighbor, *values))

    def add_paths(
        self,
        neighbors: HandleArray,
        sources: Any,
        destinations: Any,
        path_mtus: IntArray | None,
    ) -> HandleArray:
        """Add many paths (all validated first); returns their handles."""
        src, dst = _sorted_values(sources), _sorted_values(destinations)
        mtus = None if path_mtus is None else path_mtus.tolist()
        return self._call(
            lambda: _handles_out(build.add_paths(self, neighbors.tolist(), src, dst, mtus))
        )

    def add_tcp(
        self, path: int, local_port: object, remote_port: object, fields: dict[str, object]
    ) -> int:
        """Add one TCP connection over ``path``; returns its handle."""
        sorted_fields = {name: sort_value(value) for name, value in fields.items()}
        ports = sort_value(local_port), sort_value(remote_port)
        return self._call(lambda: build.add_tcp(self, path, *ports, sorted_fields))

    @_locked
    def add_tcps(
        self, paths: HandleArray, local_ports: IntArray, remote_ports: IntArray
    ) -> HandleArray:
        """Add many TCP connections with default variables (all validated first)."""
        added = build.add_tcps(self, paths.tolist(), local_ports.tolist(), remote_ports.tolist())
        return _handles_out(added)

    @_locked
    def check_parents(self, parents: HandleArray, child: int) -> None:
        """A batch add's parent checks; ``child`` is the added layer."""
        build.check_parents(self, parents.tolist(), child)

    @_locked
    def check_update(self, handles: HandleArray, names: list[str]) -> None:
        """``update``'s checks before any value."""
        update.check_update(self, handles.tolist(), names)

    @_locked
    def remove(self, handles: HandleArray, cascade: bool) -> HandleArray:
        """Delete objects that are not offloaded; returns the removed handles."""
        return _handles_out(build.remove(self, _batch(handles), cascade))

    # -- lookups by key ----------------------------------------------------------------------
    def find_path(self, source: object, destination: object) -> int | None:
        """The path from ``source`` to ``destination``, or None."""
        values = sort_value(source), sort_value(destination)
        return self._call(lambda: lookup.find_path(self, *values))

    def find_paths(self, sources: Any, destinations: Any) -> HandleArray:
        """The path of each (source, destination) pair, 0 where there is none."""
        src, dst = _sorted_values(sources), _sorted_values(destinations)
        return self._call(lambda: _handles_out(lookup.find_paths(self, src, dst)))

    def find_tcp(
        self, source: object, destination: object, local_port: object, remote_port: object
    ) -> int | None:
        """The connection with this 4-tuple, or None."""
        values = tuple(sort_value(v) for v in (source, destination, local_port, remote_port))
        return self._call(lambda: lookup.find_tcp(self, *values))

    def find_tcps(
        self, sources: Any, destinations: Any, local_ports: IntArray, remote_ports: IntArray
    ) -> HandleArray:
        """The connection of each 4-tuple, 0 where there is none."""
        src, dst = _sorted_values(sources), _sorted_values(destinations)
        ports = local_ports.tolist(), remote_ports.tolist()
        return self._call(lambda: _handles_out(lookup.find_tcps(self, src, dst, *ports)))

    @property
    def threads(self) -> int:
        """How many threads a large batch may use: recorded, since the fallback uses one."""
        return self._threads

    def set_threads(self, threads: int) -> None:
        """Record the thread count (at least 1), checked as the core checks it."""
        if threads < 1:
            raise error("thread_count", value=threads)
        self._threads = threads

    def request_interrupt(self, requested: bool) -> None:
        """Ask this thread's running call to stop at its next poll (no lock: it is called
        from a signal handler while the call runs)."""
        self.interrupts.request(requested)

    @_locked
    def set_interrupt_after(self, polls: int | None) -> None:
        """Testing: the poll after ``polls`` more reports an interrupt, once (every item
        polls while this is set); None clears it."""
        self.interrupts.after = polls

    @_locked
    def set_allocation_budget(self, units: int | None) -> None:
        """Testing: the engine may create ``units`` more host objects (None: no limit); the
        next one fails with ``OutOfMemoryError`` and its batch is rolled back, as a real
        ``MemoryError`` there would be. (The native engine counts bytes reserved instead.)"""
        self.host.budget.left = units

    # -- reading ----------------------------------------------------------------------------
    @_locked
    def layer(self, h: int) -> int:
        """The layer of ``h``."""
        return self.host.resolve(h).layer

    @_locked
    def depends_on(self, h: int) -> int | None:
        """The handle ``h`` depends on, or None for a neighbor."""
        parent = self.host.resolve(h).parent
        return None if parent is None else parent.handle

    @_locked
    def dependents(self, h: int) -> HandleArray:
        """The handles depending on ``h``, in insertion order."""
        return _handles_out(list(self.host.resolve(h).children or ()))

    @_locked
    def is_offloaded(self, h: int) -> bool:
        """Whether ``h`` is offloaded."""
        return self.host.resolve(h).offloaded

    @_locked
    def contains(self, h: int) -> bool:
        """Whether ``h`` names a live object of this tree (never raises for an int)."""
        return self.host.find(h) is not None

    @_locked
    def state(self, h: int) -> dict[str, Any]:
        """The host copy of ``h``'s variables, with its handle, layer and offload state."""
        return read.state(self, h)

    @_locked
    def count(self, layer: int | None, offloaded: bool | None) -> int:
        """The number of live objects, optionally of one layer and/or offload state."""
        return read.count(self, _layer(layer), offloaded)

    @_locked
    def __len__(self) -> int:
        return len(self.host)

    @_locked
    def handles(self, layer: int | None) -> HandleArray:
        """The live handles in pre-order, optionally of one layer."""
        return _handles_out(read.handles(self, _layer(layer)))

    @_locked
    def walk(self, post: bool, roots: HandleArray | None) -> HandleArray:
        """Every object (or the subtrees of ``roots``) in pre- or post-order."""
        return _handles_out(read.walk(self, post, None if roots is None else _batch(roots)))

    @_locked
    def block_list(self, handles: HandleArray) -> BlockArrays:
        """The block list of an offload of ``handles`` (six arrays, nothing sent)."""
        return read.block_list(self, _batch(handles)).arrays()

    # -- operations -------------------------------------------------------------------------
    def initiate_offload(
        self, handles: HandleArray, buffered: Buffered | None = None
    ) -> tuple[BlockArrays, Outcome]:
        """Offload ``handles``, handing ``buffered`` (the host's BufferedData) to those it
        takes; the block-list arrays plus the statuses (seven arrays), and what the host
        released again."""
        requested = _batch(handles)
        data = None
        if buffered is not None:
            tcs, payload, lengths = buffered
            data = (_batch(tcs), payload, _batch(lengths))

        def work() -> tuple[BlockArrays, Outcome]:
            if data is None:
                blocks, released = offload.initiate_offload(self, requested)
            else:
                blocks, released = offload.initiate_offload_buffered(self, requested, data)
            return blocks.arrays(), released

        return self._call(work)

    @_locked
    def terminate(self, handles: HandleArray, cascade: bool) -> Outcome:
        """Upload offloaded objects; the outcome lists them in upload order."""
        return terminate.terminate(self, _batch(handles), cascade)

    def update(self, handles: HandleArray, fields: dict[str, Any]) -> tuple[StatusArray, Outcome]:
        """Change cached variables; one detailed status code (uint8) per handle, and what the
        refusals terminated."""
        # An int64 array is an int column; anything else is read value by value (the
        # bindings' rule: a float array's items are "float64" values, refused by name).
        columns = {
            name: Column(values.tolist(), ints=True)
            if isinstance(values, np.ndarray) and values.dtype == np.int64 and values.ndim == 1
            else Column(_sorted_values(values), ints=False)
            for name, values in fields.items()
        }
        statuses, terminated = self._call(lambda: update.update(self, _batch(handles), columns))
        return np.array(statuses, dtype=np.uint8), terminated

    @_locked
    def relink(self, path: int, neighbor: int) -> Outcome:
        """Move ``path`` under ``neighbor``; returns what the host released."""
        return relink.relink(self, path, neighbor)

    @_locked
    def query(self, handles: HandleArray) -> tuple[Outcome, Outcome]:
        """The target's live delegated state of offloaded objects, with a status each, and
        what the host terminated because a query failed."""
        return query.query(self, _batch(handles))

    @_locked
    def invalidate(self, handles: HandleArray) -> tuple[HandleArray, StatusArray]:
        """Mark offloaded objects invalid at the target; the objects and their statuses."""
        handle_list, statuses = invalidate.invalidate(self, _batch(handles))
        return _handles_out(handle_list), np.array(statuses, dtype=np.uint8)

    def process_events(self, decline: Any = None) -> list[ProcessedTuple]:
        """Drain the event queue; ``(kind, handle, reason, action, outcome, size)`` per event.
        ``decline``: the optional upload reasons the host declines (None: its policy's)."""
        reasons = None if decline is None else _sorted_values(decline)
        done = self._call(lambda: events.process_events(self, reasons))
        return [
            (p.event.kind, p.event.handle, p.event.reason, p.action, p.outcome, p.event.size)
            for p in done
        ]

    @_locked
    def counters(self) -> dict[str, Any]:
        """Every counter of the host and the target, flat (docs/DESIGN.md §9)."""
        return stats.counters(self)

    @_locked
    def offload_stats(self, family: int) -> dict[str, dict[str, int]]:
        """The chimney statistics of IP version ``family`` (OID_IPx/TCPx_OFFLOAD_STATS)."""
        return traffic.offload_stats(self, family)

    @_locked
    def reset_offload_stats(self, family: int) -> None:
        """Reset the chimney statistics of IP version ``family``."""
        traffic.reset_offload_stats(self, family)

    # -- the target half --------------------------------------------------------------------
    @_locked
    def target_receive(self, tc: int, data: bytes, psh: bool = False) -> int:
        """Data arrives at the target for connection ``tc`` (with the PSH bit when ``psh``);
        the bytes taken."""
        return traffic.target_receive(self, tc, data, psh)

    @_locked
    def send(self, tc: int, data: bytes) -> int:
        """The host posts ``data`` on ``tc``; returns the bytes transmitted now."""
        return traffic.send(self, tc, data)

    def post_receive(self, tc: int, size: object, push: bool = False) -> int:
        """The host posts a receive request of ``size`` bytes on ``tc`` (push mode: ``push``)."""
        n = sort_value(size)
        return self._call(lambda: traffic.post_receive(self, tc, n, push))

    @_locked
    def read(self, tc: int) -> bytes:
        """The delivered bytes of ``tc`` not read yet; reading takes them."""
        return traffic.read(self, tc)

    def target_acknowledge(self, tc: int, nbytes: object, window: object = None) -> int:
        """The peer acknowledges ``nbytes`` on ``tc`` (advertising ``window``, if given);
        returns the requests completed."""
        n = sort_value(nbytes)
        w = None if window is None else sort_value(window)
        return self._call(lambda: traffic.target_acknowledge(self, tc, n, w))

    def target_send(self, tc: int, nbytes: object) -> int:
        """The target sends on ``tc``; returns the bytes sent."""
        n = sort_value(nbytes)
        return self._call(lambda: traffic.target_send(self, tc, n))

    def target_request_upload(self, tc: int, reason: object) -> None:
        """The target asks for the upload of ``tc``."""
        code = sort_value(reason)
        self._call(lambda: events.target_request_upload(self, tc, code))

    def set_policy(
        self,
        decline: Any,
        uploads_per_call: int | None,
        accept_indicated: bool,
        terminate_on_link_down: bool,
        rules: list[OffloadRule],
    ) -> None:
        """Replace the host's policy but for ``release_unreferenced``."""
        reasons = _sorted_values(decline)
        self._call(
            lambda: policy.set_policy(
                self, reasons, uploads_per_call, accept_indicated, terminate_on_link_down, rules
            )
        )

    def offload_policy(self, handles: HandleArray) -> npt.NDArray[np.bool_]:
        """For each handle, whether the host's offload rules let it be offloaded."""
        hs = _batch(handles)
        return np.array(self._call(lambda: policy.offload_policy(self, hs)), dtype=bool)

    @_locked
    def link_down(self) -> Outcome:
        """The link went down: what the host terminated by its policy."""
        return policy.link_down(self)

    def set_clock(self, ticks_per_second: object, nce_stale_ticks: object) -> None:
        """TicksPerSecond and NceStaleTicks, as the host sets OID_TCP_TASK_OFFLOAD."""
        tps, stale = sort_value(ticks_per_second), sort_value(nce_stale_ticks)
        self._call(lambda: clock.set_clock(self, tps, stale))

    @_locked
    def clock(self) -> tuple[int, int, int]:
        """The target's time in ticks, TicksPerSecond and NceStaleTicks."""
        return clock.clock(self)

    def advance(self, ticks: object) -> int:
        """Time moves on by ``ticks``; returns the events the timers indicated."""
        n = sort_value(ticks)
        return self._call(lambda: clock.advance(self, n))

    def send_many(self, tcs: HandleArray, data: bytes, lengths: IntArray) -> IntArray:
        """The host posts a piece of ``data`` on each of ``tcs``; the bytes each transmitted."""
        handles, pieces = _batch(tcs), _batch(lengths)
        return _ints_out(self._call(lambda: traffic_batch.send_many(self, handles, data, pieces)))

    def target_receive_many(self, tcs: HandleArray, data: bytes, lengths: IntArray) -> IntArray:
        """Data arrives at the target for each of ``tcs``, a piece of ``data`` each; the bytes
        each took."""
        handles, pieces = _batch(tcs), _batch(lengths)
        return _ints_out(
            self._call(lambda: traffic_batch.target_receive_many(self, handles, data, pieces))
        )

    def post_receive_many(self, tcs: HandleArray, sizes: IntArray, push: bool) -> IntArray:
        """The host posts a receive request on each of ``tcs``; the bytes each completed."""
        handles, values = _batch(tcs), _batch(sizes)
        return _ints_out(
            self._call(lambda: traffic_batch.post_receive_many(self, handles, values, push))
        )

    @_locked
    def forward(self, tc: int, data: bytes) -> int:
        """The host forwards segments to ``tc``; the target processes them as received."""
        return traffic.forward(self, tc, data)

    def read_many(self, tcs: HandleArray) -> tuple[bytes, IntArray]:
        """The delivered bytes of each of ``tcs`` not read yet, one after another, and how
        many are each one's; reading takes them."""
        handles = _batch(tcs)
        data, lengths = self._call(lambda: traffic_batch.read_many(self, handles))
        return data, _ints_out(lengths)

    def target_acknowledge_many(
        self, tcs: HandleArray, nbytes: IntArray, windows: IntArray | None = None
    ) -> IntArray:
        """The peer acknowledges bytes on each of ``tcs``; the requests each completed."""
        handles, counts = _batch(tcs), _batch(nbytes)
        advertised = None if windows is None else _batch(windows)
        return _ints_out(
            self._call(
                lambda: traffic_batch.target_acknowledge_many(self, handles, counts, advertised)
            )
        )

    @_locked
    def disconnect(self, tc: int, abortive: bool) -> Outcome:
        """The host disconnects ``tc``; what an abortive disconnect uploaded."""
        return events.disconnect(self, tc, abortive)

    @_locked
    def target_peer_close(self, tc: int, abortive: bool) -> None:
        """The peer closes ``tc``: a FIN, or an RST when ``abortive``."""
        events.target_peer_close(self, tc, abortive)

    @_locked
    def target_request_upload_all(self) -> None:
        """The target indicates upload-all."""
        events.target_request_upload_all(self)

    @_locked
    def target_resume(self, limits: Limits | None = None) -> None:
        """The target indicates offload-resume, reporting the capabilities ``limits`` when
        given."""
        events.target_resume(self, limits)

    @_locked
    def target_pause(self) -> None:
        """The target indicates offload-pause."""
        events.target_pause(self)

    @_locked
    def target_indicate_neighbor_reachability_query(self, nb: int) -> None:
        """The target doubts the reachability of neighbor ``nb``."""
        events.target_indicate_neighbor_reachability_query(self, nb)

    def target_inject_fault(self, h: int, status: object, operation: object) -> None:
        """The next ``operation`` that reaches ``h`` fails with ``status``."""
        values = sort_value(status), sort_value(operation)
        self._call(lambda: faults.target_inject_fault(self, h, *values))

    # -- snapshots ------------------------------------------------------------------------
    @_locked
    def snapshot(self) -> dict[str, npt.NDArray[Any]]:
        """The engine's whole state as the named columns of docs/DESIGN.md §12: 1-D
        little-endian arrays, the same ones the native engine writes for the same history.
        Settings of the process (threads, interrupt requests, an allocation budget) are not
        state and are not saved."""
        return snapshot.snapshot(self)

    @classmethod
    def restore(cls, columns: Mapping[str, Any]) -> Engine:
        """A new engine holding the state ``columns`` describe (a :meth:`snapshot` of
        either engine): the same handles, target store, events, faults and random draws, so
        every later call gives the same results as on the engine the snapshot was taken of.
        It keeps the snapshot's tree id (the facade registers it). A column that is missing,
        of the wrong type or length, or breaks a rule of the format is a ``SnapshotError``
        naming it; nothing is built then."""
        return restore.restore(columns)

    @_locked
    def states(self, layer: int) -> dict[str, npt.NDArray[Any]]:
        """Every object of ``layer`` as columns, in walk order (docs/DESIGN.md §10)."""
        return read.states(self, int(layer))

    @_locked
    def edges(self) -> tuple[HandleArray, HandleArray]:
        """Each path and connection, and the object it depends on, in walk order."""
        dependents, parents = read.edges(self)
        return _handles_out(dependents), _handles_out(parents)

    @_locked
    def target_links(self) -> tuple[HandleArray, HandleArray]:
        """The target's internal tree as host handles (invariant 5 made observable)."""
        handles, parents = read.target_links(self)
        return _handles_out(handles), _handles_out(parents)

    @_locked
    def _debug_panic(self, message: str) -> None:
        """Test hook mirroring the native engine's: an internal error raised under the lock.

        The Rust core turns a panic into ``InternalError`` with this message and stays
        usable; so does this engine (the lock is released, nothing was changed).
        """
        raise InternalError(f"internal error in offload-tree's core: {message}")


def not_offloaded(node: Node, operation: str) -> OffloadTreeError:
    """The ``StateError`` of an object that an operation needs offloaded."""
    return error(
        "not_offloaded",
        layer=Layer(node.layer).name,
        handle=format_handle(node.handle),
        operation=operation,
    )
