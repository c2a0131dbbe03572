"""The state-variable tables as the fallback lays them out (``crates/core/src/model/fields.rs``).

The table itself is ``offload_tree._fields`` (the Python copy of the core's, shared with the
facade). Every object keeps its variables as three tuples in table order, ``const``,
``cached`` and ``delegated``; a :class:`Layout` says where each variable lives.
"""

from __future__ import annotations

from typing import Any

from ..._enums import Layer
from ..._fields import BOOL, CACHED, CONSTANT, DELEGATED, FIELDS, FieldSpec
from ..._messages import error

__all__ = [
    "HOST_REACHABILITY",
    "INITIAL_RCV_WND",
    "LAYOUTS",
    "NIC_REACHABILITY",
    "PATH_MTU",
    "Layout",
    "check",
    "check_range",
    "lookup",
]


class Layout:
    """Where each variable of a layer lives: its kind and its index in that kind's tuple."""

    __slots__ = ("by_kind", "defaults", "fields", "position")

    def __init__(self, layer: Layer) -> None:
        """The layout of ``layer``, from the field table."""
        self.fields: tuple[FieldSpec, ...] = FIELDS[layer]
        self.by_kind: dict[str, tuple[FieldSpec, ...]] = {
            kind: tuple(f for f in self.fields if f.kind == kind)
            for kind in (CONSTANT, CACHED, DELEGATED)
        }
        self.position: dict[str, tuple[FieldSpec, int]] = {
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
SND_WND = _TCP.index("snd_wnd")
STATE = _TCP.index("state")
MAX_SND_WND = _TCP.index("max_snd_wnd")
CWND = _TCP.index("cwnd")
SEND_BACKLOG_SIZE = _TCP.index("send_backlog_size")


def lookup(layer: int, name: str) -> FieldSpec | None:
    """The variable ``name`` of ``layer``, if it has one."""
    found = LAYOUTS[layer].position.get(name)
    return None if found is None else found[0]


def check(spec: FieldSpec, value: int) -> int:
    """Range check with a message naming the variable and its range (``FieldSpec::check``)."""
    assert spec.min is not None and spec.max is not None
    if not spec.min <= value <= spec.max:
        if spec.value_type == BOOL:
            raise error("bool_out_of_range", name=spec.name, value=value)
        raise error("out_of_range", name=spec.name, value=value, min=spec.min, max=spec.max)
    return value


def check_range(name: str, value: int, low: int, high: int) -> int:
    """``value`` if in ``low..high``, else the out-of-range error naming ``name``."""
    if not low <= value <= high:
        raise error("out_of_range", name=name, value=value, min=low, max=high)
    return value
