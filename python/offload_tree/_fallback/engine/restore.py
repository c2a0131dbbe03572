"""Restoring a snapshot: the engine the canonical columns of docs/DESIGN.md §12 describe.
This module mirrors the core's ``crates/core/src/engine/restore.rs``; the columns and the
constants that name them are in :mod:`.snapshot`, which writes them.

:func:`restore` builds a new engine aside and checks every value as it goes; any rule a
column breaks is a ``SnapshotError`` naming the column (in the core's words where both check
it), and the half-built engine is simply dropped. What can be derived is recomputed, not
read: reference counts, the offloaded counts per layer, the key index, the invalid marks,
``in_runs``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..._coerce import format_handle
from ..._engine import Limits
from ..._enums import EventKind, Layer, Operation, Status, UploadReason
from ..._errors import OffloadTreeError, SnapshotError
from ..._fields import FieldSpec
from ..._messages import MESSAGES, error, render
from ..host.policy import OffloadRule
from ..host.tree import Node
from ..model.address import mac_from_int
from ..model.fields import LAYOUTS, SND_NXT, SND_UNA, check, check_range
from ..model.handle import NEIGHBOR, PATH, TCP
from ..model.state import default_tcp_values, path_values
from ..target import TargetCounters
from ..target.clock import Clock
from ..target.contexts import Context
from ..target.receives import Requests
from ..target.sends import FIN_SENT, SendQueue
from ..target.statistics import OffloadStats
from .policy import set_policy
from .types import Event, OperationCounts, RunningCounts

if TYPE_CHECKING:
    from . import Engine

from .snapshot import (
    COUNTS_LENGTH,
    DELEGATED_SPECS,
    EARLIER_OFFLOAD,
    EVENT_LAYERS,
    F64,
    LAYER_NAMES,
    MAC,
    NIC_REACHABILITY,
    NONE_U8,
    NONE_U64,
    OPERATIONS,
    PATH_MTU,
    RETIRED,
    RUN_KINDS,
    RUNNING_TOTALS,
    STATS_FIELDS,
    TARGET_COUNTERS,
    TCP_GROUPS,
    TCP_SPECS,
    U8,
    U16,
    U32,
    U32_MAX,
    U64,
    UPLOAD_REASONS,
    T,
)

__all__ = ["restore"]


def restore(columns: Mapping[str, Any]) -> Engine:
    """A new engine holding the state ``columns`` describe (docs/DESIGN.md §12).

    Every column the restore reads is checked (presence, type, length, values, and the rules
    between them); the first one that breaks a rule is a ``SnapshotError`` naming it, and
    nothing built so far escapes.
    """
    if not isinstance(columns, Mapping):
        raise error("snapshot_missing", name="tree.id")
    reader = _Reader(columns)
    try:
        return _Restorer(reader).build()
    except SnapshotError:
        raise
    except OffloadTreeError as exc:  # a check of the engine's own, on a value of the column
        raise _bad(reader.last, str(exc)) from None
    except (LookupError, TypeError, ValueError, ArithmeticError) as exc:
        raise _bad(reader.last, f"cannot be read ({type(exc).__name__}: {exc})") from None


def _bad(name: str, problem: str) -> OffloadTreeError:
    """The ``SnapshotError`` of column ``name`` breaking a rule (``problem``)."""
    return error("snapshot_value", name=name, problem=problem)


def _in_column(name: str, checked: Callable[[], T]) -> T:
    """Run one of the engine's own checks on a value of column ``name``: its error becomes
    a broken rule of the column, in the engine's words (``in_column`` in the core)."""
    try:
        return checked()
    except SnapshotError:
        raise
    except OffloadTreeError as exc:
        raise _bad(name, str(exc)) from None


def _first(mask: npt.NDArray[np.bool_]) -> int | None:
    """The index of the first true item of ``mask``, if any."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _type_name(value: object) -> str:
    """What a column holds, for ``snapshot_type``: a dtype's NumPy name, or a type's."""
    if isinstance(value, np.ma.MaskedArray):
        return "MaskedArray"
    if isinstance(value, np.ndarray | np.generic):
        dtype = value.dtype
        name = dtype.name + (" (big-endian)" if dtype.byteorder == ">" else "")
        return name if isinstance(value, np.ndarray) else f"a {name} scalar"
    return type(value).__name__


class _Reader:
    """Typed access to the columns: presence, type, one dimension and length checked.
    ``last`` is the column read last, named by an error no rule foresaw."""

    __slots__ = ("_columns", "last")

    def __init__(self, columns: Mapping[str, Any]) -> None:
        self._columns = columns
        self.last = "tree.id"

    def column(self, name: str, dtype: np.dtype[Any], length: int | None = None) -> Any:
        """Column ``name``: a 1-D array of exactly ``dtype`` (and ``length`` values)."""
        self.last = name
        try:
            value = self._columns[name]
        except KeyError:
            raise error("snapshot_missing", name=name) from None
        # A masked array is refused whatever its mask, as everywhere (docs/DESIGN.md §2).
        masked = isinstance(value, np.ma.MaskedArray)
        if not isinstance(value, np.ndarray) or masked or value.dtype != dtype:
            raise error("snapshot_type", name=name, found=_type_name(value), expected=dtype.name)
        if value.ndim != 1:
            raise _bad(name, f"holds a {value.ndim}-dimensional array, expected one dimension")
        if length is not None and len(value) != length:
            raise error("snapshot_length", name=name, found=len(value), expected=length)
        return value

    def ints(self, name: str, dtype: np.dtype[Any], length: int | None = None) -> list[int]:
        """Column ``name`` as Python ints."""
        values: list[int] = self.column(name, dtype, length).tolist()
        return values

    def flags(self, name: str, length: int | None = None) -> list[bool]:
        """A ``u8`` flag column: each value 0 or 1."""
        values = self.column(name, U8, length)
        at = _first(values > 1)
        if at is not None:
            raise _bad(name, f"flag {values[at]} (0 or 1)")
        return [bool(v) for v in values.tolist()]

    def in_range(
        self, name: str, dtype: np.dtype[Any], length: int | None, low: int, high: int
    ) -> list[int]:
        """An int column whose every value is in ``low..high``."""
        values = self.column(name, dtype, length)
        at = _first((values < low) | (values > high))
        if at is not None:
            raise _bad(name, f"row {at} holds {values[at]}, out of range {low}..{high}")
        result: list[int] = values.tolist()
        return result

    def in_spec(self, name: str, length: int, spec: FieldSpec) -> list[Any]:
        """A ``u64`` column of a state variable: every value in its range, checked by the
        field table (``FieldSpec::check``); flags as bools."""
        assert spec.min is not None and spec.max is not None
        values = self.column(name, U64, length)
        at = _first((values < spec.min) | (values > spec.max))
        if at is not None:
            _in_column(name, lambda: check(spec, int(values[at])))
        result: list[Any] = values.tolist()
        return [bool(v) for v in result] if spec.is_bool else result

    def scalars(self, name: str, dtype: np.dtype[Any], length: int) -> list[Any]:
        """A column of a fixed number of values (1 for a scalar)."""
        values: list[Any] = self.column(name, dtype, length).tolist()
        return values


def _spec(layer: int, name: str) -> FieldSpec:
    """The field table's entry of variable ``name`` of ``layer`` (its range)."""
    return LAYOUTS[layer].position[name][0]


#: Slot states while the arenas are checked.
_UNSEEN, _LIVE, _FREE, _GONE = 0, 1, 2, 3


class _Restorer:
    """Builds one engine from columns, checking each column as it reads it."""

    def __init__(self, reader: _Reader) -> None:
        self.r = reader
        self.tree_id = 0
        self.e: Engine
        self.generations: list[npt.NDArray[np.int64]] = []
        self.slots: list[npt.NDArray[np.uint8]] = []
        self.nodes: tuple[list[Node], list[Node], list[Node]] = ([], [], [])
        self.row_of: tuple[dict[int, int], dict[int, int], dict[int, int]] = ({}, {}, {})
        self.seq = 0

    def build(self) -> Engine:
        """The engine, checked whole; each step reads its columns."""
        self._engine()
        self._arenas()
        self._neighbors()
        self._paths()
        self._tcps()
        self._free_lists()
        self._tcp_states()
        self._contexts()
        self._target_delegated()
        self._target_scalars()
        self._byte_tables()
        self._sends()
        self._posted()
        self._faults()
        self._corrupt()
        self._events()
        self._invalid_pending()
        self._policy()
        self._counts()
        # Where the core checks it too, first of its ledgers: a broken offloaded flag is
        # reported as its target table's length when that is wrong as well.
        self._released()
        self._totals()
        self.e.host._seq = self.seq  # creation numbers go on after the restored ones
        return self.e

    # -- the engine and its arenas
    def _engine(self) -> None:
        """An empty engine of the snapshot's tree id, configuration and release policy."""
        from . import Engine  # the engine imports this module: import late

        [tree_id] = self.r.scalars("tree.id", U16, 1)
        if tree_id == 0:  # the engine's own guard, in its words
            raise _bad("tree.id", str(error("tree_id_zero")))
        self.tree_id = tree_id
        limits = self._limits()
        [rate] = self.r.scalars("target.fail_rate", F64, 1)
        if not 0.0 <= rate <= 1.0:  # NaN fails too
            raise _bad("target.fail_rate", str(error("fail_rate_range", value=rate)))
        [seed] = self.r.scalars("target.seed", U64, 1)
        policy = self.r.scalars("policy", U64, 5)
        if policy[0] > 1:
            raise _bad("policy", f"flag {policy[0]} (0 or 1)")
        self.e = Engine(*limits, float(rate), seed, bool(policy[0]), tree_id)

    def _limits(self) -> Limits:
        """The target's capacities and limits, None where not set."""
        values = self.r.scalars("target.limits", U64, 5)
        given = self.r.flags("target.limits_set", 5)
        for i, (value, is_set) in enumerate(zip(values, given, strict=True)):
            if not is_set and value != NONE_U64:
                raise _bad("target.limits", f"limit {i} is unset but holds a value")
        neighbors, paths, tcps, mtu, window = (
            value if is_set else None for value, is_set in zip(values, given, strict=True)
        )
        return neighbors, paths, tcps, mtu, window

    def _arenas(self) -> None:
        """Each layer's slots and their generations (16384: retired)."""
        for layer, name in enumerate(LAYER_NAMES):
            column = f"{name}.generations"
            generations = self.r.in_range(column, U16, None, 0, RETIRED)
            arena = self.e.host.arenas[layer]
            arena.items = [None] * len(generations)
            # The fallback leaves a retired slot at its last generation.
            arena.generations = [min(g, RETIRED - 1) for g in generations]
            arena.retired = generations.count(RETIRED)
            self.generations.append(np.array(generations, dtype=np.int64))
            self.slots.append(np.zeros(len(generations), dtype=np.uint8))

    def _own_handles(self, layer: int) -> list[int]:
        """``{layer}.handle``: live handles of this tree and layer, one per slot."""
        name = f"{LAYER_NAMES[layer]}.handle"
        handles = self.r.column(name, U64)
        generations = self.generations[layer]
        slots = (handles & 0xFFFF_FFFF).astype(np.int64)
        inside = slots < len(generations)
        matches = np.zeros(len(handles), dtype=bool)  # the slot is at the handle's generation
        matches[inside] = generations[slots[inside]] == ((handles[inside] >> 32) & 0x3FFF).astype(
            np.int64
        )
        fits = ((handles >> 48) == self.tree_id) & (((handles >> 46) & 3) == layer) & matches
        at = _first(~fits)
        if at is not None:
            what = f"{LAYER_NAMES[layer]} of this tree: {format_handle(int(handles[at]))}"
            raise _bad(name, f"row {at} is not a live {what}")
        first = np.full(len(generations), -1, dtype=np.int64)
        first[slots[::-1]] = np.arange(len(slots))[::-1]  # each slot's first row
        at = _first(first[slots] != np.arange(len(slots)))
        if at is not None:
            raise _bad(name, f"row {at} repeats slot {slots[at]}")
        self.slots[layer][slots] = _LIVE
        result: list[int] = handles.tolist()
        return result

    def _free_lists(self) -> None:
        """``{layer}.free``: every slot is live, free (once) or retired, exactly one."""
        for layer, name in enumerate(LAYER_NAMES):
            column = f"{name}.free"
            free = self.r.column(column, U32).astype(np.int64)
            generations, slots = self.generations[layer], self.slots[layer]
            at = _first(free >= len(generations))
            if at is not None:
                raise _bad(column, f"slot {free[at]} is beyond the arena")
            unique, counts = np.unique(free, return_counts=True)
            at = _first(counts > 1)
            if at is not None:
                raise _bad(column, f"slot {unique[at]} is free twice")
            at = _first(slots[free] == _LIVE)
            if at is not None:
                raise _bad(column, f"slot {free[at]} is free but live")
            at = _first(generations[free] == RETIRED)
            if at is not None:
                raise _bad(column, f"slot {free[at]} is retired but free")
            slots[free] = _FREE
            slots[generations == RETIRED] = _GONE
            at = _first(slots == _UNSEEN)
            if at is not None:
                raise _bad(f"{name}.generations", f"slot {at} is neither live, free nor retired")
            arena = self.e.host.arenas[layer]
            arena.free = free.tolist()
            arena.live = len(self.nodes[layer])

    def _place(self, node: Node, siblings: dict[int, Node], offloaded: bool) -> None:
        """Put a checked object in its slot, at the end of its parent's dependents."""
        host = self.e.host
        if node.layer != NEIGHBOR:
            holder = host.keys.holder(node.layer, node.parent, node.const)
            if holder is not None:  # one path per address pair, one connection per 4-tuple
                column = "path.destination" if node.layer == PATH else "tcp.remote_port"
                taken = format_handle(holder.handle)
                raise _bad(column, f"{format_handle(node.handle)} has the key of {taken}")
            host.keys.index(node)
        host.arenas[node.layer].items[node.slot] = node
        siblings[node.handle] = node
        rows = self.nodes[node.layer]
        self.row_of[node.layer][node.handle] = len(rows)
        rows.append(node)
        if offloaded:
            host.set_offloaded(node, True)  # counts it, and the parent's reference

    def _new_node(self, h: int, layer: int, parent: Node | None, values: Any) -> Node:
        """An object in row order; its creation number orders nothing observable."""
        self.seq += 1
        return Node(h, layer, h & 0xFFFF_FFFF, parent, values, self.seq - 1)

    # -- the object tables
    def _neighbors(self) -> None:
        """The ``neighbor`` table."""
        handles = self._own_handles(NEIGHBOR)
        n = len(handles)
        macs = self._macs("neighbor.mac", self.r.ints("neighbor.mac", U64, n))
        sources = self.r.ints("neighbor.source_mac", U64, n)
        self._macs("neighbor.source_mac", [v for v in sources if v != NONE_U64])
        vlan_max = _spec(NEIGHBOR, "vlan_id").max
        assert vlan_max is not None
        vlans = self.r.ints("neighbor.vlan_id", U16, n)
        bad = next((v for v in vlans if v > vlan_max), None)
        if bad is not None:
            _in_column("neighbor.vlan_id", lambda: check_range("vlan_id", bad, 0, vlan_max))
        host = self.r.ints("neighbor.host_reachability_delta", U32, n)
        nic = self.r.ints("neighbor.nic_reachability_delta", U32, n)
        offloaded = self.r.flags("neighbor.offloaded", n)
        for i, h in enumerate(handles):
            source = None if sources[i] == NONE_U64 else sources[i]
            values = ((source, vlans[i]), (macs[i], host[i]), (nic[i],))
            node = self._new_node(h, NEIGHBOR, None, values)
            self._place(node, self.e.host.neighbors, offloaded[i])

    @staticmethod
    def _macs(name: str, values: list[int]) -> list[int]:
        """MACs of 48 bits, checked as the engine checks an int MAC."""
        bad = next((v for v in values if v >> 48), None)
        if bad is not None:
            _in_column(name, lambda: mac_from_int(bad))
        return values

    def _parents(self, name: str, n: int, layer: int) -> list[Node]:
        """A column of parent handles, rows in walk pre-order: their rows never go back, so
        appending in row order rebuilds every dependents list."""
        handles = self.r.ints(name, U64, n)
        rows = self._rows_named(name, handles, layer, "depends on no live object")
        at = next((i for i in range(1, n) if rows[i] < rows[i - 1]), None)
        if at is not None:
            raise _bad(name, f"row {at} is out of walk order")
        return [self.nodes[layer][row] for row in rows]

    def _rows_named(self, name: str, handles: list[int], layer: int, missing: str) -> list[int]:
        """The rows of the objects of ``layer`` that ``handles`` name; ``missing`` says what
        a row naming none of them does."""
        row_of = self.row_of[layer]
        rows = []
        for i, h in enumerate(handles):
            row = row_of.get(h)
            if row is None:
                raise _bad(name, f"row {i} {missing}: {format_handle(h)}")
            rows.append(row)
        return rows

    def _paths(self) -> None:
        """The ``path`` table."""
        handles = self._own_handles(PATH)
        n = len(handles)
        parents = self._parents("path.neighbor", n, NEIGHBOR)
        families = self.r.ints("path.family", U8, n)
        at = next((i for i, family in enumerate(families) if family not in (4, 6)), None)
        if at is not None:
            raise _bad("path.family", f"IP family {families[at]} (4 or 6)")
        sources = self._ips("path.source", families)
        destinations = self._ips("path.destination", families)
        mtus = self.r.ints("path.path_mtu", U16, n)
        offloaded = self._offloaded("path.offloaded", parents)
        for i, h in enumerate(handles):
            parent = parents[i]
            # the engine's own check of a path's variables (add_path's)
            values = _in_column(
                "path.path_mtu", partial(path_values, sources[i], destinations[i], mtus[i])
            )
            node = self._new_node(h, PATH, parent, values)
            assert parent.children is not None
            self._place(node, parent.children, offloaded[i])

    def _ips(self, name: str, families: list[int]) -> list[bytes]:
        """16 bytes an address; an IPv4 one in the first four, zeros after."""
        n = len(families)
        octets = self.r.column(name, U8, 16 * n).reshape(n, 16)
        v4 = np.array(families, dtype=np.int64) == 4
        at = _first(v4 & np.any(octets[:, 4:] != 0, axis=1))
        if at is not None:
            raise _bad(name, "an IPv4 address with octets after its fourth")
        raw = octets.tobytes()
        return [raw[16 * i : 16 * i + (4 if families[i] == 4 else 16)] for i in range(n)]

    def _offloaded(self, name: str, parents: list[Node]) -> list[bool]:
        """An ``offloaded`` flag column; an offloaded object's parent is offloaded."""
        offloaded = self.r.flags(name, len(parents))
        at = next((i for i, off in enumerate(offloaded) if off and not parents[i].offloaded), None)
        if at is not None:
            raise _bad(name, f"row {at} is offloaded but the object it depends on is not")
        return offloaded

    def _tcps(self) -> None:
        """The ``tcp`` table (variables at their defaults until ``tcp_state``)."""
        handles = self._own_handles(TCP)
        n = len(handles)
        parents = self._parents("tcp.path", n, PATH)
        locals_ = self.r.ints("tcp.local_port", U16, n)
        remotes = self.r.ints("tcp.remote_port", U16, n)
        offloaded = self._offloaded("tcp.offloaded", parents)
        for i, h in enumerate(handles):
            parent = parents[i]
            node = self._new_node(h, TCP, parent, default_tcp_values(locals_[i], remotes[i]))
            assert parent.children is not None
            self._place(node, parent.children, offloaded[i])

    def _released(self) -> None:
        """While the host releases unreferenced state, no offloaded neighbor or path is
        without an offloaded dependent."""
        if not self.e.policy.release_unreferenced:
            return
        for layer in (NEIGHBOR, PATH):
            at = next(
                (i for i, n in enumerate(self.nodes[layer]) if n.offloaded and not n.refs), -1
            )
            if at >= 0:
                raise _bad(
                    f"{LAYER_NAMES[layer]}.offloaded",
                    "an object offloaded with no offloaded dependent, which this policy releases",
                )

    def _tcp_states(self) -> None:
        """``tcp_state``: the variables of the connections that differ from the defaults."""
        tcps = self.nodes[TCP]
        rows = self.r.ints("tcp_state.row", U32)
        at = next(
            (i for i, row in enumerate(rows) if row >= len(tcps) or (i and row <= rows[i - 1])),
            None,
        )
        if at is not None:
            raise _bad("tcp_state.row", f"row {at} names no connection in order")
        columns = self._state_columns("tcp_state", TCP_SPECS, len(rows))
        for j, (row, values) in enumerate(zip(rows, zip(*columns, strict=True), strict=True)):
            node = tcps[row]
            if values[:2] != node.const[:2]:
                raise _bad("tcp_state.local_port", f"row {j} has other ports than its connection")
            const, cached = TCP_GROUPS[0], TCP_GROUPS[0] + TCP_GROUPS[1]
            groups = (values[:const], values[const:cached], values[cached:])
            if groups == default_tcp_values(node.const[0], node.const[1]):
                raise _bad("tcp_state.row", f"row {j} holds the defaults: no row is written then")
            node.const, node.cached, node.delegated = groups

    def _state_columns(self, table: str, specs: Iterable[FieldSpec], n: int) -> list[list[Any]]:
        """One ``u64`` column per variable, each in its range (flags as bools)."""
        return [self.r.in_spec(f"{table}.{spec.name}", n, spec) for spec in specs]

    # -- the target
    def _contexts(self) -> None:
        """The target's contexts, allocated in row order (parents first), with the target's
        copies: ``target_neighbor``, ``target_path`` and ``target_tcp``."""
        target = self.e.target
        neighbors = self._new_contexts(NEIGHBOR)
        k = len(neighbors)
        mac = self.r.ints("target_neighbor.mac", U64, k)
        host = self.r.ints("target_neighbor.host_reachability_delta", U32, k)
        nic = self.r.ints("target_neighbor.nic_reachability_delta", U32, k)
        invalid = self.r.flags("target_neighbor.invalid", k)
        query_pending = self.r.flags("target_neighbor.query_pending", k)
        self._same_as_host("target_neighbor.mac", neighbors, mac, MAC)
        for i, context in enumerate(neighbors):
            context.host_reachability = host[i]
            context.delegated[NIC_REACHABILITY] = nic[i]
            context.query_pending = query_pending[i]
            target.set_invalid(context.handle, invalid[i])
        paths = self._new_contexts(PATH)
        mtus = self.r.ints("target_path.path_mtu", U16, len(paths))
        self._same_as_host("target_path.path_mtu", paths, mtus, PATH_MTU)
        for context, flag in zip(
            paths, self.r.flags("target_path.invalid", len(paths)), strict=True
        ):
            target.set_invalid(context.handle, flag)
        tcps = self._new_contexts(TCP)
        k = len(tcps)
        invalid = self.r.flags("target_tcp.invalid", k)
        upload = self.r.flags("target_tcp.upload_requested", k)
        fin = self.r.flags("target_tcp.fin_pending", k)
        for i, context in enumerate(tcps):
            target.set_invalid(context.handle, invalid[i])
            context.upload_requested = upload[i]
            context.fin_pending = fin[i]

    def _new_contexts(self, layer: int) -> list[Context]:
        """Contexts for the offloaded objects of ``layer``, in row order, within its
        capacity (invariant 4)."""
        target = self.e.target
        contexts = [target.add(node) for node in self.nodes[layer] if node.offloaded]
        capacity = target.config.capacity(layer)
        if capacity is not None and len(contexts) > capacity:
            raise _bad(
                "target.limits",
                f"{len(contexts)} offloaded {LAYER_NAMES[layer]}s exceed the capacity",
            )
        return contexts

    def _same_as_host(
        self, name: str, contexts: list[Context], values: list[int], index: int
    ) -> None:
        """The target's copy of a cached variable is the host's: an update writes both."""
        for i, (context, value) in enumerate(zip(contexts, values, strict=True)):
            if context.cached[index] != value:
                raise _bad(name, f"row {i} holds {value}, the host's copy {context.cached[index]}")

    def _target_delegated(self) -> None:
        """``target_delegated``: the live delegated state of the connections where it
        differs from the host's copy."""
        handles = self.r.ints("target_delegated.handle", U64)
        nodes = self._connections("target_delegated.handle", handles, offloaded=True)
        columns = self._state_columns("target_delegated", DELEGATED_SPECS, len(handles))
        contexts = self.e.target.contexts
        for i, (node, values) in enumerate(zip(nodes, zip(*columns, strict=True), strict=True)):
            if values == node.delegated:
                raise _bad("target_delegated.handle", f"row {i} equals the host's copy")
            contexts[node.handle].delegated = list(values)

    def _connections(self, name: str, handles: list[int], offloaded: bool) -> list[Node]:
        """The connections a table names: in connection row order, none twice, offloaded
        when ``offloaded``."""
        rows = self._rows_named(name, handles, TCP, "names no connection")
        at = next((i for i in range(1, len(rows)) if rows[i] <= rows[i - 1]), None)
        if at is not None:
            raise _bad(name, f"row {at} is out of connection order")
        nodes = [self.nodes[TCP][row] for row in rows]
        at = next((i for i, node in enumerate(nodes) if offloaded and not node.offloaded), None)
        if at is not None:
            raise _bad(name, f"row {at} names a connection not offloaded")
        return nodes

    def _target_scalars(self) -> None:
        """The generator, pause, counters, statistics and clock of the target."""
        target = self.e.target
        [target.rng.state] = self.r.scalars("target.rng", U64, 1)
        [target.paused] = self.r.flags("target.paused", 1)
        [target.upload_all] = self.r.flags("target.upload_all", 1)
        if target.upload_all and not target.paused:
            raise _bad("target.upload_all", "an upload-all is pending on a target not paused")
        values = self.r.scalars("target.counters", U64, len(TARGET_COUNTERS))
        target.counters = TargetCounters(**dict(zip(TARGET_COUNTERS, values, strict=True)))
        target.offload_stats = self._offload_stats()
        now, ticks, stale = self.r.scalars("clock", U64, 3)
        clock = Clock(now)
        _in_column("clock", lambda: clock.configure(ticks, stale))  # the engine's set_clock check
        target.clock = clock

    def _offload_stats(self) -> tuple[OffloadStats, OffloadStats]:
        """IPv4's and IPv6's statistics, each counter within its NDIS width."""
        values = self.r.scalars("target.offload_stats", U64, 2 * len(STATS_FIELDS))
        families = (OffloadStats(), OffloadStats())
        for i, value in enumerate(values):
            group, name, bits = STATS_FIELDS[i % len(STATS_FIELDS)]
            if value >> bits:
                raise _bad("target.offload_stats", "a value beyond its counter")
            if name == "currently_established" and value:
                raise _bad("target.offload_stats", "currently_established is counted when read: 0")
            getattr(families[i // len(STATS_FIELDS)], group)[name] = value
        return families

    def _byte_tables(self) -> None:
        """``received``, ``non_offload`` and ``delivered``."""
        e = self.e
        contexts = e.target.contexts
        for node, data in self._byte_rows("received", offloaded=True):
            contexts[node.handle].received = bytearray(data)
        for i, (node, data) in enumerate(self._byte_rows("non_offload", offloaded=True)):
            context = contexts[node.handle]
            if not (context.upload_requested or e.target.upload_all):
                raise _bad("non_offload.handle", f"row {i}: the connection's I/O is not stopped")
            context.non_offload = data
        for node, data in self._byte_rows("delivered", offloaded=False):
            e.delivered[node.handle] = data
        # A peer's FIN waits for the buffered bytes before it: there must be some.
        waiting = [contexts[node.handle] for node in self.nodes[TCP] if node.offloaded]
        at = next((i for i, c in enumerate(waiting) if c.fin_pending and not c.received), None)
        if at is not None:
            raise _bad("target_tcp.fin_pending", f"row {at} waits for buffered bytes it has not")

    def _byte_rows(self, table: str, offloaded: bool) -> list[tuple[Node, bytes]]:
        """A table of bytes by connection: each row's bytes, never none."""
        handles = self.r.ints(f"{table}.handle", U64)
        lengths = self.r.ints(f"{table}.length", U64, len(handles))
        nodes = self._connections(f"{table}.handle", handles, offloaded)
        at = next((i for i, length in enumerate(lengths) if length == 0), None)
        if at is not None:  # a table lists connections holding bytes
            raise _bad(f"{table}.data", f"row {at} holds no bytes")
        pieces = _cut(self.r, f"{table}.data", lengths)
        return list(zip(nodes, pieces, strict=True))

    def _sends(self) -> None:
        """The send queues: ``send``, ``send_run`` and ``send_request``."""
        handles = self.r.ints("send.handle", U64)
        k = len(handles)
        unsent = self.r.ints("send.unsent", U64, k)
        fins = self.r.in_range("send.fin", U8, k, 0, 2)
        lengths = self.r.ints("send.length", U64, k)
        data = _cut(self.r, "send.data", lengths)
        runs = self.r.ints("send.runs", U32, k)
        requests = self.r.ints("send.requests", U32, k)
        run_lengths = self.r.ints("send_run.length", U64, sum(runs))
        run_kinds = self.r.in_range("send_run.kind", U8, sum(runs), 0, 2)
        remaining = self.r.ints("send_request.remaining", U64, sum(requests))
        nodes = self._connections("send.handle", handles, offloaded=True)
        run_at = request_at = 0
        for i, node in enumerate(nodes):
            queue = SendQueue()
            queue.data = bytearray(data[i])
            queue.unsent = unsent[i]
            queue.fin = fins[i]
            lengths_i = run_lengths[run_at : run_at + runs[i]]
            kinds_i = run_kinds[run_at : run_at + runs[i]]
            queue.runs = deque(
                [n, RUN_KINDS[kind]] for n, kind in zip(lengths_i, kinds_i, strict=True)
            )
            queue.in_runs = sum(lengths_i)
            queue.requests = deque(remaining[request_at : request_at + requests[i]])
            self._check_queue(i, node, queue)
            self.e.target.contexts[node.handle].sends = queue
            run_at, request_at = run_at + runs[i], request_at + requests[i]

    def _check_queue(self, i: int, node: Node, queue: SendQueue) -> None:
        """The rules of one send queue (row ``i``)."""
        if queue.is_empty():
            raise _bad("send.handle", f"row {i} is an empty queue")
        if queue.unsent > len(queue.data):
            raise _bad("send.unsent", f"row {i} has more unsent bytes than bytes")
        kinds = [kind for _, kind in queue.runs]
        if any(length == 0 for length, _ in queue.runs):
            raise _bad("send_run.length", f"queue {i} has an empty run")
        if any(a is b and a is not None for a, b in pairwise(kinds)):
            raise _bad("send_run.kind", f"queue {i} has two runs of one kind in a row")
        if kinds.count(None) != (1 if queue.fin == FIN_SENT else 0):
            raise _bad("send_run.kind", f"queue {i}'s FIN runs disagree with its FIN state")
        sent = sum(length for length, kind in queue.runs if kind is True)
        if sent != len(queue.data) - queue.unsent:
            raise _bad("send_run.length", f"queue {i}'s data runs are not its bytes sent")
        if any(r == 0 for r in queue.requests) or sum(queue.requests) != len(queue.data):
            raise _bad("send_request.remaining", f"queue {i}'s requests are not its bytes")
        d = self.e.target.contexts[node.handle].delegated
        in_flight = (d[SND_NXT] - d[SND_UNA]) & U32_MAX
        if queue.in_runs > in_flight:
            raise _bad("send_run.length", f"queue {i}'s runs exceed its bytes in flight")

    def _posted(self) -> None:
        """The receive requests: ``posted`` and ``posted_request``."""
        handles = self.r.ints("posted.handle", U64)
        k = len(handles)
        counts = self.r.in_range("posted.requests", U32, k, 1, U32_MAX)
        deadlines = self.r.ints("posted.push_deadline", U64, k)
        m = sum(counts)
        sizes = self.r.in_range("posted_request.size", U32, m, 1, U32_MAX)
        push = self.r.flags("posted_request.push", m)
        lengths = self.r.ints("posted_request.length", U64, m)
        data = _cut(self.r, "posted_request.data", lengths)
        nodes = self._connections("posted.handle", handles, offloaded=True)
        at = 0
        for i, node in enumerate(nodes):
            span = slice(at, at + counts[i])
            requests = tuple(zip(sizes[span], data[span], push[span], strict=True))
            self._check_requests(at, requests)
            context = self.e.target.contexts[node.handle]
            if context.received:
                raise _bad("posted.handle", "a connection with receive requests and buffered data")
            deadline = None if deadlines[i] == NONE_U64 else deadlines[i]
            pending = requests[0][2] and bool(requests[0][1])
            if (deadline is not None) != pending:
                raise _bad(
                    "posted.push_deadline", f"row {i}'s push timer disagrees with its requests"
                )
            context.posted, context.push_deadline = requests, deadline
            at += counts[i]

    @staticmethod
    def _check_requests(first: int, requests: Requests) -> None:
        """Only the oldest request holds bytes, and none is full (it would have completed)."""
        for j, (size, placed, _push) in enumerate(requests):
            if len(placed) >= size or (j and placed):
                raise _bad("posted_request.length", f"row {first + j} cannot wait so filled")

    # -- faults, corruption, events
    def _faults(self) -> None:
        """The injected faults, by (operation, handle): each on a live object, with a
        status its operation completes with."""
        ops = self.r.ints("fault.operation", U8)
        bad = next((op for op in ops if op >= len(Operation)), None)
        if bad is not None:
            raise _bad("fault.operation", f"operation {bad}")
        handles = self.r.ints("fault.handle", U64, len(ops))
        statuses = self.r.ints("fault.status", U8, len(ops))
        keys = list(zip(ops, handles, strict=True))
        at = next((i for i in range(1, len(keys)) if keys[i] <= keys[i - 1]), None)
        if at is not None:
            raise _bad("fault.handle", f"row {at} is out of order")
        for i, ((op, h), status) in enumerate(zip(keys, statuses, strict=True)):
            if self.e.host.find(h) is None:  # a removed object's faults go with it
                raise _bad("fault.handle", f"row {i} names no live object: {format_handle(h)}")
            operation = Operation(op)
            if not operation.can_fail_with(status):  # what inject_fault takes
                raise _bad("fault.status", f"status {status}")
            self.e.target.faults[(operation, h)] = status

    def _corrupt(self) -> None:
        """The objects whose upload fails: offloaded ones, sorted."""
        handles = self.r.ints("corrupt.handle", U64)
        _check_increasing("corrupt.handle", handles)
        for h in handles:
            node = self.e.host.find(h)
            if node is None or not node.offloaded:
                raise _bad("corrupt.handle", f"{format_handle(h)} is not an offloaded object")
        self.e.target.corrupt = set(handles)

    def _events(self) -> None:
        """The event queue, in order; each event's offload resolved (1: the current one)."""
        kinds = self.r.ints("event.kind", U8)
        bad = next((kind for kind in kinds if kind > max(EventKind)), None)
        if bad is not None:
            raise _bad("event.kind", f"event kind {bad}")
        k = len(kinds)
        handles = self.r.ints("event.handle", U64, k)
        reasons = self.r.ints("event.reason", U8, k)
        sizes = self.r.ints("event.size", U64, k)
        offloads = self.r.ints("event.offload", U8, k)
        for i, kind in enumerate(EventKind(kind) for kind in kinds):
            layer = EVENT_LAYERS.get(kind)
            handle = self._event_handle(i, handles[i], layer, offloads[i])
            reason = self._event_reason(i, kind, reasons[i])
            size = self._event_size(i, kind, sizes[i])
            offload = self._event_offload(i, handle, offloads[i])
            self.e.events.append(Event(kind.value, handle, reason, offload, size))
        self._pending_flags()

    def _event_handle(self, i: int, h: int, layer: int | None, offload: int) -> int | None:
        """The object an event names: one this tree ever had, of the kind's layer."""
        if layer is None:
            if h != NONE_U64 or offload:
                raise _bad("event.handle", f"row {i}: the event names no object")
            return None
        if not self._ever_named(h, layer):
            what = Layer(layer).name
            raise _bad("event.handle", f"row {i}: {format_handle(h)} is no {what} of this tree")
        return h

    def _ever_named(self, h: int, layer: int) -> bool:
        """Whether ``h`` is a handle this tree's ``layer`` had: a live object's, or of a
        generation its slot has moved past."""
        if h >> 48 != self.tree_id or (h >> 46) & 3 != layer:
            return False
        slot, generation = h & 0xFFFF_FFFF, (h >> 32) & 0x3FFF
        if slot >= len(self.generations[layer]):
            return False
        current = int(self.generations[layer][slot])
        return generation < current or (generation == current and h in self.row_of[layer])

    @staticmethod
    def _event_reason(i: int, kind: EventKind, reason: int) -> int | None:
        if kind == EventKind.UPLOAD_REQUESTED:
            if reason not in UPLOAD_REASONS:
                raise _bad("event.reason", f"upload reason {reason}")
            return reason
        if reason != NONE_U8:
            raise _bad("event.reason", f"row {i}: a {kind.name} event has no reason")
        return None

    @staticmethod
    def _event_size(i: int, kind: EventKind, size: int) -> int | None:
        if kind == EventKind.SEND_BACKLOG_CHANGE:
            if size > U32_MAX:
                raise _bad("event.size", f"size {size}")
            return size
        if size != NONE_U64:
            raise _bad("event.size", f"row {i}: a {kind.name} event has no size")
        return None

    def _event_offload(self, i: int, handle: int | None, code: int) -> object | None:
        """The ``offload`` an event carries: the restored context of its object's current
        offload (1), one no context is (2), or none (0)."""
        if code == 0:
            return None
        context = None if handle is None else self.e.target.contexts.get(handle)
        if code == 2 and handle is not None:
            return EARLIER_OFFLOAD
        if code != 1 or context is None:  # 1: the current offload of an offloaded object
            raise _bad("event.offload", f"row {i}: code {code} for this handle")
        return context

    def _pending_flags(self) -> None:
        """The target's flags that an event pending stands for: a connection's I/O stops
        exactly while a mandatory upload request of its offload waits; a neighbor's query
        is outstanding only while a query of its offload waits."""
        contexts = self.e.target.contexts
        requested: set[int] = set()
        queried: set[int] = set()
        for event in self.e.events:
            if event.offload is None or contexts.get(event.handle or 0) is not event.offload:
                continue  # about no offload, or an earlier one
            assert event.handle is not None
            if event.kind == EventKind.UPLOAD_REQUESTED:
                if UploadReason(event.reason or 0).mandatory:
                    requested.add(event.handle)
            elif event.kind == EventKind.NEIGHBOR_REACHABILITY_QUERY:
                queried.add(event.handle)
        stopped = {h for h, c in contexts.items() if c.layer == TCP and c.upload_requested}
        if stopped != requested:
            raise _bad("target_tcp.upload_requested", "differs from the upload requests queued")
        if any(c.query_pending and h not in queried for h, c in contexts.items()):
            raise _bad("target_neighbor.query_pending", "a query is outstanding with none queued")

    def _invalid_pending(self) -> None:
        """The connections an invalidate queued an INVALID_STATE request for, sorted: each
        has one queued (the target may queue more of its own with ``request_upload``)."""
        handles = self.r.ints("invalid_pending.handle", U64)
        _check_increasing("invalid_pending.handle", handles)
        invalid_state = UploadReason.INVALID_STATE.value
        queued = {
            ev.handle
            for ev in self.e.events
            if ev.kind == EventKind.UPLOAD_REQUESTED and ev.reason == invalid_state
        }
        if not queued.issuperset(handles):
            raise _bad(
                "invalid_pending.handle", "a connection with no INVALID_STATE request queued"
            )
        self.e.invalid_pending = set(handles)

    # -- the host's policy and counts
    def _policy(self) -> None:
        """The host's policy (``release_unreferenced`` is the engine's already) and rules,
        checked by the engine's own ``set_policy``: optional reasons only, a pace in
        1..2**32-1, rules whose ranges run upwards and whose prefixes fit."""
        _, decline, pace, accept, link_down = self.r.scalars("policy", U64, 5)
        for flag in (accept, link_down):
            if flag > 1:
                raise _bad("policy", f"flag {flag} (0 or 1)")
        if decline >> 16:
            raise _bad("policy", "a decline mask beyond 16 bits")
        reasons: list[object] = [bit for bit in range(16) if decline >> bit & 1]
        uploads = None if pace == NONE_U64 else pace
        rules = self._rules()
        for i, (_, low, high, remote_low, remote_high, destination) in enumerate(rules):
            # set_policy's own rule check, rendered here: its error("offload_rule", index=i)
            # hands ``index`` to error()'s item suffix instead of the template
            long_prefix = destination is not None and destination[1] > 8 * len(destination[0])
            if low > high or remote_low > remote_high or long_prefix:
                raise _bad("policy", render(MESSAGES["offload_rule"][1], index=i))
        e = self.e
        _in_column(
            "policy", lambda: set_policy(e, reasons, uploads, bool(accept), bool(link_down), rules)
        )

    def _rules(self) -> list[OffloadRule]:
        """The offload rules, in order."""
        offload = self.r.flags("rule.offload")
        k = len(offload)
        local = self.r.ints("rule.local_ports", U16, 2 * k)
        remote = self.r.ints("rule.remote_ports", U16, 2 * k)
        families = self.r.ints("rule.family", U8, k)
        octets = self.r.column("rule.destination", U8, 16 * k).tobytes()
        prefixes = self.r.ints("rule.prefix", U8, k)
        rules: list[OffloadRule] = []
        for i in range(k):
            destination = _destination(i, families[i], octets[16 * i : 16 * i + 16], prefixes[i])
            low, high = 2 * i, 2 * i + 1
            rules.append(
                (offload[i], local[low], local[high], remote[low], remote[high], destination)
            )
        return rules

    def _counts(self) -> None:
        """The running counts of ``counters()``."""
        values = self.r.scalars("counts", U64, COUNTS_LENGTH)
        counts = RunningCounts()
        width = 2 + len(Status)
        for i, name in enumerate(OPERATIONS):
            part = values[i * width : (i + 1) * width]
            setattr(counts, name, OperationCounts(part[0], part[1], part[2:]))
        tail = values[len(OPERATIONS) * width :]
        for name, value in zip(RUNNING_TOTALS, tail, strict=False):
            setattr(counts, name, value)
        counts.released = tail[len(RUNNING_TOTALS) :]
        self.e.counts = counts

    def _totals(self) -> None:
        """What the counters say the columns hold, they hold; and nothing is lost."""
        e = self.e
        t, c = e.target.counters, e.counts
        contexts = e.target.contexts.values()
        held = {
            "bytes_buffered": sum(len(x.received or b"") for x in contexts),
            "bytes_send_queued": sum(len(x.sends) for x in contexts if x.sends is not None),
            "bytes_placed": sum(len(p) for x in contexts for _, p, _ in x.posted),
            "bytes_non_offload": sum(len(x.non_offload) for x in contexts),
        }
        for name, value in held.items():
            said = getattr(t, name)
            if said != value:
                raise _bad("target.counters", f"{name} says {said}, the columns hold {value}")
        if t.contexts_allocated - t.contexts_freed != len(e.target.contexts):
            raise _bad("target.counters", "contexts allocated less freed differ from those held")
        unread = sum(len(data) for data in e.delivered.values())
        # The ledgers in which no byte or event is lost or made up (docs/SPEC.md §2), in the
        # core's words, each with the column the core names.
        ledgers = [
            ("counts", "bytes posted are not all acknowledged, queued, returned or aborted",
             c.bytes_posted, t.bytes_acknowledged + t.bytes_send_queued + c.bytes_send_returned
             + t.bytes_send_aborted),
            ("target.counters", "bytes received are not all delivered, placed, buffered or "
             "returned", t.bytes_received + t.bytes_handed_over, c.bytes_delivered
             + t.bytes_buffered + t.bytes_placed + t.bytes_non_offload + c.bytes_returned),
            ("counts", "bytes delivered are not all read, unread or discarded",
             c.bytes_delivered, c.bytes_read + unread + c.bytes_discarded),
            ("counts", "events seen are not all processed or pending",
             c.events_seen, c.events_processed + len(e.events)),
            ("target.counters", "events indicated are not the events seen",
             t.events_indicated, c.events_seen),
        ]  # fmt: skip
        for name, problem, total, parts in ledgers:
            if total != parts:
                raise _bad(name, problem)


def _check_increasing(name: str, values: list[int]) -> None:
    """``values`` strictly increase: sorted, none twice."""
    at = next((i for i in range(1, len(values)) if values[i] <= values[i - 1]), None)
    if at is not None:
        raise _bad(name, f"row {at} is out of order or repeated")


def _cut(reader: _Reader, name: str, lengths: list[int]) -> list[bytes]:
    """The blob ``name`` cut into pieces of ``lengths``, which must add up to it."""
    total = sum(lengths)
    blob = reader.column(name, U8)
    if len(blob) != total:
        raise _bad(name, f"{len(blob)} bytes, the lengths add up to {total}")
    raw = blob.tobytes()
    pieces, at = [], 0
    for length in lengths:
        pieces.append(raw[at : at + length])
        at += length
    return pieces


def _destination(i: int, family: int, octets: bytes, prefix: int) -> tuple[bytes, int] | None:
    """A rule's destination network, or None (family 0: any destination, no address). The
    prefix's length is ``set_policy``'s to check."""
    if family == 0:
        if prefix or any(octets):
            raise _bad("rule.destination", f"rule {i} has no family but an address")
        return None
    if family not in (4, 6):
        raise _bad("rule.destination", f"IP family {family} (4 or 6)")
    size = 4 if family == 4 else 16
    if any(octets[size:]):
        raise _bad("rule.destination", "an IPv4 address with octets after its fourth")
    return octets[:size], prefix
