"""The adapter interface every benchmarked implementation follows, and the registry of them.

An adapter owns at most one tree at a time. The runner calls :meth:`Adapter.prepare` once per
workload (untimed: converting the shared NumPy input into the form the implementation takes
best, e.g. Python lists for the dict baseline), then per repeat :meth:`Adapter.reset` (untimed)
and the six operations, each timed on its own. Each operation returns its result so that
:meth:`Adapter.check` can verify, untimed, that the whole job was done.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from offload_tree.bench.workload import Workload


class Unavailable(Exception):
    """Raised by :meth:`Adapter.require` when the implementation cannot run here."""


class Adapter(ABC):
    """One implementation of the six W(N) operations.

    Subclasses set :attr:`name` (the ``--impls`` key), :attr:`label` (for tables and plots),
    :attr:`max_n` (largest N it is run at by default: a cap that keeps the full matrix inside
    the 24 GiB / 2-core machine budget) and :attr:`requires` (modules it needs, with the pip
    hint shown when one is missing).
    """

    name: ClassVar[str]
    label: ClassVar[str]
    max_n: ClassVar[int] = 10**6
    requires: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = "the bench extra: pip install 'offload-tree[bench]'"
    comparable: ClassVar[bool] = False
    """True when :meth:`canonical` turns results into columns comparable with offload-tree's
    (the runner then checks them against the native backend's, untimed)."""

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this implementation cannot run here, or None when it can."""
        missing = []
        for module in cls.requires:
            try:
                importlib.import_module(module)
            except ImportError:
                missing.append(module)
        if missing:
            return f"{', '.join(missing)} not installed ({cls.install_hint})"
        return None

    def __init__(self) -> None:
        self.workload: Workload | None = None
        #: Threads an implementation may use (offload-tree's ``threads``; others ignore it).
        self.threads = 1

    def prepare(self, workload: Workload) -> None:
        """Take the workload; untimed. Subclasses convert inputs here and call super()."""
        self.workload = workload

    @property
    def w(self) -> Workload:
        """The prepared workload (raises if :meth:`prepare` was not called)."""
        if self.workload is None:
            raise RuntimeError(f"{self.name}: prepare() was not called")
        return self.workload

    @abstractmethod
    def reset(self) -> None:
        """Drop the current tree (untimed), so the next build starts from nothing."""

    @abstractmethod
    def build(self) -> Any:
        """Create the K neighbors, P paths and N connections of W(N)."""

    @abstractmethod
    def walk(self) -> Any:
        """Visit every object in block-list pre-order; return the visited ids."""

    @abstractmethod
    def offload_all(self) -> Any:
        """Offload all N connections, with the paths and neighbors they depend on."""

    @abstractmethod
    def query_all(self) -> Any:
        """Read the delegated state of all N connections from the target side."""

    @abstractmethod
    def update_mtu(self) -> Any:
        """Set path_mtu of all P paths to the workload's new MTU, host and target copies."""

    @abstractmethod
    def terminate_1pct(self) -> Any:
        """Cascade-terminate every 100th neighbor; return what was uploaded."""

    def operation(self, op: str) -> Callable[[], Any]:
        """The bound method for operation name ``op``."""
        method: Callable[[], Any] = getattr(self, op)
        return method

    def canonical(self, op: str, result: Any) -> dict[str, np.ndarray] | None:
        """``result`` of ``op`` as the columns of :mod:`offload_tree.bench.compare`; untimed.

        None (the default) when this implementation's results are not comparable.
        """
        return None

    def follow_tree_id(self, tree_id: int) -> None:
        """Use ``tree_id`` for the handles of the next tree, where the implementation chooses
        its own ids (the NumPy baseline); a no-op for the others. Untimed."""
        del tree_id  # offload-tree and the graph baselines take their ids as they come

    def check(self, op: str, result: Any) -> None:
        """Verify ``result`` of ``op`` has the size a correct run gives; untimed.

        The default checks lengths, which every adapter's results support; it raises
        AssertionError-like RuntimeError so a broken adapter cannot report a fast time.
        """
        w = self.w
        expected = {
            "walk": w.total_objects,
            "offload_all": w.total_objects,
            "query_all": w.n,
            "update_mtu": w.n_paths,
            "terminate_1pct": w.expected_terminated,
        }.get(op)
        if expected is None or result is None:
            return
        got = len(result)
        if got != expected:
            raise RuntimeError(
                f"{self.name}: {op} returned {got} items, expected {expected} "
                f"(N={w.n}); the adapter did not do the whole job"
            )


#: Registry: name -> dotted path of the adapter class, imported lazily so that a missing
#: optional dependency only disables its own adapter.
ADAPTERS: dict[str, str] = {
    "native": "offload_tree.bench.ot_adapter:NativeAdapter",
    "numpy": "offload_tree.bench.numpy_baseline:NumpyAdapter",
    "python": "offload_tree.bench.ot_adapter:PythonAdapter",
    "rustworkx": "offload_tree.bench.baselines:RustworkxAdapter",
    "networkx": "offload_tree.bench.baselines:NetworkxAdapter",
    "igraph": "offload_tree.bench.baselines:IgraphAdapter",
    "dicts": "offload_tree.bench.baselines:DictAdapter",
}

#: The optional baselines that come with the ``[bench]`` extra.
EXTRA_BASELINES: tuple[str, ...] = ("rustworkx", "networkx", "igraph")


def adapter_class(name: str) -> type[Adapter]:
    """Import and return the adapter class registered under ``name``."""
    try:
        target = ADAPTERS[name]
    except KeyError:
        raise ValueError(
            f"unknown implementation {name!r}; choose from {', '.join(ADAPTERS)}"
        ) from None
    module_name, _, class_name = target.partition(":")
    cls: type[Adapter] = getattr(importlib.import_module(module_name), class_name)
    return cls
