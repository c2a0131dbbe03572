"""Cost of the offloaded connection's data path, per call or in batches, on one backend.

    python benches/data_path.py --connections 100000 --rounds 3 --backend native [--batch]

Builds N connections on one path per 100, offloads them all, then runs ``--rounds`` rounds
in which every connection posts data (``tree.send``), the peer acknowledges half of it
(``target.acknowledge``), the host posts a receive request (``tree.post_receive``), the peer
sends (``target.receive``) and the host reads (``tree.read``). Then everything is terminated
and the byte ledgers are checked: every posted byte acknowledged or returned, every received
byte read or returned. Prints calls per second for each call; exit 1 if a ledger is off.

Per call (the default) every call crosses the Python/engine boundary once; with
``--batch`` each step is one batch call over all N connections (``send_many``,
``acknowledge_many``, ``post_receive_many``, ``receive_many``, ``read_many``), and the
figures are connections served per second, comparable with the per-call ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import offload_tree as ot


def run(n: int, rounds: int, backend: str, batch: bool = False) -> dict[str, object]:
    """One run; the figures and whether the ledgers balance."""
    tree = ot.OffloadStateTree(ot.SimulatedTarget(), backend=backend)
    k, p = max(1, n // 1000), max(1, n // 100)
    neighbors = tree.add_neighbors(0x020000000000 + np.arange(k, dtype=np.uint64))
    j = np.arange(p, dtype=np.int64)
    paths = tree.add_paths(
        neighbors[j % k],
        np.full(p, 0x0A000001, dtype=np.uint64),
        (0xC6120000 + j).astype(np.uint64),
    )
    i = np.arange(n, dtype=np.int64)
    tcps = tree.add_tcps(paths[i % p], 1024 + i // p, np.full(n, 443, dtype=np.int64))
    assert tree.initiate_offload(tcps).ok
    handles = tcps.tolist()
    payload, reply = b"x" * 1000, b"y" * 600
    seconds = {"send": 0.0, "acknowledge": 0.0, "post_receive": 0.0, "receive": 0.0, "read": 0}
    read = 0
    for _ in range(rounds):
        if batch:
            read += _batch_round(tree, tcps, payload, reply, seconds)
            continue
        steps = (
            ("send", lambda h: tree.send(h, payload)),
            ("acknowledge", lambda h: tree.target.acknowledge(h, 500)),
            ("post_receive", lambda h: tree.post_receive(h, 600)),
            ("receive", lambda h: tree.target.receive(h, reply)),
        )
        for name, call in steps:
            start = time.perf_counter()
            for h in handles:
                call(h)
            seconds[name] += time.perf_counter() - start
        start = time.perf_counter()
        for h in handles:
            read += len(tree.read(h))
        seconds["read"] += time.perf_counter() - start
    result = tree.terminate(tree.handles(ot.Layer.NEIGHBOR), cascade=True)
    b = tree.stats()["bytes"]
    received = tree.target.stats()["bytes_received"]
    ok = (
        b["posted"] == b["acknowledged"] + b["send_returned"]
        and b["send_returned"] == result.total_send_data
        and received == read + b["returned"]
    )
    calls = n * rounds
    return {
        "backend": backend,
        "batch": batch,
        "connections": n,
        "rounds": rounds,
        "calls_per_second": {name: round(calls / s) for name, s in seconds.items()},
        "bytes": {"posted": b["posted"], "acknowledged": b["acknowledged"], "read": read},
        "ok": ok,
    }


def _batch_round(
    tree: ot.OffloadStateTree,
    tcs: np.ndarray,
    payload: bytes,
    reply: bytes,
    seconds: dict[str, float],
) -> int:
    """One round in batch calls, timing each step into ``seconds``; the bytes read."""
    n, target = len(tcs), tree.target
    sends, replies = payload * n, reply * n
    steps = (
        ("send", lambda: tree.send_many(tcs, sends, len(payload))),
        ("acknowledge", lambda: target.acknowledge_many(tcs, 500)),
        ("post_receive", lambda: tree.post_receive_many(tcs, len(reply))),
        ("receive", lambda: target.receive_many(tcs, replies, len(reply))),
    )
    for name, call in steps:
        start = time.perf_counter()
        call()
        seconds[name] += time.perf_counter() - start
    start = time.perf_counter()
    data, _ = tree.read_many(tcs)
    seconds["read"] += time.perf_counter() - start
    return len(data)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, print the figures; 0 when the ledgers balance."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", default=ot.BACKEND, choices=["native", "python"])
    parser.add_argument("--batch", action="store_true", help="one batch call per step")
    args = parser.parse_args(argv)
    summary = run(args.connections, args.rounds, args.backend, args.batch)
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
