"""Results as text at volume: ``str()`` is bounded, ``to_text()`` writes everything.

Builds W(N) (N connections over N/100 paths over N/1000 neighbors), offloads it, terminates
it, and times ``str``, ``repr`` and ``to_text`` of the offload result and ``str`` of the
terminate result. ``str`` must not grow with N; ``to_text`` does, linearly.

    python benches/printing.py --connections 1000000 [--backend native]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import offload_tree as ot


def timed(label: str, make: Callable[[], str]) -> None:
    start = time.perf_counter()
    text = make()
    seconds = time.perf_counter() - start
    lines = text.count("\n") + 1
    print(f"  {label:28s} {seconds * 1e3:10.1f} ms {len(text):>14,} chars {lines:>12,} lines")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=ot._backend.BACKENDS, default=ot.BACKEND)
    args = parser.parse_args()
    n = args.connections
    k, p = max(1, n // 1000), max(1, n // 100)
    tree = ot.OffloadStateTree(ot.SimulatedTarget(), backend=args.backend)
    neighbors = tree.add_neighbors(np.arange(k, dtype=np.uint64) + 0x0200_0000_0000)
    paths = tree.add_paths(
        neighbors[np.arange(p) % k],
        np.full(p, 0x0A00_0001, np.uint64),
        np.arange(p, dtype=np.uint64) + 0x0B00_0000,
    )
    tcps = tree.add_tcps(paths[np.arange(n) % p], np.arange(n) // p + 1024, np.full(n, 443))
    offloaded = tree.initiate_offload(tcps)
    print(f"{args.backend}, N={n:,}: an offload result of {len(offloaded):,} blocks")
    timed("str(offload result)", lambda: str(offloaded))
    timed("repr(offload result)", lambda: repr(offloaded))
    timed("offload result.to_text()", offloaded.to_text)
    terminated = tree.terminate(neighbors)
    timed(f"str(terminate of {len(terminated):,})", lambda: str(terminated))


if __name__ == "__main__":
    main()
