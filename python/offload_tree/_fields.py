"""The state variables of each layer (docs/DESIGN.md §5), as data.

This is the Python copy of the table in ``crates/core/src/model/fields.rs`` (the source);
``tests/test_parity.py`` checks the two are equal and prints the rows to paste when they
drift. The facade (to convert ``update`` keywords), the state records and the pure-Python
engine (to validate) all read it. Field order within a layer is constant fields, then
cached, then delegated, and is the order of the dicts returned by ``constant()``,
``cached()``, ``delegated()`` and the engines' state dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._enums import Layer

__all__ = [
    "CACHED",
    "CONSTANT",
    "DELEGATED",
    "FIELDS",
    "FIELD_BY_NAME",
    "KINDS",
    "NEIGHBOR_FIELDS",
    "PATH_FIELDS",
    "TCP_FIELDS",
    "U32_MAX",
    "FieldSpec",
    "field_names",
]

CONSTANT = "constant"
CACHED = "cached"
DELEGATED = "delegated"
KINDS = (CONSTANT, CACHED, DELEGATED)

U32_MAX = 2**32 - 1
MAC_MAX = 2**48 - 1

# Value types: "int" and "bool" are range-checked integers; "mac" is a 48-bit link-layer
# address (an int in update arrays, text on input and output); "ip" is an IPv4/IPv6 address.
INT = "int"
BOOL = "bool"
MAC = "mac"
IP = "ip"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One state variable: its layer, kind, value type, inclusive range and default
    (``FieldSpec`` in the core).

    ``required`` fields have no default (``default`` is None); ``source_mac`` is optional,
    its default None meaning "not set". ``min``/``max`` are None for IP addresses.
    """

    name: str
    layer: Layer
    kind: str
    value_type: str
    min: int | None
    max: int | None
    default: int | bool | None
    required: bool = False

    @property
    def is_bool(self) -> bool:
        """True for flag fields, which take Python bools."""
        return self.value_type == BOOL

    @property
    def dtype(self) -> np.dtype[Any]:
        """The NumPy type of this variable's column: ``bool`` for a flag, else the narrowest
        unsigned integer its range fits (``ColumnData::of_field`` in the core)."""
        if self.is_bool:
            return np.dtype(np.bool_)
        top = self.max if self.max is not None else 2**64 - 1
        for dtype in (np.uint8, np.uint16, np.uint32):
            if top <= np.iinfo(dtype).max:
                return np.dtype(dtype)
        return np.dtype(np.uint64)

    @property
    def range_text(self) -> str:
        """The allowed range as shown in error messages, e.g. ``0..4095``."""
        if self.value_type == BOOL:
            return "True or False"
        if self.value_type == IP:
            return "an IPv4 or IPv6 address"
        return f"{self.min}..{self.max}"


def _int(layer: Layer, kind: str, name: str, lo: int, hi: int, default: int | None) -> FieldSpec:
    return FieldSpec(name, layer, kind, INT, lo, hi, default, required=default is None)


def _u32(layer: Layer, kind: str, name: str, default: int) -> FieldSpec:
    return FieldSpec(name, layer, kind, INT, 0, U32_MAX, default)


def _u8(layer: Layer, kind: str, name: str, default: int) -> FieldSpec:
    return FieldSpec(name, layer, kind, INT, 0, 255, default)


def _flag(layer: Layer, kind: str, name: str, default: bool) -> FieldSpec:
    return FieldSpec(name, layer, kind, BOOL, 0, 1, default)


_N, _P, _T = Layer.NEIGHBOR, Layer.PATH, Layer.TCP

NEIGHBOR_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("source_mac", _N, CONSTANT, MAC, 0, MAC_MAX, None),
    _int(_N, CONSTANT, "vlan_id", 0, 4095, 0),
    FieldSpec("mac", _N, CACHED, MAC, 0, MAC_MAX, None, required=True),
    _u32(_N, CACHED, "host_reachability_delta", 0),
    _u32(_N, DELEGATED, "nic_reachability_delta", 0),
)

PATH_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("source", _P, CONSTANT, IP, None, None, None, required=True),
    FieldSpec("destination", _P, CONSTANT, IP, None, None, None, required=True),
    _int(_P, CACHED, "path_mtu", 68, 65535, 1500),
)

TCP_FIELDS: tuple[FieldSpec, ...] = (
    # constant
    _int(_T, CONSTANT, "local_port", 0, 65535, None),
    _int(_T, CONSTANT, "remote_port", 0, 65535, None),
    _int(_T, CONSTANT, "snd_wind_scale", 0, 14, 0),
    _int(_T, CONSTANT, "rcv_wind_scale", 0, 14, 0),
    _int(_T, CONSTANT, "remote_mss", 0, 65535, 1460),
    _u32(_T, CONSTANT, "hash_value", 0),
    _flag(_T, CONSTANT, "timestamps", False),
    _flag(_T, CONSTANT, "sack", False),
    _flag(_T, CONSTANT, "window_scaling", False),
    # cached
    _u32(_T, CACHED, "initial_rcv_wnd", 65535),
    _u32(_T, CACHED, "rcv_indication_size", 0),
    _u8(_T, CACHED, "ka_probe_count", 10),
    _u32(_T, CACHED, "ka_timeout", 7200000),
    _u32(_T, CACHED, "ka_interval", 1000),
    _u32(_T, CACHED, "max_rt", 10),
    _int(_T, CACHED, "flow_label", 0, 2**20 - 1, 0),
    _u8(_T, CACHED, "ttl_or_hop_limit", 128),
    _u8(_T, CACHED, "tos_or_traffic_class", 0),
    _int(_T, CACHED, "user_priority", 0, 7, 0),
    _flag(_T, CACHED, "keep_alive", False),
    _flag(_T, CACHED, "nagle", True),
    # delegated
    _int(_T, DELEGATED, "state", 0, 10, 4),  # ConnectionState.ESTABLISHED
    _u32(_T, DELEGATED, "rcv_nxt", 0),
    _u32(_T, DELEGATED, "rcv_wnd", 65535),
    _u32(_T, DELEGATED, "snd_una", 0),
    _u32(_T, DELEGATED, "snd_nxt", 0),
    _u32(_T, DELEGATED, "snd_max", 0),
    _u32(_T, DELEGATED, "snd_wnd", 65535),
    _u32(_T, DELEGATED, "max_snd_wnd", 65535),
    _u32(_T, DELEGATED, "send_wl1", 0),
    _u32(_T, DELEGATED, "cwnd", 14600),
    _u32(_T, DELEGATED, "ssthresh", 65535),
    _u32(_T, DELEGATED, "srtt", 0),
    _u32(_T, DELEGATED, "rttvar", 0),
    _u32(_T, DELEGATED, "ts_recent", 0),
    _u32(_T, DELEGATED, "ts_recent_age", 0),
    _u32(_T, DELEGATED, "ts_time", 0),
    _u32(_T, DELEGATED, "total_rt", 0),
    _u8(_T, DELEGATED, "dup_ack_count", 0),
    _u8(_T, DELEGATED, "snd_wnd_probe_count", 0),
    _u8(_T, DELEGATED, "keepalive_probe_count", 0),
    _u32(_T, DELEGATED, "keepalive_timeout_delta", U32_MAX),
    _u8(_T, DELEGATED, "retransmit_count", 0),
    _u32(_T, DELEGATED, "retransmit_timeout_delta", U32_MAX),
    _u32(_T, DELEGATED, "send_backlog_size", 0),
    _u32(_T, DELEGATED, "dwnd", 0),
)

#: The field table of each layer, indexed by ``Layer``.
FIELDS: tuple[tuple[FieldSpec, ...], ...] = (NEIGHBOR_FIELDS, PATH_FIELDS, TCP_FIELDS)

#: Every field by name. Names are unique across layers, so a name alone identifies a field.
FIELD_BY_NAME: dict[str, FieldSpec] = {f.name: f for table in FIELDS for f in table}
assert len(FIELD_BY_NAME) == sum(len(t) for t in FIELDS), "field names must be unique"


def field_names(layer: int, kind: str | None = None) -> tuple[str, ...]:
    """The names of a layer's fields in table order, optionally only those of one kind."""
    return tuple(f.name for f in FIELDS[layer] if kind is None or f.kind == kind)
