"""Frozen records of one object's state, returned by ``OffloadStateTree.state``, and the
typed handles that tell a type checker which record a handle gives.

The engines return a plain dict (MACs as text, IP addresses as packed bytes, the TCP
``state`` as an int); :func:`record_from_state` turns it into one of these records.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from typing import Any, ClassVar, NewType

from ._coerce import format_handle
from ._enums import ConnectionState, Layer
from ._fields import CACHED, CONSTANT, DELEGATED, FIELDS, IP, field_names

__all__ = [
    "NeighborHandle",
    "NeighborState",
    "PathHandle",
    "PathState",
    "StateRecord",
    "TcpHandle",
    "TcpState",
    "record_from_state",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The handles ``add_neighbor``, ``add_path`` and ``add_tcp`` return (and ``find_path``,
# ``find_tcp``, ``depends_on``): plain ints at run time (``NewType`` costs nothing), which a
# type checker tells apart, so ``tree.state(tc).snd_nxt`` needs no cast. Every method that
# takes a handle takes a plain int too; wrap one to say its layer: ``TcpHandle(h)``.
NeighborHandle = NewType("NeighborHandle", int)
PathHandle = NewType("PathHandle", int)
TcpHandle = NewType("TcpHandle", int)
NeighborHandle.__doc__ = "A neighbor's handle: an int that type checkers tell apart."
PathHandle.__doc__ = "A path's handle: an int that type checkers tell apart."
TcpHandle.__doc__ = "A TCP connection's handle: an int that type checkers tell apart."


class _Kinds:
    """The ``constant()``/``cached()``/``delegated()`` views shared by the three records."""

    __slots__ = ()
    _layer: ClassVar[Layer]

    def _pick(self, kind: str) -> dict[str, Any]:
        return {name: getattr(self, name) for name in field_names(self._layer, kind)}

    def constant(self) -> dict[str, Any]:
        """The constant variables, in field order."""
        return self._pick(CONSTANT)

    def cached(self) -> dict[str, Any]:
        """The cached variables, in field order."""
        return self._pick(CACHED)

    def delegated(self) -> dict[str, Any]:
        """The delegated variables, in field order (the host copy, not the target's)."""
        return self._pick(DELEGATED)

    def __repr__(self) -> str:
        # The dataclass's repr, but the handle written as every text of the library writes it.
        values = (
            (f.name, getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        )
        shown = ", ".join(
            f"{name}={format_handle(value) if name == 'handle' else repr(value)}"
            for name, value in values
        )
        return f"{type(self).__name__}({shown})"


@dataclass(frozen=True, slots=True, repr=False)
class NeighborState(_Kinds):
    """The host copy of a neighbor: next-hop link-layer state."""

    _layer: ClassVar[Layer] = Layer.NEIGHBOR

    handle: int
    layer: Layer
    offloaded: bool
    invalidated: bool
    # constant
    source_mac: str | None
    vlan_id: int
    # cached
    mac: str
    host_reachability_delta: int
    # delegated
    nic_reachability_delta: int


@dataclass(frozen=True, slots=True, repr=False)
class PathState(_Kinds):
    """The host copy of a path: a source/destination IP pair and its MTU."""

    _layer: ClassVar[Layer] = Layer.PATH

    handle: int
    layer: Layer
    offloaded: bool
    invalidated: bool
    # constant
    source: IPAddress
    destination: IPAddress
    # cached
    path_mtu: int


@dataclass(frozen=True, slots=True, repr=False)
class TcpState(_Kinds):
    """The host copy of a TCP connection.

    For an offloaded connection the delegated values are those of its last offload or
    terminate; ``OffloadStateTree.query`` reads the target's live values.
    """

    _layer: ClassVar[Layer] = Layer.TCP

    handle: int
    layer: Layer
    offloaded: bool
    invalidated: bool
    # constant
    local_port: int
    remote_port: int
    snd_wind_scale: int
    rcv_wind_scale: int
    remote_mss: int
    hash_value: int
    timestamps: bool
    sack: bool
    window_scaling: bool
    # cached
    initial_rcv_wnd: int
    rcv_indication_size: int
    ka_probe_count: int
    ka_timeout: int
    ka_interval: int
    max_rt: int
    flow_label: int
    ttl_or_hop_limit: int
    tos_or_traffic_class: int
    user_priority: int
    keep_alive: bool
    nagle: bool
    # delegated
    state: ConnectionState
    rcv_nxt: int
    rcv_wnd: int
    snd_una: int
    snd_nxt: int
    snd_max: int
    snd_wnd: int
    max_snd_wnd: int
    send_wl1: int
    cwnd: int
    ssthresh: int
    srtt: int
    rttvar: int
    ts_recent: int
    ts_recent_age: int
    ts_time: int
    total_rt: int
    dup_ack_count: int
    snd_wnd_probe_count: int
    keepalive_probe_count: int
    keepalive_timeout_delta: int
    retransmit_count: int
    retransmit_timeout_delta: int
    send_backlog_size: int
    dwnd: int


StateRecord = NeighborState | PathState | TcpState
_RECORDS: tuple[type[NeighborState], type[PathState], type[TcpState]] = (
    NeighborState,
    PathState,
    TcpState,
)
_HEADER = ("handle", "layer", "offloaded", "invalidated")

# The records are written out for readers and IDEs; make sure they match the field tables.
for _record, _table in zip(_RECORDS, FIELDS, strict=True):
    assert _record.__slots__ == _HEADER + tuple(f.name for f in _table), _record.__name__
del _record, _table


def record_from_state(state: dict[str, Any]) -> StateRecord:
    """Build the record of an engine state dict (the output of ``Engine.state``)."""
    layer = Layer(state["layer"])
    values: dict[str, Any] = {
        "handle": state["handle"],
        "layer": layer,
        "offloaded": state["offloaded"],
        "invalidated": state["invalidated"],
    }
    for field in FIELDS[layer]:
        value = state[field.name]
        if field.value_type == IP:
            value = ipaddress.ip_address(bytes(value))
        values[field.name] = value
    if layer == Layer.TCP:
        values["state"] = ConnectionState(values["state"])
    return _RECORDS[layer](**values)
