"""The vectorised NumPy baseline: the state tree as parallel arrays, every operation a few
whole-array passes.

This is what a competent NumPy user would write for W(N) instead of using offload-tree, and it
computes the same observable results, bit for bit (the runner and tests/test_bench_numpy.py
check that against both of offload-tree's backends):

* One table per layer. Neighbors and paths are small structured arrays; connections are one
  structured array of 136 bytes a row, three aligned sub-records ``constant`` (16 B),
  ``cached`` (32 B) and ``delegated`` (88 B) holding every TCP variable of docs/DESIGN.md §5
  with offload-tree's defaults (:data:`TCP_DTYPE`, derived from ``offload_tree._fields`` and
  checked to be 136 bytes). Beside them: a parent-index array per layer (``path_parent``,
  ``tcp_parent``), an ``offloaded`` flag array per layer and, for neighbors and paths, the
  reference count of docs/DESIGN.md §8a.
* Handles are offload-tree's uint64 handles (``tree:16 | layer:2 | generation:14 |
  slot:32``, crates/core/src/model/handle.rs), computed from the slot: this baseline never
  frees a slot, so every generation is 0 and slot ``i`` is the ``i``-th object of its layer,
  exactly as in a fresh offload-tree tree. Every operation decodes and validates the handles
  it is given (tree id, layer, generation, slot in range).
* Validation on build as offload-tree does it on this workload: MACs in 48 bits, parents valid
  handles of the layer below, IPv4 addresses in 32 bits, ports in 0..65535, no second path for
  a (source, destination) pair and no second connection for a (path, local port, remote port)
  key: sorted uint64 keys, the sorted arrays kept as the lookup index.
* Order: a layer's dependents are in creation order (the workload never relinks). The walk and
  the block list are pre-orders computed from a stable argsort of the parent indices plus
  prefix sums (each object's position is the number of objects of each layer before it);
  ``next`` and ``dependent`` links follow from the same positions.
* Offload marks the rows offloaded and counts references; the target's copy of the delegated
  state is the host row itself (there is no traffic model, so nothing ever diverges: this is
  offload-tree's copy-on-write without the write). Query copies the 88 delegated bytes of every
  queried connection into a fresh structured array, as offload-tree's snapshot does.
  Terminate finds the cascade with boolean masks through the parent arrays and orders it
  dependents-first with the same prefix sums.

What it leaves out, all of which offload-tree does on every call: capacity limits, fault
injection and the per-block status settling they need (every status here is SUCCESS), events,
traffic, IPv6, removal and relink (hence no generations), releases of unreferenced shared state
(a neighbor-rooted cascade, the only terminate here, leaves none), interrupts and
all-or-nothing rollback beyond "validate first". So, like the other baselines, it does less.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from offload_tree._errors import (
    DuplicateKeyError,
    InvalidHandleError,
    LayerError,
    StateError,
    ValidationError,
)
from offload_tree._fields import BOOL, CACHED, CONSTANT, DELEGATED, TCP_FIELDS, FieldSpec
from offload_tree.bench.adapters import Adapter

__all__ = [
    "DELEGATED_DTYPE",
    "TCP_DTYPE",
    "NumpyAdapter",
    "NumpyBlockList",
    "NumpyBuild",
    "NumpyQuery",
    "NumpyTerminate",
    "NumpyTree",
    "NumpyUpdate",
]

NEIGHBOR, PATH, TCP = 0, 1, 2
SLOT_MASK = np.uint64(0xFFFF_FFFF)
MAC_MAX = 2**48 - 1
IPV4_MAX = 2**32 - 1
PORT_MAX = 65535
MTU_MIN, MTU_MAX = 68, 65535
DEFAULT_PATH_MTU = 1500
#: The tree id a standalone NumpyTree uses; the runner passes the compared tree's id instead.
DEFAULT_TREE_ID = 0xFFFF

IntArray = npt.NDArray[np.int64]
HandleArray = npt.NDArray[np.uint64]


def _field_type(spec: FieldSpec) -> type[np.generic]:
    """The narrowest NumPy type of a TCP variable, as the core stores it."""
    if spec.value_type == BOOL:
        return np.bool_
    assert spec.max is not None
    if spec.max <= 0xFF:
        return np.uint8
    if spec.max <= 0xFFFF:
        return np.uint16
    return np.uint32


def _group_dtype(kind: str) -> np.dtype[Any]:
    """One aligned sub-record; widest fields first, as the Rust struct lays them out."""
    specs = [s for s in TCP_FIELDS if s.kind == kind]
    specs.sort(key=lambda s: -np.dtype(_field_type(s)).itemsize)  # stable: table order kept
    return np.dtype([(s.name, _field_type(s)) for s in specs], align=True)


CONSTANT_DTYPE = _group_dtype(CONSTANT)
CACHED_DTYPE = _group_dtype(CACHED)
#: The 25 delegated TCP variables (88 bytes), the record query and terminate return.
DELEGATED_DTYPE = _group_dtype(DELEGATED)
#: One connection: every constant, cached and delegated variable, 136 bytes.
TCP_DTYPE = np.dtype(
    [("constant", CONSTANT_DTYPE), ("cached", CACHED_DTYPE), ("delegated", DELEGATED_DTYPE)],
    align=True,
)
assert TCP_DTYPE.itemsize == 136, TCP_DTYPE.itemsize
#: The delegated field names in offload-tree's order (the order of its delegated dicts).
DELEGATED_NAMES: tuple[str, ...] = tuple(s.name for s in TCP_FIELDS if s.kind == DELEGATED)

NEIGHBOR_DTYPE = np.dtype(
    [("mac", np.uint64), ("source_mac", np.uint64), ("host_reachability_delta", np.uint32),
     ("nic_reachability_delta", np.uint32), ("vlan_id", np.uint16), ("has_source_mac", np.bool_)],
    align=True,
)  # fmt: skip
PATH_DTYPE = np.dtype(
    [("source", np.uint32), ("destination", np.uint32), ("path_mtu", np.uint16)], align=True
)


def _default_tcp_row() -> np.ndarray:
    """A one-row TCP array holding every default (ports 0 until set)."""
    row = np.zeros(1, dtype=TCP_DTYPE)
    for spec in TCP_FIELDS:
        if spec.default is not None:
            row[spec.kind][spec.name] = spec.default
    return row


_DEFAULT_TCP_ROW = _default_tcp_row()


def _empty(dtype: npt.DTypeLike) -> np.ndarray:
    return np.zeros(0, dtype=dtype)


@dataclass(frozen=True)
class NumpyBuild:
    """The handles build created, per layer, in creation order."""

    neighbors: HandleArray
    paths: HandleArray
    tcps: HandleArray


@dataclass(frozen=True)
class NumpyBlockList:
    """The processed block list of an offload: offload-tree's seven block arrays.

    ``released`` is what the host terminated again at once (always empty here: every new
    path and neighbor has a connection that went through).
    """

    layers: npt.NDArray[np.uint8]
    handles: HandleArray
    depths: npt.NDArray[np.uint8]
    referenced: npt.NDArray[np.bool_]
    next: IntArray
    dependent: IntArray
    statuses: npt.NDArray[np.uint8]
    released: HandleArray

    def __len__(self) -> int:
        return len(self.handles)


@dataclass(frozen=True)
class NumpyQuery:
    """A query: the handles asked, a status each, and a snapshot of their delegated state."""

    handles: HandleArray
    statuses: npt.NDArray[np.uint8]
    delegated: np.ndarray
    """Structured array of :data:`DELEGATED_DTYPE`, one row per handle."""
    terminated: HandleArray

    def __len__(self) -> int:
        return len(self.handles)


@dataclass(frozen=True)
class NumpyUpdate:
    """An update: the handles asked and a detailed status (reason) each."""

    handles: HandleArray
    reasons: npt.NDArray[np.uint8]
    terminated: HandleArray

    @property
    def statuses(self) -> npt.NDArray[np.uint8]:
        """SUCCESS (0) or FAILURE (2) per handle."""
        return np.where(self.reasons == 0, 0, 2).astype(np.uint8)

    def __len__(self) -> int:
        return len(self.handles)


@dataclass(frozen=True)
class NumpyTerminate:
    """A terminate: the uploaded handles in upload order (dependents first), a status each,
    and the state the target handed back: the uploaded connections' delegated records and
    the uploaded neighbors' ``nic_reachability_delta``, each in upload order (paths have
    no delegated state)."""

    handles: HandleArray
    statuses: npt.NDArray[np.uint8]
    tcp_delegated: np.ndarray
    neighbor_nic_reachability_delta: npt.NDArray[np.uint32]

    def __len__(self) -> int:
        return len(self.handles)


class NumpyTree:
    """The host state tree and its (unlimited, fault-free) target as NumPy arrays."""

    def __init__(self, tree_id: int = DEFAULT_TREE_ID) -> None:
        """An empty tree whose handles carry ``tree_id`` (1..0xFFFF) in bits 63..48."""
        if not 1 <= tree_id <= 0xFFFF:
            raise ValidationError(f"tree id {tree_id} outside 1..65535")
        self.tree_id = tree_id
        self.neighbors = _empty(NEIGHBOR_DTYPE)
        self.paths = _empty(PATH_DTYPE)
        self.tcps = _empty(TCP_DTYPE)
        self.path_parent: IntArray = _empty(np.int64)
        self.tcp_parent: IntArray = _empty(np.int64)
        self.neighbor_offloaded = _empty(np.bool_)
        self.path_offloaded = _empty(np.bool_)
        self.tcp_offloaded = _empty(np.bool_)
        self.neighbor_refs = _empty(np.uint32)
        self.path_refs = _empty(np.uint32)
        self.path_keys: HandleArray = _empty(np.uint64)  # sorted source << 32 | destination
        self.tcp_keys: HandleArray = _empty(np.uint64)  # sorted path << 32 | lport << 16 | rport

    # -- handles
    def _prefix(self, layer: int) -> int:
        """Bits 63..32 of a generation-0 handle of ``layer``."""
        return (self.tree_id << 16) | (layer << 14)

    def _handles(self, layer: int, start: int, count: int) -> HandleArray:
        """The handles of slots ``start .. start+count-1`` of ``layer``."""
        slots = np.arange(start, start + count, dtype=np.uint64)
        handles: HandleArray = slots | np.uint64(self._prefix(layer) << 32)
        return handles

    def _slots(self, handles: npt.ArrayLike, layer: int, size: int) -> IntArray:
        """Decode and validate handles of ``layer``; the slots as an int64 array."""
        h = np.asarray(handles)
        if h.ndim != 1 or h.dtype != np.uint64:
            raise InvalidHandleError(f"handles must be a 1-D uint64 array, not {h.dtype}")
        slots: IntArray = (h & SLOT_MASK).astype(np.int64)
        high = h >> np.uint64(32)
        bad = (high != np.uint64(self._prefix(layer))) | (slots >= size)
        if bad.any():
            i = int(np.argmax(bad))
            value = int(h[i])
            if value >> 48 == self.tree_id and (value >> 46) & 3 != layer and (value >> 46) & 3 < 3:
                raise LayerError(f"handle 0x{value:016x} is not of layer {layer}")
            raise InvalidHandleError(f"handle 0x{value:016x} is not a live object of this tree")
        return slots

    @staticmethod
    def _first_occurrences(slots: IntArray, size: int) -> IntArray:
        """``slots`` with repeats dropped, first mention kept (request order)."""
        seen = np.zeros(size, dtype=np.bool_)
        seen[slots] = True
        if int(np.count_nonzero(seen)) == len(slots):
            return slots
        _, first = np.unique(slots, return_index=True)
        return slots[np.sort(first)]

    @staticmethod
    def _check_range(values: np.ndarray, lo: int, hi: int, name: str) -> None:
        bad = (values < lo) | (values > hi)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValidationError(f"{name} {values[i]} of item {i} outside {lo}..{hi}")

    @staticmethod
    def _insert_keys(existing: HandleArray, new: HandleArray, what: str) -> HandleArray:
        """The sorted union of the key index and ``new``; DuplicateKeyError on a repeat."""
        keys = np.sort(new) if len(existing) == 0 else np.sort(np.concatenate([existing, new]))
        dup = keys[1:] == keys[:-1]
        if dup.any():
            key = int(keys[1:][dup][0])
            raise DuplicateKeyError(f"a second {what} for key 0x{key:016x}")
        return keys

    # -- building
    def add_neighbors(self, macs: npt.ArrayLike) -> HandleArray:
        """Add one neighbor per 48-bit MAC (vlan 0); their handles."""
        m = np.asarray(macs, dtype=np.uint64)
        self._check_range(m, 0, MAC_MAX, "mac")
        rows = np.zeros(len(m), dtype=NEIGHBOR_DTYPE)
        rows["mac"] = m
        start = len(self.neighbors)
        self.neighbors = np.concatenate([self.neighbors, rows]) if start else rows
        self.neighbor_offloaded = np.zeros(len(self.neighbors), dtype=np.bool_)
        self.neighbor_refs = np.zeros(len(self.neighbors), dtype=np.uint32)
        return self._handles(NEIGHBOR, start, len(m))

    def add_paths(
        self, neighbors: HandleArray, sources: npt.ArrayLike, destinations: npt.ArrayLike
    ) -> HandleArray:
        """Add one path per (neighbor, IPv4 source, IPv4 destination); their handles."""
        parents = self._slots(neighbors, NEIGHBOR, len(self.neighbors))
        src = np.asarray(sources, dtype=np.uint64)
        dst = np.asarray(destinations, dtype=np.uint64)
        if not len(src) == len(dst) == len(parents):
            raise ValidationError("neighbors, sources and destinations differ in length")
        self._check_range(src, 0, IPV4_MAX, "source (IPv4 only)")
        self._check_range(dst, 0, IPV4_MAX, "destination (IPv4 only)")
        keys = self._insert_keys(self.path_keys, (src << np.uint64(32)) | dst, "path")
        rows = np.empty(len(src), dtype=PATH_DTYPE)
        rows["source"], rows["destination"], rows["path_mtu"] = src, dst, DEFAULT_PATH_MTU
        start = len(self.paths)
        if start:
            self.paths = np.concatenate([self.paths, rows])
            self.path_parent = np.concatenate([self.path_parent, parents])
            self.path_offloaded = np.concatenate([self.path_offloaded, np.zeros(len(src), bool)])
            self.path_refs = np.concatenate([self.path_refs, np.zeros(len(src), np.uint32)])
        else:
            self.paths, self.path_parent = rows, parents
            self.path_offloaded = np.zeros(len(src), dtype=np.bool_)
            self.path_refs = np.zeros(len(src), dtype=np.uint32)
        self.path_keys = keys
        return self._handles(PATH, start, len(src))

    def add_tcps(
        self, paths: HandleArray, local_ports: npt.ArrayLike, remote_ports: npt.ArrayLike
    ) -> HandleArray:
        """Add one connection per (path, local port, remote port), every other variable at
        its default; their handles."""
        parents = self._slots(paths, PATH, len(self.paths))
        lport = np.asarray(local_ports, dtype=np.int64)
        rport = np.asarray(remote_ports, dtype=np.int64)
        if not len(lport) == len(rport) == len(parents):
            raise ValidationError("paths, local_ports and remote_ports differ in length")
        self._check_range(lport, 0, PORT_MAX, "local_port")
        self._check_range(rport, 0, PORT_MAX, "remote_port")
        new_keys = (
            (parents.astype(np.uint64) << np.uint64(32))
            | (lport.astype(np.uint64) << np.uint64(16))
            | rport.astype(np.uint64)
        )
        keys = self._insert_keys(self.tcp_keys, new_keys, "connection")
        rows = np.tile(_DEFAULT_TCP_ROW, len(lport))
        constant = rows["constant"]
        constant["local_port"], constant["remote_port"] = lport, rport
        start = len(self.tcps)
        if start:
            self.tcps = np.concatenate([self.tcps, rows])
            self.tcp_parent = np.concatenate([self.tcp_parent, parents])
            self.tcp_offloaded = np.concatenate([self.tcp_offloaded, np.zeros(len(rows), bool)])
        else:
            self.tcps, self.tcp_parent = rows, parents
            self.tcp_offloaded = np.zeros(len(rows), dtype=np.bool_)
        self.tcp_keys = keys
        return self._handles(TCP, start, len(rows))

    # -- order
    def _preorder(
        self,
        nb_sel: IntArray | None,
        path_sel: IntArray,
        path_root: IntArray,
        tcp_sel: IntArray,
        tcp_group: IntArray,
    ) -> tuple[IntArray, IntArray, IntArray]:
        """Pre-order positions of a three-level forest given each layer in sibling order.

        ``nb_sel`` are the root neighbors in order (None: the paths are the roots);
        ``path_sel`` the paths grouped by root, ``path_root`` each one's root index
        (non-decreasing); ``tcp_sel`` the connections grouped by path, ``tcp_group`` each
        one's index in ``path_sel`` (non-decreasing). An object's position is the number of
        objects of every layer before it. Returns the positions of each layer's objects.
        """
        n_paths = len(path_sel)
        # tcps_before[q]: connections under paths 0..q-1 (q = n_paths: all of them).
        tcps_before = np.searchsorted(tcp_group, np.arange(n_paths + 1), side="left")
        tcp_pos = np.arange(len(tcp_sel), dtype=np.int64) + tcp_group + 1
        path_pos = np.arange(n_paths, dtype=np.int64) + tcps_before[:-1]
        if nb_sel is None:
            return np.zeros(0, dtype=np.int64), path_pos, tcp_pos
        tcp_pos += path_root[tcp_group] + 1
        path_pos += path_root + 1
        paths_before = np.searchsorted(path_root, np.arange(len(nb_sel)), side="left")
        nb_pos = np.arange(len(nb_sel), dtype=np.int64) + paths_before + tcps_before[paths_before]
        return nb_pos, path_pos, tcp_pos

    def walk(self) -> HandleArray:
        """Every handle in pre-order: neighbor, then per path the path and its connections."""
        k, p, n = len(self.neighbors), len(self.paths), len(self.tcps)
        path_sel = np.argsort(self.path_parent, kind="stable")
        path_rank = np.empty(p, dtype=np.int64)
        path_rank[path_sel] = np.arange(p)
        tcp_key = path_rank[self.tcp_parent]
        tcp_sel = np.argsort(tcp_key, kind="stable")
        nb_sel = np.arange(k, dtype=np.int64)
        nb_pos, path_pos, tcp_pos = self._preorder(
            nb_sel, path_sel, self.path_parent[path_sel], tcp_sel, tcp_key[tcp_sel]
        )
        out = np.empty(k + p + n, dtype=np.uint64)
        out[nb_pos] = self._handles(NEIGHBOR, 0, k)
        out[path_pos] = path_sel.astype(np.uint64) | np.uint64(self._prefix(PATH) << 32)
        out[tcp_pos] = tcp_sel.astype(np.uint64) | np.uint64(self._prefix(TCP) << 32)
        return out

    # -- operations
    def initiate_offload(self, tcp_handles: HandleArray) -> NumpyBlockList:
        """Offload connections with the paths and neighbors they need: the block list of
        docs/DESIGN.md §7 (forest in order of first mention, pre-order, next / dependent
        links) with a status per block."""
        slots = self._first_occurrences(
            self._slots(tcp_handles, TCP, len(self.tcps)), len(self.tcps)
        )
        if self.tcp_offloaded[slots].any():
            i = int(np.argmax(self.tcp_offloaded[slots]))
            raise StateError(f"connection slot {slots[i]} is already offloaded")
        parent = self.tcp_parent[slots]
        # Group the requests by path (stable: request order within a path); each group's
        # first element is the path's first mention.
        order = np.argsort(parent, kind="stable")
        grouped = parent[order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        lengths = np.diff(np.r_[starts, len(grouped)])
        g_path = grouped[starts]
        g_first = order[starts]
        with_neighbors = not bool(self.path_offloaded[g_path].all())
        if with_neighbors:
            g_nb = self.path_parent[g_path]
            nb_first = np.full(len(self.neighbors), len(slots), dtype=np.int64)
            np.minimum.at(nb_first, g_nb, g_first)
            mentioned = np.flatnonzero(nb_first < len(slots))
            nb_sel: IntArray | None = mentioned[np.argsort(nb_first[mentioned], kind="stable")]
            assert nb_sel is not None
            nb_rank = np.empty(len(self.neighbors), dtype=np.int64)
            nb_rank[nb_sel] = np.arange(len(nb_sel))
            g_root = nb_rank[g_nb]
            g_order = np.lexsort((g_first, g_root))
            path_root = g_root[g_order]
        else:
            nb_sel = None
            g_order = np.argsort(g_first, kind="stable")
            path_root = np.arange(len(g_order), dtype=np.int64)
        path_sel = g_path[g_order]
        # The connections, path group after path group in the new order.
        g_len = lengths[g_order]
        g_start = starts[g_order]
        ends = np.cumsum(g_len)
        within = np.arange(len(slots), dtype=np.int64) - np.repeat(ends - g_len, g_len)
        tcp_sel = slots[order[np.repeat(g_start, g_len) + within]]
        tcp_group = np.repeat(np.arange(len(g_order), dtype=np.int64), g_len)

        nb_pos, path_pos, tcp_pos = self._preorder(nb_sel, path_sel, path_root, tcp_sel, tcp_group)
        total = len(tcp_sel) + len(path_sel) + len(nb_pos)
        layers = np.empty(total, dtype=np.uint8)
        handles = np.empty(total, dtype=np.uint64)
        referenced = np.zeros(total, dtype=np.bool_)
        nxt = np.full(total, -1, dtype=np.int64)
        dependent = np.full(total, -1, dtype=np.int64)
        # Connections: next sibling while the path is the same.
        layers[tcp_pos] = TCP
        handles[tcp_pos] = tcp_sel.astype(np.uint64) | np.uint64(self._prefix(TCP) << 32)
        same = tcp_group[1:] == tcp_group[:-1]
        nxt[tcp_pos[:-1][same]] = tcp_pos[1:][same]
        # Paths: first connection as dependent, next path under the same root.
        layers[path_pos] = PATH
        handles[path_pos] = path_sel.astype(np.uint64) | np.uint64(self._prefix(PATH) << 32)
        referenced[path_pos] = self.path_offloaded[path_sel]
        dependent[path_pos] = path_pos + 1  # every path here has a requested connection
        if nb_sel is None:
            nxt[path_pos[:-1]] = path_pos[1:]  # the paths are the roots: the next root
        else:
            same = path_root[1:] == path_root[:-1]
            nxt[path_pos[:-1][same]] = path_pos[1:][same]
            layers[nb_pos] = NEIGHBOR
            handles[nb_pos] = nb_sel.astype(np.uint64) | np.uint64(self._prefix(NEIGHBOR) << 32)
            referenced[nb_pos] = self.neighbor_offloaded[nb_sel]
            dependent[nb_pos] = nb_pos + 1
            nxt[nb_pos[:-1]] = nb_pos[1:]
        base = NEIGHBOR if nb_sel is not None else PATH
        depths = (layers - np.uint8(base)).astype(np.uint8)

        # The target takes every new block (unlimited, no faults): mark, count references.
        self.tcp_offloaded[tcp_sel] = True
        new_paths = path_sel[~self.path_offloaded[path_sel]]
        self.path_offloaded[path_sel] = True
        self.path_refs[path_sel] += g_len.astype(np.uint32)
        self.neighbor_refs += np.bincount(
            self.path_parent[new_paths], minlength=len(self.neighbors)
        ).astype(np.uint32)
        if nb_sel is not None:
            self.neighbor_offloaded[nb_sel] = True
        statuses = np.zeros(total, dtype=np.uint8)
        return NumpyBlockList(
            layers, handles, depths, referenced, nxt, dependent, statuses, _empty(np.uint64)
        )

    def query(self, tcp_handles: HandleArray) -> NumpyQuery:
        """The live delegated state of offloaded connections, copied (a snapshot)."""
        slots = self._slots(tcp_handles, TCP, len(self.tcps))
        if not self.tcp_offloaded[slots].all():
            i = int(np.argmin(self.tcp_offloaded[slots]))
            raise StateError(f"connection slot {slots[i]} is not offloaded")
        delegated = self.tcps["delegated"][slots]
        return NumpyQuery(
            np.array(tcp_handles, dtype=np.uint64),
            np.zeros(len(slots), dtype=np.uint8),
            delegated,
            _empty(np.uint64),
        )

    def update_path_mtu(self, path_handles: HandleArray, path_mtu: int) -> NumpyUpdate:
        """Set ``path_mtu`` of the paths (host copy; the target reads the same row)."""
        slots = self._slots(path_handles, PATH, len(self.paths))
        self._check_range(np.array([path_mtu]), MTU_MIN, MTU_MAX, "path_mtu")
        self.paths["path_mtu"][slots] = path_mtu
        return NumpyUpdate(
            np.array(path_handles, dtype=np.uint64),
            np.zeros(len(slots), dtype=np.uint8),
            _empty(np.uint64),
        )

    def terminate_neighbors(self, neighbor_handles: HandleArray) -> NumpyTerminate:
        """Cascade-terminate offloaded neighbors: for each (request order), its offloaded
        paths in order, each after its offloaded connections, then the neighbor. Returns
        the uploads with the delegated state handed back."""
        k = len(self.neighbors)
        nbs = self._first_occurrences(self._slots(neighbor_handles, NEIGHBOR, k), k)
        if not self.neighbor_offloaded[nbs].all():
            i = int(np.argmin(self.neighbor_offloaded[nbs]))
            raise StateError(f"neighbor slot {nbs[i]} is not offloaded")
        nb_rank = np.full(k, -1, dtype=np.int64)
        nb_rank[nbs] = np.arange(len(nbs))
        # The cascade, by masks through the parent arrays.
        path_root_all = nb_rank[self.path_parent]
        paths = np.flatnonzero((path_root_all >= 0) & self.path_offloaded)
        paths = paths[np.argsort(path_root_all[paths], kind="stable")]
        path_root = path_root_all[paths]
        path_rank = np.full(len(self.paths), -1, dtype=np.int64)
        path_rank[paths] = np.arange(len(paths))
        tcp_rank_all = path_rank[self.tcp_parent]
        tcps = np.flatnonzero((tcp_rank_all >= 0) & self.tcp_offloaded)
        tcps = tcps[np.argsort(tcp_rank_all[tcps], kind="stable")]
        tcp_group = tcp_rank_all[tcps]
        # Post-order positions: objects of each layer before this one.
        tcps_upto = np.searchsorted(tcp_group, np.arange(len(paths)), side="right")
        paths_upto = np.searchsorted(path_root, np.arange(len(nbs)), side="right")
        tcp_pos = np.arange(len(tcps), dtype=np.int64) + tcp_group + path_root[tcp_group]
        path_pos = np.arange(len(paths), dtype=np.int64) + tcps_upto + path_root
        tcps_by_nb = np.r_[0, tcps_upto][paths_upto]
        nb_pos = np.arange(len(nbs), dtype=np.int64) + paths_upto + tcps_by_nb
        handles = np.empty(len(tcps) + len(paths) + len(nbs), dtype=np.uint64)
        handles[tcp_pos] = tcps.astype(np.uint64) | np.uint64(self._prefix(TCP) << 32)
        handles[path_pos] = paths.astype(np.uint64) | np.uint64(self._prefix(PATH) << 32)
        handles[nb_pos] = nbs.astype(np.uint64) | np.uint64(self._prefix(NEIGHBOR) << 32)
        # Upload: the target hands back the delegated state; the host row already holds it.
        tcp_delegated = self.tcps["delegated"][tcps]
        nic = self.neighbors["nic_reachability_delta"][nbs]
        self.tcp_offloaded[tcps] = False
        self.path_offloaded[paths] = False
        self.neighbor_offloaded[nbs] = False
        self.path_refs[paths] = 0
        self.neighbor_refs[nbs] = 0
        return NumpyTerminate(handles, np.zeros(len(handles), np.uint8), tcp_delegated, nic)


class NumpyAdapter(Adapter):
    """The six W(N) operations on :class:`NumpyTree`, with handle arrays like offload-tree's
    batch API (the parents of a layer are the handles of the layer below)."""

    name = "numpy"
    label = "NumPy arrays"
    max_n = 10**7
    comparable: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.tree: NumpyTree | None = None
        self.tree_id = DEFAULT_TREE_ID
        self.built: NumpyBuild | None = None

    def follow_tree_id(self, tree_id: int) -> None:
        """Make the next tree's handles carry ``tree_id`` (the compared tree's), untimed."""
        self.tree_id = tree_id

    def reset(self) -> None:
        """Drop the tree."""
        self.tree = None
        self.built = None

    def _tree(self) -> NumpyTree:
        if self.tree is None:
            raise RuntimeError("numpy: build() was not called")
        return self.tree

    def _built(self) -> NumpyBuild:
        if self.built is None:
            raise RuntimeError("numpy: build() was not called")
        return self.built

    def build(self) -> NumpyBuild:
        """Three vectorised adds, parents given as handles."""
        w = self.w
        tree = NumpyTree(self.tree_id)
        neighbors = tree.add_neighbors(w.macs)
        paths = tree.add_paths(neighbors[w.path_neighbor], w.path_sources, w.path_destinations)
        tcps = tree.add_tcps(paths[w.tcp_path], w.local_ports, w.remote_ports)
        self.tree, self.built = tree, NumpyBuild(neighbors, paths, tcps)
        return self.built

    def walk(self) -> HandleArray:
        """Pre-order of every handle."""
        return self._tree().walk()

    def offload_all(self) -> NumpyBlockList:
        """Offload every connection: the processed block list."""
        return self._tree().initiate_offload(self._built().tcps)

    def query_all(self) -> NumpyQuery:
        """Snapshot of every connection's delegated state."""
        return self._tree().query(self._built().tcps)

    def update_mtu(self) -> NumpyUpdate:
        """New MTU on every path."""
        return self._tree().update_path_mtu(self._built().paths, self.w.new_path_mtu)

    def terminate_1pct(self) -> NumpyTerminate:
        """Cascade-terminate every 100th neighbor."""
        neighbors = self._built().neighbors[self.w.terminate_neighbors]
        return self._tree().terminate_neighbors(neighbors)

    def canonical(self, op: str, result: Any) -> dict[str, np.ndarray] | None:
        """The result as the columns :mod:`offload_tree.bench.compare` compares (untimed)."""
        from offload_tree.bench import compare

        if op == "build":
            return {"neighbors": result.neighbors, "paths": result.paths, "tcps": result.tcps}
        if op == "walk":
            return {"handles": np.asarray(result)}
        if op == "offload_all":
            r: NumpyBlockList = result
            blocks: dict[str, np.ndarray] = {
                "layers": r.layers, "handles": r.handles, "depths": r.depths,
                "referenced": r.referenced, "next": r.next, "dependent": r.dependent,
                "statuses": r.statuses, "released": r.released,
            }  # fmt: skip
            return blocks
        if op == "query_all":
            q: NumpyQuery = result
            out: dict[str, np.ndarray] = {
                "handles": q.handles,
                "statuses": q.statuses,
                "terminated": q.terminated,
            }
            for name in DELEGATED_NAMES:
                out[f"delegated.{name}"] = q.delegated[name].astype(np.int64)
            return out
        if op == "update_mtu":
            u: NumpyUpdate = result
            update: dict[str, np.ndarray] = {
                "handles": u.handles, "statuses": u.statuses, "reasons": u.reasons,
                "terminated": u.terminated,
            }  # fmt: skip
            return update
        if op == "terminate_1pct":
            t: NumpyTerminate = result
            layers = compare.handle_layers(t.handles)
            columns: dict[str, np.ndarray] = {"handles": t.handles, "statuses": t.statuses}
            is_tcp = layers == TCP
            for name in DELEGATED_NAMES:
                col = np.full(len(t.handles), compare.ABSENT, dtype=np.int64)
                col[is_tcp] = t.tcp_delegated[name]
                columns[f"delegated.{name}"] = col
            nic = np.full(len(t.handles), compare.ABSENT, dtype=np.int64)
            nic[layers == NEIGHBOR] = t.neighbor_nic_reachability_delta
            columns["delegated.nic_reachability_delta"] = nic
            return columns
        return None
