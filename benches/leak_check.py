"""Leak check: build, offload, terminate and drop large trees again and again; watch RSS.

    python benches/leak_check.py --cycles 50 --n 1000000

Each cycle builds a tree of ``--n`` TCP connections (over n/100 paths and n/1000 neighbors),
offloads all of it, receives and sends a little on a sample of connections, queries some,
terminates everything (every received byte must come back), removes it, drops the tree and
its target, and runs the garbage collector. The resident set size (RSS) is printed after each
cycle.

The native wheel uses mimalloc, which keeps freed pages for reuse instead of handing them back
to the system at once, so RSS after a drop does not fall to the pre-build figure. "Returns to
its baseline" is therefore measured as *no growth from cycle to cycle*: the script exits 1
when RSS after the last cycle exceeds RSS after cycle 2 (the first cycle warms up the
allocator and the interpreter) by more than ``--threshold-mb``, and 0 otherwise. With
``MIMALLOC_PURGE_DELAY=0`` in the environment mimalloc returns freed pages at once, and RSS
after each drop falls back to within a few MiB of the figure before the first cycle.

``--measure traced`` measures the memory Python's allocators hand out (``tracemalloc``:
Python objects and NumPy arrays, not the Rust core's heap) instead of RSS. It is exact and
does not depend on how an allocator caches freed pages, so a small threshold works; use it for
the pure-Python engine, whose RSS drifts up for a while as pymalloc arenas fragment, and to
catch Python objects the bindings might leak. ``--keep`` keeps every tree alive: a deliberate
leak, to show that the check catches one. ``--json`` prints one JSON document (for tests).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import offload_tree as ot
import psutil

MIB = 2**20


@dataclass
class Cycle:
    """What one build / offload / terminate / drop cycle measured (bytes and seconds)."""

    index: int
    connections: int
    peak: int  # the larger of the measures after the offload and after the terminate
    after: int  # the measure after the drop
    seconds: float


def rss() -> int:
    """The resident set size of this process, in bytes."""
    return int(psutil.Process().memory_info().rss)


def traced() -> int:
    """The bytes currently allocated through Python's allocators (tracemalloc must run)."""
    return tracemalloc.get_traced_memory()[0]


def one_cycle(
    n: int, backend: str, index: int, kept: list[Any] | None, measure: Callable[[], int] = rss
) -> Cycle:
    """Build a tree of ``n`` connections, offload, traffic, terminate, remove, drop it."""
    started = time.perf_counter()
    target = ot.SimulatedTarget()
    tree = ot.OffloadStateTree(target, backend=backend)
    k, p = max(1, n // 1000), max(1, n // 100)
    nbs = tree.add_neighbors(np.arange(k, dtype=np.uint64) + 0x0200_0000_0000)
    paths = tree.add_paths(
        nbs[np.arange(p) % k], 0x0A00_0001, np.arange(p, dtype=np.uint64) + 0x0B00_0000
    )
    tcps = tree.add_tcps(paths[np.arange(n) % p], np.arange(n) // p, 443)  # one 4-tuple each
    offload = tree.initiate_offload(tcps)
    if len(offload.succeeded) != n + p + k:
        raise RuntimeError(f"cycle {index}: only {len(offload.succeeded)} objects offloaded")
    sample = tcps[:: max(1, n // 1000)].tolist()
    payload = bytes(range(256)) * 4
    for tc in sample:
        target.receive(tc, payload)
        target.send(tc, 1000)
    tree.query(sample)
    built = measure()
    done = tree.terminate(nbs)
    peak = max(built, measure())
    if done.total_received != len(sample) * len(payload):
        raise RuntimeError(f"cycle {index}: terminate returned {done.total_received} bytes")
    tree.remove(nbs, cascade=True)
    if len(tree):
        raise RuntimeError(f"cycle {index}: {len(tree)} objects left after remove")
    if kept is not None:
        kept.append((tree, target, nbs, paths, tcps, offload, done))
    del tree, target, nbs, paths, tcps, offload, done, sample
    gc.collect()
    return Cycle(index, n, peak, measure(), time.perf_counter() - started)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=50, help="build/drop cycles (>= 2)")
    parser.add_argument("--n", type=int, default=1_000_000, help="TCP connections per tree")
    parser.add_argument(
        "--threshold-mb",
        type=float,
        default=32.0,
        help="allowed RSS growth from cycle 2 to the last cycle, MiB (default 32)",
    )
    parser.add_argument("--backend", choices=("native", "python"), default=ot.BACKEND)
    parser.add_argument(
        "--measure",
        choices=("rss", "traced"),
        default="rss",
        help="resident set size (default) or Python-traced allocations",
    )
    parser.add_argument("--keep", action="store_true", help="keep every tree: a deliberate leak")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.cycles < 2:
        parser.error("--cycles must be at least 2")
    if args.n < 1:
        parser.error("--n must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cycles, print RSS per cycle; 1 if RSS grew past the threshold, else 0."""
    args = parse_args(argv)
    if args.measure == "traced":
        tracemalloc.start()
    measure = traced if args.measure == "traced" else rss
    what = "traced memory" if args.measure == "traced" else "RSS"
    baseline = measure()
    kept: list[Any] | None = [] if args.keep else None
    cycles: list[Cycle] = []
    if not args.json:
        print(f"offload-tree {ot.__version__} ({args.backend} engine), {args.n:,} connections")
        print(f"{what} before the first cycle: {baseline / MIB:.1f} MiB")
    for i in range(1, args.cycles + 1):
        cycle = one_cycle(args.n, args.backend, i, kept, measure)
        cycles.append(cycle)
        if not args.json:
            print(
                f"cycle {i:>3}/{args.cycles}: {what} peak {cycle.peak / MIB:8.1f} MiB, "
                f"after drop {cycle.after / MIB:8.1f} MiB ({cycle.seconds:.2f} s)",
                flush=True,
            )
    growth = cycles[-1].after - cycles[1].after
    ok = growth <= args.threshold_mb * MIB
    if args.json:
        report = {
            "backend": args.backend,
            "measure": args.measure,
            "n": args.n,
            "baseline": baseline,
            "threshold": int(args.threshold_mb * MIB),
            "growth": growth,
            "ok": ok,
            "cycles": [asdict(c) for c in cycles],
        }
        print(json.dumps(report))
    else:
        verdict = "OK" if ok else "GROWING: a leak?"
        print(
            f"{what} after cycle 2: {cycles[1].after / MIB:.1f} MiB, after cycle "
            f"{len(cycles)}: {cycles[-1].after / MIB:.1f} MiB, growth "
            f"{growth / MIB:+.1f} MiB (threshold {args.threshold_mb:g} MiB): {verdict}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
