"""The engine contract: what ``_native.Engine`` (Rust) and ``_fallback.Engine`` (Python)
both implement, written once as a :class:`typing.Protocol`.

The facade (``_tree.py``, ``_target.py``) is typed against these protocols, mypy checks that
both engines satisfy them (``_backend.engine_class`` returns either as ``type[Engine]``),
``mypy.stubtest`` checks the native stub against the compiled module, and
``tests/test_parity.py`` checks that both engines expose the same methods with the same
signatures. Semantics are in docs/DESIGN.md §8; input forms in §4.

Input the facade hands an engine: a single handle is a Python ``int`` in 0..2**64-1; many
handles are a 1-D C-contiguous ``uint64`` array; integer field arrays are 1-D ``int64``
arrays; the target configuration has been validated by ``SimulatedTarget``. Errors are the
classes of ``offload_tree._errors``, with the wording of ``offload_tree._messages``; an
engine is never left half-changed by an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "BlockArrays",
    "Buffered",
    "Engine",
    "EngineClass",
    "HandleArray",
    "IntArray",
    "Limits",
    "OffloadRule",
    "Outcome",
    "ProcessedTuple",
    "StatusArray",
]

HandleArray = npt.NDArray[np.uint64]
IntArray = npt.NDArray[np.int64]
StatusArray = npt.NDArray[np.uint8]
#: A block list: ``layers`` (uint8), ``handles`` (uint64), ``depths`` (uint8), ``referenced``
#: (bool), ``next`` and ``dependent`` (int64, -1 = none), and for a processed list
#: ``statuses`` (uint8, 255 = none): docs/DESIGN.md §7.
BlockArrays = tuple[np.ndarray, ...]


class Outcome(Protocol):
    """The objects a terminate uploaded, or a query read, in that order; read lazily."""

    @property
    def handles(self) -> HandleArray:
        """The handles, in upload (or request) order."""
        ...

    @property
    def statuses(self) -> StatusArray:
        """The completion status of each object (``Status`` codes), in handle order."""
        ...

    @property
    def total_received(self) -> int:
        """The received bytes handed back, over all objects."""
        ...

    @property
    def total_send_data(self) -> int:
        """The posted send bytes handed back, over all objects."""
        ...

    def __len__(self) -> int: ...

    def delegated_at(self, i: int) -> dict[str, int]:
        """The delegated variables of the ``i``-th object, in field order."""
        ...

    def delegated_columns(self, layer: int) -> dict[str, npt.NDArray[Any]]:
        """The delegated variables of the objects of ``layer`` as columns: ``row`` (their
        position) and one column per variable, typed by its range."""
        ...

    def received_at(self, i: int) -> bytes:
        """The received bytes of the ``i``-th object (``b""`` for query and non-TCP objects)."""
        ...

    def send_data_at(self, i: int) -> bytes:
        """The posted, unacknowledged send bytes of the ``i``-th object (``b""`` if none)."""
        ...


#: A target's capabilities: neighbor, path and TCP capacities, the largest path MTU and
#: initial receive window it takes (None: unlimited).
Limits = tuple[int | None, int | None, int | None, int | None, int | None]

#: BufferedData for ``initiate_offload``: connections, one buffer, and each one's length.
Buffered = tuple[HandleArray, bytes, IntArray]

#: An offload rule: (offload, local port low, high, remote port low, high, (packed
#: destination, prefix length) or None).
OffloadRule = tuple[bool, int, int, int, int, "tuple[bytes, int] | None"]

#: ``(kind, handle or None, reason or None, action, outcome or None)`` per processed event.
ProcessedTuple = tuple[int, int | None, int | None, str, Outcome | None, int | None]


class Engine(Protocol):
    """One host state tree and the simulated target it offloads to."""

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
    ) -> None: ...

    @property
    def tree_id(self) -> int:
        """The id in bits 63..48 of this tree's handles."""
        ...

    # -- building
    def add_neighbor(
        self,
        mac: object,
        vlan_id: object,
        source_mac: object | None,
        host_reachability_delta: object,
        nic_reachability_delta: object,
    ) -> int: ...
    def add_neighbors(self, macs: Any, vlan_ids: IntArray | None) -> HandleArray: ...
    def add_path(
        self, neighbor: int, source: object, destination: object, path_mtu: object
    ) -> int: ...
    def add_paths(
        self,
        neighbors: HandleArray,
        sources: Any,
        destinations: Any,
        path_mtus: IntArray | None,
    ) -> HandleArray: ...
    def add_tcp(
        self, path: int, local_port: object, remote_port: object, fields: dict[str, object]
    ) -> int: ...
    def add_tcps(
        self, paths: HandleArray, local_ports: IntArray, remote_ports: IntArray
    ) -> HandleArray: ...
    def check_parents(self, parents: HandleArray, child: int) -> None:
        """A batch add's checks of its parents, before any value: valid handles of the layer
        below ``child``. The facade calls it when its own value conversion fails."""
        ...

    def check_update(self, handles: HandleArray, names: list[str]) -> None:
        """``update``'s checks before any value: handles, invalidated objects, names."""
        ...

    def remove(self, handles: HandleArray, cascade: bool) -> HandleArray: ...
    def find_path(self, source: object, destination: object) -> int | None: ...
    def find_paths(self, sources: Any, destinations: Any) -> HandleArray: ...
    def find_tcp(
        self, source: object, destination: object, local_port: object, remote_port: object
    ) -> int | None: ...
    def find_tcps(
        self, sources: Any, destinations: Any, local_ports: IntArray, remote_ports: IntArray
    ) -> HandleArray: ...
    @property
    def threads(self) -> int:
        """How many threads a large batch may use."""
        ...

    def set_threads(self, threads: int) -> None:
        """Let a large batch use up to ``threads`` threads (at least 1): the same results on
        any number. The fallback runs on one whatever the setting."""
        ...

    def request_interrupt(self, requested: bool) -> None:
        """Ask the calling thread's running call to stop at its next poll (``True``), or take
        the request back; takes no lock (a signal handler calls it during the call)."""
        ...

    def set_interrupt_after(self, polls: int | None) -> None:
        """Testing: the poll after ``polls`` more reports an interrupt, once (every item of a
        long loop polls while this is set; both engines poll at the same points)."""
        ...

    def set_allocation_budget(self, units: int | None) -> None:
        """Testing: how much the engine may still allocate before it fails as out of memory
        (native: bytes reserved; fallback: objects created), None for no limit."""
        ...

    # -- reading
    def layer(self, h: int) -> int: ...
    def depends_on(self, h: int) -> int | None: ...
    def dependents(self, h: int) -> HandleArray: ...
    def is_offloaded(self, h: int) -> bool: ...
    def contains(self, h: int) -> bool: ...
    def state(self, h: int) -> dict[str, Any]: ...
    def count(self, layer: int | None, offloaded: bool | None) -> int: ...
    def __len__(self) -> int: ...
    def handles(self, layer: int | None) -> HandleArray: ...
    def walk(self, post: bool, roots: HandleArray | None) -> HandleArray: ...
    def block_list(self, handles: HandleArray) -> BlockArrays: ...

    # -- operations
    def initiate_offload(
        self, handles: HandleArray, buffered: Buffered | None = None
    ) -> tuple[BlockArrays, Outcome]:
        """The processed block list, and the new shared objects the host released again.
        ``buffered``: the host's BufferedData of some requested connections, handed to each
        one the offload takes (all or nothing)."""
        ...

    def terminate(self, handles: HandleArray, cascade: bool) -> Outcome: ...
    def update(self, handles: HandleArray, fields: dict[str, Any]) -> tuple[StatusArray, Outcome]:
        """Detailed statuses per handle, and what the refusals terminated."""
        ...

    def relink(self, path: int, neighbor: int) -> Outcome:
        """What the host released: the old neighbor, if the path was its last reference."""
        ...

    def query(self, handles: HandleArray) -> tuple[Outcome, Outcome]:
        """The answers, a status each, and what the failures made the host terminate."""
        ...

    def invalidate(self, handles: HandleArray) -> tuple[HandleArray, StatusArray]:
        """The invalidated objects (duplicates dropped) and their statuses."""
        ...

    def process_events(self, decline: Any = None) -> Sequence[ProcessedTuple]: ...
    def counters(self) -> dict[str, Any]: ...
    def offload_stats(self, family: int) -> dict[str, dict[str, int]]: ...
    def reset_offload_stats(self, family: int) -> None: ...

    # -- the target half
    def target_receive(self, tc: int, data: bytes, psh: bool = False) -> int: ...
    def send(self, tc: int, data: bytes) -> int: ...
    def post_receive(self, tc: int, size: object, push: bool = False) -> int: ...
    def read(self, tc: int) -> bytes: ...
    def disconnect(self, tc: int, abortive: bool) -> Outcome: ...
    def set_policy(
        self,
        decline: Any,
        uploads_per_call: int | None,
        accept_indicated: bool,
        terminate_on_link_down: bool,
        rules: list[OffloadRule],
    ) -> None: ...
    def offload_policy(self, handles: HandleArray) -> npt.NDArray[np.bool_]: ...
    def link_down(self) -> Outcome: ...
    def set_clock(self, ticks_per_second: object, nce_stale_ticks: object) -> None: ...
    def clock(self) -> tuple[int, int, int]: ...
    def advance(self, ticks: object) -> int: ...
    def send_many(self, tcs: HandleArray, data: bytes, lengths: IntArray) -> IntArray: ...
    def target_receive_many(self, tcs: HandleArray, data: bytes, lengths: IntArray) -> IntArray: ...
    def post_receive_many(self, tcs: HandleArray, sizes: IntArray, push: bool) -> IntArray: ...
    def read_many(self, tcs: HandleArray) -> tuple[bytes, IntArray]: ...
    def forward(self, tc: int, data: bytes) -> int: ...
    def target_acknowledge_many(
        self, tcs: HandleArray, nbytes: IntArray, windows: IntArray | None = None
    ) -> IntArray: ...
    def target_acknowledge(self, tc: int, nbytes: object, window: object = None) -> int: ...
    def target_send(self, tc: int, nbytes: object) -> int: ...
    def target_request_upload(self, tc: int, reason: object) -> None: ...
    def target_peer_close(self, tc: int, abortive: bool) -> None: ...
    def target_request_upload_all(self) -> None: ...
    def target_resume(self, limits: Limits | None = None) -> None: ...
    def target_pause(self) -> None: ...
    def target_indicate_neighbor_reachability_query(self, nb: int) -> None: ...
    def target_inject_fault(self, h: int, status: object, operation: object) -> None: ...
    def target_links(self) -> tuple[HandleArray, HandleArray]: ...

    def states(self, layer: int) -> dict[str, npt.NDArray[Any]]:
        """Every object of ``layer`` as columns in walk order: handle, parent, offloaded,
        invalidated, then every variable (MACs as integers, addresses as family and 16
        octets a row)."""
        ...

    def edges(self) -> tuple[HandleArray, HandleArray]:
        """Each path and connection and the object it depends on, in walk order."""
        ...

    # -- snapshots (docs/DESIGN.md §12)
    def snapshot(self) -> dict[str, npt.NDArray[Any]]:
        """The engine's whole state as named 1-D little-endian columns; both engines write
        the same columns for the same history."""
        ...

    @staticmethod
    def restore(columns: Mapping[str, Any]) -> Engine:
        """A new engine holding the state ``columns`` describe, with the snapshot's tree id;
        ``SnapshotError`` naming the first column that breaks a rule, and nothing built.
        (A static method here, as the native stub has it: the fallback's classmethod takes
        the same arguments.)"""
        ...

    # -- test hook: an internal error raised under the engine's lock
    def _debug_panic(self, message: str) -> None: ...


#: The class of an engine, as ``_backend.engine_class`` returns it.
EngineClass = type[Engine]
