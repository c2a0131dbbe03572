"""Snapshots: the engine's whole state as the canonical columns of docs/DESIGN.md §12. This
module mirrors the core's ``crates/core/src/engine/snapshot.rs``: both engines write the same
columns, in the same order, for the same history, so a snapshot of either restores on either
(:mod:`.restore` reads them back).

Writing walks the host tree in pre-order (§3), so every object table is in row order, and
reads the target through the host's handles: the target's own numbering of its contexts
never appears.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from ..._enums import EventKind, Operation, Status, UploadReason
from ..._fields import FIELDS, FieldSpec
from ..host.policy import HostPolicy
from ..host.tree import HostTree, Node
from ..host.walk import walk_all
from ..model.fields import LAYOUTS
from ..model.handle import GENERATION_LIMIT, NEIGHBOR, PATH, TCP
from ..model.state import default_tcp_values
from ..target import Target
from ..target.receives import Requests
from ..target.sends import SendQueue
from ..target.statistics import IP_FIELDS, TCP_FIELDS
from .events import _current
from .types import Event, OperationCounts, RunningCounts

if TYPE_CHECKING:
    from . import Engine

__all__ = ["snapshot"]

Columns = dict[str, npt.NDArray[Any]]
T = TypeVar("T")

# Column types: little-endian, as every snapshot is (docs/DESIGN.md §12).
U8, U16, U32, U64, F64 = (np.dtype(code) for code in ("<u1", "<u2", "<u4", "<u8", "<f8"))

#: "None" in a u64 and in a u8 column: the all-ones value of the type.
NONE_U64 = 2**64 - 1
NONE_U8 = 0xFF
U32_MAX = 2**32 - 1
#: The generation column's mark of a retired slot (one past the last generation).
RETIRED = GENERATION_LIMIT
LAYER_NAMES = ("neighbor", "path", "tcp")

_N, _P, _T = LAYOUTS
SOURCE_MAC, VLAN = _N.index("source_mac"), _N.index("vlan_id")  # in const
MAC, HOST_REACHABILITY = _N.index("mac"), _N.index("host_reachability_delta")  # in cached
NIC_REACHABILITY = _N.index("nic_reachability_delta")  # in delegated
PATH_MTU = _P.index("path_mtu")  # in cached
#: Every TCP variable, in table order: one ``tcp_state`` column each, ports included.
TCP_SPECS: tuple[FieldSpec, ...] = FIELDS[TCP]
TCP_GROUPS = tuple(len(_T.by_kind[kind]) for kind in ("constant", "cached", "delegated"))
DELEGATED_SPECS = _T.by_kind["delegated"]

#: ``target.counters``, in the core's field order (``TargetCounters``).
TARGET_COUNTERS = (
    "contexts_allocated", "contexts_freed", "bytes_received", "bytes_sent", "bytes_buffered",
    "bytes_held_back", "bytes_upload_in_progress", "bytes_acknowledged", "bytes_send_queued",
    "bytes_send_aborted", "bytes_placed", "bytes_handed_over", "bytes_non_offload",
    "bytes_beyond_window", "events_indicated",
)  # fmt: skip
#: The byte and event totals of ``counts``, after the operations and before the releases.
RUNNING_TOTALS = (
    "bytes_returned", "bytes_posted", "bytes_send_returned", "bytes_delivered", "bytes_read",
    "bytes_discarded", "events_seen", "events_processed",
)  # fmt: skip
OPERATIONS = tuple(op.name.lower() for op in Operation)
COUNTS_LENGTH = len(OPERATIONS) * (2 + len(Status)) + len(RUNNING_TOTALS) + 3
#: One family's statistics: each counter's name and width in bits, IP then TCP.
STATS_FIELDS = (*(("ip", n, w) for n, w in IP_FIELDS), *(("tcp", n, w) for n, w in TCP_FIELDS))
#: A send run's kind in the fallback (``SendQueue.runs``) by its column code, and back.
RUN_KINDS: tuple[bool | None, ...] = (True, False, None)
#: The layer of the object an event names, by kind; kinds absent name nothing.
EVENT_LAYERS = {
    EventKind.UPLOAD_REQUESTED: TCP,
    EventKind.NEIGHBOR_REACHABILITY_QUERY: NEIGHBOR,
    EventKind.DISCONNECT: TCP,
    EventKind.ABORT: TCP,
    EventKind.DISCONNECT_COMPLETE: TCP,
    EventKind.SEND_BACKLOG_CHANGE: TCP,
}
UPLOAD_REASONS = frozenset(int(reason) for reason in UploadReason)
#: The ``offload`` of a restored event about an earlier offload: no context is it.
EARLIER_OFFLOAD = object()


# === writing ================================================================================


def snapshot(e: Engine) -> Columns:
    """Every column of docs/DESIGN.md §12 for engine ``e``, in the core's order: 1-D
    little-endian arrays, an empty table as empty columns of its types."""
    out: Columns = {"tree.id": np.array([e.host.tree_id], dtype=U16)}
    for layer, name in enumerate(LAYER_NAMES):
        _put_arena(out, name, e.host, layer)
    rows = _rows_by_layer(e.host)
    _put_neighbors(out, e, rows[NEIGHBOR])
    _put_paths(out, e, rows[PATH])
    _put_tcps(out, e, rows[TCP])
    _put_connection_data(out, e, rows[TCP])
    _put_target(out, e.target)
    _put_events(out, e)
    _put_policy(out, e.policy)
    out["counts"] = np.array(_running_counts(e.counts), dtype=U64)
    return out


def _rows_by_layer(host: HostTree) -> tuple[list[Node], list[Node], list[Node]]:
    """The objects of each layer in walk pre-order: the row order of the object tables."""
    rows: tuple[list[Node], list[Node], list[Node]] = ([], [], [])
    for node in walk_all(host, post=False):
        rows[node.layer].append(node)
    return rows


def _put_arena(out: Columns, name: str, host: HostTree, layer: int) -> None:
    """``{layer}.generations`` (a retired slot as 16384) and ``{layer}.free``."""
    arena = host.arenas[layer]
    free = set(arena.free)
    # The fallback leaves a retired slot at its last generation, empty and not free.
    generations = [
        RETIRED if item is None and slot not in free else generation
        for slot, (item, generation) in enumerate(zip(arena.items, arena.generations, strict=True))
    ]
    out[f"{name}.generations"] = np.array(generations, dtype=U16)
    out[f"{name}.free"] = np.array(arena.free, dtype=U32)


def _put_neighbors(out: Columns, e: Engine, nodes: list[Node]) -> None:
    """The ``neighbor`` table, then ``target_neighbor`` for the offloaded ones."""
    out["neighbor.handle"] = np.array([n.handle for n in nodes], dtype=U64)
    out["neighbor.mac"] = np.array([n.cached[MAC] for n in nodes], dtype=U64)
    out["neighbor.source_mac"] = np.array(
        [NONE_U64 if n.const[SOURCE_MAC] is None else n.const[SOURCE_MAC] for n in nodes],
        dtype=U64,
    )
    out["neighbor.vlan_id"] = np.array([n.const[VLAN] for n in nodes], dtype=U16)
    out["neighbor.host_reachability_delta"] = np.array(
        [n.cached[HOST_REACHABILITY] for n in nodes], dtype=U32
    )
    out["neighbor.nic_reachability_delta"] = np.array(
        [n.delegated[NIC_REACHABILITY] for n in nodes], dtype=U32
    )
    out["neighbor.offloaded"] = _flags_out(n.offloaded for n in nodes)
    contexts = [e.target.contexts[n.handle] for n in nodes if n.offloaded]
    out["target_neighbor.mac"] = np.array([c.cached[MAC] for c in contexts], dtype=U64)
    out["target_neighbor.host_reachability_delta"] = np.array(
        [c.host_reachability for c in contexts], dtype=U32
    )
    out["target_neighbor.nic_reachability_delta"] = np.array(
        [c.delegated[NIC_REACHABILITY] for c in contexts], dtype=U32
    )
    out["target_neighbor.invalid"] = _flags_out(c.invalid for c in contexts)
    out["target_neighbor.query_pending"] = _flags_out(c.query_pending for c in contexts)


def _put_paths(out: Columns, e: Engine, nodes: list[Node]) -> None:
    """The ``path`` table, then ``target_path`` for the offloaded ones."""
    out["path.handle"] = np.array([n.handle for n in nodes], dtype=U64)
    out["path.neighbor"] = np.array([_parent(n).handle for n in nodes], dtype=U64)
    out["path.family"] = np.array([4 if len(n.const[0]) == 4 else 6 for n in nodes], dtype=U8)
    out["path.source"] = _ips_out(n.const[0] for n in nodes)
    out["path.destination"] = _ips_out(n.const[1] for n in nodes)
    out["path.path_mtu"] = np.array([n.cached[PATH_MTU] for n in nodes], dtype=U16)
    out["path.offloaded"] = _flags_out(n.offloaded for n in nodes)
    contexts = [e.target.contexts[n.handle] for n in nodes if n.offloaded]
    out["target_path.path_mtu"] = np.array([c.cached[PATH_MTU] for c in contexts], dtype=U16)
    out["target_path.invalid"] = _flags_out(c.invalid for c in contexts)


def _put_tcps(out: Columns, e: Engine, nodes: list[Node]) -> None:
    """The ``tcp`` table, its changed variables (``tcp_state``), and the target's flags and
    diverged delegated state of the offloaded connections."""
    out["tcp.handle"] = np.array([n.handle for n in nodes], dtype=U64)
    out["tcp.path"] = np.array([_parent(n).handle for n in nodes], dtype=U64)
    out["tcp.local_port"] = np.array([n.const[0] for n in nodes], dtype=U16)
    out["tcp.remote_port"] = np.array([n.const[1] for n in nodes], dtype=U16)
    out["tcp.offloaded"] = _flags_out(n.offloaded for n in nodes)
    changed = [(row, n) for row, n in enumerate(nodes) if _changed(n)]
    out["tcp_state.row"] = np.array([row for row, _ in changed], dtype=U32)
    _put_matrix(out, "tcp_state", TCP_SPECS, [n.const + n.cached + n.delegated for _, n in changed])
    contexts = [(n, e.target.contexts[n.handle]) for n in nodes if n.offloaded]
    out["target_tcp.invalid"] = _flags_out(c.invalid for _, c in contexts)
    out["target_tcp.upload_requested"] = _flags_out(c.upload_requested for _, c in contexts)
    out["target_tcp.fin_pending"] = _flags_out(c.fin_pending for _, c in contexts)
    # The fallback keeps a plain copy: a row only where the live state differs.
    diverged = [(n, c) for n, c in contexts if tuple(c.delegated) != n.delegated]
    out["target_delegated.handle"] = np.array([n.handle for n, _ in diverged], dtype=U64)
    _put_matrix(out, "target_delegated", DELEGATED_SPECS, [c.delegated for _, c in diverged])


#: The shared default tuples (model/state.py): a connection holding them changed nothing there.
_DEFAULT_CONST, _DEFAULT_CACHED, _DEFAULT_DELEGATED = default_tcp_values(0, 0)
_DEFAULT_CONST_TAIL = _DEFAULT_CONST[2:]


def _changed(node: Node) -> bool:
    """Whether a connection's variables differ from the defaults with its ports."""
    if node.cached is _DEFAULT_CACHED and node.delegated is _DEFAULT_DELEGATED:
        return node.const[2:] != _DEFAULT_CONST_TAIL  # the shared tuples: no value to compare
    defaults = default_tcp_values(node.const[0], node.const[1])
    return (node.const, node.cached, node.delegated) != defaults


def _put_matrix(
    out: Columns, table: str, specs: Iterable[FieldSpec], rows: list[Iterable[Any]]
) -> None:
    """One ``u64`` column ``{table}.{name}`` per variable, from rows of values."""
    names = [spec.name for spec in specs]
    matrix = np.array([list(row) for row in rows], dtype=U64).reshape(len(rows), len(names))
    for i, name in enumerate(names):
        out[f"{table}.{name}"] = np.ascontiguousarray(matrix[:, i])


class _ByteRows:
    """A table of bytes by connection: ``.handle``, ``.length`` and one ``.data`` blob."""

    __slots__ = ("chunks", "handles")

    def __init__(self) -> None:
        self.handles: list[int] = []
        self.chunks: list[bytes] = []

    def add(self, handle: int, data: bytes | bytearray | None) -> None:
        """A row, unless ``data`` is empty (a table lists connections holding bytes)."""
        if data:
            self.handles.append(handle)
            self.chunks.append(bytes(data))

    def put(self, out: Columns, table: str) -> None:
        out[f"{table}.handle"] = np.array(self.handles, dtype=U64)
        out[f"{table}.length"] = np.array([len(c) for c in self.chunks], dtype=U64)
        out[f"{table}.data"] = _blob(self.chunks)


class _SendRows:
    """The ``send``, ``send_run`` and ``send_request`` tables."""

    __slots__ = ("chunks", "fins", "handles", "kinds", "remaining", "requests", "runs", "unsent")

    def __init__(self) -> None:
        self.handles: list[int] = []
        self.unsent: list[int] = []
        self.fins: list[int] = []
        self.chunks: list[bytes] = []
        self.runs: list[int] = []
        self.requests: list[int] = []
        self.kinds: list[tuple[int, int]] = []
        self.remaining: list[int] = []

    def add(self, handle: int, queue: SendQueue) -> None:
        self.handles.append(handle)
        self.unsent.append(queue.unsent)
        self.fins.append(queue.fin)
        self.chunks.append(bytes(queue.data))
        self.runs.append(len(queue.runs))
        self.requests.append(len(queue.requests))
        self.kinds.extend((int(length), RUN_KINDS.index(kind)) for length, kind in queue.runs)
        self.remaining.extend(queue.requests)

    def put(self, out: Columns) -> None:
        out["send.handle"] = np.array(self.handles, dtype=U64)
        out["send.unsent"] = np.array(self.unsent, dtype=U64)
        out["send.fin"] = np.array(self.fins, dtype=U8)
        out["send.length"] = np.array([len(c) for c in self.chunks], dtype=U64)
        out["send.data"] = _blob(self.chunks)
        out["send.runs"] = np.array(self.runs, dtype=U32)
        out["send.requests"] = np.array(self.requests, dtype=U32)
        out["send_run.length"] = np.array([length for length, _ in self.kinds], dtype=U64)
        out["send_run.kind"] = np.array([kind for _, kind in self.kinds], dtype=U8)
        out["send_request.remaining"] = np.array(self.remaining, dtype=U64)


class _PostedRows:
    """The ``posted`` and ``posted_request`` tables."""

    __slots__ = ("chunks", "counts", "deadlines", "handles", "push", "sizes")

    def __init__(self) -> None:
        self.handles: list[int] = []
        self.counts: list[int] = []
        self.deadlines: list[int] = []
        self.sizes: list[int] = []
        self.push: list[bool] = []
        self.chunks: list[bytes] = []

    def add(self, handle: int, requests: Requests, deadline: int | None) -> None:
        self.handles.append(handle)
        self.counts.append(len(requests))
        self.deadlines.append(NONE_U64 if deadline is None else deadline)
        for size, placed, push in requests:
            self.sizes.append(size)
            self.push.append(push)
            self.chunks.append(placed)

    def put(self, out: Columns) -> None:
        out["posted.handle"] = np.array(self.handles, dtype=U64)
        out["posted.requests"] = np.array(self.counts, dtype=U32)
        out["posted.push_deadline"] = np.array(self.deadlines, dtype=U64)
        out["posted_request.size"] = np.array(self.sizes, dtype=U32)
        out["posted_request.push"] = _flags_out(self.push)
        out["posted_request.length"] = np.array([len(c) for c in self.chunks], dtype=U64)
        out["posted_request.data"] = _blob(self.chunks)


def _put_connection_data(out: Columns, e: Engine, nodes: list[Node]) -> None:
    """The connections' bytes and queues, in connection row order."""
    received, non_offload, delivered = _ByteRows(), _ByteRows(), _ByteRows()
    sends, posted = _SendRows(), _PostedRows()
    contexts = e.target.contexts
    for node in nodes:
        h = node.handle
        delivered.add(h, e.delivered.get(h))
        if not node.offloaded:
            continue
        c = contexts[h]
        received.add(h, c.received)
        non_offload.add(h, c.non_offload)
        if c.sends is not None and not c.sends.is_empty():
            sends.add(h, c.sends)
        if c.posted or c.push_deadline is not None:
            posted.add(h, c.posted, c.push_deadline)
    received.put(out, "received")
    non_offload.put(out, "non_offload")
    delivered.put(out, "delivered")
    sends.put(out)
    posted.put(out)


def _put_target(out: Columns, target: Target) -> None:
    """The target's configuration and scalars, its counters and statistics, the clock,
    the injected faults and the corrupt objects."""
    config = target.config
    limits = (
        config.neighbor_capacity,
        config.path_capacity,
        config.tcp_capacity,
        config.max_path_mtu,
        config.max_rcv_window,
    )
    out["target.limits"] = np.array(
        [NONE_U64 if limit is None else limit for limit in limits], dtype=U64
    )
    out["target.limits_set"] = _flags_out(limit is not None for limit in limits)
    out["target.fail_rate"] = np.array([config.fail_rate], dtype=F64)
    out["target.seed"] = np.array([config.seed], dtype=U64)
    out["target.rng"] = np.array([target.rng.state], dtype=U64)
    out["target.paused"] = _flags_out([target.paused])
    out["target.upload_all"] = _flags_out([target.upload_all])
    counters = target.counters
    out["target.counters"] = np.array([getattr(counters, n) for n in TARGET_COUNTERS], dtype=U64)
    stats = [
        getattr(s, group)[name] for s in target.offload_stats for group, name, _ in STATS_FIELDS
    ]
    out["target.offload_stats"] = np.array(stats, dtype=U64)
    clock = target.clock
    out["clock"] = np.array([clock.now, clock.ticks_per_second, clock.nce_stale_ticks], dtype=U64)
    faults = sorted((int(op), h, status) for (op, h), status in target.faults.items())
    out["fault.operation"] = np.array([op for op, _, _ in faults], dtype=U8)
    out["fault.handle"] = np.array([h for _, h, _ in faults], dtype=U64)
    out["fault.status"] = np.array([status for _, _, status in faults], dtype=U8)
    out["corrupt.handle"] = np.array(sorted(target.corrupt), dtype=U64)


def _put_events(out: Columns, e: Engine) -> None:
    """The event queue in order, and the connections with an INVALID_STATE request queued."""
    events = list(e.events)
    out["event.kind"] = np.array([ev.kind for ev in events], dtype=U8)
    out["event.handle"] = np.array(
        [NONE_U64 if ev.handle is None else ev.handle for ev in events], dtype=U64
    )
    out["event.reason"] = np.array(
        [NONE_U8 if ev.reason is None else ev.reason for ev in events], dtype=U8
    )
    out["event.size"] = np.array(
        [NONE_U64 if ev.size is None else ev.size for ev in events], dtype=U64
    )
    out["event.offload"] = np.array([_offload_code(e, ev) for ev in events], dtype=U8)
    out["invalid_pending.handle"] = np.array(sorted(e.invalid_pending), dtype=U64)


def _offload_code(e: Engine, event: Event) -> int:
    """0: the event carries no offload; 1: it is about its object's current offload; 2: an
    earlier one."""
    if event.offload is None:
        return 0
    return 1 if _current(e, event) is not None else 2


def _put_policy(out: Columns, policy: HostPolicy) -> None:
    """The host's policy and its offload rules."""
    pace = policy.uploads_per_call
    out["policy"] = np.array(
        [
            int(policy.release_unreferenced),
            policy.decline,
            NONE_U64 if pace is None else pace,
            int(policy.accept_indicated),
            int(policy.terminate_on_link_down),
        ],
        dtype=U64,
    )
    rules = policy.offload_rules
    out["rule.offload"] = _flags_out(rule[0] for rule in rules)
    out["rule.local_ports"] = np.array([p for rule in rules for p in rule[1:3]], dtype=U16)
    out["rule.remote_ports"] = np.array([p for rule in rules for p in rule[3:5]], dtype=U16)
    destinations = [rule[5] for rule in rules]
    out["rule.family"] = np.array(
        [0 if d is None else 4 if len(d[0]) == 4 else 6 for d in destinations], dtype=U8
    )
    out["rule.destination"] = _ips_out(b"" if d is None else d[0] for d in destinations)
    out["rule.prefix"] = np.array([0 if d is None else d[1] for d in destinations], dtype=U8)


def _running_counts(counts: RunningCounts) -> list[int]:
    """``counts``: per operation requested, succeeded and failed by status; the totals; the
    releases per layer."""
    values: list[int] = []
    for name in OPERATIONS:
        op: OperationCounts = getattr(counts, name)
        values += [op.requested, op.succeeded, *op.failed]
    values += [getattr(counts, name) for name in RUNNING_TOTALS]
    return values + list(counts.released)


def _parent(node: Node) -> Node:
    assert node.parent is not None
    return node.parent


def _flags_out(values: Iterable[bool]) -> npt.NDArray[Any]:
    return np.array([int(bool(v)) for v in values], dtype=U8)


def _blob(chunks: list[bytes]) -> npt.NDArray[Any]:
    blob: npt.NDArray[Any] = np.frombuffer(b"".join(chunks), dtype=U8).copy()
    return blob


def _ips_out(addresses: Iterable[bytes]) -> npt.NDArray[Any]:
    """16 bytes per address, IPv4 in the first four (nothing: all zeros)."""
    return _blob([ip + bytes(16 - len(ip)) for ip in addresses])
