"""Snapshots and columns at volume: how long saving, loading, copying and reading a tree of
N connections in bulk takes, and how many bytes the file holds.

The tree is W(N) (N connections over N/100 paths over N/1000 neighbors), every connection
offloaded, a tenth of them with traffic (received bytes, posted sends), so that the snapshot
has every kind of table. Each step is timed once, with the file on local disk (``--dir``).

    python benches/snapshot.py --connections 1000000 [--backend native] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import offload_tree as ot


def build(n: int, backend: str) -> ot.OffloadStateTree:
    """W(n), offloaded, with traffic on every tenth connection."""
    tree = ot.OffloadStateTree(ot.SimulatedTarget(), backend=backend)
    neighbors = tree.add_neighbors(np.arange(1, max(1, n // 1000) + 1, dtype=np.uint64))
    paths_n = max(1, n // 100)
    parents = np.repeat(neighbors, -(-paths_n // len(neighbors)))[:paths_n]
    sources = np.full(paths_n, 0x0A000001, dtype=np.uint64)
    destinations = 0x0B000000 + np.arange(paths_n, dtype=np.uint64)
    paths = tree.add_paths(parents, sources, destinations)
    tcp_parents = np.repeat(paths, -(-n // paths_n))[:n]
    ports = (np.arange(n) % 60000 + 1024).astype(np.int64)
    tcps = tree.add_tcps(tcp_parents, ports, np.full(n, 443, dtype=np.int64))
    tree.initiate_offload(tcps)
    busy = tcps[::10]
    lengths = np.full(len(busy), 16, dtype=np.int64)
    tree.target.receive_many(busy, bytes(16 * len(busy)), lengths)
    tree.send_many(busy, bytes(16 * len(busy)), lengths)
    return tree


def timed(label: str, results: dict[str, float], call: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    value = call()
    results[label] = time.perf_counter() - start
    print(f"  {label:<28} {results[label]:8.2f} s", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--backend", default="native")
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--pickle", action="store_true", help="also time a pickle round trip")
    args = parser.parse_args()
    n = args.connections
    print(f"N = {n:,} connections, backend {args.backend}")
    results: dict[str, float] = {}
    tree = timed("build W(N) + offload + traffic", results, lambda: build(n, args.backend))
    path = Path(args.dir) / f"snapshot-{os.getpid()}.ots"
    try:
        timed("save", results, lambda: tree.save(path))
        size = path.stat().st_size
        print(f"  {'file':<28} {size / 1e6:8.1f} MB ({size / n:.1f} B/connection)")
        load = ot.OffloadStateTree.load
        loaded = timed("load", results, lambda: load(path, backend=args.backend))
        assert len(loaded) == len(tree)
        del loaded
        copied = timed("copy.deepcopy", results, lambda: copy.deepcopy(tree))
        del copied
        if args.pickle:
            data = timed("pickle.dumps", results, lambda: pickle.dumps(tree))
            timed("pickle.loads", results, lambda: pickle.loads(data))
            del data
        states = timed('states("tcp")', results, lambda: tree.states("tcp"))
        assert len(states["handle"]) == n
        del states
        timed("edges()", results, tree.edges)
        tcps = tree.handles(ot.Layer.TCP)
        result = timed("query (all connections)", results, lambda: tree.query(tcps))
        columns = timed("QueryResult.to_dict()", results, result.to_dict)
        assert len(columns["handle"]) == n
    finally:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
