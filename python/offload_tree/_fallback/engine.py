"""The pure-Python engine: the protocol of DESIGN.md section 10 over ``operations``.

This module only adapts: NumPy arrays in and out, one lock per engine so that every call is
atomic, and the ``Outcome`` object of terminate and query. The semantics are in
``operations.py``; the data in ``tree.py`` and ``target.py``.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from .._enums import Layer
from .._errors import InternalError, ValidationError
from .._handles import check_batch
from .arena import next_tree_id
from .blocks import BlockPlan
from .operations import DELEGATED_NAMES, OPERATIONS, Operations, Uploads, expect_layer
from .state import neighbor_values, path_values, state_dict, tcp_values
from .target import TargetStore
from .tree import HostTree, Node

__all__ = ["Engine", "Outcome"]

NEIGHBOR, PATH, TCP = Layer.NEIGHBOR.value, Layer.PATH.value, Layer.TCP.value
_LAYER_KEYS = ("neighbor", "path", "tcp")
_U64_MAX = 2**64 - 1

HandleArray = npt.NDArray[np.uint64]
P = ParamSpec("P")
R = TypeVar("R")


def _locked(method: Callable[Concatenate[Engine, P], R]) -> Callable[Concatenate[Engine, P], R]:
    """Run an engine method under the engine's lock: host and target change together."""

    def locked(self: Engine, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            return method(self, *args, **kwargs)

    functools.update_wrapper(locked, method)
    return locked


def _handles_out(nodes: list[Node]) -> HandleArray:
    return np.array([node.handle for node in nodes], dtype=np.uint64)


def _as_list(values: Any) -> list[Any]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def _batch(handles: Any) -> list[Any]:
    """A batch of handles as a list, refused before conversion when over ``MAX_BATCH``.

    The Rust core checks the same limit, with the same message, before it resolves a batch.
    """
    check_batch(len(handles))
    return _as_list(handles)


def _check_limit(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U64_MAX:
        raise ValidationError(f"{name} must be None or an int in 0..2**64-1, got {value!r}")
    return value


def _block_arrays(plan: BlockPlan) -> tuple[np.ndarray, ...]:
    """The six arrays of a block list (DESIGN.md section 7)."""
    return (
        np.array([node.layer for node in plan.nodes], dtype=np.uint8),
        _handles_out(plan.nodes),
        np.array(plan.depths, dtype=np.uint8),
        np.array(plan.referenced, dtype=np.bool_),
        np.array(plan.next, dtype=np.int64),
        np.array(plan.dependent, dtype=np.int64),
    )


class Outcome:
    """The objects a terminate (or query) returned: handles, delegated state, data.

    Delegated dicts are built when asked for: most callers read a few objects, if any.
    """

    __slots__ = ("_uploads", "handles", "total_received")

    def __init__(self, uploads: Uploads) -> None:
        """Wrap the uploads of a terminate, or the values read by a query."""
        self._uploads = uploads
        self.handles: HandleArray = np.array(uploads.handles, dtype=np.uint64)
        self.total_received = uploads.total_received

    def __len__(self) -> int:
        return len(self._uploads.handles)

    def delegated_at(self, i: int) -> dict[str, Any]:
        """The delegated state of the i-th object (a fresh dict, field order)."""
        uploads = self._uploads
        values = uploads.delegated[i]
        return dict(zip(DELEGATED_NAMES[uploads.layers[i]], values, strict=True))

    def received_at(self, i: int) -> bytes:
        """The receive data returned for the i-th object (b"" for non-TCP and queries)."""
        uploads = self._uploads
        if not uploads.received:  # a query: no data, but a bad index still raises IndexError
            _ = uploads.delegated[i]
            return b""
        return uploads.received[i]


class Engine:
    """One host tree and its simulated target, behind the engine protocol."""

    def __init__(
        self,
        neighbor_capacity: int | None,
        path_capacity: int | None,
        tcp_capacity: int | None,
        max_path_mtu: int | None,
        max_rcv_window: int | None,
        fail_rate: float,
        seed: int,
    ) -> None:
        """A new, empty tree with its target; raises ``ValidationError`` on bad settings."""
        capacities = (
            _check_limit("neighbor_capacity", neighbor_capacity),
            _check_limit("path_capacity", path_capacity),
            _check_limit("tcp_capacity", tcp_capacity),
        )
        mtu_limit = _check_limit("max_path_mtu", max_path_mtu)
        window_limit = _check_limit("max_rcv_window", max_rcv_window)
        if (
            isinstance(fail_rate, bool)
            or not isinstance(fail_rate, int | float)
            or not math.isfinite(fail_rate)
            or not 0.0 <= fail_rate <= 1.0
        ):
            raise ValidationError(f"fail_rate must be a float in [0, 1], got {fail_rate!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _U64_MAX:
            raise ValidationError(f"seed must be an int in 0..2**64-1, got {seed!r}")
        self._lock = threading.Lock()
        self._tree_id = next_tree_id()
        self._tree = HostTree(self._tree_id)
        self._target = TargetStore(capacities, mtu_limit, window_limit, float(fail_rate), seed)
        self._ops = Operations(self._tree, self._target)

    @property
    def tree_id(self) -> int:
        """The id in bits 63..48 of this tree's handles."""
        return self._tree_id

    # -- structure --------------------------------------------------------------------------
    @_locked
    def add_neighbor(
        self,
        mac: object,
        vlan_id: int,
        source_mac: object | None,
        host_reachability_delta: int,
        nic_reachability_delta: int,
    ) -> int:
        """Add one neighbor; returns its handle."""
        values = neighbor_values(
            mac, vlan_id, source_mac, host_reachability_delta, nic_reachability_delta
        )
        return self._tree.add(NEIGHBOR, None, values).handle

    @_locked
    def add_neighbors(self, macs: Any, vlan_ids: np.ndarray | None) -> HandleArray:
        """Add many neighbors (all validated first); returns their handles."""
        check_batch(len(macs))
        mac_list = _as_list(macs)
        n = len(mac_list)
        vlans = [0] * n if vlan_ids is None else _as_list(vlan_ids)
        if len(vlans) != n:
            raise ValidationError(f"vlan_ids has {len(vlans)} values but there are {n} MACs")
        values = [
            neighbor_values(mac, vlan, None, 0, 0)
            for mac, vlan in zip(mac_list, vlans, strict=True)
        ]
        add = self._tree.add
        return _handles_out([add(NEIGHBOR, None, v) for v in values])

    @_locked
    def add_path(self, neighbor: int, source: object, destination: object, path_mtu: int) -> int:
        """Add one path over ``neighbor``; returns its handle."""
        parent = self._tree.resolve(neighbor)
        expect_layer(parent, NEIGHBOR, "neighbor")
        values = path_values(source, destination, path_mtu)
        return self._tree.add(PATH, parent, values).handle

    @_locked
    def add_paths(
        self,
        neighbors: HandleArray,
        sources: Any,
        destinations: Any,
        path_mtus: np.ndarray | None,
    ) -> HandleArray:
        """Add many paths (all validated first); returns their handles."""
        parents = self._tree.resolve_all(_batch(neighbors))
        for parent in parents:
            expect_layer(parent, NEIGHBOR, "neighbor")
        n = len(parents)
        src = self._addresses("sources", sources, n)
        dst = self._addresses("destinations", destinations, n)
        mtus = [1500] * n if path_mtus is None else _as_list(path_mtus)
        if len(mtus) != n:
            raise ValidationError(f"path_mtus has {len(mtus)} values but there are {n} handles")
        values = [path_values(s, d, m) for s, d, m in zip(src, dst, mtus, strict=True)]
        add = self._tree.add
        return _handles_out([add(PATH, p, v) for p, v in zip(parents, values, strict=True)])

    @staticmethod
    def _addresses(name: str, values: Any, n: int) -> list[Any]:
        items = _as_list(values)  # ints follow parse_ip's rule: below 2**32 is IPv4
        if len(items) != n:
            raise ValidationError(f"{name} has {len(items)} values but there are {n} handles")
        return items

    @_locked
    def add_tcp(
        self, path: int, local_port: int, remote_port: int, fields: dict[str, object]
    ) -> int:
        """Add one TCP connection over ``path``; returns its handle."""
        parent = self._tree.resolve(path)
        expect_layer(parent, PATH, "path")
        values = tcp_values(local_port, remote_port, fields)
        return self._tree.add(TCP, parent, values).handle

    @_locked
    def add_tcps(
        self, paths: HandleArray, local_ports: np.ndarray, remote_ports: np.ndarray
    ) -> HandleArray:
        """Add many TCP connections with default fields (all validated first)."""
        parents = self._tree.resolve_all(_batch(paths))
        for parent in parents:
            expect_layer(parent, PATH, "path")
        n = len(parents)
        locals_, remotes = _as_list(local_ports), _as_list(remote_ports)
        for name, values in (("local_ports", locals_), ("remote_ports", remotes)):
            if len(values) != n:
                raise ValidationError(f"{name} has {len(values)} values but there are {n} handles")
        values = [tcp_values(lp, rp, {}) for lp, rp in zip(locals_, remotes, strict=True)]
        add = self._tree.add
        return _handles_out([add(TCP, p, v) for p, v in zip(parents, values, strict=True)])

    @_locked
    def remove(self, handles: HandleArray, cascade: bool) -> HandleArray:
        """Delete objects that are not offloaded; returns the removed handles."""
        removed = self._ops.remove(_batch(handles), cascade)
        return np.array(removed, dtype=np.uint64)

    # -- inspection -------------------------------------------------------------------------
    @_locked
    def layer(self, h: int) -> int:
        """The layer of ``h``."""
        return self._tree.resolve(h).layer

    @_locked
    def depends_on(self, h: int) -> int | None:
        """The handle ``h`` depends on, or None for a neighbor."""
        parent = self._tree.resolve(h).parent
        return None if parent is None else parent.handle

    @_locked
    def dependents(self, h: int) -> HandleArray:
        """The handles depending on ``h``, in insertion order."""
        children = self._tree.resolve(h).children
        return np.array(list(children) if children else [], dtype=np.uint64)

    @_locked
    def is_offloaded(self, h: int) -> bool:
        """Whether ``h`` is offloaded."""
        return self._tree.resolve(h).offloaded

    @_locked
    def contains(self, h: int) -> bool:
        """Whether ``h`` names a live object of this tree (never raises for an int)."""
        return self._tree.find(h) is not None

    @_locked
    def state(self, h: int) -> dict[str, Any]:
        """The host copy of ``h``'s variables, with its handle, layer and offload state."""
        node = self._tree.resolve(h)
        invalidated = node.handle in self._target.invalid
        values = (node.const, node.cached, node.delegated)
        return state_dict(node.handle, node.layer, node.offloaded, invalidated, values)

    @_locked
    def count(self, layer: int | None, offloaded: bool | None) -> int:
        """The number of live objects, optionally of one layer and/or offload state."""
        if layer is None:
            layers: tuple[int, ...] = (NEIGHBOR, PATH, TCP)
        elif isinstance(layer, int) and not isinstance(layer, bool) and 0 <= layer <= TCP:
            layers = (layer,)
        else:
            raise ValidationError(f"layer must be None or 0..2, got {layer!r}")
        if offloaded is not None and not isinstance(offloaded, bool):
            raise ValidationError(f"offloaded must be None or a bool, got {offloaded!r}")
        total = 0
        for each in layers:
            live, on_target = self._tree.live(each), self._target.offloaded(each)
            total += live if offloaded is None else on_target if offloaded else live - on_target
        return total

    @_locked
    def handles(self, layer: int | None) -> HandleArray:
        """The live handles in pre-order, optionally of one layer."""
        nodes = self._tree.walk(post=False)
        if layer is not None:
            if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer <= TCP:
                raise ValidationError(f"layer must be None or 0..2, got {layer!r}")
            nodes = [node for node in nodes if node.layer == layer]
        return _handles_out(nodes)

    @_locked
    def walk(self, post: bool, roots: HandleArray | None) -> HandleArray:
        """Every object (or the subtrees of ``roots``) in pre- or post-order."""
        if roots is None:
            return _handles_out(self._tree.walk(post))
        nodes = self._tree.resolve_all(_batch(roots))
        return _handles_out(self._tree.walk_roots(nodes, post))

    @_locked
    def block_list(self, handles: HandleArray) -> tuple[np.ndarray, ...]:
        """The block list of an offload of ``handles`` (six arrays, nothing sent)."""
        return _block_arrays(self._ops.block_list(_batch(handles)))

    # -- operations -------------------------------------------------------------------------
    @_locked
    def initiate_offload(self, handles: HandleArray) -> tuple[np.ndarray, ...]:
        """Offload ``handles``; the block-list arrays plus the statuses (seven arrays)."""
        plan, statuses = self._ops.initiate_offload(_batch(handles))
        return (*_block_arrays(plan), np.array(statuses, dtype=np.uint8))

    @_locked
    def terminate(self, handles: HandleArray, cascade: bool) -> Outcome:
        """Upload offloaded objects; the outcome lists them in upload order."""
        return Outcome(self._ops.terminate(_batch(handles), cascade))

    @_locked
    def update(self, handles: HandleArray, fields: dict[str, np.ndarray]) -> np.ndarray:
        """Change cached variables; one status code (uint8) per handle."""
        handle_list = _batch(handles)
        columns = {name: _as_list(values) for name, values in fields.items()}
        return np.array(self._ops.update(handle_list, columns), dtype=np.uint8)

    @_locked
    def relink(self, path: int, neighbor: int) -> None:
        """Move ``path`` under ``neighbor``."""
        self._ops.relink(path, neighbor)

    @_locked
    def query(self, handles: HandleArray) -> Outcome:
        """The target's live delegated state of offloaded objects."""
        return Outcome(self._ops.query(_batch(handles)))

    @_locked
    def invalidate(self, handles: HandleArray) -> None:
        """Mark offloaded objects invalid at the target."""
        self._ops.invalidate(_batch(handles))

    @_locked
    def process_events(self) -> list[tuple[int, int | None, int | None, str, Outcome | None]]:
        """Drain the event queue; ``(kind, handle, reason, action, outcome)`` per event."""
        return [
            (kind, handle, reason, action, None if up is None else Outcome(up))
            for kind, handle, reason, action, up in self._ops.process_events()
        ]

    @_locked
    def stats(self) -> dict[str, Any]:
        """The host-side counters (DESIGN.md section 9)."""
        tree, target, ops = self._tree, self._target, self._ops
        return {
            "layers": {
                key: {
                    "live": tree.live(layer),
                    "offloaded": target.offloaded(layer),
                    "capacity": target.capacities[layer],
                }
                for layer, key in enumerate(_LAYER_KEYS)
            },
            "operations": {name: ops.counters[name].as_dict() for name in OPERATIONS},
            "bytes": {
                "buffered": target.bytes_buffered,
                "returned": ops.bytes_returned,
                "held_back": target.bytes_held_back,
            },
            "events": {
                "seen": ops.events_seen,
                "processed": ops.events_processed,
                "pending": len(target.events),
            },
        }

    # -- the target half --------------------------------------------------------------------
    @_locked
    def target_receive(self, tc: int, data: bytes) -> None:
        """Data arrives at the target for connection ``tc``."""
        self._ops.receive(tc, data)

    @_locked
    def target_send(self, tc: int, nbytes: int) -> int:
        """The target sends on ``tc``; returns the bytes sent."""
        return self._ops.send(tc, nbytes)

    @_locked
    def target_request_upload(self, tc: int, reason: int) -> None:
        """The target asks for the upload of ``tc``."""
        self._ops.request_upload(tc, reason)

    @_locked
    def target_request_upload_all(self) -> None:
        """The target indicates upload-all."""
        self._ops.request_upload_all()

    @_locked
    def target_resume(self) -> None:
        """The target indicates offload-resume."""
        self._ops.resume()

    @_locked
    def target_indicate_neighbor_unreachable(self, nb: int) -> None:
        """The target doubts the reachability of neighbor ``nb``."""
        self._ops.indicate_neighbor_unreachable(nb)

    @_locked
    def target_inject_fault(self, h: int, status: int) -> None:
        """The next offload attempt of ``h`` fails with ``status``."""
        self._ops.inject_fault(h, status)

    @_locked
    def target_links(self) -> tuple[HandleArray, HandleArray]:
        """The target's internal tree as host handles (invariant 5 made observable).

        Every object the target holds, in walk pre-order, and aligned with it the handle of
        the object its context is linked to (0 for a neighbor).
        """
        contexts = self._target.contexts
        handles: list[int] = []
        parents: list[int] = []
        for node in self._tree.walk(post=False):
            context = contexts.get(node.handle)
            if context is not None:
                handles.append(node.handle)
                parents.append(0 if context.parent is None else context.parent.handle)
        return np.array(handles, dtype=np.uint64), np.array(parents, dtype=np.uint64)

    @_locked
    def target_stats(self) -> dict[str, Any]:
        """The target's counters (DESIGN.md section 9)."""
        target = self._target
        return {
            "offloaded": {key: target.offloaded(layer) for layer, key in enumerate(_LAYER_KEYS)},
            "capacity": {key: target.capacities[layer] for layer, key in enumerate(_LAYER_KEYS)},
            "contexts_allocated": target.contexts_allocated,
            "contexts_freed": target.contexts_freed,
            "invalid": len(target.invalid),
            "paused": target.paused,
            "faults_pending": len(target.faults),
            "bytes_received": target.bytes_received,
            "bytes_sent": target.bytes_sent,
            "bytes_buffered": target.bytes_buffered,
            "events_indicated": target.events_indicated,
        }

    # -- not part of the protocol -----------------------------------------------------------
    @_locked
    def _debug_panic(self, message: str) -> None:
        """Test hook mirroring the native engine's: an internal error raised under the lock.

        The Rust core turns a panic into ``InternalError`` with this message and stays
        usable; so does this engine (the lock is released, nothing was changed).
        """
        raise InternalError(f"internal error in offload-tree's core: {message}")

    @_locked
    def check_invariants(self) -> None:
        """Assert SPEC.md section 2's invariants 1, 2, 4 and 5 (for tests; O(n))."""
        tree, target = self._tree, self._target
        for node in tree.walk(post=False):
            parent = node.parent
            assert (parent is None) == (node.layer == NEIGHBOR), node
            if parent is not None:
                assert tree.find(parent.handle) is parent and parent.layer == node.layer - 1
                assert parent.children is not None and parent.children.get(node.handle) is node
            context = target.contexts.get(node.handle)
            assert node.offloaded == (context is not None), node
            if context is not None:
                assert parent is None or parent.offloaded, f"offloaded orphan {node}"
                expected = None if parent is None else target.contexts[parent.handle]
                assert context.parent is expected, f"target tree differs at {node}"
                assert context.cached is node.cached or context.cached == node.cached
        assert len(target.contexts) == sum(target.offloaded(layer) for layer in (0, 1, 2))
        for layer in (NEIGHBOR, PATH, TCP):
            capacity = target.capacities[layer]
            assert capacity is None or target.offloaded(layer) <= capacity
