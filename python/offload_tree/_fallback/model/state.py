"""The host copy of an object's variables (``crates/core/src/model/state.rs``), and the
validation that builds it from loosely typed input (``engine/build.rs`` in the core).

Every object keeps its variables as three tuples in field-table order: ``const``,
``cached`` and ``delegated``. Tuples are immutable, so objects created with default values
share one default tuple: a million default connections cost little more than their ports.
"""

from __future__ import annotations

from typing import Any

from ..._fields import CACHED, CONSTANT, DELEGATED, IP, MAC, U32_MAX
from ..._messages import error
from .address import format_mac
from .fields import LAYOUTS, check_range
from .value import to_field, to_int, to_ip, to_mac

__all__ = [
    "Values",
    "default_tcp_values",
    "neighbor_values",
    "path_values",
    "state_dict",
    "tcp_values",
]

# (const, cached, delegated)
Values = tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]

_NEIGHBOR, _PATH, _TCP = LAYOUTS
_VLAN = _NEIGHBOR.position["vlan_id"][0]
_MTU = _PATH.position["path_mtu"][0]


def neighbor_values(
    mac: object,
    vlan_id: object,
    source_mac: object | None,
    host_reachability_delta: object,
    nic_reachability_delta: object,
) -> Values:
    """Validate a neighbor's variables (sorted values, in the core's order)."""
    checked_mac = to_mac(mac, "mac")
    assert _VLAN.max is not None
    vlan = check_range("vlan_id", to_int(vlan_id, "vlan_id"), 0, _VLAN.max)
    src = None if source_mac is None else to_mac(source_mac, "source_mac")
    host = check_range(
        "host_reachability_delta",
        to_int(host_reachability_delta, "host_reachability_delta"),
        0,
        U32_MAX,
    )
    nic = check_range(
        "nic_reachability_delta",
        to_int(nic_reachability_delta, "nic_reachability_delta"),
        0,
        U32_MAX,
    )
    return (src, vlan), (checked_mac, host), (nic,)


def path_values(source: object, destination: object, path_mtu: object) -> Values:
    """Validate a path's variables: addresses, then the MTU's type, family, the MTU's range."""
    src = to_ip(source, "source")
    dst = to_ip(destination, "destination")
    mtu = to_int(path_mtu, "path_mtu")
    if len(src) != len(dst):
        raise error(
            "ip_family_mismatch",
            source=4 if len(src) == 4 else 6,
            destination=4 if len(dst) == 4 else 6,
        )
    assert _MTU.min is not None and _MTU.max is not None
    return (src, dst), (check_range("path_mtu", mtu, _MTU.min, _MTU.max),), ()


_TCP_DEFAULTS = {kind: _TCP.defaults[kind] for kind in (CONSTANT, CACHED, DELEGATED)}
_TCP_CONST_TAIL = _TCP_DEFAULTS[CONSTANT][2:]
_TCP_CACHED, _TCP_DELEGATED = _TCP_DEFAULTS[CACHED], _TCP_DEFAULTS[DELEGATED]


def default_tcp_values(local_port: int, remote_port: int) -> Values:
    """A connection with checked ports and every other variable at its default: the groups
    share the default tuples (``add_tcps``)."""
    return (local_port, remote_port, *_TCP_CONST_TAIL), _TCP_CACHED, _TCP_DELEGATED


def tcp_values(local_port: object, remote_port: object, fields: dict[str, object]) -> Values:
    """Validate a connection's variables: the ports, then each keyword in the order given.

    Groups left at their defaults share the default tuple.
    """
    groups: dict[str, list[Any]] | None = None
    named = [("local_port", local_port), ("remote_port", remote_port), *fields.items()]
    head: list[Any] = []
    for name, value in named:
        found = _TCP.position.get(name)
        if found is None:
            raise error("unknown_tcp_variable", name=name)
        spec, index = found
        checked = to_field(value, spec)
        if len(head) < 2:
            head.append(checked)
            continue
        if groups is None:
            groups = {kind: list(defaults) for kind, defaults in _TCP_DEFAULTS.items()}
        groups[spec.kind][index] = checked
    if groups is None:
        return tuple(head) + _TCP_CONST_TAIL, _TCP_DEFAULTS[CACHED], _TCP_DEFAULTS[DELEGATED]
    groups[CONSTANT][:2] = head
    return tuple(groups[CONSTANT]), tuple(groups[CACHED]), tuple(groups[DELEGATED])


def state_dict(
    handle: int, layer: int, offloaded: bool, invalidated: bool, values: Values
) -> dict[str, Any]:
    """The engine's ``state()`` dict: header keys, then every variable in table order.

    MACs are formatted text (``source_mac`` may be None), IPs packed bytes.
    """
    out: dict[str, Any] = {
        "handle": handle,
        "layer": layer,
        "offloaded": offloaded,
        "invalidated": invalidated,
    }
    layout = LAYOUTS[layer]
    for kind, group in zip((CONSTANT, CACHED, DELEGATED), values, strict=True):
        for spec, value in zip(layout.by_kind[kind], group, strict=True):
            if spec.value_type == MAC and value is not None:
                value = format_mac(value)
            elif spec.value_type == IP:
                value = bytes(value)
            out[spec.name] = value
    return out
