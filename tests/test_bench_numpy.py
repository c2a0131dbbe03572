"""The NumPy baseline computes offload-tree's results exactly, and the bench says when not.

Equality is checked against both backends at small N (10^3, 10^4 and a size that is not a
multiple of 1000), operation by operation, through the same column form the runner compares
(``offload_tree.bench.compare``). A baseline that is made to compute something else must be
caught by the runner, recorded as an error and turned into a non-zero exit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import require_backend
from offload_tree._fields import field_names
from offload_tree.bench import compare
from offload_tree.bench.adapters import adapter_class
from offload_tree.bench.numpy_baseline import (
    DELEGATED_DTYPE,
    TCP_DTYPE,
    NumpyAdapter,
    NumpyTree,
)
from offload_tree.bench.runner import BenchConfig, run_benchmark
from offload_tree.bench.workload import OPERATIONS, make_workload

SIZES = [1000, 10_000, 12_345]


def _columns(name: str, n: int, tree_id: int | None = None) -> dict[str, dict[str, Any]]:
    """Run the six operations of W(n) on adapter ``name``; each result as its columns."""
    adapter = adapter_class(name)()
    adapter.prepare(make_workload(n))
    if tree_id is not None:
        adapter.follow_tree_id(tree_id)
    adapter.reset()
    out = {}
    for op in OPERATIONS:
        result = adapter.operation(op)()
        adapter.check(op, result)
        columns = adapter.canonical(op, result)
        assert columns is not None
        out[op] = columns
    return out


@pytest.mark.parametrize("backend", ["native", "python"])
@pytest.mark.parametrize("n", SIZES)
def test_numpy_results_equal_offload_tree(backend: str, n: int) -> None:
    require_backend(backend)
    ref = _columns(backend, n)
    tree_id = compare.tree_id_of(ref["build"]["neighbors"])
    got = _columns("numpy", n, tree_id)
    for op in OPERATIONS:
        # Full handles, tree id included: the baseline encodes the compared tree's id.
        assert compare.differences(op, ref[op], got[op]) == [], op
    w = make_workload(n)
    # The comparison is not vacuous: every operation produced its whole result.
    assert len(got["walk"]["handles"]) == w.total_objects
    assert len(got["offload_all"]["next"]) == w.total_objects
    assert len(got["query_all"]["delegated.cwnd"]) == n
    assert set(got["query_all"]["delegated.cwnd"].tolist()) == {14600}
    assert len(got["terminate_1pct"]["handles"]) == w.expected_terminated


def test_python_fallback_equals_native_apart_from_tree_ids() -> None:
    require_backend("native")
    ref = _columns("native", 12_345)
    got = _columns("python", 12_345)
    for op in OPERATIONS:
        assert compare.differences(op, ref[op], got[op], ignore_tree_id=True) == [], op
    assert compare.tree_id_of(ref["walk"]["handles"]) != compare.tree_id_of(got["walk"]["handles"])
    # Without the mask the different tree ids are found.
    assert compare.differences("walk", ref["walk"], got["walk"])


def test_numpy_terminate_and_offload_layout_match_the_tree() -> None:
    """The columns the comparison rests on, checked against the public API directly."""
    tree = ot.OffloadStateTree(ot.SimulatedTarget(), backend="python")
    w = make_workload(3000)
    nbs = tree.add_neighbors(w.macs)
    paths = tree.add_paths(nbs[w.path_neighbor], w.path_sources, w.path_destinations)
    tcps = tree.add_tcps(paths[w.tcp_path], w.local_ports, w.remote_ports)
    npt = NumpyTree(int(nbs[0]) >> 48)
    n_nbs = npt.add_neighbors(w.macs)
    n_paths = npt.add_paths(n_nbs[w.path_neighbor], w.path_sources, w.path_destinations)
    n_tcps = npt.add_tcps(n_paths[w.tcp_path], w.local_ports, w.remote_ports)
    assert n_tcps.tolist() == tcps.tolist()
    offload = tree.initiate_offload(tcps)
    blocks = npt.initiate_offload(n_tcps)
    assert blocks.handles.tolist() == offload.blocks.handles.tolist()
    assert [b.depth for b in offload.blocks] == blocks.depths.tolist()
    nxt = [-1 if b.next is None else b.next.index for b in offload.blocks]
    dep = [-1 if b.dependent is None else b.dependent.index for b in offload.blocks]
    assert blocks.next.tolist() == nxt and blocks.dependent.tolist() == dep
    done = tree.terminate(nbs[:1])
    ours = npt.terminate_neighbors(n_nbs[:1])
    assert ours.handles.tolist() == done.terminated.tolist()
    tcp_rows = [h for h in done.terminated.tolist() if (h >> 46) & 3 == 2]
    assert [done.delegated(h)["ssthresh"] for h in tcp_rows] == ours.tcp_delegated[
        "ssthresh"
    ].tolist()


def test_dtype_holds_every_tcp_variable_in_136_bytes() -> None:
    assert TCP_DTYPE.itemsize == 136
    assert DELEGATED_DTYPE.itemsize == 88
    names = {
        name for group in ("constant", "cached", "delegated") for name in TCP_DTYPE[group].names
    }
    assert names == set(field_names(ot.Layer.TCP))
    assert len(names) == 46


def test_numpy_defaults_equal_the_tree_state() -> None:
    tree = ot.OffloadStateTree(ot.SimulatedTarget(), backend="python")
    nb = tree.add_neighbor(mac=1)
    path = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tcp = tree.add_tcp(path, local_port=5, remote_port=6)
    state = tree.state(tcp)
    npt = NumpyTree()
    n_path = npt.add_paths(npt.add_neighbors([1]), [0x0A000001], [0x0A000002])
    npt.add_tcps(n_path, np.array([5]), np.array([6]))
    row = npt.tcps[0]
    for group in ("constant", "cached", "delegated"):
        for name in TCP_DTYPE[group].names:
            assert int(row[group][name]) == int(getattr(state, name)), name


def _small_tree() -> tuple[NumpyTree, np.ndarray, np.ndarray, np.ndarray]:
    npt = NumpyTree(7)
    nbs = npt.add_neighbors(np.array([1, 2], dtype=np.uint64))
    paths = npt.add_paths(nbs[[0, 1]], np.array([1, 1], np.uint64), np.array([2, 3], np.uint64))
    tcps = npt.add_tcps(paths[[0, 0, 1]], np.array([10, 11, 10]), np.array([80, 80, 80]))
    return npt, nbs, paths, tcps


def test_numpy_validates_as_offload_tree_does() -> None:
    npt, nbs, paths, tcps = _small_tree()
    with pytest.raises(ot.DuplicateKeyError):
        npt.add_paths(nbs[:1], np.array([1], np.uint64), np.array([2], np.uint64))
    with pytest.raises(ot.DuplicateKeyError):
        npt.add_tcps(paths[:1], np.array([11]), np.array([80]))
    with pytest.raises(ot.DuplicateKeyError):  # a repeat within one batch
        npt.add_tcps(paths[[1, 1]], np.array([12, 12]), np.array([80, 80]))
    with pytest.raises(ot.ValidationError):
        npt.add_tcps(paths[:1], np.array([65536]), np.array([80]))
    with pytest.raises(ot.ValidationError):
        npt.add_tcps(paths[:1], np.array([-1]), np.array([80]))
    with pytest.raises(ot.ValidationError):
        npt.add_neighbors(np.array([2**48], dtype=np.uint64))
    with pytest.raises(ot.LayerError):
        npt.add_tcps(nbs[:1], np.array([1]), np.array([1]))
    with pytest.raises(ot.InvalidHandleError):  # slot out of range
        npt.add_tcps(paths[:1] + np.uint64(5), np.array([1]), np.array([1]))
    with pytest.raises(ot.InvalidHandleError):  # another tree's handle
        npt.add_tcps(NumpyTree(8).add_paths(NumpyTree(8).add_neighbors([1]), [1], [2]),
                     np.array([1]), np.array([1]))  # fmt: skip
    assert len(npt.tcps) == 3 and len(npt.paths) == 2  # nothing was added
    npt.initiate_offload(tcps[:2])
    with pytest.raises(ot.StateError):  # offload of something already offloaded
        npt.initiate_offload(tcps[1:])
    with pytest.raises(ot.StateError):  # query of a connection not offloaded
        npt.query(tcps)
    with pytest.raises(ot.ValidationError):
        npt.update_path_mtu(paths, 67)


def test_numpy_offload_references_offloaded_parents() -> None:
    """A second offload under an offloaded path: the path is the (referenced) root."""
    require_backend("native")
    tree = ot.OffloadStateTree(ot.SimulatedTarget(), backend="native")
    nbs = tree.add_neighbors(np.array([1, 2], dtype=np.uint64))
    paths = tree.add_paths(nbs[[0, 1]], np.array([1, 1], np.uint64), np.array([2, 3], np.uint64))
    tcps = tree.add_tcps(paths[[0, 0, 1]], np.array([10, 11, 10]), np.array([80, 80, 80]))
    npt = NumpyTree(int(nbs[0]) >> 48)
    n_nbs = npt.add_neighbors(np.array([1, 2], dtype=np.uint64))
    n_paths = npt.add_paths(n_nbs[[0, 1]], np.array([1, 1], np.uint64), np.array([2, 3], np.uint64))
    n_tcps = npt.add_tcps(n_paths[[0, 0, 1]], np.array([10, 11, 10]), np.array([80, 80, 80]))
    for first, second in (([0], [1]), ([2], [])):
        tree.initiate_offload(tcps[first])
        npt.initiate_offload(n_tcps[first])
        if not second:
            continue
        ref = compare.canonical_offload_tree("offload_all", tree.initiate_offload(tcps[second]))
        got = NumpyAdapter().canonical("offload_all", npt.initiate_offload(n_tcps[second]))
        assert got is not None
        assert compare.differences("offload_all", ref, got) == []
        assert got["referenced"].tolist() == [True, False]  # path (root), then the connection


# --------------------------------------------------------------------------------------------
# the bench catches a baseline that computes something else


def _swap_first_two(handles: np.ndarray) -> np.ndarray:
    out = handles.copy()
    out[[0, 1]] = out[[1, 0]]
    return out


@pytest.mark.parametrize("op", ["walk", "terminate", "query"])
def test_runner_catches_a_wrong_numpy_result(op: str, monkeypatch) -> None:
    require_backend("native")
    if op == "walk":
        real_walk = NumpyTree.walk
        monkeypatch.setattr(NumpyTree, "walk", lambda self: _swap_first_two(real_walk(self)))
    elif op == "terminate":
        real_term = NumpyTree.terminate_neighbors

        def wrong_order(self: NumpyTree, handles: np.ndarray) -> Any:
            r = real_term(self, handles)
            return type(r)(
                _swap_first_two(r.handles), r.statuses, r.tcp_delegated,
                r.neighbor_nic_reachability_delta,
            )  # fmt: skip

        monkeypatch.setattr(NumpyTree, "terminate_neighbors", wrong_order)
    else:
        real_query = NumpyTree.query

        def wrong_value(self: NumpyTree, handles: np.ndarray) -> Any:
            r = real_query(self, handles)
            r.delegated["rcv_wnd"][-1] += 1  # one value of one connection
            return r

        monkeypatch.setattr(NumpyTree, "query", wrong_value)
    res = run_benchmark(BenchConfig(sizes=[2000], impls=["native", "numpy"], repeats=1))
    assert [e["impl"] for e in res.errors] == ["numpy"]
    assert "results differ from native's" in res.errors[0]["error"]
    assert {m.impl for m in res.measurements} == {"native"}  # its numbers are dropped
    (cmp,) = res.comparisons
    assert cmp["impl"] == "numpy" and cmp["equal"] is False
    assert cmp["differences"][0].startswith({"walk": "walk.handles", "terminate":
        "terminate_1pct.handles", "query": "query_all.delegated.rcv_wnd"}[op])  # fmt: skip


def test_bench_exits_nonzero_and_writes_the_error_when_results_differ(
    monkeypatch, tmp_path: Path, capsys
) -> None:
    require_backend("native")
    from offload_tree._cli import main

    real_walk = NumpyTree.walk
    monkeypatch.setattr(NumpyTree, "walk", lambda self: _swap_first_two(real_walk(self)))
    code = main(
        ["bench", "--impls", "native,numpy", "--sizes", "1000", "--repeats", "1",
         "--no-memory", "--no-progress", "--no-plot", "--out", str(tmp_path)]
    )  # fmt: skip
    assert code == 1
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["errors"][0]["impl"] == "numpy"
    assert "walk.handles" in doc["errors"][0]["error"]
    captured = capsys.readouterr()
    assert "results differ" in captured.err
    assert "results of numpy vs native (every operation, untimed): DIFFERENT at N = 10^3" in (
        captured.out
    )


def test_runner_records_equal_comparisons_and_load(tmp_path: Path) -> None:
    require_backend("native")
    res = run_benchmark(BenchConfig(sizes=[1000], impls=["native", "python", "numpy"], repeats=3))
    assert res.errors == []
    assert {(c["impl"], c["equal"], c["tree_ids_equal"]) for c in res.comparisons} == {
        ("python", True, False), ("numpy", True, True),
    }  # fmt: skip
    # Alternation: each repeat runs all three, starting with a different one.
    orders = [r["order"] for r in res.load]
    assert [o[0] for o in orders] == ["native", "python", "numpy"]
    assert all(sorted(o) == ["native", "numpy", "python"] for o in orders)
    doc = res.to_json()
    assert doc["load"]["cpu_count"] >= 1
    assert len(doc["load"]["per_repeat"]) == 3
    row = doc["results"][0]
    assert len(row["load_before"]) == len(row["times_ns"]) == 3
    assert row["min_ms"] <= row["median_ms"] <= row["max_ms"]
