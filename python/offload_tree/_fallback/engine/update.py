"""``update``: change cached variables on the host copy and, for an offloaded object, on the
target; a value the target cannot take makes the host terminate that object
(docs/DESIGN.md §8, "update"; ``crates/core/src/engine/update.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._coerce import check_length, format_handle
from ..._enums import Layer, Operation, Status
from ..._fields import CACHED, MAC
from ..._messages import error
from ..host.tree import Node
from ..host.walk import offloaded_post_order
from ..model.address import mac_from_int
from ..model.fields import HOST_REACHABILITY, INITIAL_RCV_WND, LAYOUTS, PATH_MTU, check, lookup
from ..model.handle import NEIGHBOR, PATH, TCP
from ..model.value import to_int, to_mac
from ..target.admission import take_fault
from .terminate import upload
from .types import Column, Outcome

if TYPE_CHECKING:
    from . import Engine

__all__ = ["check_update", "update"]

SUCCESS = Status.SUCCESS.value
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


def check_update(e: Engine, handles: list[int], names: list[str]) -> list[Node]:
    """The checks ``update`` runs before it looks at a value (``Engine::check_update``):
    valid handles; no invalidated object (NDIS "Synchronizing Update Operations"); no constant or
    delegated name (StateError); no unknown name (ValidationError)."""
    nodes = e.resolve_all(handles)
    for node in nodes:
        if node.offloaded and e.target.is_invalid(node.handle):
            raise error(
                "update_invalidated",
                layer=Layer(node.layer).name,
                handle=format_handle(node.handle),
            )
    layers = sorted({node.layer for node in nodes})
    for name in names:
        for layer in layers:
            spec = lookup(layer, name)
            if spec is not None and spec.kind != CACHED:
                raise error("update_not_cached", name=name, kind=spec.kind, layer=Layer(layer).name)
    for name in names:
        for layer in layers:
            if lookup(layer, name) is None:
                raise error("unknown_variable", name=name, layer=Layer(layer).name)
    return nodes


def update(e: Engine, handles: list[int], fields: dict[str, Column]) -> tuple[list[int], Outcome]:
    """Change cached variables of ``handles``. Returns one detailed status per handle,
    duplicates included (SUCCESS, or why the target refused the values), and what the
    refusals made the host terminate."""
    nodes = check_update(e, handles, list(fields))
    for name, column in fields.items():
        check_length(name, len(column.values), len(nodes))
    # Every value checked before anything changes.
    changes: list[list[tuple[int, Any]]] = [[] for _ in nodes]
    for name, column in fields.items():
        for i, node in enumerate(nodes):
            index = LAYOUTS[node.layer].index(name)
            changes[i].append((index, _check_value(node.layer, name, column, i)))

    statuses: list[int] = []
    refused: list[Node] = []
    # Objects an injected fault failed: every mention of one in this update fails.
    faulted: set[int] = set()
    for node, change in zip(nodes, changes, strict=True):
        if change:
            cached = list(node.cached)
            for index, value in change:
                cached[index] = value
            node.cached = tuple(cached)
        if not node.offloaded:
            status = SUCCESS
        elif take_fault(e.target, Operation.UPDATE, node.handle) is not None:
            faulted.add(node.handle)
            status = Status.FAILURE.value
        elif node.handle in faulted:
            status = Status.FAILURE.value
        else:
            status = _push_cached(e, node)
        if status != SUCCESS:
            refused.append(node)
        statuses.append(status)
    terminated = Outcome()
    if refused:
        # The host terminates what the target could not take (docs/NDIS.md, "Update, query,
        # invalidate"), once every value is applied, and hands back what the target held.
        terminated = upload(e, offloaded_post_order(refused))
    counter = e.counts.update
    counter.requested += len(nodes)
    for status in statuses:
        if status == SUCCESS:
            counter.succeeded += 1
        else:
            counter.fail(status)
    return statuses, terminated


def _check_value(layer: int, name: str, column: Column, i: int) -> Any:
    """One update value for an object of ``layer``, checked and converted as stored."""
    spec = lookup(layer, name)
    assert spec is not None
    value = column.values[i]
    if spec.value_type == MAC:
        return to_mac(value, name) if not column.ints else mac_from_int(value)
    if not column.ints:
        value = max(_I64_MIN, min(to_int(value, name), _I64_MAX))
    checked = check(spec, value)
    return bool(checked) if spec.is_bool else checked


def _push_cached(e: Engine, node: Node) -> int:
    """Give an offloaded object's new cached state to the target.

    Returns SUCCESS, or the failure status when the new path MTU or initial receive window
    is above the target's limit (the target copy is then left as it was).
    """
    config = e.target.config
    if node.layer == PATH and config.max_path_mtu is not None:
        if node.cached[PATH_MTU] > config.max_path_mtu:
            return Status.PATH_MTU.value
    elif node.layer == TCP and config.max_rcv_window is not None:
        if node.cached[INITIAL_RCV_WND] > config.max_rcv_window:
            return Status.TCP_RCV_WINDOW.value
    context = e.target.contexts[node.handle]
    context.cached = node.cached
    if node.layer == NEIGHBOR:
        # The target's own HostReachabilityDelta restarts from the host's new value, as in
        # the core: the neighbor's staleness is measured from it.
        context.host_reachability = node.cached[HOST_REACHABILITY]
    return SUCCESS
