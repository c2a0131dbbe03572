"""Offload and terminate the whole W(10^6) tree on each backend (issue 3's measurement).

    python benches/whole_tree.py native python

Builds N = 10^6 connections over 10^4 paths over 10^3 neighbors, offloads every connection
(1,011,000 blocks), then cascade-terminates every neighbor; prints the time of each step.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import offload_tree as ot

K, P, N = 1_000, 10_000, 1_000_000


def run(backend: str) -> tuple[float, float, float]:
    """Seconds for add_tcps, initiate_offload (everything) and terminate (every neighbor)."""
    tree = ot.OffloadStateTree(ot.SimulatedTarget(), backend=backend)
    nbs = tree.add_neighbors(np.arange(K, dtype=np.uint64) + 0x0200_0000_0000)
    paths = tree.add_paths(
        nbs[np.arange(P) % K],
        np.full(P, 0x0A00_0001, np.uint64),
        np.arange(P, dtype=np.uint64) + 0x0B00_0000,
    )
    t0 = time.perf_counter()
    tcps = tree.add_tcps(paths[np.arange(N) % P], 1024 + np.arange(N) // P, np.full(N, 443))
    t1 = time.perf_counter()
    result = tree.initiate_offload(tcps)
    t2 = time.perf_counter()
    done = tree.terminate(nbs)
    t3 = time.perf_counter()
    assert result.ok and len(result) == N + P + K and len(done.terminated) == N + P + K
    return t1 - t0, t2 - t1, t3 - t2


def main() -> None:
    """Three runs on native (the first is cold), one on the fallback."""
    for backend in sys.argv[1:] or ["native", "python"]:
        for _ in range(3 if backend == "native" else 1):
            build, offload, terminate = run(backend)
            print(
                f"{backend}: add_tcps {build * 1e3:.0f} ms, initiate_offload "
                f"{offload * 1e3:.0f} ms, terminate(all) {terminate * 1e3:.0f} ms"
            )


if __name__ == "__main__":
    main()
