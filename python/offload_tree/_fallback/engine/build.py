"""Building and pruning the host tree: ``add_neighbor(s)``, ``add_path(s)``, ``add_tcp(s)``
and ``remove`` (``crates/core/src/engine/build.rs``). A batch validates every item before
it adds any.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._coerce import check_length, format_handle
from ..._enums import Layer
from ..._errors import OffloadTreeError
from ..._messages import ITEM_SUFFIX, error, render
from ..host.keys import KeyConflict
from ..host.tree import Node
from ..host.walk import walk_roots
from ..model.fields import check_range
from ..model.handle import NEIGHBOR, PATH, TCP
from ..model.state import Values, default_tcp_values, neighbor_values, path_values, tcp_values
from ..model.value import to_mac
from ..target.admission import forget_fault

if TYPE_CHECKING:
    from . import Engine

__all__ = [
    "add_neighbor",
    "add_neighbors",
    "add_path",
    "add_paths",
    "add_tcp",
    "add_tcps",
    "check_parents",
    "first_dependent_outside",
    "remove",
]

_U16 = 0xFFFF
_VLAN_MAX = 4095
_DEFAULT_PATH_MTU = 1500


def _at(exc: OffloadTreeError, index: int) -> OffloadTreeError:
    """``exc`` with the catalogue's item suffix: it is about item ``index`` of a batch."""
    exc.args = (str(exc) + render(ITEM_SUFFIX, index=index),)
    return exc


def add_neighbor(
    e: Engine,
    mac: object,
    vlan_id: object,
    source_mac: object | None,
    host_reachability_delta: object,
    nic_reachability_delta: object,
) -> int:
    """Add a neighbor (a next hop); returns its handle."""
    values = neighbor_values(
        mac, vlan_id, source_mac, host_reachability_delta, nic_reachability_delta
    )
    return e.host.insert(NEIGHBOR, None, values).handle


def add_neighbors(e: Engine, macs: list[Any], vlan_ids: list[int] | None) -> list[int]:
    """Add neighbors with the given MACs (and VLAN ids, else 0); returns their handles."""
    if vlan_ids is not None:
        check_length("vlan_ids", len(vlan_ids), len(macs), "MACs")
    values = []
    poll, mask = e.interrupts.poll, e.interrupts.mask()
    for i, mac in enumerate(macs):
        if i & mask == mask:
            poll(i)
        try:
            checked = to_mac(mac, "mac")
            vlan = check_range("vlan_id", 0 if vlan_ids is None else vlan_ids[i], 0, _VLAN_MAX)
        except OffloadTreeError as exc:
            raise _at(exc, i) from None
        values.append(((None, vlan), (checked, 0), (0,)))
    return e.host.insert_all(NEIGHBOR, [None] * len(values), values, e.interrupts)


def add_path(
    e: Engine, neighbor: int, source: object, destination: object, path_mtu: object
) -> int:
    """Add a path from ``source`` to ``destination`` over ``neighbor``; returns its handle."""
    parent = e.host.resolve_layer(neighbor, NEIGHBOR, "neighbor")
    values = path_values(source, destination, path_mtu)
    try:
        return e.host.insert(PATH, parent, values).handle
    except KeyConflict as conflict:
        raise _conflict(conflict, parent, values) from None


def check_parents(e: Engine, handles: list[int], child: int) -> list[Node]:
    """The checks a batch add runs on its parents before any value: every handle valid,
    then every one of the layer below ``child`` (``Engine::check_parents``)."""
    parents = e.resolve_all(handles)
    if child == PATH:
        e.check_layers(parents, NEIGHBOR, "neighbors")
    elif child == TCP:
        e.check_layers(parents, PATH, "paths")
    return parents


def add_paths(
    e: Engine,
    neighbors: list[int],
    sources: list[Any],
    destinations: list[Any],
    path_mtus: list[int] | None,
) -> list[int]:
    """Add paths, one per neighbor handle; returns their handles."""
    n = len(neighbors)
    parents = check_parents(e, neighbors, PATH)
    check_length("sources", len(sources), n)
    check_length("destinations", len(destinations), n)
    if path_mtus is not None:
        check_length("path_mtus", len(path_mtus), n)
    values = []
    poll, mask = e.interrupts.poll, e.interrupts.mask()
    for i in range(n):
        if i & mask == mask:
            poll(i)
        mtu = _DEFAULT_PATH_MTU if path_mtus is None else path_mtus[i]
        try:
            values.append(path_values(sources[i], destinations[i], mtu))
        except OffloadTreeError as exc:
            raise _at(exc, i) from None
    return _insert_batch(e, PATH, parents, values)


def add_tcp(
    e: Engine, path: int, local_port: object, remote_port: object, fields: dict[str, object]
) -> int:
    """Add a connection over ``path``; ``fields`` sets any other TCP variable by name."""
    parent = e.host.resolve_layer(path, PATH, "path")
    values = tcp_values(local_port, remote_port, fields)
    try:
        return e.host.insert(TCP, parent, values).handle
    except KeyConflict as conflict:
        raise _conflict(conflict, parent, values) from None


def add_tcps(
    e: Engine, paths: list[int], local_ports: list[int], remote_ports: list[int]
) -> list[int]:
    """Add connections with default variables, one per path handle; returns their handles."""
    n = len(paths)
    parents = check_parents(e, paths, TCP)
    check_length("local_ports", len(local_ports), n)
    check_length("remote_ports", len(remote_ports), n)
    poll, mask = e.interrupts.poll, e.interrupts.mask()
    for i in range(n):
        if i & mask == mask:
            poll(i)
        try:
            check_range("local_port", local_ports[i], 0, _U16)
            check_range("remote_port", remote_ports[i], 0, _U16)
        except OffloadTreeError as exc:
            raise _at(exc, i) from None
    values = [default_tcp_values(lp, rp) for lp, rp in zip(local_ports, remote_ports, strict=True)]
    return _insert_batch(e, TCP, parents, values)


def _insert_batch(e: Engine, layer: int, parents: list[Node], values: list[Values]) -> list[int]:
    """Insert a checked batch, all or nothing; a taken key is the error of its item."""
    try:
        return e.host.insert_all(layer, parents, values, e.interrupts)
    except KeyConflict as conflict:
        at = conflict.index
        assert at is not None
        raise _at(_conflict(conflict, parents[at], values[at]), at) from None


def _conflict(conflict: KeyConflict, parent: Node, values: Values) -> OffloadTreeError:
    """The ``DuplicateKeyError`` of an object whose key ``conflict.holder`` has: an earlier
    item of the same batch (``conflict.first``), or an object the tree held already."""
    first, holder = conflict.first, format_handle(conflict.holder.handle)
    if parent.layer == NEIGHBOR:  # a path: its key is its address pair
        if first is not None:
            return error("repeated_path", first=first)
        return error("duplicate_path", existing=holder)
    ports = {"local_port": values[0][0], "remote_port": values[0][1]}
    path = format_handle(parent.handle)
    if first is not None:
        return error("repeated_tcp", first=first, path=path, **ports)
    return error("duplicate_tcp", existing=holder, path=path, **ports)


def remove(e: Engine, handles: list[int], cascade: bool) -> list[int]:
    """Delete host objects that are not offloaded; returns them in the order removed,
    dependents first."""
    requested, offloaded = e.resolve_expecting(handles, True, False)
    if offloaded is not None:
        raise error(
            "remove_offloaded",
            layer=Layer(offloaded.layer).name,
            handle=format_handle(offloaded.handle),
        )
    # With cascade no descendant needs an offload check: an object that is not offloaded
    # has no offloaded dependent (invariant 2).
    if not cascade:
        found = first_dependent_outside(requested, offloaded_only=False)
        if found is not None:
            node, child = found
            raise error(
                "remove_dependent",
                layer=Layer(child.layer).name,
                dependent=format_handle(child.handle),
                handle=format_handle(node.handle),
            )
    order = walk_roots(requested, post=True)
    e.host.remove_all(order)
    for node in order:
        forget_fault(e.target, node.handle)
        # what the application never read goes with its connection
        unread = e.delivered.pop(node.handle, b"")
        e.counts.bytes_discarded += len(unread)
    return [node.handle for node in order]


def first_dependent_outside(
    requested: list[Node], offloaded_only: bool
) -> tuple[Node, Node] | None:
    """The first requested object (in request order) with a direct dependent that is not
    requested, and that dependent: what a call without cascade would cut off. With
    ``offloaded_only``, only offloaded dependents count (terminate)."""
    wanted = {node.handle for node in requested}
    for node in requested:
        for child in (node.children or {}).values():
            if child.handle not in wanted and (not offloaded_only or child.offloaded):
                return node, child
    return None
