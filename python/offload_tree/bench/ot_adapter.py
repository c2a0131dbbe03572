"""Adapters for offload-tree itself: the native (Rust) backend and the pure-Python fallback.

Both use only the public batch API of docs/SPEC.md §7 with NumPy arrays, exactly as a user who
wants speed would: ``add_neighbors`` / ``add_paths`` / ``add_tcps`` with arrays, ``walk()``,
``initiate_offload(all connection handles)``, ``query(all connection handles)``,
``update(all path handles, path_mtu=...)`` and ``terminate(every 100th neighbor, cascade=True)``.
There is no per-object Python loop in any timed operation. The results returned by query and
terminate are the library's lazy result objects: their per-object dicts are built only when a
caller asks for them, which the benchmark does not (nor do the baselines build dicts).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from offload_tree.bench.adapters import Adapter
from offload_tree.bench.workload import Workload


class OffloadTreeAdapter(Adapter):
    """Common code of the two offload-tree backends; :attr:`backend` selects one."""

    backend: ClassVar[str]
    engine_module: ClassVar[str]
    comparable: ClassVar[bool] = True

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this backend cannot run: the package or its engine module does not import."""
        try:
            ot = importlib.import_module("offload_tree")
        except Exception as exc:  # any import failure disables the adapter, with its reason
            return f"offload_tree does not import: {exc!r}"
        if not hasattr(ot, "OffloadStateTree"):
            return "offload_tree has no OffloadStateTree (incomplete installation?)"
        try:
            importlib.import_module(cls.engine_module)
        except Exception as exc:
            return cls._engine_missing_message(exc)
        return None

    @classmethod
    def _engine_missing_message(cls, exc: BaseException) -> str:
        """The message shown when the engine module fails to import."""
        return f"{cls.engine_module} does not import: {exc!r}"

    def __init__(self) -> None:
        super().__init__()
        self._ot: ModuleType = importlib.import_module("offload_tree")
        self.tree: Any = None
        self.neighbors: np.ndarray | None = None
        self.paths: np.ndarray | None = None
        self.tcps: np.ndarray | None = None

    def prepare(self, workload: Workload) -> None:
        """Keep the shared NumPy arrays as they are: they are this API's native input."""
        super().prepare(workload)

    def reset(self) -> None:
        """Drop the tree and its handle arrays."""
        self.tree = None
        self.neighbors = self.paths = self.tcps = None

    def _new_tree(self) -> Any:
        """A tree on a default (unlimited) target, on this adapter's backend."""
        ot = self._ot
        return ot.OffloadStateTree(ot.SimulatedTarget(), backend=self.backend, threads=self.threads)

    def build(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Three batch calls; the handle arrays of one layer index the next one's parents.
        Returns the three handle arrays (neighbors, paths, connections)."""
        w = self.w
        tree = self._new_tree()
        neighbors = tree.add_neighbors(w.macs)
        paths = tree.add_paths(neighbors[w.path_neighbor], w.path_sources, w.path_destinations)
        tcps: np.ndarray = tree.add_tcps(paths[w.tcp_path], w.local_ports, w.remote_ports)
        self.tree, self.neighbors, self.paths, self.tcps = tree, neighbors, paths, tcps
        return neighbors, paths, tcps

    def walk(self) -> np.ndarray:
        """``tree.walk()``: a uint64 array of every handle in block-list pre-order."""
        handles: np.ndarray = self.tree.walk()
        return handles

    def offload_all(self) -> Any:
        """``initiate_offload`` of every connection: one block list of N + P + K blocks."""
        return self.tree.initiate_offload(self.tcps)

    def query_all(self) -> Any:
        """``query`` of every connection (a QueryResult over the target's live values)."""
        return self.tree.query(self.tcps)

    def update_mtu(self) -> Any:
        """``update(paths, path_mtu=...)``: a scalar broadcast to every path; an UpdateResult."""
        return self.tree.update(self.paths, path_mtu=self.w.new_path_mtu)

    def terminate_1pct(self) -> Any:
        """``terminate(every 100th neighbor, cascade=True)``; returns the TerminateResult."""
        assert self.neighbors is not None
        return self.tree.terminate(self.neighbors[self.w.terminate_neighbors], cascade=True)

    def canonical(self, op: str, result: Any) -> dict[str, np.ndarray]:
        """The result's columns (:func:`offload_tree.bench.compare.canonical_offload_tree`)."""
        from offload_tree.bench.compare import canonical_offload_tree

        return canonical_offload_tree(op, result)

    def check(self, op: str, result: Any) -> None:
        """Lengths as in the base class, plus: no block failed, every update succeeded."""
        if op == "offload_all":
            failed = len(result.failed)
            if failed:
                raise RuntimeError(f"{self.name}: {failed} blocks failed to offload")
        if op == "update_mtu" and int(np.count_nonzero(result.statuses)):
            raise RuntimeError(f"{self.name}: some path updates did not return SUCCESS")
        super().check(op, result)


class NativeAdapter(OffloadTreeAdapter):
    """offload-tree on its Rust engine (``offload_tree._native``)."""

    name = "native"
    label = "offload-tree native"
    backend = "native"
    engine_module = "offload_tree._native"
    max_n = 10**7

    @classmethod
    def _engine_missing_message(cls, exc: BaseException) -> str:
        """Tell the user how to get the native module, which a source checkout lacks."""
        return (
            f"the native module offload_tree._native is not available ({exc.__class__.__name__}:"
            f" {exc}); reinstall offload-tree (pip install --force-reinstall offload-tree), or "
            "in a source tree build it with `pip install .` or `maturin develop --release`"
        )


class PythonAdapter(OffloadTreeAdapter):
    """offload-tree on its pure-Python fallback engine (``offload_tree._fallback``)."""

    name = "python"
    label = "offload-tree python"
    backend = "python"
    engine_module = "offload_tree._fallback"
    max_n = 10**6
