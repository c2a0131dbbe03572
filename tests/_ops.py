"""Random operations on a tree, for the property tests and the differential lockstep test.

An operation is plain data (a tuple) drawn by hypothesis; handles in it are *tokens* that
each :class:`World` resolves against its own handles, so that one operation can be applied
to a native and a fallback tree alike. :func:`apply` runs it and returns a comparable
outcome: ``("ok", value)`` with every handle masked to its low 48 bits, or
``("err", class name, message)`` with the handles and tree ids in the message masked too, so
that two engines are held to the same wording (one catalogue: ``offload_tree._messages``).
"""

from __future__ import annotations

import copy
import functools
import io
import ipaddress
import pickle
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import offload_tree as ot
from _helpers import record_dict
from hypothesis import strategies as st

U32 = 2**32

# --- worlds -------------------------------------------------------------------------------


class World:
    """A tree, its target, every handle it ever returned, and a foreign tree's handles.

    The foreign tree is of the other backend: trees of both backends live in one process,
    and their handles must never resolve in each other (one registry of tree ids).
    """

    def __init__(self, backend: str, config: dict[str, Any]) -> None:
        self.backend = backend
        config = dict(config)
        release = config.pop("release_unreferenced", True)
        self.target = ot.SimulatedTarget(**config)
        self.tree = ot.OffloadStateTree(self.target, backend=backend, release_unreferenced=release)
        self.pool: list[int] = []
        other = "python" if backend == "native" else "native"
        foreign = ot.OffloadStateTree(backend=other)
        fnb = foreign.add_neighbor(mac=1)
        fpa = foreign.add_path(fnb, source="10.0.0.1", destination="10.0.0.2")
        ftc = foreign.add_tcp(fpa, local_port=1, remote_port=2)
        foreign.initiate_offload([ftc])
        self.foreign_tree = foreign  # kept alive
        self.foreign = [fnb, fpa, ftc]

    def resolve(self, token: tuple[str, Any]) -> Any:
        kind, value = token
        if kind == "pool":
            return self.pool[value]
        if kind == "bumpgen":
            return self.pool[value] + (1 << 32)
        if kind == "foreign":
            return self.foreign[value]
        if kind == "layer3":
            return (self.tree.tree_id << 48) | (3 << 46) | value
        return value  # "raw": the same garbage for every world

    def resolve_many(self, spec: tuple[str, list[tuple[str, Any]]]) -> Any:
        form, tokens = spec
        values = [self.resolve(t) for t in tokens]
        if form == "single" and values:
            return values[0]
        if form == "array" and all(t[0] != "raw" for t in tokens):
            return np.array(values, dtype=np.uint64)
        if form == "tuple":
            return tuple(values)
        return values


# --- normalising results ------------------------------------------------------------------

MASK48 = (1 << 48) - 1


def _m(h: Any) -> Any:
    return None if h is None else int(h) & MASK48


def _blocks(blocks: Any) -> list[tuple[Any, ...]]:
    return [
        (
            int(b.layer),
            _m(b.handle),
            b.depth,
            b.referenced,
            None if b.status is None else int(b.status),
            None if b.next is None else b.next.index,
            None if b.dependent is None else b.dependent.index,
        )
        for b in blocks
    ]


class ReentrantAddress:
    """An address whose ``.packed`` reads the tree it is being added to: user code that calls
    back into the engine while an operation converts its input (issue 11)."""

    def __init__(self, tree: Any, text: str) -> None:
        self.tree, self.text = tree, text

    @property
    def packed(self) -> bytes:
        self.tree.count()
        return ipaddress.ip_address(self.text).packed


def _address_arg(tree: Any, value: Any) -> Any:
    """A drawn address, with ``("reentrant", text)`` made a :class:`ReentrantAddress`."""
    if isinstance(value, tuple) and value[:1] == ("reentrant",):
        return ReentrantAddress(tree, value[1])
    return value


def normalise(value: Any) -> Any:
    """A structure equal between engines exactly when the results are equal."""
    if value is None or isinstance(value, bool | str | bytes):
        return value
    if isinstance(value, ot.OffloadResult):
        return {
            "blocks": _blocks(value.blocks),
            "succeeded": [_m(h) for h in value.succeeded.tolist()],
            "failed": [_m(h) for h in value.failed.tolist()],
            "ok": value.ok,
            "len": len(value),
            "released": normalise(value.released),
        }
    if isinstance(value, ot.UpdateResult):
        return {
            "handles": [_m(h) for h in value.handles.tolist()],
            "statuses": value.statuses.tolist(),
            "reasons": value.reasons.tolist(),
            "by_handle": [(value.status(h), value.reason(h)) for h in value.handles.tolist()],
            "ok": value.ok,
            "terminated": [
                (_m(h), value.delegated(h), value.received_data(h), value.send_data(h))
                for h in value.terminated.tolist()
            ],
            "upload": normalise(value.upload),
            "total_received": value.total_received,
            "total_send_data": value.total_send_data,
        }
    if isinstance(value, ot.BlockList):
        return {"blocks": _blocks(value), "len": len(value)}
    if isinstance(value, ot.TerminateResult):
        hs = value.terminated.tolist()
        return {
            "terminated": [
                (
                    _m(h),
                    value.status(h),
                    value.delegated(h),
                    value.received_data(h),
                    value.send_data(h),
                )
                for h in hs
            ],
            "statuses": value.statuses.tolist(),
            "failed": [_m(h) for h in value.failed.tolist()],
            "ok": value.ok,
            "total_received": value.total_received,
            "total_send_data": value.total_send_data,
            "len": len(value),
        }
    if isinstance(value, ot.QueryResult):
        hs = value.handles.tolist()
        out: dict[str, Any] = {
            "query": [
                (_m(h), value.status(h), value.delegated(h) if value.status(h) == 0 else None)
                for h in hs
            ],
            "failed": [_m(h) for h in value.failed.tolist()],
            "terminated": [_m(h) for h in value.terminated.tolist()],
            "upload": normalise(value.upload),
            "ok": value.ok,
            "len": len(value),
        }
        for kind in ("constant", "cached"):
            try:
                out[kind] = [(_m(h), normalise(getattr(value, kind)(h))) for h in hs]
            except ot.StateError:
                out[kind] = None
        return out
    if isinstance(value, ot.InvalidateResult):
        hs = value.handles.tolist()
        return {
            "invalidated": [(_m(h), value.status(h)) for h in hs],
            "statuses": value.statuses.tolist(),
            "failed": [_m(h) for h in value.failed.tolist()],
            "ok": value.ok,
            "len": len(value),
        }
    if isinstance(value, ot.ProcessedEvent):
        return (
            int(value.kind),
            _m(value.handle),
            None if value.reason is None else int(value.reason),
            value.action,
            normalise(value.result),
        )
    if isinstance(value, ot.NeighborState | ot.PathState | ot.TcpState):
        d = record_dict(value)
        d["handle"] = _m(d["handle"])
        return d
    if isinstance(value, np.ndarray):
        assert value.ndim == 1
        return (str(value.dtype), [_m(v) for v in value.tolist()])
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, int):
        return _m(value) if value >= 0 else value
    return value


#: Snapshot columns that hold handles (docs/DESIGN.md §12).
HANDLE_COLUMNS = re.compile(r"(.*\.)?(handle|neighbor|path|parent|dependent|depends_on)$")


def masked_columns(columns: dict[str, Any]) -> dict[str, Any]:
    """Engine snapshot columns with the tree id masked out of every handle (and the
    ``tree.id`` column dropped): equal for two engines exactly when their states are."""
    masked = {}
    for name, values in columns.items():
        if name == "tree.id":
            continue
        if HANDLE_COLUMNS.match(name) and values.dtype == np.uint64:
            values = values & np.uint64(MASK48)
        masked[name] = values
    return masked


def masked_snapshot(snap: dict[str, Any]) -> dict[str, Any]:
    """A snapshot (see _helpers.snapshot) with the tree ids masked out of every handle."""
    out: dict[str, Any] = {}
    for key, value in snap.items():
        if key == "states":
            out[key] = {_m(h): {**r, "handle": _m(r["handle"])} for h, r in value.items()}
        elif key == "links":
            out[key] = {_m(h): (_m(p), [_m(d) for d in ds]) for h, (p, ds) in value.items()}
        elif key in ("offloaded", "query"):
            out[key] = {_m(h): v for h, v in value.items()}
        elif key == "internal_tree":
            out[key] = [(_m(h), _m(p)) for h, p in value.items()]
        elif key in ("handles", "walk_pre", "walk_post"):
            out[key] = [_m(h) for h in value]
        elif key == "handles_by_layer":
            out[key] = [[_m(h) for h in hs] for hs in value]
        else:
            out[key] = value
    return out


# --- applying an operation ----------------------------------------------------------------


#: The ways a tree is copied: each must give a tree that goes on exactly as the original.
ROUND_TRIPS = ("copy", "deepcopy", "pickle", "save_load")


def copy_tree(tree: Any, how: str, backend: str | None = None) -> Any:
    """A copy of ``tree`` made ``how`` (one of ``ROUND_TRIPS``); a saved file loads on
    ``backend`` (default: the tree's own)."""
    if how == "copy":
        return copy.copy(tree)
    if how == "deepcopy":
        return copy.deepcopy(tree)
    if how == "pickle":
        return pickle.loads(pickle.dumps(tree))
    buffer = io.BytesIO()
    tree.save(buffer)
    buffer.seek(0)
    return ot.OffloadStateTree.load(buffer, backend=backend or tree.backend)


def _round_trip(world: World, how: str) -> int:
    """Replace the world's tree by a copy made ``how`` (the original is dropped): the
    lockstep then drives the copy, and any difference from the other world shows."""
    copied = copy_tree(world.tree, how)
    assert copied.backend == world.backend and copied.tree_id == world.tree.tree_id
    world.tree, world.target = copied, copied.target
    return len(copied)


def _call(world: World, op: tuple[Any, ...]) -> Any:
    tree, target, r, rm = world.tree, world.target, world.resolve, world.resolve_many
    name, *args = op
    if name == "add_neighbor":
        mac, vlan, extra = args
        h = tree.add_neighbor(mac, vlan, **extra)
        world.pool.append(h)
        return h
    if name == "add_path":
        tok, (src, dst), mtu = args
        h = tree.add_path(r(tok), _address_arg(tree, src), dst, mtu)
        world.pool.append(h)
        return h
    if name == "add_tcp":
        tok, lport, rport, fields = args
        h = tree.add_tcp(r(tok), lport, rport, **fields)
        world.pool.append(h)
        return h
    if name == "add_tcp_again":
        # An existing connection's 4-tuple added again: DuplicateKeyError on both engines.
        # Random ports almost never repeat, and the lockstep must reach that error every run.
        h = r(args[0])
        state = tree.state(h)
        if not isinstance(state, ot.TcpState):
            return int(tree.layer(h))
        return tree.add_tcp(tree.depends_on(h), state.local_port, state.remote_port)
    if name == "add_neighbors":
        macs, vlans = args
        hs = tree.add_neighbors(macs, vlan_ids=vlans)
        world.pool.extend(int(h) for h in hs)
        return hs
    if name == "add_paths":
        spec, pairs, mtus = args
        sources = [_address_arg(tree, p[0]) for p in pairs]
        hs = tree.add_paths(rm(spec), sources, [p[1] for p in pairs], path_mtus=mtus)
        world.pool.extend(int(h) for h in hs)
        return hs
    if name == "add_tcps":
        spec, lports, rports = args
        hs = tree.add_tcps(rm(spec), lports, rports)
        world.pool.extend(int(h) for h in hs)
        return hs
    if name == "remove":
        return tree.remove(rm(args[0]), cascade=args[1])
    if name == "initiate_offload":
        return tree.initiate_offload(rm(args[0]))
    if name == "terminate":
        return tree.terminate(rm(args[0]), cascade=args[1])
    if name == "update":
        return tree.update(rm(args[0]), **args[1])
    if name == "relink":
        return tree.relink(r(args[0]), r(args[1]))
    if name == "query":
        return tree.query(rm(args[0]), variables=args[1])
    if name == "invalidate":
        return tree.invalidate(rm(args[0]))
    if name == "process_events":
        return tree.process_events(decline=args[0])
    if name == "block_list":
        return tree.block_list(rm(args[0]))
    if name == "walk":
        order, roots = args
        return tree.walk(order, roots=None if roots is None else rm(roots))
    if name == "inspect":
        h = r(args[0])
        out = []
        for fn in (
            tree.layer,
            tree.depends_on,
            tree.dependents,
            tree.is_offloaded,
            tree.state,
        ):
            try:
                out.append(("ok", normalise(fn(h))))
            except ot.OffloadTreeError as exc:
                out.append(("err", type(exc).__name__, masked_message(str(exc))))
        out.append(("ok", h in tree))
        return out
    if name == "count":
        layer, offloaded = args
        return tree.count(layer=layer, offloaded=offloaded)
    if name == "find":
        form, (src, dst), lport, rport = args
        src = _address_arg(tree, src)
        if form == "path":
            return tree.find_path(src, dst)
        if form == "tcp":
            return tree.find_tcp(src, dst, lport, rport)
        if form == "paths":
            return tree.find_paths([src, dst, src], [dst, dst, dst])
        return tree.find_tcps(src, dst, [lport, rport, lport], rport)
    if name == "threads":
        # A setting, not a result: the engines must take and refuse the same values, and
        # every later operation must give the same answers whatever it is.
        tree.threads = args[0]
        return tree.threads
    if name == "send_data":
        return tree.send(r(args[0]), args[1])
    if name == "acknowledge":
        if args[2] is None:
            return target.acknowledge(r(args[0]), args[1])
        return target.acknowledge(r(args[0]), args[1], window=args[2])
    if name == "post_receive":
        return tree.post_receive(r(args[0]), args[1], push=args[2])
    if name == "peer_close":
        return target.peer_close(r(args[0]), args[1])
    if name == "disconnect":
        return tree.disconnect(r(args[0]), abortive=args[1])
    if name == "read":
        return tree.read(r(args[0]))
    if name == "advance":
        return tree.advance(args[0])
    if name == "policy":
        tree.policy = args[0]
        return tree.policy
    if name == "link_down":
        return tree.link_down()
    if name == "forward":
        return tree.forward(r(args[0]), args[1])
    if name == "offload_with_data":
        handles = [r(t) for t in args[0]]
        return tree.initiate_offload(handles, buffered_data={h: args[1] for h in handles[:1]})
    if name == "round_trip":
        return _round_trip(world, args[0])
    if name == "traffic_many":
        return _traffic_many(tree, target, args[0], [r(t) for t in args[1]], args[2])
    if name == "offload_stats":
        return target.offload_stats(args[0])
    if name == "reset_offload_stats":
        return target.reset_offload_stats(args[0])
    if name == "receive":
        return target.receive(r(args[0]), args[1], push=args[2])
    if name == "send":
        return target.send(r(args[0]), args[1])
    if name == "request_upload":
        return target.request_upload(r(args[0]), args[1])
    if name == "request_upload_all":
        return target.request_upload_all()
    if name == "resume":
        return target.resume(**args[0]) if args else target.resume()
    if name == "pause":
        return target.pause()
    if name == "indicate_neighbor_reachability_query":
        return target.indicate_neighbor_reachability_query(r(args[0]))
    if name == "inject_fault":
        return target.inject_fault(r(args[0]), args[1], args[2])
    raise AssertionError(f"unknown operation {name}")


_HANDLE_TEXT = re.compile(r"0x([0-9a-f]{16})")
_TREE_ID_TEXT = re.compile(r"tree id \d+")


def _traffic_many(tree: Any, target: Any, kind: str, tcs: list[int], items: list[Any]) -> Any:
    """One batch of the data path (``TRAFFIC_MANY``) over connections ``tcs``."""
    if kind in ("send_many", "receive_many"):
        call = tree.send_many if kind == "send_many" else target.receive_many
        return call(tcs, b"".join(items), [len(piece) for piece in items])
    if kind == "acknowledge_many":
        counts, windows = [n for n, _ in items], [w for _, w in items]
        if any(w is None for w in windows):
            return target.acknowledge_many(tcs, counts)
        return target.acknowledge_many(tcs, counts, windows=windows)
    if kind == "post_receive_many":
        return tree.post_receive_many(tcs, items)
    return tree.read_many(tcs)


def masked_message(message: str) -> str:
    """An error message with the tree id bits of every handle, and tree ids, masked out."""
    message = _HANDLE_TEXT.sub(lambda m: f"0x{int(m.group(1), 16) & MASK48:016x}", message)
    return _TREE_ID_TEXT.sub("tree id ?", message)


def apply(world: World, op: tuple[Any, ...]) -> tuple[Any, ...]:
    """Run ``op`` on ``world``: ("ok", normalised result) or ("err", class, masked message).
    An interrupted call (a test's interrupt at a poll) is an error like the others."""
    try:
        value = _call(world, op)
    except (ot.OffloadTreeError, KeyboardInterrupt) as exc:
        return ("err", type(exc).__name__, masked_message(str(exc)))
    return ("ok", normalise(value))


# --- strategies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolInfo:
    """What the strategies know of a world's handles: pool indices by layer and state."""

    n: int
    live: tuple[tuple[int, ...], ...]  # per layer: live handles
    offloaded: tuple[tuple[int, ...], ...]  # per layer: offloaded handles
    host: tuple[tuple[int, ...], ...]  # per layer: live, not offloaded
    paused: bool = False

    @classmethod
    def of(cls, world: World) -> PoolInfo:
        live: list[list[int]] = [[], [], []]
        off: list[list[int]] = [[], [], []]
        host: list[list[int]] = [[], [], []]
        for i, h in enumerate(world.pool):
            if h in world.tree:
                layer = (h >> 46) & 3
                live[layer].append(i)
                (off if world.tree.is_offloaded(h) else host)[layer].append(i)
        return cls(
            len(world.pool),
            tuple(map(tuple, live)),
            tuple(map(tuple, off)),
            tuple(map(tuple, host)),
            bool(world.target.stats()["paused"]),
        )

    def candidates(self, layer: int | None, offloaded: bool | None) -> list[int]:
        layers = range(3) if layer is None else [layer]
        table = self.live if offloaded is None else self.offloaded if offloaded else self.host
        return [i for lay in layers for i in table[lay]]


def _identity(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy


def weighted(*pairs: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A choice among strategies with integer weights."""
    return st.sampled_from([strat for w, strat in pairs for _ in range(w)]).flatmap(_identity)


# Strategies are rebuilt for every step from the world's current handles; caching them
# keeps hypothesis (and its shrinker) fast.
cached = functools.lru_cache(maxsize=4096)


GARBAGE = [-1, 2**64, 2**64 + 5, 0, 1.5, "x", True, None]

MACS = weighted(
    (
        8,
        st.sampled_from(
            ["00:15:5d:01:02:03", "02-00-00-00-00-0A", b"\x00\x01\x02\x03\x04\x05", 0xFF]
        ),
    ),
    (1, st.sampled_from(["00:15:5d:01:02", 2**48, "zz:00:00:00:00:00", 2**48 - 1])),
)
VLANS = weighted((6, st.sampled_from([0, 1, 4095])), (1, st.just(4096)))
ADDRESS_PAIRS = weighted(
    # one path per address pair: many pairs, so trees grow, and repeats, so duplicates occur
    (
        10,
        st.tuples(st.integers(0, 7), st.integers(0, 7)).map(
            lambda ij: (f"10.1.{ij[0]}.1", f"10.2.{ij[1]}.1")
        ),
    ),
    (
        4,
        st.sampled_from(
            [
                ("10.0.0.1", "10.0.0.2"),
                ("fe80::1", "2001:db8::9"),
                (b"\n\x00\x00\x01", 3232235777),
                (ipaddress.IPv4Address("1.2.3.4"), "5.6.7.8"),
                (2**32, 2**128 - 1),
                (("reentrant", "10.0.0.7"), "10.0.0.8"),
            ]
        ),
    ),
    (
        1,
        st.sampled_from(
            [("10.0.0.1", "fe80::1"), ("10.0.0.300", "10.0.0.1"), ("01.0.0.1", "10.0.0.1")]
        ),
    ),
)
MTUS = weighted(
    (6, st.sampled_from([68, 1280, 1500, 9000, 65535])), (1, st.sampled_from([67, 65536]))
)
PORTS = weighted((10, st.integers(0, 65535)), (1, st.sampled_from([-1, 65536])))
TCP_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "initial_rcv_wnd": st.sampled_from([1000, 65535, 2**20, 2**32 - 1, 2**32]),
        "rcv_nxt": st.sampled_from([0, U32 - 5, U32 - 1]),
        "snd_nxt": st.sampled_from([0, 100, U32 - 3]),
        "snd_max": st.sampled_from([0, 100, U32 - 3]),
        "snd_una": st.sampled_from([0, U32 - 3]),
        "rcv_wnd": st.sampled_from([0, 10, 65535]),
        "state": st.integers(0, 11),
        "sack": st.sampled_from([True, False, 1]),
        "flow_label": st.sampled_from([0, 2**20 - 1, 2**20]),
        "rcv_wind_scale": st.integers(0, 15),
        "remote_mss": st.sampled_from([0, 1, 536, 1460, 9000]),
        "snd_wnd": st.sampled_from([0, 16, 40, 65535]),
        "bogus": st.just(1),
    },
).filter(lambda d: len(d) <= 3)

# update keywords: the cached variables of each layer, then some that must be refused
CACHED_BY_LAYER = (
    ["mac", "host_reachability_delta"],
    ["path_mtu"],
    ["initial_rcv_wnd", "ka_timeout", "keep_alive", "flow_label", "user_priority"],
)
REFUSED = ["local_port", "rcv_nxt", "vlan_id", "nic_reachability_delta", "source", "bogus"]


def _update_value(key: str) -> st.SearchStrategy[Any]:
    return {
        "path_mtu": st.sampled_from([68, 1500, 9000, 9001, 65536]),
        "mac": st.sampled_from(["02:00:00:00:00:01", 5, "bad"]),
        "host_reachability_delta": st.sampled_from([0, 5, U32]),
        "ka_timeout": st.sampled_from([0, 100, -1]),
        "initial_rcv_wnd": st.sampled_from([1000, 65535, 2**20 + 1]),
        "keep_alive": st.booleans(),
        "flow_label": st.sampled_from([0, 2**20]),
        "user_priority": st.sampled_from([0, 7, 8]),
    }.get(key, st.just(1))


@cached
def update_fields(layer: int) -> st.SearchStrategy[dict[str, Any]]:
    keys = weighted(
        (8, st.sampled_from(CACHED_BY_LAYER[layer])),
        (1, st.sampled_from(REFUSED + [k for ks in CACHED_BY_LAYER for k in ks])),
    )
    return st.lists(keys, max_size=2, unique=True).flatmap(
        lambda ks: st.fixed_dictionaries({k: _update_value(k) for k in ks})
    )


SEND_SIZES = weighted(
    (6, st.sampled_from([0, 1, 100, 65536, U32 - 1])), (1, st.sampled_from([U32, -1]))
)
# Acknowledged byte counts: mostly small (some beyond what is in flight: refused), rarely
# out of range.
ACK_SIZES = weighted(
    (8, st.integers(0, 48)), (1, st.sampled_from([1000, U32])), (1, st.sampled_from([-1, 2**32]))
)
# Receive request sizes: mostly small, sometimes none or too many (refused).
RECEIVE_SIZES = weighted((8, st.integers(1, 30)), (1, st.sampled_from([0, -1, 2**32, 2.0])))
# Windows an acknowledgement advertises: mostly none, sometimes small or large, rarely bad.
WINDOWS = weighted(
    (6, st.none()), (3, st.sampled_from([0, 40, 5000, 20000, 2**20])), (1, st.sampled_from([-1]))
)
# Capabilities a resuming target may report instead of its configured ones.
CAPABILITIES = st.fixed_dictionaries(
    {},
    optional={
        "tcp_capacity": st.sampled_from([None, 0, 1, 2, 5, 100]),
        "path_capacity": st.sampled_from([None, 1, 3]),
        "max_path_mtu": st.sampled_from([None, 1400, 9000]),
        "max_rcv_window": st.sampled_from([None, 1000, -1]),
    },
)
# Host policies: mostly the default; else some declines, a pace, indicated data taken, a link
# down kept, rules that keep some connections on the host.
_OPTIONAL = [r for r in ot.UploadReason if not r.mandatory]
POLICIES = weighted(
    (2, st.just(None)),
    (
        3,
        st.builds(
            ot.HostPolicy,
            decline=st.frozensets(st.sampled_from(_OPTIONAL), max_size=3),
            uploads_per_call=st.sampled_from([None, 1, 2]),
            accept_indicated=st.booleans(),
            on_link_down=st.sampled_from(["terminate", "keep"]),
            offload_rules=st.sampled_from(
                [
                    (),
                    (ot.OffloadRule(offload=False, remote_ports=(0, 1000)),),
                    (
                        ot.OffloadRule(offload=True, destination="10.2.0.0/16"),
                        ot.OffloadRule(offload=False, destination="10.0.0.0/8"),
                    ),
                    (ot.OffloadRule(offload=False, local_ports=(0, 30000)),),
                ]
            ),
        ),
    ),
)
# Time steps: none, a tick, up to a retransmission or two, past NceStaleTicks or FIN_WAIT_2,
# the most, and out of range (refused).
TICKS = st.sampled_from([0, 1, 999, 1000, 3000, 30_001, 120_000, 2**32 - 1, -1, 2**32])
# The batch forms of the data path, and what each item carries: a piece of data, an
# acknowledged count with a window, a receive request's size, or nothing (a read).
TRAFFIC_MANY: dict[str, st.SearchStrategy[Any]] = {
    "send_many": st.binary(max_size=12),
    "receive_many": st.binary(max_size=12),
    "acknowledge_many": st.tuples(ACK_SIZES, st.sampled_from([None, 0, 40, 5000, -1])),
    "post_receive_many": RECEIVE_SIZES.filter(lambda size: isinstance(size, int)),
    "read_many": st.none(),
}
# IP versions for the chimney statistics: mostly valid; a non-version and a non-int (refused).
IP_VERSIONS = weighted((6, st.sampled_from([4, 6])), (1, st.sampled_from([5, 0, "6"])))
REASONS = weighted((6, st.integers(1, 11)), (1, st.sampled_from([0, 12])))
# The host's policy in process_events: mostly none; optional reasons; a mandatory one or a
# non-reason (refused).
DECLINES = weighted(
    (6, st.just(())),
    (3, st.sampled_from([(1,), (2, 3, 4), (6, 7), (1, 2, 3, 4, 6, 7)])),
    (1, st.sampled_from([(10,), (1, 9), (0,), (12,)])),
)
FAULTS = weighted((6, st.integers(2, 15)), (1, st.sampled_from([0, 1, 16, 17])))
#: Operations other than offload complete with SUCCESS or FAILURE only: mostly FAILURE.
COMPLETION_FAULTS = weighted((8, st.just(2)), (1, st.sampled_from([0, 1, 3, 9, 16])))
#: An operation by name, by code or by member; rarely one that does not exist.
FAULT_OPERATIONS = weighted(
    (8, st.sampled_from(["terminate", "update", "query", "invalidate"])),
    (2, st.sampled_from([ot.Operation.QUERY, int(ot.Operation.TERMINATE), "Invalidate"])),
    (1, st.sampled_from([5, -1, "offload", "bogus"])),
)


@cached
def _valid_token(info: PoolInfo, layer: int | None, offloaded: bool | None) -> Any:
    wanted = info.candidates(layer, offloaded)
    if wanted:
        return st.tuples(st.just("pool"), st.sampled_from(wanted))
    live = info.candidates(None, None)
    if live:
        return st.tuples(st.just("pool"), st.sampled_from(live))
    return None


@cached
def _any_token(info: PoolInfo) -> st.SearchStrategy[tuple[str, Any]]:
    others = st.one_of(
        st.tuples(st.just("raw"), st.sampled_from(GARBAGE)),
        st.tuples(st.just("foreign"), st.integers(0, 2)),
        st.tuples(st.just("layer3"), st.integers(0, 3)),
    )
    if info.n == 0:
        return others
    return weighted(
        (4, st.tuples(st.just("pool"), st.integers(0, info.n - 1))),  # live or stale
        (1, st.tuples(st.just("bumpgen"), st.integers(0, info.n - 1))),
        (2, others),
    )


@cached
def handle_token(
    info: PoolInfo, layer: int | None = None, offloaded: bool | None = None
) -> st.SearchStrategy[tuple[str, Any]]:
    """A handle token: mostly a live handle of the wanted layer/state, sometimes anything."""
    valid = _valid_token(info, layer, offloaded)
    if valid is None:
        return _any_token(info)
    return weighted((12, valid), (1, _any_token(info)))


@cached
def handle_spec(
    info: PoolInfo, layer: int | None = None, offloaded: bool | None = None, max_size: int = 4
) -> st.SearchStrategy[Any]:
    """Many handles: mostly all valid candidates, sometimes with anything mixed in."""
    valid = _valid_token(info, layer, offloaded)
    mixed = st.lists(handle_token(info, layer, offloaded), min_size=1, max_size=max_size)
    tokens = (
        weighted((10, st.lists(valid, min_size=1, max_size=max_size)), (2, mixed), (1, st.just([])))
        if valid is not None
        else weighted((5, mixed), (1, st.just([])))
    )
    return st.tuples(st.sampled_from(["list", "list", "array", "single", "tuple"]), tokens)


@cached
def _traffic_tokens(info: PoolInfo) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """The connections of a batch of traffic: mostly offloaded ones (one bad item fails the
    whole batch), sometimes anything mixed in."""
    valid = _valid_token(info, T, True)
    mixed = st.lists(handle_token(info, T, True), max_size=4)
    if valid is None:
        return mixed
    return weighted((6, st.lists(valid, max_size=5)), (1, mixed))


@cached
def batch_parents(info: PoolInfo, layer: int) -> st.SearchStrategy[Any]:
    return st.tuples(
        st.sampled_from(["list", "array"]),
        st.lists(handle_token(info, layer), min_size=1, max_size=4),
    )


OP_WEIGHTS = {
    "add_neighbor": 3,
    "add_path": 5,
    "add_tcp": 8,
    "add_tcp_again": 3,
    "add_neighbors": 1,
    "add_paths": 1,
    "add_tcps": 2,
    "remove": 3,
    "initiate_offload": 9,
    "terminate": 4,
    "update": 4,
    "relink": 2,
    "query": 2,
    "invalidate": 2,
    "process_events": 3,
    "block_list": 2,
    "walk": 1,
    "inspect": 2,
    "count": 1,
    "receive": 4,
    "send": 3,
    "request_upload": 2,
    "request_upload_all": 1,
    "resume": 2,
    "pause": 1,
    "indicate_neighbor_reachability_query": 1,
    "inject_fault": 3,
    "find": 2,
    "threads": 1,
    "offload_stats": 1,
    "reset_offload_stats": 1,
    # The data path and the connection's close: weighted low enough that the key checks
    # (DuplicateKeyError, which the coverage check asks for) keep their share of the steps.
    "send_data": 2,
    "acknowledge": 2,
    "post_receive": 2,
    "read": 1,
    "peer_close": 1,
    "disconnect": 1,
    "traffic_many": 1,
    "advance": 1,
    "policy": 1,
    "link_down": 1,
    "forward": 1,
    "offload_with_data": 1,
    "round_trip": 1,
}
N, P, T = 0, 1, 2


@cached
def op_for(name: str, info: PoolInfo) -> st.SearchStrategy[tuple[Any, ...]]:
    h = handle_token(info)
    if name == "add_neighbor":
        extra = st.fixed_dictionaries(
            {},
            optional={
                "source_mac": st.sampled_from(
                    [None, "02:00:00:00:00:09", "02:00:00:00:00:09", "zz"]
                ),
                "host_reachability_delta": st.sampled_from([0, 3, 3, 3, U32]),
                "nic_reachability_delta": st.sampled_from([0, 4]),
            },
        )
        return st.tuples(st.just(name), MACS, VLANS, extra)
    if name == "add_path":
        return st.tuples(st.just(name), handle_token(info, N), ADDRESS_PAIRS, MTUS)
    if name == "add_tcp":
        return st.tuples(st.just(name), handle_token(info, P), PORTS, PORTS, TCP_FIELDS)
    if name == "add_tcp_again":
        return st.tuples(st.just(name), handle_token(info, T))
    if name == "add_neighbors":
        return st.integers(0, 3).flatmap(
            lambda k: st.tuples(
                st.just(name),
                st.lists(MACS, min_size=k, max_size=k),
                st.one_of(st.none(), VLANS, st.lists(VLANS, min_size=k, max_size=k)),
            )
        )
    if name == "add_paths":
        return batch_parents(info, N).flatmap(
            lambda spec: st.tuples(
                st.just(name),
                st.just(spec),
                st.lists(ADDRESS_PAIRS, min_size=len(spec[1]), max_size=len(spec[1])),
                st.one_of(st.none(), MTUS),
            )
        )
    if name == "add_tcps":
        return batch_parents(info, P).flatmap(
            lambda spec: st.tuples(
                st.just(name),
                st.just(spec),
                st.lists(PORTS, min_size=len(spec[1]), max_size=len(spec[1])),
                PORTS,
            )
        )
    if name == "remove":
        return st.tuples(st.just(name), handle_spec(info, None, False), st.booleans())
    if name == "initiate_offload":
        layers = st.sampled_from([T, T, T, P, N, None])
        return st.tuples(st.just(name), layers.flatmap(lambda lay: handle_spec(info, lay, False)))
    if name == "terminate":
        return st.tuples(st.just(name), handle_spec(info, None, True), st.booleans())
    if name == "query":
        kinds = st.sampled_from([("delegated",), ("cached",), ("constant", "cached", "delegated")])
        return st.tuples(st.just(name), handle_spec(info, None, True), kinds)
    if name == "invalidate":
        return st.tuples(st.just(name), handle_spec(info, None, True))
    if name == "block_list":
        return st.tuples(st.just(name), handle_spec(info))
    if name == "update":
        return st.integers(0, 2).flatmap(
            lambda layer: st.tuples(
                st.just(name),
                st.sampled_from([None, True]).flatmap(lambda off: handle_spec(info, layer, off)),
                update_fields(layer),
            )
        )
    if name == "relink":
        return st.tuples(st.just(name), handle_token(info, P), handle_token(info, N))
    if name == "walk":
        return st.tuples(
            st.just(name), st.sampled_from(["pre", "post"]), st.one_of(st.none(), handle_spec(info))
        )
    if name == "inspect":
        return st.tuples(st.just(name), h)
    if name == "count":
        return st.tuples(
            st.just(name),
            st.sampled_from([None, 0, 1, 2]),
            st.sampled_from([None, True, False]),
        )
    if name == "receive":
        return st.tuples(
            st.just(name), handle_token(info, T, True), st.binary(max_size=24), st.booleans()
        )
    if name == "send":
        return st.tuples(st.just(name), handle_token(info, T, True), SEND_SIZES)
    if name == "request_upload":
        return st.tuples(st.just(name), handle_token(info, T, True), REASONS)
    if name == "indicate_neighbor_reachability_query":
        return st.tuples(st.just(name), handle_token(info, N, True))
    if name == "inject_fault":
        offload = st.tuples(
            st.just(name),
            handle_token(info, None, False),
            FAULTS,
            st.sampled_from(["initiate_offload", ot.Operation.INITIATE_OFFLOAD, 0]),
        )
        other = st.tuples(
            st.just(name), handle_token(info, None, True), COMPLETION_FAULTS, FAULT_OPERATIONS
        )
        return weighted((1, offload), (1, other))
    if name == "process_events":
        return st.tuples(st.just(name), DECLINES)
    if name == "threads":
        return st.tuples(st.just(name), st.sampled_from([1, 2, 2, 3, 0, -1, 2.5, True]))
    if name in ("offload_stats", "reset_offload_stats"):
        return st.tuples(st.just(name), IP_VERSIONS)
    if name == "send_data":
        return st.tuples(st.just(name), handle_token(info, T, True), st.binary(max_size=40))
    if name == "acknowledge":
        return st.tuples(st.just(name), handle_token(info, T, True), ACK_SIZES, WINDOWS)
    if name == "post_receive":
        return st.tuples(st.just(name), handle_token(info, T, True), RECEIVE_SIZES, st.booleans())
    if name == "disconnect":
        return st.tuples(
            st.just(name), handle_token(info, T, True), st.sampled_from([False, False, True, 0])
        )
    if name == "peer_close":
        return st.tuples(
            st.just(name), handle_token(info, T, True), st.sampled_from([False, True, False, 1])
        )
    if name == "read":
        return st.tuples(st.just(name), handle_token(info, T, None))
    if name == "advance":
        return st.tuples(st.just(name), TICKS)
    if name == "policy":
        return st.tuples(st.just(name), POLICIES)
    if name == "forward":
        return st.tuples(st.just(name), handle_token(info, T, True), st.binary(max_size=16))
    if name == "offload_with_data":
        tokens = st.lists(handle_token(info, T, False), min_size=1, max_size=3)
        return st.tuples(st.just(name), tokens, st.binary(max_size=16))
    if name == "round_trip":
        return st.tuples(st.just(name), st.sampled_from(ROUND_TRIPS))
    if name == "resume":
        # Mostly as configured; sometimes other capabilities (some below what is held:
        # refused), or a bad one.
        return weighted((4, st.just((name,))), (1, st.tuples(st.just(name), CAPABILITIES)))
    if name == "traffic_many":
        return st.sampled_from(list(TRAFFIC_MANY)).flatmap(
            lambda kind: _traffic_tokens(info).flatmap(
                lambda tokens: st.tuples(
                    st.just(name),
                    st.just(kind),
                    st.just(tokens),
                    st.lists(TRAFFIC_MANY[kind], min_size=len(tokens), max_size=len(tokens)),
                )
            )
        )
    if name == "find":
        return st.tuples(
            st.just(name),
            st.sampled_from(["path", "tcp", "paths", "tcps"]),
            ADDRESS_PAIRS,
            PORTS,
            PORTS,
        )
    return st.tuples(st.just(name))


STEADY_CYCLE = (
    "add_tcp",
    "initiate_offload",
    "send_data",
    "post_receive",
    "receive",
    "acknowledge",
    "read",
    "terminate",
    "add_path",
    "update",
    "send",
    "process_events",
    "remove",
    "invalidate",
    "query",
    "relink",
)


@cached
def operations(info: PoolInfo, step: int = 0) -> st.SearchStrategy[tuple[Any, ...]]:
    """One random operation for a world described by ``info``.

    The weights lean towards what the tree lacks (no neighbor yet: add one; paused: resume)
    so that most steps reach the interesting states instead of failing on an empty tree.
    """
    weights = dict(OP_WEIGHTS)
    if not info.live[N]:
        first = "add_neighbor"
        weights[first] += 20
    elif not info.live[P]:
        first = "add_path"
        weights[first] += 15
    elif not info.live[T]:
        first = "add_tcp"
        weights[first] += 15
    elif not info.offloaded[T]:
        first = "initiate_offload"
        weights[first] += 10
    else:
        first = STEADY_CYCLE[step % len(STEADY_CYCLE)]
    if info.paused:
        weights["resume"] += 6
    # hypothesis's simplest draw picks the first name: make it the most useful next step
    order = [first] + [name for name in weights if name != first]
    names = [name for name in order for _ in range(weights[name])]
    return st.sampled_from(names).flatmap(lambda name: op_for(name, info))


TARGET_CONFIGS = st.fixed_dictionaries(
    {
        "neighbor_capacity": st.sampled_from([None, None, 0, 1, 2, 4]),
        "path_capacity": st.sampled_from([None, None, 1, 2, 3, 6]),
        "tcp_capacity": st.sampled_from([None, None, 1, 2, 4, 10]),
        "max_path_mtu": st.sampled_from([None, 1500, 9000]),
        "max_rcv_window": st.sampled_from([None, 65535, 2**20]),
        "fail_rate": st.sampled_from([0.0, 0.0, 0.0, 0.1, 0.3, 1.0]),
        "seed": st.integers(0, 2**64 - 1),
        # the host's policy (World takes it off the target's configuration)
        "release_unreferenced": st.sampled_from([True, True, False]),
    }
)
