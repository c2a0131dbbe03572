"""The ``offload-tree`` command: demo, bench, flags; and the benchmark adapters' fairness.

Commands run as ``sys.executable -m offload_tree`` in a subprocess, as a user would run them.
The adapter tests check that every implementation does the same work on W(N): the same walk,
the same objects offloaded and terminated, so a benchmark ratio compares like with like.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import require_backend
from offload_tree._cli import parse_size, parse_sizes
from offload_tree.bench import report
from offload_tree.bench.adapters import ADAPTERS, adapter_class
from offload_tree.bench.progress import ProgressBar
from offload_tree.bench.runner import BenchConfig, BenchResult, Measurement, run_benchmark
from offload_tree.bench.workload import OPERATIONS, make_workload

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_PARENT = Path(ot.__file__).resolve().parents[1]
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``python -m offload_tree ARGS`` with the offload_tree this test process imported."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [sys.executable, "-m", "offload_tree", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


# --------------------------------------------------------------------------------------------
# demo

DEMO_ORDER = ["Neighbor1", "Path1", "TCP1", "TCP2", "Path2", "TCP3"]
DEMO_LAYER = {"Neighbor1": ("NEIGHBOR", 0), "Path1": ("PATH", 1), "Path2": ("PATH", 1),
              "TCP1": ("TCP", 2), "TCP2": ("TCP", 2), "TCP3": ("TCP", 2)}  # fmt: skip


def _demo_sections(stdout: str) -> tuple[list[str], list[str]]:
    """The block-list lines and the status lines of the demo output."""
    lines = stdout.splitlines()
    blocks = [ln for ln in lines if ln.strip().split(" ")[0] in ("NEIGHBOR", "PATH", "TCP")]
    assert len(blocks) == 12, stdout  # six blocks printed twice: tree, then statuses
    return blocks[:6], blocks[6:]


@pytest.mark.parametrize("backend", ["python", "native"])
def test_demo_prints_block_list_and_statuses(backend: str) -> None:
    require_backend(backend)
    proc = run_cli("demo", "--backend", backend)
    assert proc.returncode == 0, proc.stderr
    assert f"backend: {backend}" in proc.stdout
    tree_lines, status_lines = _demo_sections(proc.stdout)
    for section in (tree_lines, status_lines):
        names = [ln.split()[1] for ln in section]
        assert names == DEMO_ORDER  # block-list (pre-)order
        for line in section:
            layer, name = line.split()[:2]
            want_layer, depth = DEMO_LAYER[name]
            assert layer == want_layer
            assert line.startswith("  " * depth + layer)  # indented by depth
    assert "mac 00:15:5d:01:02:03" in tree_lines[0]
    assert "10.0.0.1 -> 10.0.0.9" in tree_lines[1]
    assert ":49152 -> " in tree_lines[2]
    for line in status_lines:
        assert line.split()[2] == "SUCCESS", line
    assert "6 blocks" in proc.stdout
    assert "Offloaded now: 1 neighbor(s), 2 path(s), 3 TCP connection(s)." in proc.stdout
    assert "dependents first: TCP1, TCP2, Path1, TCP3, Path2, Neighbor1" in proc.stdout


def test_demo_partial_reproduces_the_ndis_worked_example() -> None:
    proc = run_cli("demo", "--backend", "python", "--partial")
    assert proc.returncode == 0, proc.stderr
    _, status_lines = _demo_sections(proc.stdout)
    statuses = {ln.split()[1]: ln.split()[2] for ln in status_lines}
    assert statuses == {
        "Neighbor1": "PARTIAL_SUCCESS",
        "Path1": "PARTIAL_SUCCESS",
        "TCP1": "SUCCESS",
        "TCP2": "RESOURCES",
        "Path2": "FAILURE",
        "TCP3": "FAILURE",
    }
    assert "Offloaded now: 1 neighbor(s), 1 path(s), 1 TCP connection(s)." in proc.stdout
    assert "dependents first: TCP1, Path1, Neighbor1" in proc.stdout


# --------------------------------------------------------------------------------------------
# bench


def test_bench_quick_python_writes_json_with_all_operations(tmp_path: Path) -> None:
    out = tmp_path / "res"
    proc = run_cli(
        "bench", "--quick", "--no-plot", "--impls", "python", "--sizes", "1000",
        "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["config"]["impls"] == ["python"]
    assert doc["config"]["sizes"] == [1000]
    rows = {(r["impl"], r["n"], r["op"]): r for r in doc["results"]}
    assert set(rows) == {("python", 1000, op) for op in OPERATIONS}
    for row in rows.values():
        assert row["repeats"] == 3  # --quick
        assert len(row["times_ns"]) == 3
        assert all(t > 0 for t in row["times_ns"])
        assert row["min_ms"] <= row["median_ms"] <= row["max_ms"]
    assert doc["workloads"]["1000"] == {
        "connections": 1000, "paths": 10, "neighbors": 1, "terminated_neighbors": 1,
    }  # fmt: skip
    assert doc["errors"] == []
    assert not (out / "plot.png").exists()  # --no-plot
    # The table: a header with the implementation, one row per operation.
    assert "python ms" in proc.stdout
    for op in OPERATIONS:
        assert any(line.split()[:2] == ["10^3", op] for line in proc.stdout.splitlines()), op


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib not installed")
def test_bench_writes_plot_and_compares_baselines(tmp_path: Path) -> None:
    proc = run_cli(
        "bench", "--impls", "python,dicts", "--sizes", "1000,2k", "--repeats", "1",
        "--no-memory", "--out", str(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    png = (tmp_path / "plot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    doc = json.loads((tmp_path / "results.json").read_text())
    assert {(r["impl"], r["n"]) for r in doc["results"]} == {
        (i, n) for i in ("python", "dicts") for n in (1000, 2000)
    }
    assert "dicts ms" in proc.stdout and "2000" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "--sizes", "abc"], "invalid size 'abc'"),
        (["bench", "--sizes", "0"], "positive integer"),
        (["bench", "--impls", "bogus"], "unknown implementation(s) bogus"),
        (["bench", "--repeats", "0"], "must be at least 1"),
        (["bench", "--quick", "--full"], "exclude each other"),
        (["bench", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["demo", "--backend", "java"], "invalid choice: 'java'"),
        ([], "choose a command"),
    ],
)
def test_bad_flags_exit_nonzero_with_a_message(args: list[str], message: str) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert message in proc.stderr
    assert "usage: offload-tree" in proc.stderr


def test_bench_help_lists_the_flags() -> None:
    proc = run_cli("bench", "--help")
    assert proc.returncode == 0
    for flag in ("--sizes", "--impls", "--repeats", "--out", "--no-plot", "--quick", "--full"):
        assert flag in proc.stdout


def _readme_table(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "benches" / "readme_table.py"), *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(PACKAGE_PARENT)},
    )  # fmt: skip


def test_readme_table_matches_the_committed_results_json() -> None:
    proc = _readme_table("--check")
    assert proc.returncode == 0, proc.stderr
    readme = (ROOT / "README.md").read_text()
    doc = json.loads((ROOT / "benches" / "results" / "results.json").read_text())
    # The table really comes from that file: its native build median is in the README.
    n = report.readme_size(BenchResult.from_json(doc))
    row = next(r for r in doc["results"] if (r["impl"], r["n"], r["op"]) == ("native", n, "build"))
    assert f"| build | {report.format_ms(row['median_ms'])} (" in readme


def test_readme_table_check_fails_on_a_stale_table_and_rewrite_fixes_it(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(report.README_START)
    stale = readme[:start] + readme[start:].replace("| walk | ", "| walk | 9", 1)
    path = tmp_path / "README.md"
    path.write_text(stale)
    proc = _readme_table("--check", "--readme", str(path))
    assert proc.returncode == 1
    assert "does not match" in proc.stderr
    assert _readme_table("--readme", str(path)).returncode == 0
    assert path.read_text() == readme
    path.write_text("no markers here\n")
    assert _readme_table("--check", "--readme", str(path)).returncode == 2


def test_readme_table_renders_numpy_column_and_paired_ratios() -> None:
    res = BenchResult(config=BenchConfig(sizes=[10**6], impls=["native", "numpy"]))
    for op in OPERATIONS:
        res.measurements.append(Measurement("native", 10**6, op, [1_000_000, 2_000_000, 4_000_000]))
        res.measurements.append(Measurement("numpy", 10**6, op, [3_000_000, 4_000_000, 4_000_000]))
    table = report.render_readme_table(res)
    lines = table.splitlines()
    assert "| operation | native | numpy | native vs numpy |" in lines
    assert (
        "| walk | 2.00 (1.00\u20134.00) | 4.00 (3.00\u20134.00) | 2.0x (1.0x\u20133.0x) |" in lines
    )


def test_benches_run_py_forwards_to_bench_full() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benches" / "run.py"), "--help"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(PACKAGE_PARENT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "--full" in proc.stdout


# --------------------------------------------------------------------------------------------
# units: parsing, table, targets, progress


@pytest.mark.parametrize(
    ("text", "value"),
    [("1000", 1000), ("1e4", 10**4), ("10^5", 10**5), ("10**6", 10**6), ("100k", 10**5),
     ("1M", 10**6), ("1_000", 1000), ("2.5k", 2500)],
)  # fmt: skip
def test_parse_size_forms(text: str, value: int) -> None:
    assert parse_size(text) == value


def test_parse_sizes_sorts_and_dedups() -> None:
    assert parse_sizes("1e5,10000,10^4") == [10**4, 10**5]


def _fake_result(times_ms: dict[str, float], n: int = 10**6) -> BenchResult:
    """A BenchResult whose every op of every impl in ``times_ms`` took that many ms."""
    impls = list(times_ms)
    res = BenchResult(config=BenchConfig(sizes=[n], impls=impls))
    for impl, ms in times_ms.items():
        for op in OPERATIONS:
            res.measurements.append(Measurement(impl, n, op, [int(ms * 1e6)] * 3))
    return res


def test_table_has_ratio_columns_against_native() -> None:
    res = _fake_result({"native": 0.2, "rustworkx": 3.0, "networkx": 50.0})
    table = report.render_table(res)
    header = table.splitlines()[0]
    assert "native ms" in header and "native vs rustworkx" in header
    assert "native vs networkx" in header
    build = next(ln for ln in table.splitlines() if ln.split()[1:2] == ["build"])
    # Every figure with its spread; equal repeats give a collapsed ratio range.
    assert build.split() == [
        "10^6", "build", "0.200", "[0.200-0.200]", "3.00", "[3.00-3.00]", "50.0",
        "[50.0-50.0]", "15x", "250x",
    ]  # fmt: skip
    # Every row line has the same width up to trailing spaces: the columns align.
    widths = {len(ln) for ln in table.splitlines()[2:] if ln and not ln.startswith("(")}
    assert len(widths) == 1


def test_table_shows_spread_of_times_and_of_paired_ratios() -> None:
    res = BenchResult(config=BenchConfig(sizes=[1000], impls=["native", "numpy"]))
    for op in OPERATIONS:
        res.measurements.append(Measurement("native", 1000, op, [1_000_000, 2_000_000, 4_000_000]))
        res.measurements.append(Measurement("numpy", 1000, op, [3_000_000, 4_000_000, 4_000_000]))
    walk = next(ln for ln in report.render_table(res).splitlines() if " walk " in ln)
    # native 2 ms [1-4]; numpy 4 ms [3-4]; per-repeat ratios 3, 2, 1 -> 2.0x [1.0x-3.0x].
    assert walk.split() == [
        "10^3",
        "walk",
        "2.00",
        "[1.00-4.00]",
        "4.00",
        "[3.00-4.00]",
        "2.0x",
        "[1.0x-3.0x]",
    ]


def test_targets_report_met_and_missed() -> None:
    res = _fake_result({"native": 1.0, "rustworkx": 20.0, "networkx": 20.0})
    targets = {t["target"]: t for t in report.evaluate_targets(res)}
    assert targets["native walk at N=10^6"]["met"] is True  # 1 ms <= 3 ms
    assert targets["native terminate_1pct at N=10^6"]["met"] is False  # 1 ms > 0.5 ms
    assert targets["native vs rustworkx on every operation at N=10^6"]["met"] is True
    assert targets["native vs networkx on every operation at N=10^6"]["met"] is False
    assert targets["native vs python on every operation at N=10^6"]["met"] is None
    assert "MISSED" in report.render_targets(list(targets.values()))


def test_progress_bar_renders_and_notes(tmp_path: Path) -> None:
    path = tmp_path / "err.txt"
    with path.open("w") as stream:
        bar = ProgressBar(10, stream=stream, width=10, interactive=False)
        bar.advance(5, label="python N=10^4 walk")
        assert bar.render().startswith("[#####.....]  5/10  50%  python N=10^4 walk")
        bar.note("a note")
        bar.close()
    assert path.read_text() == "a note\n"  # not a terminal: only the notes


# --------------------------------------------------------------------------------------------
# fairness: every implementation does the same work on W(N)


def _available(name: str) -> bool:
    return adapter_class(name).unavailable_reason() is None


def _global_id(handles: np.ndarray, k: int, p: int) -> list[int]:
    """offload-tree handles -> the baselines' node ids (neighbor j: j, path j: K+j, ...).

    A fresh tree gives slots 0, 1, 2, ... in creation order (docs/DESIGN.md §2).
    """
    h = np.asarray(handles, dtype=np.uint64)
    layer = ((h >> np.uint64(46)) & np.uint64(3)).astype(np.int64)
    slot = (h & np.uint64(0xFFFFFFFF)).astype(np.int64)
    offset = np.array([0, k, k + p])[layer]
    return (slot + offset).tolist()


def _run_ops(name: str, n: int) -> dict[str, Any]:
    adapter = adapter_class(name)()
    adapter.prepare(make_workload(n))
    adapter.reset()
    out = {}
    for op in OPERATIONS:
        result = adapter.operation(op)()
        adapter.check(op, result)
        out[op] = result
    return out


@pytest.mark.parametrize("name", [n for n in ADAPTERS if n not in ("python",)])
def test_adapters_do_the_same_work_as_the_python_backend(name: str) -> None:
    if name == "native":
        require_backend("native")
    elif not _available(name):
        pytest.skip(adapter_class(name).unavailable_reason() or "")
    n = 3000  # K = 3, P = 30: more than one neighbor, terminate picks neighbor 0
    w = make_workload(n)
    ref = _run_ops("python", n)
    got = _run_ops(name, n)
    ref_walk = _global_id(ref["walk"], w.n_neighbors, w.n_paths)
    ref_term = _global_id(ref["terminate_1pct"].terminated, w.n_neighbors, w.n_paths)
    if name == "native":
        got_walk = _global_id(got["walk"], w.n_neighbors, w.n_paths)
        got_term = _global_id(got["terminate_1pct"].terminated, w.n_neighbors, w.n_paths)
    elif name == "numpy":
        got_walk = _global_id(got["walk"], w.n_neighbors, w.n_paths)
        got_term = _global_id(got["terminate_1pct"].handles, w.n_neighbors, w.n_paths)
    else:
        got_walk, got_term = list(got["walk"]), list(got["terminate_1pct"])
    if name in ("rustworkx", "igraph"):
        # Their depth-first searches visit siblings newest first: the same pre-order up to
        # sibling order.
        assert sorted(got_walk) == sorted(ref_walk)
        assert got_walk[0] == ref_walk[0] == 0
        assert sorted(got_term) == sorted(ref_term)
    else:
        assert got_walk == ref_walk
        assert got_term == ref_term  # same objects, same dependents-first order
    assert len(got["offload_all"]) == w.total_objects
    assert len(got["query_all"]) == n


def test_run_benchmark_records_an_adapter_failure_and_goes_on(monkeypatch) -> None:
    from offload_tree.bench.baselines import DictAdapter

    def broken(self: DictAdapter) -> list[int]:
        return []  # "finished" without offloading anything: check() must catch it

    monkeypatch.setattr(DictAdapter, "offload_all", broken)
    res = run_benchmark(BenchConfig(sizes=[1000], impls=["dicts", "python"], repeats=1))
    assert [e["impl"] for e in res.errors] == ["dicts"]
    assert "did not do the whole job" in res.errors[0]["error"]
    assert {m.impl for m in res.measurements} == {"python"}


# --------------------------------------------------------------------------------------------
# without the [bench] extra


def test_missing_baselines_are_skipped_with_install_hint(monkeypatch, tmp_path, capsys) -> None:
    from offload_tree._cli import main
    from offload_tree.bench.baselines import NetworkxAdapter, RustworkxAdapter

    monkeypatch.setattr(NetworkxAdapter, "requires", ("no_such_module_for_test",))
    monkeypatch.setattr(RustworkxAdapter, "requires", ("no_such_module_for_test",))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code = main(
        ["bench", "--impls", "all", "--sizes", "1000", "--repeats", "1", "--no-memory",
         "--no-progress", "--out", str(tmp_path)]
    )  # fmt: skip
    captured = capsys.readouterr()
    doc = json.loads((tmp_path / "results.json").read_text())
    ran = {r["impl"] for r in doc["results"]}
    assert "rustworkx" not in ran and "networkx" not in ran
    assert {"python", "dicts"} <= ran
    assert "the bench extra: pip install 'offload-tree[bench]'" in captured.err
    assert "matplotlib is not installed, so no plot was written" in captured.err
    assert not (tmp_path / "plot.png").exists()
    assert code == 0, doc["errors"]


def test_memory_probe_reports_peak_rss_of_a_fresh_process() -> None:
    from offload_tree.bench.memory import probe

    rec = probe("dicts", 20_000)
    assert rec["impl"] == "dicts" and rec["n"] == 20_000
    assert rec["peak_rss_bytes"] >= rec["rss_after_bytes"] > rec["rss_before_bytes"] > 0
    # 20k connections as dicts in a graph take far more than 50 bytes each, and far less
    # than 10 kB: the figure is per connection, not per process.
    assert 50 < rec["tree_bytes_per_connection"] < 10_000
