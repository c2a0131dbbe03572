"""The baselines a user would otherwise pick: networkx, rustworkx, and plain Python dicts.

Each baseline models the same host tree and simulated target as offload-tree, at the smallest
honest cost, so that the ratios measure the library rather than a straw man:

* Node ids: neighbors ``0..K-1``, paths ``K..K+P-1``, connections ``K+P..K+P+N-1``, created in
  that order (the same creation order the offload-tree adapters use).
* Host state lives in one attribute dict per node: ``layer``, an ``offloaded`` flag and the
  object's variables (neighbor: ``mac``, ``vlan_id``, the two reachability deltas; path:
  ``source``, ``destination``, ``path_mtu``; connection: ``local_port``, ``remote_port`` and
  ``delegated``, a tuple of the 25 delegated TCP variables with the defaults of
  docs/DESIGN.md §5). offload-tree stores every constant and cached TCP variable as well, so the
  baselines hold *less* state than the library.
* The target is a dict ``node id -> context list`` (the target's own copy): neighbor
  ``[parent, mac, nic_reachability_delta]``, path ``[parent, path_mtu]``, connection
  ``[parent, delegated tuple]``. Delegated state is an immutable tuple, so handing it to the
  target and back is a copy by reference: the cheapest correct copy Python has.
* offload = for each connection, climb to its first offloaded ancestor, then mark every node on
  that chain ``offloaded`` (top-down from the lowest) and create its target context. It raises on
  a connection already offloaded, but does not build a block list, per-block statuses or
  capacity checks as offload-tree does: again less work than the library.
* walk = DFS pre-order from each neighbor in creation order.
* terminate = for each chosen neighbor, collect its offloaded descendants by traversal, and
  upload dependents before what they depend on: pop the target context, copy the delegated
  values back to the host node, clear ``offloaded``.
* query = for each connection, check it is offloaded and read its delegated tuple from the
  target (no copy is needed: tuples are immutable, so the snapshot cannot change under the
  caller; offload-tree likewise returns a lazy result without building per-connection dicts).
* update = set ``path_mtu`` on the host node and, when offloaded, in the target context.

The same input values as the offload-tree adapters are used, converted to Python lists in
``prepare`` (untimed), since iterating NumPy arrays element by element would slow the
baselines down for no reason a user would accept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from offload_tree.bench.adapters import Adapter
from offload_tree.bench.workload import Workload

#: The delegated TCP variables with their docs/DESIGN.md §5 defaults, in field order:
#: state ESTABLISHED (4), rcv_nxt, rcv_wnd, snd_una, snd_nxt, snd_max, snd_wnd, max_snd_wnd,
#: send_wl1, cwnd, ssthresh, srtt, rttvar, ts_recent, ts_recent_age, ts_time, total_rt,
#: dup_ack_count, snd_wnd_probe_count, keepalive_probe_count, keepalive_timeout_delta,
#: retransmit_count, retransmit_timeout_delta, send_backlog_size, dwnd.
DEFAULT_DELEGATED: tuple[int, ...] = (
    4, 0, 65535, 0, 0, 0, 65535, 65535, 0, 14600, 65535, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
)  # fmt: skip

NEIGHBOR, PATH, TCP = 0, 1, 2
DEFAULT_PATH_MTU = 1500


class StateError(Exception):
    """A baseline's equivalent of offload_tree.StateError (wrong offload state)."""


class _BaselineAdapter(Adapter):
    """Shared input preparation: the workload as Python lists of node ids and values."""

    def __init__(self) -> None:
        super().__init__()
        self.neighbor_ids: list[int] = []
        self.path_ids: list[int] = []
        self.tcp_ids: list[int] = []
        self.terminate_ids: list[int] = []
        self.macs: list[int] = []
        self.path_parents: list[int] = []
        self.sources: list[int] = []
        self.destinations: list[int] = []
        self.tcp_parents: list[int] = []
        self.local_ports: list[int] = []
        self.remote_ports: list[int] = []
        self.target: dict[int, list[Any]] = {}

    def prepare(self, workload: Workload) -> None:
        """Convert the NumPy input to lists of ints and lay out the node ids (untimed)."""
        super().prepare(workload)
        w = workload
        k, p = w.n_neighbors, w.n_paths
        self.neighbor_ids = list(range(k))
        self.path_ids = list(range(k, k + p))
        self.tcp_ids = list(range(k + p, k + p + w.n))
        self.terminate_ids = w.terminate_neighbors.tolist()
        self.macs = w.macs.tolist()
        self.path_parents = w.path_neighbor.tolist()  # neighbor j's id is j
        self.sources = w.path_sources.tolist()
        self.destinations = w.path_destinations.tolist()
        self.tcp_parents = (w.tcp_path + k).tolist()  # path j's id is K + j
        self.local_ports = w.local_ports.tolist()
        self.remote_ports = w.remote_ports.tolist()

    def _check_mtu(self) -> int:
        """Validate the new MTU once, as offload-tree validates its (broadcast) value."""
        mtu = self.w.new_path_mtu
        if not 68 <= mtu <= 65535:
            raise ValueError(f"path_mtu {mtu} outside 68..65535")
        return mtu


class DictAdapter(_BaselineAdapter):
    """Plain Python dicts: ``nodes[id]`` is the node's attribute dict.

    Links are stored in the records themselves: ``up`` (the parent id, None for a neighbor) and,
    for neighbors and paths, ``down`` (a list of child ids in insertion order). walk, terminate
    and the offload chain climb are nested loops over these lists, which is how one writes a
    three-level tree by hand.
    """

    name = "dicts"
    label = "Python dicts"

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[int, dict[str, Any]] = {}

    def reset(self) -> None:
        """Drop the tree and the target store."""
        self.nodes = {}
        self.target = {}

    def build(self) -> None:
        """One dict per node; each child id is appended to its parent's ``down`` list."""
        nodes: dict[int, dict[str, Any]] = {}
        for nid, mac in zip(self.neighbor_ids, self.macs, strict=True):
            nodes[nid] = {
                "layer": NEIGHBOR, "up": None, "down": [], "offloaded": False, "mac": mac,
                "vlan_id": 0, "host_reachability_delta": 0, "nic_reachability_delta": 0,
            }  # fmt: skip
        for nid, up, src, dst in zip(
            self.path_ids, self.path_parents, self.sources, self.destinations, strict=True
        ):
            nodes[nid] = {
                "layer": PATH, "up": up, "down": [], "offloaded": False, "source": src,
                "destination": dst, "path_mtu": DEFAULT_PATH_MTU,
            }  # fmt: skip
            nodes[up]["down"].append(nid)
        for nid, up, lport, rport in zip(
            self.tcp_ids, self.tcp_parents, self.local_ports, self.remote_ports, strict=True
        ):
            nodes[nid] = {
                "layer": TCP, "up": up, "offloaded": False, "local_port": lport,
                "remote_port": rport, "delegated": DEFAULT_DELEGATED,
            }  # fmt: skip
            nodes[up]["down"].append(nid)
        self.nodes = nodes
        self.target = {}

    def walk(self) -> list[int]:
        """Pre-order: neighbor, then per path the path and its connections."""
        nodes = self.nodes
        out: list[int] = []
        append, extend = out.append, out.extend
        for nb in self.neighbor_ids:
            append(nb)
            for path in nodes[nb]["down"]:
                append(path)
                extend(nodes[path]["down"])
        return out

    def offload_all(self) -> list[int]:
        """Climb each connection's chain to the first offloaded ancestor, offload top-down."""
        nodes, target = self.nodes, self.target
        offloaded: list[int] = []
        for tcp in self.tcp_ids:
            rec = nodes[tcp]
            if rec["offloaded"]:
                raise StateError(f"connection {tcp} is already offloaded")
            chain = [tcp]
            up = rec["up"]
            while up is not None:
                parent = nodes[up]
                if parent["offloaded"]:
                    break
                chain.append(up)
                up = parent["up"]
            for nid in reversed(chain):  # lowest layer first: no offloaded orphan
                r = nodes[nid]
                r["offloaded"] = True
                layer = r["layer"]
                if layer == TCP:
                    target[nid] = [r["up"], r["delegated"]]
                elif layer == PATH:
                    target[nid] = [r["up"], r["path_mtu"]]
                else:
                    target[nid] = [None, r["mac"], r["nic_reachability_delta"]]
                offloaded.append(nid)
        return offloaded

    def query_all(self) -> list[tuple[int, ...]]:
        """The target's delegated tuple of every connection."""
        nodes, target = self.nodes, self.target
        out: list[tuple[int, ...]] = []
        append = out.append
        for tcp in self.tcp_ids:
            if not nodes[tcp]["offloaded"]:
                raise StateError(f"connection {tcp} is not offloaded")
            append(target[tcp][1])
        return out

    def update_mtu(self) -> list[int]:
        """Host copy, then target copy when offloaded."""
        mtu = self._check_mtu()
        nodes, target = self.nodes, self.target
        for path in self.path_ids:
            rec = nodes[path]
            rec["path_mtu"] = mtu
            if rec["offloaded"]:
                target[path][1] = mtu
        return self.path_ids

    def terminate_1pct(self) -> list[int]:
        """Post-order over each chosen neighbor's offloaded subtree; upload each node."""
        nodes, target = self.nodes, self.target
        uploaded: list[int] = []
        append = uploaded.append
        for nb in self.terminate_ids:
            nrec = nodes[nb]
            if not nrec["offloaded"]:
                raise StateError(f"neighbor {nb} is not offloaded")
            for path in nrec["down"]:
                prec = nodes[path]
                if not prec["offloaded"]:
                    continue
                for tcp in prec["down"]:
                    trec = nodes[tcp]
                    if trec["offloaded"]:
                        trec["delegated"] = target.pop(tcp)[1]
                        trec["offloaded"] = False
                        append(tcp)
                del target[path]  # a path has no delegated state to return
                prec["offloaded"] = False
                append(path)
            nrec["nic_reachability_delta"] = target.pop(nb)[2]
            nrec["offloaded"] = False
            append(nb)
        return uploaded


class NetworkxAdapter(_BaselineAdapter):
    """A ``networkx.DiGraph`` with an edge parent -> dependent and node attributes for state.

    Parents are found through ``G.pred``; walk is ``nx.dfs_preorder_nodes`` from each neighbor;
    terminate uses ``nx.dfs_postorder_nodes`` from each chosen neighbor (dependents first).
    """

    name = "networkx"
    label = "networkx"
    requires = ("networkx",)

    def __init__(self) -> None:
        super().__init__()
        self.graph: Any = None

    def reset(self) -> None:
        """Drop the graph and the target store."""
        self.graph = None
        self.target = {}

    def build(self) -> None:
        """``add_nodes_from`` with attribute dicts, then ``add_edges_from`` parent -> child."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(
            (nid, {"layer": NEIGHBOR, "offloaded": False, "mac": mac, "vlan_id": 0,
                   "host_reachability_delta": 0, "nic_reachability_delta": 0})
            for nid, mac in zip(self.neighbor_ids, self.macs, strict=True)
        )  # fmt: skip
        g.add_nodes_from(
            (nid, {"layer": PATH, "offloaded": False, "source": src, "destination": dst,
                   "path_mtu": DEFAULT_PATH_MTU})
            for nid, src, dst in zip(self.path_ids, self.sources, self.destinations, strict=True)
        )  # fmt: skip
        g.add_nodes_from(
            (nid, {"layer": TCP, "offloaded": False, "local_port": lport,
                   "remote_port": rport, "delegated": DEFAULT_DELEGATED})
            for nid, lport, rport in zip(
                self.tcp_ids, self.local_ports, self.remote_ports, strict=True
            )
        )  # fmt: skip
        g.add_edges_from(zip(self.path_parents, self.path_ids, strict=True))
        g.add_edges_from(zip(self.tcp_parents, self.tcp_ids, strict=True))
        self.graph = g
        self.target = {}

    def walk(self) -> list[int]:
        """``nx.dfs_preorder_nodes`` from each neighbor in creation order."""
        import networkx as nx

        g = self.graph
        out: list[int] = []
        for nb in self.neighbor_ids:
            out.extend(nx.dfs_preorder_nodes(g, nb))
        return out

    def offload_all(self) -> list[int]:
        """Climb through ``G.pred`` to the first offloaded ancestor, offload top-down."""
        g = self.graph
        pred = g.pred
        tcps = ((tcp, tcp) for tcp in self.tcp_ids)
        return _offload_chains(tcps, g.nodes.__getitem__, lambda n: list(pred[n]), self.target)

    def query_all(self) -> list[tuple[int, ...]]:
        """The target's delegated tuple of every connection."""
        attrs, target = self.graph.nodes, self.target
        out: list[tuple[int, ...]] = []
        append = out.append
        for tcp in self.tcp_ids:
            if not attrs[tcp]["offloaded"]:
                raise StateError(f"connection {tcp} is not offloaded")
            append(target[tcp][1])
        return out

    def update_mtu(self) -> list[int]:
        """Node attribute, then target copy when offloaded."""
        mtu = self._check_mtu()
        attrs, target = self.graph.nodes, self.target
        for path in self.path_ids:
            a = attrs[path]
            a["path_mtu"] = mtu
            if a["offloaded"]:
                target[path][1] = mtu
        return self.path_ids

    def terminate_1pct(self) -> list[int]:
        """``nx.dfs_postorder_nodes`` per chosen neighbor; upload the offloaded nodes."""
        import networkx as nx

        g, target = self.graph, self.target
        attrs = g.nodes
        uploaded: list[int] = []
        for nb in self.terminate_ids:
            if not attrs[nb]["offloaded"]:
                raise StateError(f"neighbor {nb} is not offloaded")
            for nid in nx.dfs_postorder_nodes(g, nb):
                a = attrs[nid]
                if not a["offloaded"]:
                    continue
                ctx = target.pop(nid)
                layer = a["layer"]
                if layer == TCP:
                    a["delegated"] = ctx[1]
                elif layer == NEIGHBOR:
                    a["nic_reachability_delta"] = ctx[2]
                a["offloaded"] = False
                uploaded.append(nid)
        return uploaded


# --- what the graph baselines share: the per-record work on top of a graph's structure -----
# ``record(node)`` is a node's attribute dict (rustworkx's payload, igraph's list entry),
# ``parents(node)`` its predecessors; ``target`` maps node -> context list.


def _offload_chains(
    tcps: Iterable[tuple[int, int]],
    record: Callable[[int], dict[str, Any]],
    parents: Callable[[int], Any],
    target: dict[int, list[Any]],
) -> list[int]:
    """Offload each (connection id, node): climb to the first offloaded ancestor, then give
    the chain its contexts lowest layer first; the offloaded nodes in that order."""
    offloaded: list[int] = []
    for tcp, node in tcps:
        if record(node)["offloaded"]:
            raise StateError(f"connection {tcp} is already offloaded")
        # (node, parent) pairs from the connection down: each parent is looked up once.
        chain: list[tuple[int, int | None]] = []
        while True:
            ups = parents(node)
            parent = ups[0] if ups else None
            chain.append((node, parent))
            if parent is None or record(parent)["offloaded"]:
                break
            node = parent
        for nid, parent in reversed(chain):  # lowest layer first: no offloaded orphan
            a = record(nid)
            a["offloaded"] = True
            layer = a["layer"]
            if layer == TCP:
                target[nid] = [parent, a["delegated"]]
            elif layer == PATH:
                target[nid] = [parent, a["path_mtu"]]
            else:
                target[nid] = [None, a["mac"], a["nic_reachability_delta"]]
            offloaded.append(nid)
    return offloaded


def _query(
    tcps: Iterable[tuple[int, int]],
    record: Callable[[int], dict[str, Any]],
    target: dict[int, list[Any]],
) -> list[tuple[int, ...]]:
    """The target's delegated tuple of each (connection id, node)."""
    out: list[tuple[int, ...]] = []
    append = out.append
    for tcp, node in tcps:
        if not record(node)["offloaded"]:
            raise StateError(f"connection {tcp} is not offloaded")
        append(target[node][1])
    return out


def _update_mtu(
    nodes: Iterable[int],
    record: Callable[[int], dict[str, Any]],
    target: dict[int, list[Any]],
    mtu: int,
) -> None:
    """The record, then the target copy when offloaded."""
    for node in nodes:
        a = record(node)
        a["path_mtu"] = mtu
        if a["offloaded"]:
            target[node][1] = mtu


def _upload(
    order: Iterable[int],
    record: Callable[[int], dict[str, Any]],
    target: dict[int, list[Any]],
    uploaded: list[int],
) -> None:
    """Upload every offloaded node of ``order`` (dependents first), appending it."""
    for nid in order:
        a = record(nid)
        if not a["offloaded"]:
            continue
        ctx = target.pop(nid)
        layer = a["layer"]
        if layer == TCP:
            a["delegated"] = ctx[1]
        elif layer == NEIGHBOR:
            a["nic_reachability_delta"] = ctx[2]
        a["offloaded"] = False
        uploaded.append(nid)


class RustworkxAdapter(_BaselineAdapter):
    """A ``rustworkx.PyDiGraph`` whose node payloads are the attribute dicts.

    Nodes and edges are added in three batch calls each (``add_nodes_from``,
    ``add_edges_from_no_data``); parents come from ``predecessor_indices``; walk and terminate use
    ``rx.dfs_edges`` from each neighbor, which runs the traversal in Rust (terminate processes its
    pre-order reversed, which puts every dependent before what it depends on). rustworkx lists a
    node's successors newest first, so siblings come out in reverse creation order; the amount
    of work is the same.
    """

    name = "rustworkx"
    label = "rustworkx"
    requires = ("rustworkx",)

    def __init__(self) -> None:
        super().__init__()
        self.graph: Any = None
        self.index: list[int] = []

    def reset(self) -> None:
        """Drop the graph and the target store."""
        self.graph = None
        self.target = {}

    def build(self) -> None:
        """Batch-add the payload dicts and the parent -> child edges."""
        import rustworkx as rx

        g = rx.PyDiGraph(check_cycle=False, multigraph=False)
        nbs = g.add_nodes_from(
            [{"layer": NEIGHBOR, "offloaded": False, "mac": mac, "vlan_id": 0,
              "host_reachability_delta": 0, "nic_reachability_delta": 0}
             for mac in self.macs]
        )  # fmt: skip
        paths = g.add_nodes_from(
            [{"layer": PATH, "offloaded": False, "source": src, "destination": dst,
              "path_mtu": DEFAULT_PATH_MTU}
             for src, dst in zip(self.sources, self.destinations, strict=True)]
        )  # fmt: skip
        tcps = g.add_nodes_from(
            [{"layer": TCP, "offloaded": False, "local_port": lport, "remote_port": rport,
              "delegated": DEFAULT_DELEGATED}
             for lport, rport in zip(self.local_ports, self.remote_ports, strict=True)]
        )  # fmt: skip
        # The ids of our layout are rustworkx's indices of a fresh graph filled in this order;
        # map through the returned indices anyway rather than rely on it.
        index = list(nbs) + list(paths) + list(tcps)
        g.add_edges_from_no_data(
            [(index[u], index[v]) for u, v in zip(self.path_parents, self.path_ids, strict=True)]
        )
        g.add_edges_from_no_data(
            [(index[u], index[v]) for u, v in zip(self.tcp_parents, self.tcp_ids, strict=True)]
        )
        self.graph, self.index = g, index
        self.target = {}

    def walk(self) -> list[int]:
        """Pre-order from each neighbor: the neighbor, then the heads of ``rx.dfs_edges``."""
        import rustworkx as rx

        g, index = self.graph, self.index
        out: list[int] = []
        for nb in self.neighbor_ids:
            root = index[nb]
            out.append(root)
            out.extend([v for _, v in rx.dfs_edges(g, root)])
        return out

    def offload_all(self) -> list[int]:
        """Climb through ``predecessor_indices`` to the first offloaded ancestor; offload."""
        g, index = self.graph, self.index
        tcps = ((tcp, index[tcp]) for tcp in self.tcp_ids)
        return _offload_chains(tcps, g.__getitem__, g.predecessor_indices, self.target)

    def query_all(self) -> list[tuple[int, ...]]:
        """The target's delegated tuple of every connection."""
        index = self.index
        tcps = ((tcp, index[tcp]) for tcp in self.tcp_ids)
        return _query(tcps, self.graph.__getitem__, self.target)

    def update_mtu(self) -> list[int]:
        """Node payload, then target copy when offloaded."""
        mtu = self._check_mtu()
        index = self.index
        _update_mtu((index[p] for p in self.path_ids), self.graph.__getitem__, self.target, mtu)
        return self.path_ids

    def terminate_1pct(self) -> list[int]:
        """Reverse of the ``rx.dfs_edges`` pre-order per chosen neighbor; upload each node."""
        import rustworkx as rx

        g, index = self.graph, self.index
        uploaded: list[int] = []
        for nb in self.terminate_ids:
            root = index[nb]
            if not g[root]["offloaded"]:
                raise StateError(f"neighbor {nb} is not offloaded")
            order = [root]
            order.extend([v for _, v in rx.dfs_edges(g, root)])
            _upload(reversed(order), g.__getitem__, self.target, uploaded)
        return uploaded


class IgraphAdapter(_BaselineAdapter):
    """A python-igraph ``Graph`` for the structure and the traversals, with the node records
    (attribute dicts, as the other baselines keep them) in a list by vertex id.

    igraph does what it can do natively: the graph is built in two batch calls
    (``Graph(n=...)``, ``add_edges``), walk and terminate take their pre-order from
    ``Graph.dfs`` (C code) from each neighbor, and the offload climbs ``Graph.predecessors``.
    Per-object state changes are Python loops over the records, as with every baseline: igraph
    has no notion of offload state. Vertex attributes would hold the same values, at the cost
    of an attribute lookup per access. Like rustworkx's, igraph's depth-first search visits a
    node's dependents newest first; the amount of work is the same.
    """

    name = "igraph"
    label = "python-igraph"
    requires = ("igraph",)

    def __init__(self) -> None:
        super().__init__()
        self.graph: Any = None
        self.records: list[dict[str, Any]] = []

    def reset(self) -> None:
        """Drop the graph, the records and the target store."""
        self.graph = None
        self.records = []
        self.target = {}

    def build(self) -> None:
        """All vertices at once (ids in creation order), all parent -> child edges at once."""
        import igraph

        w = self.w
        g = igraph.Graph(n=w.total_objects, directed=True)
        g.add_edges(
            list(zip(self.path_parents, self.path_ids, strict=True))
            + list(zip(self.tcp_parents, self.tcp_ids, strict=True))
        )
        records: list[dict[str, Any]] = [
            {"layer": NEIGHBOR, "offloaded": False, "mac": mac, "vlan_id": 0,
             "host_reachability_delta": 0, "nic_reachability_delta": 0}
            for mac in self.macs
        ]  # fmt: skip
        records += [
            {"layer": PATH, "offloaded": False, "source": src, "destination": dst,
             "path_mtu": DEFAULT_PATH_MTU}
            for src, dst in zip(self.sources, self.destinations, strict=True)
        ]  # fmt: skip
        records += [
            {"layer": TCP, "offloaded": False, "local_port": lport, "remote_port": rport,
             "delegated": DEFAULT_DELEGATED}
            for lport, rport in zip(self.local_ports, self.remote_ports, strict=True)
        ]  # fmt: skip
        self.graph, self.records = g, records
        self.target = {}

    def walk(self) -> list[int]:
        """``Graph.dfs`` from each neighbor: its vertices come out in pre-order."""
        g = self.graph
        out: list[int] = []
        for nb in self.neighbor_ids:
            out.extend(g.dfs(nb, mode="out")[0])
        return out

    def offload_all(self) -> list[int]:
        """Climb ``Graph.predecessors`` to the first offloaded ancestor; offload the chain."""
        tcps = ((tcp, tcp) for tcp in self.tcp_ids)
        return _offload_chains(tcps, self.records.__getitem__, self.graph.predecessors, self.target)

    def query_all(self) -> list[tuple[int, ...]]:
        """The target's delegated tuple of every connection."""
        tcps = ((tcp, tcp) for tcp in self.tcp_ids)
        return _query(tcps, self.records.__getitem__, self.target)

    def update_mtu(self) -> list[int]:
        """The record, then the target copy when offloaded."""
        mtu = self._check_mtu()
        _update_mtu(self.path_ids, self.records.__getitem__, self.target, mtu)
        return self.path_ids

    def terminate_1pct(self) -> list[int]:
        """``Graph.dfs`` pre-order of each chosen neighbor, reversed; upload each vertex."""
        g, records = self.graph, self.records
        uploaded: list[int] = []
        for nb in self.terminate_ids:
            if not records[nb]["offloaded"]:
                raise StateError(f"neighbor {nb} is not offloaded")
            order = reversed(g.dfs(nb, mode="out")[0])
            _upload(order, records.__getitem__, self.target, uploaded)
        return uploaded
