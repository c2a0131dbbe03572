"""The benchmark workload W(N) and the six operations timed on it.

W(N) is a tree of N TCP connections, P = N/100 paths and K = N/1000 neighbors: connection i
depends on path ``i mod P`` and path j on neighbor ``j mod K``. Every implementation receives the
same input values (prepared here once per N, before any timing) and performs, in this order on a
freshly built tree: build, walk (block-list pre-order), offload every connection (with its path
and neighbor), query every connection, update the MTU of every path, and finally cascade-terminate
every 100th neighbor (1 % of the neighbors, at least one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The timed operations, in the order one repeat performs them on one tree. Query and update
#: come before terminate because both need every object offloaded (query of a terminated
#: connection is a StateError), so one freshly built tree serves all six.
OPERATIONS: tuple[str, ...] = (
    "build",
    "walk",
    "offload_all",
    "query_all",
    "update_mtu",
    "terminate_1pct",
)

#: Human-readable descriptions of the operations, used in the table legend and MACHINE.md.
OPERATION_DESCRIPTIONS: dict[str, str] = {
    "build": "add K neighbors, P paths, N connections",
    "walk": "walk the whole tree in block-list (pre-)order",
    "offload_all": "initiate offload of all N connections (paths, neighbors come along)",
    "query_all": "query the delegated state of all N connections",
    "update_mtu": "update path_mtu of all P paths (host and target copies)",
    "terminate_1pct": "cascade-terminate every 100th neighbor (1 % of them)",
}

#: First address of every path's source (10.0.0.1): one host interface.
SOURCE_IPV4 = 0x0A000001
#: Destinations come from 198.18.0.0/15, the range RFC 2544 reserves for benchmarks; it holds
#: 131072 addresses, enough for the 10**5 paths of W(10**7).
DESTINATION_BASE_IPV4 = 0xC6120000
#: Locally administered unicast MACs (02:...), so no real vendor prefix is implied.
MAC_BASE = 0x020000000000
#: The MTU that ``update_mtu`` writes (any value in 68..65535 other than the default 1500).
NEW_PATH_MTU = 1400
#: Every connection talks to port 443; local ports are made unique per path.
REMOTE_PORT = 443
FIRST_LOCAL_PORT = 1024


@dataclass(frozen=True)
class Workload:
    """The input of W(N), as NumPy arrays shared by every implementation.

    Index arrays (``path_neighbor``, ``tcp_path``, ``terminate_neighbors``) refer to positions in
    the creation order of the layer below, so an implementation maps them to its own handles or
    node ids. ``expected_*`` are the sizes of correct results, used to check (untimed) that every
    implementation did the whole job.
    """

    n: int
    """Number of TCP connections."""
    n_paths: int
    """P = max(1, N // 100)."""
    n_neighbors: int
    """K = max(1, N // 1000)."""
    macs: np.ndarray
    """uint64[K]: 48-bit MAC of each neighbor."""
    path_neighbor: np.ndarray
    """int64[P]: neighbor index of path j (j mod K)."""
    path_sources: np.ndarray
    """uint64[P]: IPv4 source of each path."""
    path_destinations: np.ndarray
    """uint64[P]: IPv4 destination of each path."""
    tcp_path: np.ndarray
    """int64[N]: path index of connection i (i mod P)."""
    local_ports: np.ndarray
    """int64[N]: local port of each connection (unique within its path)."""
    remote_ports: np.ndarray
    """int64[N]: remote port of each connection."""
    terminate_neighbors: np.ndarray
    """int64[ceil(K/100)]: neighbor indices 0, 100, 200, ... that terminate_1pct uploads."""
    new_path_mtu: int = NEW_PATH_MTU
    """The MTU update_mtu writes to every path."""
    expected_terminated: int = 0
    """Objects uploaded by terminate_1pct: those neighbors, their paths and connections."""
    extra: dict[str, object] = field(default_factory=dict)
    """Free-form metadata recorded in the JSON (e.g. the formulas above)."""

    @property
    def total_objects(self) -> int:
        """N + P + K: the length of a full walk and of the offload block list."""
        return self.n + self.n_paths + self.n_neighbors


def make_workload(n: int) -> Workload:
    """Build the input arrays of W(n).

    ``n`` must be at least 1; K and P are rounded down but never below 1, so W(1000) has one
    neighbor and ten paths.
    """
    if n < 1:
        raise ValueError(f"N must be >= 1, got {n}")
    k = max(1, n // 1000)
    p = max(1, n // 100)
    j = np.arange(p, dtype=np.int64)
    i = np.arange(n, dtype=np.int64)
    path_neighbor = j % k
    tcp_path = i % p
    # Connection i is the (i // P)-th connection of its path, so this local port is unique per
    # (path, port) pair as long as N/P < 64512, which holds for every W(N) (N/P <= 100).
    local_ports = FIRST_LOCAL_PORT + (i // p) % (65536 - FIRST_LOCAL_PORT)
    terminate_neighbors = np.arange(0, k, 100, dtype=np.int64)

    # Expected size of the cascade: the chosen neighbors, every path on them, every connection
    # on those paths. Computed with masks so it costs O(N) once, untimed.
    nb_mask = np.zeros(k, dtype=bool)
    nb_mask[terminate_neighbors] = True
    path_mask = nb_mask[path_neighbor]
    tcp_mask = path_mask[tcp_path]
    expected = int(nb_mask.sum() + path_mask.sum() + tcp_mask.sum())

    return Workload(
        n=n,
        n_paths=p,
        n_neighbors=k,
        macs=(MAC_BASE + np.arange(k, dtype=np.uint64)).astype(np.uint64),
        path_neighbor=path_neighbor,
        path_sources=np.full(p, SOURCE_IPV4, dtype=np.uint64),
        path_destinations=(DESTINATION_BASE_IPV4 + j).astype(np.uint64),
        tcp_path=tcp_path,
        local_ports=local_ports.astype(np.int64),
        remote_ports=np.full(n, REMOTE_PORT, dtype=np.int64),
        terminate_neighbors=terminate_neighbors,
        expected_terminated=expected,
        extra={
            "connections": n,
            "paths": p,
            "neighbors": k,
            "terminated_neighbors": len(terminate_neighbors),
        },
    )
