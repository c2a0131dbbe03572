"""Benchmarks of offload-tree against the baselines a user would otherwise pick.

The workload W(N) (:mod:`.workload`), one adapter per implementation with the same six
operations (:mod:`.ot_adapter` for offload-tree's two backends, :mod:`.numpy_baseline` for the
vectorised NumPy implementation, :mod:`.baselines` for rustworkx, networkx and plain dicts),
the timing loop (:mod:`.runner`), the result comparison against the native backend
(:mod:`.compare`), peak-memory probes (:mod:`.memory`), and the table / JSON / plot / README
table output (:mod:`.report`). The command line is
``offload-tree bench`` (:mod:`offload_tree._cli`); the full matrix is ``benches/run.py``.
"""

from __future__ import annotations

from offload_tree.bench.adapters import ADAPTERS, Adapter, adapter_class
from offload_tree.bench.runner import BenchConfig, BenchResult, Measurement, run_benchmark
from offload_tree.bench.workload import OPERATIONS, Workload, make_workload

__all__ = [
    "ADAPTERS",
    "OPERATIONS",
    "Adapter",
    "BenchConfig",
    "BenchResult",
    "Measurement",
    "Workload",
    "adapter_class",
    "make_workload",
    "run_benchmark",
]
