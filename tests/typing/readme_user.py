"""A user's script, written from the README's Python code blocks as a user would write them.

``tests/test_typing_user.py`` runs it on both backends (``OFFLOAD_TREE_BACKEND``) and checks
what it prints, checks that every statement of the README's Python blocks is in it, and
type-checks it with ``mypy --strict`` and pyright (strict): a README line whose types a
checker rejects (a union where the user knows the layer, an ``Any`` where a value has a
shape) fails there. No casts and no ``type: ignore`` here: a user writes none.

    python tests/typing/readme_user.py [--connections N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import sys
import tempfile

import numpy as np
import offload_tree as ot
import pandas as pd
from offload_tree import linux


def tour() -> tuple[ot.OffloadStateTree, ot.SimulatedTarget]:
    """## A tour, then the block on reference counting."""
    target = ot.SimulatedTarget(tcp_capacity=1_000_000)  # capacities, limits, fault injection
    tree = ot.OffloadStateTree(target)

    # The source page's figure: TCP1 and TCP2 share Path1; Path1 and Path2 share Neighbor1.
    nb = tree.add_neighbor(mac="00:15:5d:01:02:03", vlan_id=0)
    p1 = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.9", path_mtu=1500)
    p2 = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.10")
    t1 = tree.add_tcp(p1, local_port=49152, remote_port=443)
    t2 = tree.add_tcp(p1, local_port=49153, remote_port=443, nagle=False)
    t3 = tree.add_tcp(p2, local_port=49154, remote_port=80)

    print(tree.block_list([t1, t2, t3]))  # the tree as conveyed

    result = tree.initiate_offload([t1, t2, t3])
    status: ot.Status = result.status(nb)
    print("offload status:", status.name)
    print("offload succeeded:", len(result.succeeded), result.succeeded.dtype)

    target.receive(t1, b"GET / HTTP/1.1\r\n")  # traffic the target handles while it owns t1
    target.send(t1, 1000)
    rcv_nxt: int = tree.query(t1).delegated(t1)["rcv_nxt"]
    print("query rcv_nxt:", rcv_nxt)

    done = tree.terminate(nb)  # cascade: connections, then paths, then the neighbor
    received: bytes = done.received_data(t1)
    print("received data:", received)
    snd_nxt: int = tree.state(t1).snd_nxt  # the host copy took the returned delegated state
    print("state snd_nxt:", snd_nxt)
    # Every layer's record with its own variables, and what each object depends on.
    print("state path_mtu:", tree.state(p1).path_mtu, "vlan_id:", tree.state(nb).vlan_id)
    print("depends_on path_mtu:", tree.state(tree.depends_on(t1)).path_mtu)

    # Shared state is reference counted.
    tree.initiate_offload([t1, t3])
    print("terminated:", tree.terminate(t1).terminated.tolist() == [t1, p1])
    references = tree.stats()["references"]
    print("references held:", references["neighbor"]["held"], references["path"]["held"])
    keeper = ot.OffloadStateTree(release_unreferenced=False)  # keeps shared state offloaded
    print("keeper releases:", keeper.release_unreferenced)
    return tree, target


def volume(tree: ot.OffloadStateTree, connections: int | None) -> None:
    """The batch block: K neighbors, P paths and N connections in arrays."""
    # The README's sizes, or a smaller run of the same shape.
    n = 1_000_000 if connections is None else connections
    K, P, N = max(n // 1000, 1), max(n // 100, 1), n
    nbs = tree.add_neighbors(np.arange(K, dtype=np.uint64) + 0x0200_0000_0000)
    paths = tree.add_paths(nbs[np.arange(P) % K], np.full(P, 0x0A00_0001, np.uint64),
                           np.arange(P, dtype=np.uint64) + 0x0B00_0000)  # fmt: skip
    tcps = tree.add_tcps(paths[np.arange(N) % P], 1024 + np.arange(N) // P, np.full(N, 443))
    offload = tree.initiate_offload(tcps)  # one call, one block list
    print("volume blocks:", len(offload) == K + P + N, "ok:", offload.ok)
    update = tree.update(paths, path_mtu=9000)  # SUCCESS/FAILURE per handle, and why
    print("volume update:", update.status(int(paths[0])).name, update.ok)
    terminated = tree.terminate(nbs[::100])  # cascade-terminate 1% of the neighbors
    print("volume terminated:", len(terminated) == (K + 99) // 100 * (1 + P // K + N // K))


def prose(tree: ot.OffloadStateTree, target: ot.SimulatedTarget) -> None:
    """The calls the README's prose names, with what each returns."""
    path = tree.find_path("10.0.0.1", "10.0.0.9")
    tc = tree.find_tcp("10.0.0.1", "10.0.0.9", 49153, 443)
    if path is None or tc is None:
        raise SystemExit("the tour's path and connection are gone")
    print("find:", tree.state(path).path_mtu, tree.state(tc).local_port)
    print("find many:", tree.find_paths(["10.0.0.1"], "10.0.0.9").tolist() == [path])
    print("layer:", tree.layer(tc).name, tree.count("tcp", offloaded=True))
    print("walk:", len(tree.walk(order="post", roots=[path])), len(tree.dependents(path)))

    tree.initiate_offload([tc])
    target.receive(tc, b"hello")
    sent = tree.send(tc, b"data the peer has not acknowledged")
    print("sent now:", sent, "completed:", target.acknowledge(tc, 4, window=65535))
    print("posted:", tree.post_receive(tc, 5), tree.read(tc))
    target.request_upload(tc, ot.UploadReason.LOW_ACTIVITY)
    for event in tree.process_events(decline=[ot.UploadReason.LOW_ACTIVITY]):
        print("event:", event.kind.name, event.action)
    closed = tree.disconnect(tc, abortive=True)  # an RST: the host terminates at once
    print("abortive disconnect:", closed.terminated.tolist() == [tc], closed.send_data(tc))
    graceful = tree.add_tcp(path, local_port=50000, remote_port=443)
    tree.initiate_offload([graceful])
    tree.disconnect(graceful)  # a FIN after the posted data: it completes later

    print("target stats:", target.stats()["offloaded"]["tcp"], target.stats()["paused"])
    print("offload stats:", target.offload_stats(6)["tcp"]["currently_established"])
    flat = tree.stats(flat=True)
    print("flat stats:", flat["layers.tcp.live"], target.stats(flat=True)["capacity.tcp"])
    operations = tree.stats()["operations"]
    print("failed terminates:", operations["terminate"]["failed"].get("FAILURE", 0))


def as_data(tree: ot.OffloadStateTree) -> None:
    """### The tree as data: copies, files, columns, traces (in the current directory)."""
    twin = copy.deepcopy(tree)  # or copy.copy, or pickle.loads(pickle.dumps(tree))
    twin2: ot.OffloadStateTree = pickle.loads(pickle.dumps(tree))
    print("copies:", len(twin) == len(tree) == len(twin2))
    tree.save("host.ots")
    again = ot.OffloadStateTree.load("host.ots", backend="python")
    print("loaded:", len(again) == len(tree), again.backend)

    print("frame:", len(pd.DataFrame(tree.states("tcp"))) == tree.count("tcp"))
    nb = tree.add_neighbor("00:15:5d:0a:0b:0c")
    path = tree.add_path(nb, "10.0.1.1", "10.0.1.2")
    tcs = tree.add_tcps(np.full(5, path, np.uint64), 2000 + np.arange(5), 80)
    result = tree.initiate_offload(tcs)
    columns = tree.query(tcs).to_dict()  # the live delegated state, a column per variable
    print("query columns:", len(columns["handle"]), columns["rcv_nxt"].dtype)
    edges, blocks, flat = tree.edges(), result.blocks.to_dict(), tree.stats(flat=True)
    print("columns:", len(edges["dependent"]), len(blocks["handle"]), len(flat) > 0)

    with tree.record("bug.jsonl"):
        tree.terminate(tcs[:2])  # the calls that go wrong
    replayed = ot.replay("bug.jsonl", backend="python")  # ReplayError names the line
    print("replayed:", len(replayed) == len(tree))


def real_host() -> None:
    """### Trees from a real host."""
    host = linux.snapshot()  # or source="proc", netns="NAME", target=...
    print("host:", host.tree.count("tcp") == len(host.connections))
    ports = all(host.tree.state(tc).local_port == four.local_port
                for tc, four in host.connections.items())  # fmt: skip
    print("host ports:", ports)
    by_reason: dict[str, int] = host.skipped_by_reason()
    print("host skipped:", all(n > 0 for n in by_reason.values()))


def drawings(tree: ot.OffloadStateTree, target: ot.SimulatedTarget) -> None:
    """### Drawings: every call gives DOT text."""
    p1 = tree.find_path("10.0.0.1", "10.0.0.9")
    t1 = tree.find_tcp("10.0.0.1", "10.0.0.9", 49152, 443)
    t2 = tree.find_tcp("10.0.0.1", "10.0.0.9", 49153, 443)
    assert p1 is not None and t1 is not None and t2 is not None
    result = tree.initiate_offload([t1])
    texts = [
        tree.to_dot(),  # layers as ranks, neighbors on top, status as colour
        tree.to_dot(p1, states=True),  # the subtree of p1, every variable in the labels
        tree.to_dot(compare_target=True),  # red where the target's internal tree differs
        tree.block_list([t1, t2]).to_dot(),  # next links dashed, dependent links solid
        result.to_dot(),  # each block coloured by its status
        target.to_dot(),  # the target's internal tree
    ]
    print("drawings:", all(text.startswith("digraph") for text in texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=None, help="N (default 10**6)")
    parser.add_argument("--workdir", default=None, help="where files go (default: a temp dir)")
    args = parser.parse_args()
    print("backend:", ot.BACKEND)
    tree, target = tour()
    drawings(tree, target)
    prose(tree, target)
    volume(ot.OffloadStateTree(ot.SimulatedTarget()), args.connections)
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(args.workdir or scratch)
        as_data(tree)
    if sys.platform.startswith("linux"):
        real_host()


if __name__ == "__main__":
    main()
