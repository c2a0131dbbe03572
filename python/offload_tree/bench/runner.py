"""The timing loop: every implementation, every N, every operation, over R repeats.

One repeat at one N runs every implementation in turn (the order rotates from repeat to
repeat), and each implementation does reset (untimed), then the six operations of
:data:`OPERATIONS` in order, each timed alone with ``time.perf_counter_ns`` on the tree the
previous ones left, then reset again so its tree is gone before the next implementation runs.
Alternating within a repeat makes a load drift on a shared machine hit every implementation
alike; each figure keeps every repeat's time, so its median and spread (min..max) are reported,
and the load average before and after every repeat is recorded beside them.

The garbage collector is collected before and disabled during each implementation's repeat, as
``timeit`` does: otherwise a collection triggered by one implementation's allocations lands at a
random point and is charged to whichever operation happens to be running.

After the timed repeats, an untimed pass checks that the implementations which can be compared
(:attr:`Adapter.comparable`: offload-tree's python fallback and the NumPy baseline) return the
same results as the native backend for every operation (:mod:`offload_tree.bench.compare`). A
difference is an error of that implementation at that N (its numbers are dropped): a baseline
that computes something else measures nothing.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from offload_tree.bench.adapters import ADAPTERS, EXTRA_BASELINES, Adapter, adapter_class
from offload_tree.bench.compare import differences, tree_id_of
from offload_tree.bench.progress import ProgressBar
from offload_tree.bench.workload import (
    OPERATION_DESCRIPTIONS,
    OPERATIONS,
    Workload,
    make_workload,
)

#: Default size caps per implementation (largest N run unless the caller overrides): the
#: object-per-node implementations need ~1-2 KiB per object, so 10**7 would take tens of GiB.
DEFAULT_CAPS: dict[str, int] = {
    "native": 10**7,
    "python": 10**6,
    "rustworkx": 10**6,
    "networkx": 10**6,
    "igraph": 10**6,
    "dicts": 10**6,
    "numpy": 10**7,
}

#: The implementation every comparison (of times and of results) is against.
REFERENCE = "native"

#: JSON schema version of :meth:`BenchResult.to_json`. 2: implementations alternate within a
#: repeat; load averages per repeat; result comparisons against the native backend.
SCHEMA_VERSION = 2


def default_repeats(n: int) -> int:
    """R by N: more repeats where they are cheap, at least 3 so the median means something.

    The first repeat of a size pays for fresh pages from the OS (first touch), which can make
    it several times slower than the rest; 5 repeats up to 10^6 keep the median on the steady
    state. The first repeat's time is kept in the JSON (``first_ms``) so the cold cost stays
    visible.
    """
    if n <= 10**4:
        return 7
    if n <= 10**6:
        return 5
    return 3


@dataclass
class Measurement:
    """The R timings of one (implementation, N, operation), with the load around each."""

    impl: str
    n: int
    op: str
    times_ns: list[int]
    load_before: list[float | None] = field(default_factory=list)
    """1-minute load average before each repeat (None where the OS has none)."""
    load_after: list[float | None] = field(default_factory=list)
    """1-minute load average after each repeat."""

    @property
    def median_ns(self) -> float:
        """Median of the repeats, in nanoseconds."""
        return float(statistics.median(self.times_ns))

    @property
    def median_ms(self) -> float:
        """Median of the repeats, in milliseconds."""
        return self.median_ns / 1e6

    @property
    def min_ms(self) -> float:
        """Fastest repeat, in milliseconds."""
        return min(self.times_ns) / 1e6

    @property
    def max_ms(self) -> float:
        """Slowest repeat, in milliseconds."""
        return max(self.times_ns) / 1e6

    def to_json(self) -> dict[str, Any]:
        """The JSON record: median, min and max in ms, every raw time in ns, the load."""
        return {
            "impl": self.impl,
            "n": self.n,
            "op": self.op,
            "repeats": len(self.times_ns),
            "median_ms": self.median_ms,
            "first_ms": self.times_ns[0] / 1e6,
            "min_ms": self.min_ms,
            "max_ms": self.max_ms,
            "times_ns": list(self.times_ns),
            "load_before": list(self.load_before),
            "load_after": list(self.load_after),
        }

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Measurement:
        """The inverse of :meth:`to_json` (older files have no load lists)."""
        return cls(
            impl=row["impl"],
            n=int(row["n"]),
            op=row["op"],
            times_ns=[int(t) for t in row["times_ns"]],
            load_before=list(row.get("load_before", [])),
            load_after=list(row.get("load_after", [])),
        )


@dataclass
class BenchConfig:
    """What to run. ``repeats=None`` picks :func:`default_repeats` per N."""

    sizes: list[int]
    impls: list[str]
    repeats: int | None = None
    caps: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPS))
    verify: bool = True
    """Check each result's size (untimed) and compare results with the native backend's."""
    memory_jobs: list[tuple[str, int]] = field(default_factory=list)
    """(implementation, N) pairs whose peak RSS is measured in a subprocess."""
    threads: int = 1
    """Threads offload-tree's trees may use (``OffloadStateTree(threads=...)``)."""

    def repeats_for(self, n: int) -> int:
        """R for size ``n``."""
        return self.repeats if self.repeats is not None else default_repeats(n)


@dataclass
class BenchResult:
    """Everything one run measured, plus what it skipped and why."""

    config: BenchConfig
    measurements: list[Measurement] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)
    workloads: dict[int, dict[str, Any]] = field(default_factory=dict)
    started: str = ""
    elapsed_s: float = 0.0
    machine: dict[str, Any] = field(default_factory=dict)
    load: list[dict[str, Any]] = field(default_factory=list)
    """Per (N, repeat): the order the implementations ran in, load averages before/after."""
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    """Per (implementation, N): the result comparison against the native backend."""

    def impls_run(self) -> list[str]:
        """Implementations with at least one measurement, in the configured order."""
        seen = {m.impl for m in self.measurements}
        return [i for i in self.config.impls if i in seen]

    def sizes_run(self) -> list[int]:
        """Sizes with at least one measurement, ascending."""
        return sorted({m.n for m in self.measurements})

    def get(self, impl: str, n: int, op: str) -> Measurement | None:
        """The measurement of (impl, n, op), or None."""
        for m in self.measurements:
            if m.impl == impl and m.n == n and m.op == op:
                return m
        return None

    def to_json(self) -> dict[str, Any]:
        """The JSON document written to results.json."""
        labels = {}
        for name in self.config.impls:
            try:
                labels[name] = adapter_class(name).label
            except Exception:  # a label is cosmetic: never fail the write for it
                labels[name] = name
        return {
            "schema": SCHEMA_VERSION,
            "tool": "offload-tree bench",
            "started": self.started,
            "elapsed_s": round(self.elapsed_s, 3),
            "config": {
                "sizes": self.config.sizes,
                "impls": self.config.impls,
                "repeats": self.config.repeats,
                "repeats_by_n": {str(n): self.config.repeats_for(n) for n in self.config.sizes},
                "caps": self.config.caps,
                "threads": self.config.threads,
                "timer": "time.perf_counter_ns; median and min..max of the repeats; gc disabled "
                "while timing; implementations alternate within each repeat",
            },
            "operations": {op: OPERATION_DESCRIPTIONS[op] for op in OPERATIONS},
            "labels": labels,
            "workloads": {str(n): info for n, info in self.workloads.items()},
            "results": [m.to_json() for m in self.measurements],
            "memory": self.memory,
            "skipped": self.skipped,
            "errors": self.errors,
            "machine": self.machine,
            "load": {
                "cpu_count": os.cpu_count(),
                "usable_cpus": _usable_cpus(),
                "per_repeat": self.load,
            },
            "comparisons": self.comparisons,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> BenchResult:
        """A result read back from results.json: enough for the tables and the plot."""
        cfg = doc.get("config", {})
        config = BenchConfig(
            sizes=[int(n) for n in cfg.get("sizes", [])],
            impls=list(cfg.get("impls", [])),
            repeats=cfg.get("repeats"),
        )
        result = cls(config=config)
        result.measurements = [Measurement.from_json(r) for r in doc.get("results", [])]
        result.skipped = list(doc.get("skipped", []))
        result.errors = list(doc.get("errors", []))
        result.memory = list(doc.get("memory", []))
        result.started = doc.get("started", "")
        result.elapsed_s = float(doc.get("elapsed_s", 0.0))
        result.machine = dict(doc.get("machine", {}))
        load = doc.get("load", {})
        result.load = list(load.get("per_repeat", [])) if isinstance(load, dict) else []
        result.comparisons = list(doc.get("comparisons", []))
        return result


def _usable_cpus() -> int | None:
    """The CPUs this process may run on (its affinity), where the OS says."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def _loadavg() -> list[float] | None:
    """1, 5 and 15 minute load averages, or None where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def available_impls(
    names: Sequence[str], explicit: bool
) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """Split ``names`` into runnable ones and skipped ones (with the reason).

    Returns (runnable, skipped records, user messages). When the user did not name the
    implementations (``explicit`` false) and the [bench] baselines are missing, the message
    says how to add them.
    """
    runnable: list[str] = []
    skipped: list[dict[str, Any]] = []
    messages: list[str] = []
    missing_extras: list[str] = []
    for name in names:
        reason = adapter_class(name).unavailable_reason()
        if reason is None:
            runnable.append(name)
            continue
        skipped.append({"impl": name, "n": None, "reason": reason})
        if name in EXTRA_BASELINES and not explicit:
            missing_extras.append(name)
        else:
            messages.append(f"skipping {name}: {reason}")
    if missing_extras:
        messages.append(
            f"baselines {', '.join(missing_extras)} are not installed, so they are not "
            "compared; add them with the bench extra: pip install 'offload-tree[bench]' (or "
            "pip install networkx rustworkx igraph matplotlib psutil)"
        )
    return runnable, skipped, messages


def _label(impl: str, n: int, op: str, rep: int, repeats: int) -> str:
    """Progress label: implementation, N as a power of ten, operation, repeat."""
    return f"{impl} N={format_n(n)} {op} ({rep}/{repeats})"


def format_n(n: int) -> str:
    """10**k as ``10^k``; other sizes as plain integers."""
    k = len(str(n)) - 1
    return f"10^{k}" if n == 10**k and k >= 2 else str(n)


def run_benchmark(
    config: BenchConfig,
    progress: ProgressBar | None = None,
    memory_probe: Callable[[str, int], dict[str, Any]] | None = None,
) -> BenchResult:
    """Run ``config`` and return every measurement; never raises for one adapter's failure.

    An adapter that raises is recorded in ``errors`` with its traceback tail and the run goes on
    with the others; so is one whose results differ from the native backend's. ``memory_probe
    (impl, n)`` (see :mod:`offload_tree.bench.memory`) is called for every pair of
    ``config.memory_jobs``.
    """
    result = BenchResult(config=config)
    result.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t_start = time.perf_counter()
    bar = progress if progress is not None else ProgressBar(total_units(config), enabled=False)

    classes: dict[str, type[Adapter]] = {name: adapter_class(name) for name in config.impls}
    for n in config.sizes:
        workload = make_workload(n)
        result.workloads[n] = dict(workload.extra)
        _run_size(classes, workload, config, bar, result)
        gc.collect()
    for impl, n in config.memory_jobs:
        if memory_probe is None:
            break
        bar.set_label(f"peak RSS {impl} N={format_n(n)}")
        try:
            result.memory.append(memory_probe(impl, n))
        except Exception as exc:  # a failed probe is reported, the timings are kept
            result.errors.append(
                {"impl": impl, "n": n, "error": f"memory probe: {exc}", "traceback": []}
            )
            bar.note(f"error: memory probe {impl} N={format_n(n)}: {exc}")
        bar.advance(1)
    result.elapsed_s = time.perf_counter() - t_start
    return result


def total_units(config: BenchConfig) -> int:
    """Progress units of a run: one per timed operation, one per memory probe."""
    timed = sum(config.repeats_for(n) * len(OPERATIONS) * len(config.impls) for n in config.sizes)
    return timed + len(config.memory_jobs)


def _record_error(
    result: BenchResult, bar: ProgressBar, impl: str, n: int, exc: BaseException
) -> None:
    """Append an adapter's exception to ``result.errors`` and say so on the progress bar."""
    tail = traceback.format_exc().strip().splitlines()[-3:]
    result.errors.append(
        {"impl": impl, "n": n, "error": f"{exc.__class__.__name__}: {exc}", "traceback": tail}
    )
    bar.note(f"error: {impl} at N={format_n(n)}: {exc.__class__.__name__}: {exc}")


def _run_size(
    classes: dict[str, type[Adapter]],
    workload: Workload,
    config: BenchConfig,
    bar: ProgressBar,
    result: BenchResult,
) -> None:
    """Every implementation at one N: the alternating timed repeats, then the comparison."""
    n = workload.n
    repeats = config.repeats_for(n)
    units = repeats * len(OPERATIONS)
    adapters: dict[str, Adapter] = {}
    for impl in config.impls:
        cap = config.caps.get(impl, DEFAULT_CAPS.get(impl, 10**6))
        if n > cap:
            result.skipped.append(
                {"impl": impl, "n": n, "reason": f"N above this implementation's cap {cap}"}
            )
            bar.advance(units)
            continue
        try:
            adapter = classes[impl]()
            adapter.threads = config.threads
            adapter.prepare(workload)
        except Exception as exc:
            _record_error(result, bar, impl, n, exc)
            bar.advance(units)
            continue
        adapters[impl] = adapter

    times: dict[str, dict[str, list[int]]] = {i: {op: [] for op in OPERATIONS} for i in adapters}
    loads: dict[str, tuple[list[float | None], list[float | None]]] = {
        i: ([], []) for i in adapters
    }
    elapsed: dict[str, float] = dict.fromkeys(adapters, 0.0)
    failed: set[str] = set()
    names = list(adapters)
    for rep in range(1, repeats + 1):
        shift = (rep - 1) % len(names) if names else 0
        order = [i for i in names[shift:] + names[:shift] if i not in failed]
        before = _loadavg()
        for impl in order:
            t_group = time.perf_counter()
            done_before = bar.done
            try:
                _run_repeat(adapters[impl], workload, rep, repeats, config.verify, bar, times[impl])
            except Exception as exc:  # one adapter failing must not lose the others' numbers
                _record_error(result, bar, impl, n, exc)
                failed.add(impl)
                adapters[impl].reset()
                # The failed repeat's remaining units and those of the repeats left.
                left = (
                    len(OPERATIONS) - (bar.done - done_before) + (repeats - rep) * len(OPERATIONS)
                )
                bar.advance(max(0, left))
            elapsed[impl] += time.perf_counter() - t_group
        after = _loadavg()
        for impl in order:
            loads[impl][0].append(before[0] if before else None)
            loads[impl][1].append(after[0] if after else None)
        result.load.append(
            {"n": n, "repeat": rep, "order": order, "loadavg_before": before,
             "loadavg_after": after}
        )  # fmt: skip

    if config.verify:
        failed |= _compare_results(adapters, workload, failed, bar, result)
    for impl, adapter in adapters.items():
        adapter.reset()
        if impl in failed:
            continue
        for op in OPERATIONS:
            result.measurements.append(
                Measurement(impl, n, op, times[impl][op], loads[impl][0], loads[impl][1])
            )
        if not bar.interactive:
            bar.note(f"  {impl:<10} N={format_n(n):<6} done in {elapsed[impl]:.1f} s")
    adapters.clear()


def _run_repeat(
    adapter: Adapter,
    workload: Workload,
    rep: int,
    repeats: int,
    verify: bool,
    bar: ProgressBar,
    times: dict[str, list[int]],
) -> None:
    """One repeat of one implementation: reset, the six timed operations, reset again."""
    clock = time.perf_counter_ns
    adapter.reset()
    gc.collect()
    gc.disable()
    try:
        for op in OPERATIONS:
            bar.set_label(_label(adapter.name, workload.n, op, rep, repeats))
            fn = adapter.operation(op)
            t0 = clock()
            out = fn()
            t1 = clock()
            times[op].append(t1 - t0)
            if verify:
                adapter.check(op, out)
            del out
            bar.advance(1)
    finally:
        gc.enable()
        adapter.reset()  # the next implementation runs without this one's tree in memory


def _canonical_run(adapter: Adapter, workload: Workload) -> dict[str, dict[str, Any]]:
    """The six operations once more, untimed, each result turned into its columns."""
    out: dict[str, dict[str, Any]] = {}
    adapter.reset()
    try:
        for op in OPERATIONS:
            columns = adapter.canonical(op, adapter.operation(op)())
            if columns is None:
                raise RuntimeError(f"{adapter.name}: {op} has no comparable result")
            out[op] = columns
    finally:
        adapter.reset()
    return out


def _compare_results(
    adapters: dict[str, Adapter],
    workload: Workload,
    failed: set[str],
    bar: ProgressBar,
    result: BenchResult,
) -> set[str]:
    """Compare every comparable implementation's results with the native backend's.

    The NumPy baseline builds its handles with the native tree's id, so its handles must be
    equal bit for bit; offload-tree's fallback takes its own tree id, so its handles are
    compared without the tree-id bits. Returns the implementations that differ (or fail).
    """
    n = workload.n
    others = [i for i, a in adapters.items() if a.comparable and i != REFERENCE and i not in failed]
    if REFERENCE not in adapters or REFERENCE in failed or not others:
        return set()
    bar.set_label(f"comparing results at N={format_n(n)}")
    try:
        reference = _canonical_run(adapters[REFERENCE], workload)
    except Exception as exc:
        _record_error(result, bar, REFERENCE, n, exc)
        return {REFERENCE}
    tree_id = tree_id_of(reference["build"]["neighbors"])
    bad: set[str] = set()
    for impl in others:
        adapter = adapters[impl]
        if tree_id is not None:
            adapter.follow_tree_id(tree_id)
        try:
            got = _canonical_run(adapter, workload)
        except Exception as exc:
            _record_error(result, bar, impl, n, exc)
            bad.add(impl)
            continue
        same_ids = tree_id_of(got["build"]["neighbors"]) == tree_id
        diffs: list[str] = []
        for op in OPERATIONS:
            diffs += differences(op, reference[op], got[op], ignore_tree_id=not same_ids)
        result.comparisons.append(
            {"impl": impl, "n": n, "reference": REFERENCE, "operations": list(OPERATIONS),
             "equal": not diffs, "tree_ids_equal": same_ids, "differences": diffs}
        )  # fmt: skip
        if diffs:
            bad.add(impl)
            message = f"results differ from {REFERENCE}'s: " + "; ".join(diffs)
            result.errors.append({"impl": impl, "n": n, "error": message, "traceback": []})
            bar.note(f"error: {impl} at N={format_n(n)}: {message}")
    return bad


def all_impl_names() -> list[str]:
    """Every registered implementation, in table order (native first)."""
    return list(ADAPTERS)


def eprint(*args: object) -> None:
    """Print to stderr (messages that are not the table)."""
    print(*args, file=sys.stderr)
