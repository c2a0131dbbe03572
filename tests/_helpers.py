"""Shared helpers of the test suite: backend availability, snapshots, invariants.

Everything here uses the public API only (docs/SPEC.md §7 and the facade classes of
docs/DESIGN.md §1), so that the same checks hold any engine to the contract.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import offload_tree as ot
import pytest

BACKENDS = ("native", "python")
ALLOW_MISSING_NATIVE_VAR = "OFFLOAD_TREE_ALLOW_MISSING_NATIVE"
SOAK_VAR = "OFFLOAD_TREE_SOAK"

#: Masks the tree id out of a handle (bits 63..48, docs/DESIGN.md §2).
MASK48 = (1 << 48) - 1
U32 = 2**32


def allow_missing_native() -> bool:
    return os.environ.get(ALLOW_MISSING_NATIVE_VAR) == "1"


def native_import_error() -> BaseException | None:
    """The error importing the native engine raises, or None when it imports."""
    try:
        importlib.import_module("offload_tree._native")
    except ImportError as exc:
        return exc
    return None


def require_backend(backend: str) -> None:
    """Fail (or, with OFFLOAD_TREE_ALLOW_MISSING_NATIVE=1, skip) when the engine is missing."""
    if backend != "native":
        return
    err = native_import_error()
    if err is None:
        return
    msg = (
        f"the native engine offload_tree._native cannot be imported ({err!r}); build it with "
        "`maturin develop --release` or `pip install -e .`"
    )
    if allow_missing_native():
        pytest.skip(f"{msg} [skipped because {ALLOW_MISSING_NATIVE_VAR}=1]")
    pytest.fail(f"{msg}; set {ALLOW_MISSING_NATIVE_VAR}=1 to skip native tests", pytrace=False)


def soak_factor() -> int:
    return 100 if os.environ.get(SOAK_VAR) == "1" else 1


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def mask(h: int) -> int:
    return int(h) & MASK48


def hl(array: Any) -> list[int]:
    """A handle array (or any iterable of ints) as a list of Python ints."""
    return [int(x) for x in array]


# --- the source page's example ------------------------------------------------------------


@dataclass
class Example:
    """Neighbor1 -> Path1 (TCP1, TCP2), Path2 (TCP3): the source page plus the worked example.

    The source page's example has TCP1 and TCP2 sharing Path1, Path1 and Path2 sharing
    Neighbor1; the worked example of partial offloads adds TCP3 on Path2.
    """

    tree: Any
    target: Any
    nb1: int
    pa1: int
    pa2: int
    tc1: int
    tc2: int
    tc3: int | None

    @property
    def all(self) -> list[int]:
        out = [self.nb1, self.pa1, self.tc1, self.tc2, self.pa2]
        if self.tc3 is not None:
            out.append(self.tc3)
        return out


def build_example(tree: Any, target: Any, *, with_tc3: bool = True) -> Example:
    nb1 = tree.add_neighbor(mac="00:15:5d:01:02:03", vlan_id=0)
    pa1 = tree.add_path(nb1, source="10.0.0.1", destination="10.0.0.9", path_mtu=1500)
    pa2 = tree.add_path(nb1, source="10.0.0.1", destination="10.0.1.7", path_mtu=1500)
    tc1 = tree.add_tcp(pa1, local_port=49152, remote_port=443)
    tc2 = tree.add_tcp(pa1, local_port=49153, remote_port=443)
    tc3 = tree.add_tcp(pa2, local_port=49154, remote_port=80) if with_tc3 else None
    return Example(tree, target, nb1, pa1, pa2, tc1, tc2, tc3)


# --- snapshots ----------------------------------------------------------------------------


def record_dict(rec: Any) -> dict[str, Any]:
    """Every attribute of a state record, as a plain dict (comparable across trees)."""
    out: dict[str, Any] = {
        "handle": rec.handle,
        "layer": int(rec.layer),
        "offloaded": rec.offloaded,
        "invalidated": rec.invalidated,
    }
    for part in (rec.constant(), rec.cached(), rec.delegated()):
        for name, value in part.items():
            out[name] = str(value) if name in ("source", "destination") else value
    return out


def snapshot(tree: Any, target: Any = None, *, query: bool = True) -> dict[str, Any]:
    """Everything observable about a tree (and its target) through the public API.

    ``stats`` is read first; querying the offloaded objects counts in the query statistics,
    so the stats read after it are kept as ``stats_end`` (see :func:`assert_unchanged`).
    """
    snap: dict[str, Any] = {"stats": tree.stats()}
    handles = hl(tree.handles())
    snap["len"] = len(tree)
    snap["handles"] = handles
    snap["handles_by_layer"] = [hl(tree.handles(layer)) for layer in ot.Layer]
    snap["walk_pre"] = hl(tree.walk("pre"))
    snap["walk_post"] = hl(tree.walk("post"))
    snap["states"] = {h: record_dict(tree.state(h)) for h in handles}
    snap["links"] = {h: (tree.depends_on(h), hl(tree.dependents(h))) for h in handles}
    snap["offloaded"] = {h: tree.is_offloaded(h) for h in handles}
    if target is not None:
        snap["target_stats"] = target.stats()
        snap["offload_stats"] = {family: target.offload_stats(family) for family in (4, 6)}
        snap["internal_tree"] = dict(target.internal_tree())
    offloaded = [h for h in handles if snap["offloaded"][h]]
    # A pending query fault would fire on the snapshot's own query: observe without it then.
    pending = tree.target.stats()["faults_pending_by_operation"]["query"]
    if query and offloaded and not pending:
        q = tree.query(offloaded)
        snap["query"] = {h: q.delegated(h) for h in offloaded}
    else:
        snap["query"] = {}
    snap["stats_end"] = tree.stats()
    return snap


def assert_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    """A failed call changed nothing (docs/SPEC.md §2, invariant 6)."""
    assert after["stats"] == before["stats_end"], "stats changed"
    for key in before:
        if key in ("stats", "stats_end"):
            continue
        assert after[key] == before[key], f"{key} changed"


def raises_unchanged(ex: Any, exc: type[BaseException], call: Callable[[], object]) -> Any:
    """``call`` raises exactly ``exc`` (not a subclass) and leaves tree and target unchanged;
    returns the exception."""
    before = snapshot(ex.tree, ex.target)
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc, f"expected exactly {exc.__name__}, got {info.type.__name__}"
    assert_unchanged(before, snapshot(ex.tree, ex.target))
    return info.value


def masked(value: Any) -> Any:
    """A structure with every handle-sized int masked to its low 48 bits (recursively)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | np.integer):
        v = int(value)
        return v & MASK48 if v >= 0 else v
    if isinstance(value, dict):
        return {masked(k): masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    if isinstance(value, np.ndarray):
        return [masked(v) for v in value.tolist()]
    return value


# --- invariants ---------------------------------------------------------------------------


def _expected_walk(tree: Any, post: bool) -> list[int]:
    out: list[int] = []
    for nb in hl(tree.handles(ot.Layer.NEIGHBOR)):
        if not post:
            out.append(nb)
        for pa in hl(tree.dependents(nb)):
            tcs = hl(tree.dependents(pa))
            if post:
                out.extend(tcs)
                out.append(pa)
            else:
                out.append(pa)
                out.extend(tcs)
        if post:
            out.append(nb)
    return out


def check_invariants(tree: Any, target: Any = None) -> None:
    """The invariants of docs/SPEC.md §2 (and DESIGN.md's orderings), via the public API."""
    handles = hl(tree.handles())
    pre = hl(tree.walk("pre"))
    post = hl(tree.walk("post"))
    assert len(set(handles)) == len(handles), "handles() has duplicates"
    assert sorted(pre) == sorted(handles), "walk('pre') is not a permutation of handles()"
    assert sorted(post) == sorted(handles), "walk('post') is not a permutation of handles()"
    assert pre == handles, "handles() must equal walk('pre')"
    assert pre == _expected_walk(tree, post=False), "walk('pre') does not follow the links"
    assert post == _expected_walk(tree, post=True), "walk('post') does not follow the links"
    assert len(tree) == len(handles)

    tree_ids = {h >> 48 for h in handles}
    assert len(tree_ids) <= 1, "handles of one tree carry one tree id"

    stats = tree.stats()
    offloaded_by_layer = [0, 0, 0]
    for layer in ot.Layer:
        by_layer = hl(tree.handles(layer))
        assert by_layer == [h for h in handles if tree.layer(h) == layer]
        assert tree.count(layer=layer) == len(by_layer)
    for h in handles:
        assert h in tree
        layer = tree.layer(h)
        assert layer == (h >> 46) & 3, "the layer bits of a handle name its layer"
        parent = tree.depends_on(h)
        rec = tree.state(h)
        assert rec.handle == h and rec.layer == layer
        off = tree.is_offloaded(h)
        assert rec.offloaded == off
        if rec.invalidated:
            assert off, "only offloaded objects can be invalidated"
        # invariant 1: dependency on a live object of the layer just below
        if layer == ot.Layer.NEIGHBOR:
            assert parent is None
        else:
            assert parent is not None and parent in tree, "dangling dependency"
            assert tree.layer(parent) == layer - 1, "dependency skips a layer"
            assert h in hl(tree.dependents(parent))
            # invariant 2: no offloaded orphan
            if off:
                assert tree.is_offloaded(parent), "offloaded object with non-offloaded parent"
        for d in hl(tree.dependents(h)):
            assert tree.depends_on(d) == h
        if layer == ot.Layer.TCP:
            assert len(tree.dependents(h)) == 0
        if off:
            offloaded_by_layer[layer] += 1
        # one object per key: each path and connection is what its key finds
        if layer == ot.Layer.PATH:
            assert tree.find_path(rec.source, rec.destination) == h, "path not found by key"
        elif layer == ot.Layer.TCP:
            path = tree.state(parent)
            found = tree.find_tcp(path.source, path.destination, rec.local_port, rec.remote_port)
            assert found == h, "connection not found by its 4-tuple"

    names = ("neighbor", "path", "tcp")
    assert tree.count(offloaded=True) == sum(offloaded_by_layer)
    assert tree.count(offloaded=False) == len(handles) - sum(offloaded_by_layer)
    for layer, name in zip(ot.Layer, names, strict=True):
        entry = stats["layers"][name]
        assert entry["live"] == tree.count(layer=layer)
        assert entry["offloaded"] == offloaded_by_layer[layer]
        assert tree.count(layer=layer, offloaded=True) == offloaded_by_layer[layer]
        # invariant 4: capacity respected
        if entry["capacity"] is not None:
            assert entry["offloaded"] <= entry["capacity"], f"{name} capacity exceeded"
    ev = stats["events"]
    assert ev["seen"] == ev["processed"] + ev["pending"]
    # Nothing the host posted is lost (sending-data-from-an-offload-target.md): every byte
    # was acknowledged, is held by the target, or came back with a terminate.
    b = stats["bytes"]
    assert (
        b["posted"] == b["acknowledged"] + b["send_queued"] + b["send_returned"] + b["send_aborted"]
    ), b
    # Every byte the peer sent is delivered once, sits in a receive request, is buffered at
    # the target, or came back with a terminate; and delivered bytes are read, unread or
    # discarded with their connection.
    assert b["delivered"] == b["read"] + b["unread"] + b["discarded"], b

    # reference counts (terminate-offload-initiated-by-the-host-stack.md): a neighbor or path
    # holds one reference per offloaded dependent; with release on, every offloaded one
    # holds at least one.
    for layer, name in ((ot.Layer.NEIGHBOR, "neighbor"), (ot.Layer.PATH, "path")):
        refs = {
            h: sum(1 for d in hl(tree.dependents(h)) if tree.is_offloaded(d))
            for h in hl(tree.handles(layer))
        }
        unreferenced = sum(1 for h, n in refs.items() if n == 0 and tree.is_offloaded(h))
        entry = stats["references"][name]
        assert entry["held"] == sum(refs.values()), f"{name} references held"
        assert entry["unreferenced"] == unreferenced, f"unreferenced {name}s"
        if tree.release_unreferenced:
            assert unreferenced == 0, f"an offloaded {name} with no offloaded dependent"

    if target is not None:
        tstats = target.stats()
        for layer, name in zip(ot.Layer, names, strict=True):
            assert tstats["offloaded"][name] == offloaded_by_layer[layer]
            assert tstats["capacity"][name] == stats["layers"][name]["capacity"]
        assert tstats["contexts_allocated"] - tstats["contexts_freed"] == sum(offloaded_by_layer), (
            "live target contexts must equal offloaded objects"
        )
        assert tstats["bytes_buffered"] == stats["bytes"]["buffered"]
        assert tstats["bytes_send_queued"] == stats["bytes"]["send_queued"]
        assert tstats["bytes_acknowledged"] == stats["bytes"]["acknowledged"]
        assert tstats["bytes_received"] + tstats["bytes_handed_over"] == (
            stats["bytes"]["delivered"]
            + tstats["bytes_placed"]
            + stats["bytes"]["buffered"]
            + tstats["bytes_non_offload"]
            + stats["bytes"]["returned"]
        ), "received bytes went missing"
        assert tstats["invalid"] == sum(1 for h in handles if tree.state(h).invalidated)
        # invariant 5: the target's internal tree mirrors the host's links exactly
        internal = target.internal_tree()
        expected = {h: tree.depends_on(h) for h in handles if tree.is_offloaded(h)}
        assert list(internal) == [h for h in handles if tree.is_offloaded(h)]
        assert dict(internal) == expected


# --- block lists --------------------------------------------------------------------------


def check_block_list_shape(tree: Any, blocks: Any, requested: list[int]) -> None:
    """The shape rules of docs/SPEC.md §3 / docs/DESIGN.md §7 for a built block list."""
    items = list(blocks)
    assert len(items) == len(blocks)
    if not requested:
        assert items == []
        return
    hs = [b.handle for b in items]
    assert len(set(hs)) == len(hs), "an object appears in two blocks"
    for h in requested:
        assert hs.count(h) == 1, "each requested object appears exactly once"
    root = items[0]
    assert root.depth == 0
    low = int(root.layer)
    assert all(int(b.layer) >= low for b in items), "the root is of the lowest layer"
    index = {b.handle: i for i, b in enumerate(items)}
    parents: dict[int, int | None] = {}
    for i, b in enumerate(items):
        assert b.index == i
        assert int(b.layer) == tree.layer(b.handle)
        assert b.depth == int(b.layer) - low
        assert b.referenced == tree.is_offloaded(b.handle)
        assert b.new == (not b.referenced)
        if b.next is not None:
            assert b.next.layer == b.layer, "next links never cross layers"
            assert b.next.index > i
        if b.dependent is not None:
            assert int(b.dependent.layer) == int(b.layer) + 1, "dependent link goes one layer up"
            assert tree.depends_on(b.dependent.handle) == b.handle
            assert b.dependent.index == i + 1, "pre-order: the first dependent follows"
        parents[b.handle] = tree.depends_on(b.handle) if b.depth > 0 else None
        if b.depth > 0:
            p = parents[b.handle]
            assert p in index and index[p] < i, "a block's parent precedes it"
            if b.referenced:
                assert items[index[p]].referenced, "an offloaded object's parent is offloaded"
    # children of each parent, chained by next links in order, starting at the dependent link
    children: dict[int | None, list[int]] = {}
    for b in items:
        children.setdefault(parents[b.handle], []).append(b.handle)
    for parent, kids in children.items():
        if parent is None:
            first = items[0]
        else:
            first = items[index[parent]].dependent
            assert first is not None and first.handle == kids[0]
        chain = []
        cur = first
        while cur is not None:
            chain.append(cur.handle)
            cur = cur.next
        assert chain == kids, "siblings are chained by next links in block order"
    for b in items:
        if not any(parents[c] == b.handle for c in hs):
            assert b.dependent is None
    # every block is requested or an ancestor of a requested object
    needed = set()
    for h in requested:
        cur: int | None = h
        while cur is not None and cur in index:
            needed.add(cur)
            cur = tree.depends_on(cur)
    assert needed == set(hs)
    # pre-order: a block, then its dependents, then its next block
    order: list[int] = []
    stack = [items[0]]
    while stack:
        b = stack.pop()
        order.append(b.handle)
        if b.next is not None:
            stack.append(b.next)
        if b.dependent is not None:
            stack.append(b.dependent)
    assert order == hs


def splitmix64(seed: int):
    """The target's RNG (docs/DESIGN.md §8), as an infinite generator of u64 values."""
    state = seed & (2**64 - 1)
    m = 2**64 - 1
    while True:
        state = (state + 0x9E3779B97F4A7C15) & m
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        yield z ^ (z >> 31)


def random_fault(x: int, fail_rate: float) -> ot.Status | None:
    if (x >> 11) * 2.0**-53 < fail_rate:
        return ot.Status.FAILURE if x & 1 == 0 else ot.Status.RESOURCES
    return None


def offloaded_connection(make_tree: Callable[..., Any], **tcp: Any) -> tuple[Any, int]:
    """A new tree (``make_tree()``) with one offloaded IPv4 connection, created with the
    TCP variables ``tcp``: (tree, connection)."""
    tree = make_tree()
    nb = tree.add_neighbor(mac="02:00:00:00:00:01")
    path = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tc = tree.add_tcp(path, local_port=1000, remote_port=80, **tcp)
    assert tree.initiate_offload([tc]).ok
    return tree, tc
