"""State variables: parsing, validation and storage layout (DESIGN.md sections 4 and 5).

Every object keeps its variables as three tuples in field-table order: ``const``,
``cached`` and ``delegated``. Tuples are immutable, so objects created with default values
share one default tuple, and the target can share the host's cached tuple: a million
default connections cost little more than their ports.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .._enums import Layer
from .._errors import ValidationError
from .._fields import BOOL, CACHED, CONSTANT, DELEGATED, FIELDS, IP, MAC, Field
from .._handles import format_mac, parse_mac

__all__ = [
    "LAYOUTS",
    "Layout",
    "Values",
    "check_value",
    "format_mac",
    "neighbor_values",
    "parse_ip",
    "parse_mac",
    "path_values",
    "state_dict",
    "tcp_values",
]

# (const, cached, delegated)
Values = tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]


class Layout:
    """Where each variable of a layer lives: its kind and its index in that kind's tuple."""

    __slots__ = ("by_kind", "defaults", "fields", "position")

    def __init__(self, layer: Layer) -> None:
        """The layout of ``layer``, from the field table."""
        self.fields: tuple[Field, ...] = FIELDS[layer]
        self.by_kind: dict[str, tuple[Field, ...]] = {
            kind: tuple(f for f in self.fields if f.kind == kind)
            for kind in (CONSTANT, CACHED, DELEGATED)
        }
        self.position: dict[str, tuple[Field, int]] = {
            f.name: (f, i) for fields in self.by_kind.values() for i, f in enumerate(fields)
        }
        self.defaults: dict[str, tuple[Any, ...]] = {
            kind: tuple(f.default for f in fields) for kind, fields in self.by_kind.items()
        }

    def index(self, name: str) -> int:
        """The index of variable ``name`` in its kind's tuple."""
        return self.position[name][1]


LAYOUTS: tuple[Layout, Layout, Layout] = (
    Layout(Layer.NEIGHBOR),
    Layout(Layer.PATH),
    Layout(Layer.TCP),
)
_NEIGHBOR, _PATH, _TCP = LAYOUTS

# Indices the engine uses directly.
HOST_REACHABILITY = _NEIGHBOR.index("host_reachability_delta")  # in cached
NIC_REACHABILITY = _NEIGHBOR.index("nic_reachability_delta")  # in delegated
PATH_MTU = _PATH.index("path_mtu")  # in cached
INITIAL_RCV_WND = _TCP.index("initial_rcv_wnd")  # in cached
RCV_NXT = _TCP.index("rcv_nxt")  # the rest in delegated
RCV_WND = _TCP.index("rcv_wnd")
SND_UNA = _TCP.index("snd_una")
SND_NXT = _TCP.index("snd_nxt")
SND_MAX = _TCP.index("snd_max")
SEND_BACKLOG_SIZE = _TCP.index("send_backlog_size")


# --- values -------------------------------------------------------------------------------


def check_value(field: Field, value: object) -> Any:
    """Validate a Python value for ``field`` and return it as stored.

    Int fields need a non-bool ``int`` within range, bool fields a ``bool``; MAC fields
    take what :func:`parse_mac` takes.
    """
    if field.value_type == BOOL:
        if isinstance(value, bool):
            return value
        raise ValidationError(f"{field.name} must be True or False, got {value!r}")
    if field.value_type == MAC:
        return parse_mac(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field.name} must be an int, got {type(value).__name__}")
    assert field.min is not None and field.max is not None
    if not field.min <= value <= field.max:
        raise ValidationError(f"{field.name}={value} is out of range {field.range_text}")
    return int(value)


def check_stored(field: Field, value: object) -> Any:
    """Validate an ``update`` value for ``field``; returns it as stored.

    Values come from ``int64`` arrays (bool fields as 0 or 1), except MACs, which come raw.
    """
    if field.value_type == MAC:
        return parse_mac(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field.name} must be an int, got {type(value).__name__}")
    assert field.min is not None and field.max is not None
    if not field.min <= value <= field.max:
        if field.value_type == BOOL:
            raise ValidationError(f"{field.name} must be 0 or 1 (a bool), got {value}")
        raise ValidationError(f"{field.name}={value} is out of range {field.range_text}")
    return bool(value) if field.value_type == BOOL else value


def parse_ip(value: object) -> bytes:
    """An IP address as packed bytes (4 for IPv4, 16 for IPv6).

    Accepts IPv4 dotted-quad text without leading zeros or IPv6 text without a scope id,
    4 or 16 bytes, an int (below 2**32 IPv4, else IPv6 up to 2**128-1), or any object with a
    ``packed`` bytes attribute (``ipaddress`` objects).
    """
    if isinstance(value, str):
        return _parse_ip_text(value)
    if isinstance(value, bytes):
        if len(value) in (4, 16):
            return value
        raise ValidationError(
            f"an IP address given as bytes must be 4 or 16 bytes long, got {len(value)}"
        )
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < 2**32:
            return value.to_bytes(4, "big")
        if 2**32 <= value < 2**128:
            return value.to_bytes(16, "big")
        raise ValidationError(f"an IP address given as an int must be in 0..2**128-1, got {value}")
    packed = getattr(value, "packed", None)
    if isinstance(packed, bytes) and len(packed) in (4, 16):
        return packed
    raise ValidationError(
        f"an IP address must be a str, 4 or 16 bytes, an int or an ipaddress object, "
        f"got {type(value).__name__}"
    )


def _parse_ip_text(text: str) -> bytes:
    bad = ValidationError(
        f'malformed IP address {text!r}: expected IPv4 like "10.0.0.1" or IPv6 like "fe80::1"'
    )
    if "%" in text:  # Python accepts a scope id ("fe80::1%eth0"); the contract does not
        raise bad
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        raise bad from None


# --- building the three tuples of a new object --------------------------------------------


def neighbor_values(
    mac: object,
    vlan_id: object,
    source_mac: object,
    host_reachability_delta: object,
    nic_reachability_delta: object,
) -> Values:
    """Validate a neighbor's variables; returns its (const, cached, delegated) tuples."""
    const_fields = _NEIGHBOR.by_kind[CONSTANT]
    src = None if source_mac is None else check_value(const_fields[0], source_mac)
    vlan = check_value(const_fields[1], vlan_id)
    cached_fields = _NEIGHBOR.by_kind[CACHED]
    cached = (
        check_value(cached_fields[0], mac),
        check_value(cached_fields[1], host_reachability_delta),
    )
    delegated = (check_value(_NEIGHBOR.by_kind[DELEGATED][0], nic_reachability_delta),)
    return (src, vlan), cached, delegated


_PATH_MTU_FIELD = _PATH.by_kind[CACHED][0]


def path_values(source: object, destination: object, path_mtu: object) -> Values:
    """Validate a path's variables; returns its (const, cached, delegated) tuples."""
    src = parse_ip(source)
    dst = parse_ip(destination)
    if len(src) != len(dst):
        raise ValidationError(
            f"source and destination must be of the same IP family, got "
            f"IPv{4 if len(src) == 4 else 6} and IPv{4 if len(dst) == 4 else 6}"
        )
    return (src, dst), (check_value(_PATH_MTU_FIELD, path_mtu),), ()


_LOCAL_PORT, _REMOTE_PORT = _TCP.by_kind[CONSTANT][:2]
_TCP_CONST_TAIL = _TCP.defaults[CONSTANT][2:]


def tcp_values(local_port: object, remote_port: object, fields: dict[str, object]) -> Values:
    """Validate a connection's variables (ports plus any keyword fields).

    Returns its (const, cached, delegated) tuples; groups left at their defaults share the
    default tuple.
    """
    const_head = (check_value(_LOCAL_PORT, local_port), check_value(_REMOTE_PORT, remote_port))
    if not fields:
        return const_head + _TCP_CONST_TAIL, _TCP.defaults[CACHED], _TCP.defaults[DELEGATED]
    groups = {kind: list(_TCP.defaults[kind]) for kind in (CONSTANT, CACHED, DELEGATED)}
    for name, value in fields.items():
        found = _TCP.position.get(name)
        if found is None or name in ("local_port", "remote_port"):
            raise ValidationError(f"unknown TCP connection field {name!r}")
        field, index = found
        groups[field.kind][index] = check_value(field, value)
    groups[CONSTANT][:2] = const_head
    return tuple(groups[CONSTANT]), tuple(groups[CACHED]), tuple(groups[DELEGATED])


# --- output -------------------------------------------------------------------------------


def state_dict(
    handle: int, layer: int, offloaded: bool, invalidated: bool, values: Values
) -> dict[str, Any]:
    """The engine's ``state()`` dict: header keys, then every field in table order.

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
        for field, value in zip(layout.by_kind[kind], group, strict=True):
            if field.value_type == MAC and value is not None:
                value = format_mac(value)
            elif field.value_type == IP:
                value = bytes(value)
            out[field.name] = value
    return out
