"""The timing loop: every implementation, every N, every operation, median of R repeats.

One repeat = reset (untimed), then the six operations of :data:`OPERATIONS` in order, each
timed alone with ``time.perf_counter_ns`` on the tree the previous ones left. So every repeat
builds a fresh tree (build is timed by itself), and offload / query / update / terminate each
run on a tree in the state they need, built untimed as far as that operation is concerned.

The garbage collector is collected before and disabled during each repeat, as ``timeit`` does:
otherwise a collection triggered by one implementation's allocations lands at a random point and
is charged to whichever operation happens to be running (it hurts the object-heavy baselines most).
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from offload_tree.bench.adapters import ADAPTERS, EXTRA_BASELINES, Adapter, adapter_class
from offload_tree.bench.progress import ProgressBar
from offload_tree.bench.workload import OPERATION_DESCRIPTIONS, OPERATIONS, make_workload

#: Default size caps per implementation (largest N run unless the caller overrides): the
#: object-per-node implementations need ~1-2 KiB per object, so 10**7 would take tens of GiB.
DEFAULT_CAPS: dict[str, int] = {
    "native": 10**7,
    "python": 10**6,
    "rustworkx": 10**6,
    "networkx": 10**6,
    "dicts": 10**6,
}

#: JSON schema version of :meth:`BenchResult.to_json`.
SCHEMA_VERSION = 1


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
    """The R timings of one (implementation, N, operation)."""

    impl: str
    n: int
    op: str
    times_ns: list[int]

    @property
    def median_ns(self) -> float:
        """Median of the repeats, in nanoseconds."""
        return float(statistics.median(self.times_ns))

    @property
    def median_ms(self) -> float:
        """Median of the repeats, in milliseconds."""
        return self.median_ns / 1e6

    def to_json(self) -> dict[str, Any]:
        """The JSON record: median and min in ms, every raw time in ns."""
        return {
            "impl": self.impl,
            "n": self.n,
            "op": self.op,
            "repeats": len(self.times_ns),
            "median_ms": self.median_ms,
            "first_ms": self.times_ns[0] / 1e6,
            "min_ms": min(self.times_ns) / 1e6,
            "max_ms": max(self.times_ns) / 1e6,
            "times_ns": list(self.times_ns),
        }


@dataclass
class BenchConfig:
    """What to run. ``repeats=None`` picks :func:`default_repeats` per N."""

    sizes: list[int]
    impls: list[str]
    repeats: int | None = None
    caps: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPS))
    verify: bool = True
    memory_jobs: list[tuple[str, int]] = field(default_factory=list)
    """(implementation, N) pairs whose peak RSS is measured in a subprocess."""

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
                "timer": "time.perf_counter_ns; median of the repeats; gc disabled while timing",
            },
            "operations": {op: OPERATION_DESCRIPTIONS[op] for op in OPERATIONS},
            "labels": labels,
            "workloads": {str(n): info for n, info in self.workloads.items()},
            "results": [m.to_json() for m in self.measurements],
            "memory": self.memory,
            "skipped": self.skipped,
            "errors": self.errors,
            "machine": self.machine,
        }


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
            "compared; add them with the [bench] extra: pip install '.[bench]' in the source tree "
            "(or pip install networkx rustworkx matplotlib psutil)"
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
    with the others. ``memory_probe(impl, n)`` (see :mod:`offload_tree.bench.memory`) is called
    for every pair of ``config.memory_jobs``.
    """
    result = BenchResult(config=config)
    result.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t_start = time.perf_counter()
    bar = progress if progress is not None else ProgressBar(total_units(config), enabled=False)

    classes: dict[str, type[Adapter]] = {name: adapter_class(name) for name in config.impls}
    for n in config.sizes:
        workload = make_workload(n)
        result.workloads[n] = dict(workload.extra)
        repeats = config.repeats_for(n)
        for impl in config.impls:
            units = repeats * len(OPERATIONS)
            cap = config.caps.get(impl, DEFAULT_CAPS.get(impl, 10**6))
            if n > cap:
                result.skipped.append(
                    {"impl": impl, "n": n, "reason": f"N above this implementation's cap {cap}"}
                )
                bar.advance(units)
                continue
            t_group = time.perf_counter()
            done_before = bar.done
            try:
                _run_one(classes[impl], workload, repeats, config.verify, bar, result)
            except Exception as exc:  # one adapter failing must not lose the others' numbers
                tail = traceback.format_exc().strip().splitlines()[-3:]
                result.errors.append(
                    {"impl": impl, "n": n, "error": f"{exc.__class__.__name__}: {exc}",
                     "traceback": tail}
                )  # fmt: skip
                bar.note(f"error: {impl} at N={format_n(n)}: {exc.__class__.__name__}: {exc}")
                # _run_one appends nothing unless every repeat finished, so a failed group
                # leaves no half-measured row; just catch the bar up.
                bar.advance(max(0, units - (bar.done - done_before)))
            else:
                if not bar.interactive:
                    bar.note(
                        f"  {impl:<10} N={format_n(n):<6} done in "
                        f"{time.perf_counter() - t_group:.1f} s"
                    )
            finally:
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


def _run_one(
    cls: type[Adapter],
    workload: Any,
    repeats: int,
    verify: bool,
    bar: ProgressBar,
    result: BenchResult,
) -> None:
    """All repeats of one implementation at one N; appends one Measurement per operation."""
    adapter = cls()
    adapter.prepare(workload)
    times: dict[str, list[int]] = {op: [] for op in OPERATIONS}
    clock = time.perf_counter_ns
    for rep in range(1, repeats + 1):
        adapter.reset()
        gc.collect()
        gc.disable()
        try:
            for op in OPERATIONS:
                bar.set_label(_label(cls.name, workload.n, op, rep, repeats))
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
    adapter.reset()
    del adapter
    for op in OPERATIONS:
        result.measurements.append(Measurement(cls.name, workload.n, op, times[op]))


def all_impl_names() -> list[str]:
    """Every registered implementation, in table order (native first)."""
    return list(ADAPTERS)


def eprint(*args: object) -> None:
    """Print to stderr (messages that are not the table)."""
    print(*args, file=sys.stderr)
