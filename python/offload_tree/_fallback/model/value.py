"""Loosely typed input values (``crates/core/src/model/value.rs``).

The native bindings sort every Python value into one of a few shapes before the core judges
it: an int (not a bool), a bool, a str, bytes (an object with a ``packed`` bytes attribute,
such as an ``ipaddress`` object, counts as its bytes), or "anything else, by type name". The
fallback sorts values the same way (:func:`sort_value`), so that both backends accept the
same inputs and word the same errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..._fields import FieldSpec
from ..._messages import error
from .address import ip_from_bytes, ip_from_int, mac_from_bytes, mac_from_int, parse_ip, parse_mac
from .fields import check

__all__ = ["Other", "sort_value", "to_field", "to_int", "to_ip", "to_mac", "type_name"]

_I128_MIN = -(2**127)
_I128_MAX = 2**127 - 1
_U128_MAX = 2**128 - 1
#: The attribute an address object (``ipaddress``) exposes its bytes as.
_PACKED = "packed"


@dataclass(frozen=True, slots=True)
class Other:
    """A value of no accepted shape, kept by type name for the error message."""

    type_name: str


def sort_value(value: object) -> Any:
    """The shape of ``value``: itself (int, bool, str, bytes), its packed bytes, or Other."""
    if isinstance(value, bool | bytes):
        return value
    if isinstance(value, int):
        # The core holds ints in 128 bits (i128, or u128 for an IPv6 address).
        return int(value) if _I128_MIN <= value <= _U128_MAX else Other("int beyond 128 bits")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return Other("str with unencodable characters")
        return value
    try:
        packed = getattr(value, _PACKED)
    except Exception:  # the bindings' getattr treats any failure as "no packed bytes"
        packed = None
    if isinstance(packed, bytes):
        return packed
    return Other(type(value).__name__)


def type_name(value: object) -> str:
    """The type a sorted value is reported as."""
    if isinstance(value, Other):
        return value.type_name
    return type(value).__name__ if isinstance(value, bool | str | bytes) else "int"


def to_int(value: object, name: str) -> int:
    """An int (not a bool) for a variable checked by the caller."""
    if isinstance(value, int) and not isinstance(value, bool):
        # Beyond every range of ours, as the core's i128::MAX stands for it.
        return min(value, _I128_MAX)
    raise error("not_an_int", name=name, got=type_name(value))


def to_field(value: object, spec: FieldSpec) -> int | bool:
    """An int within ``spec``'s range, or a bool for a bool variable."""
    if spec.is_bool:
        if isinstance(value, bool):
            return value
        raise error("not_a_bool", name=spec.name, got=type_name(value))
    return check(spec, to_int(value, spec.name))


def to_mac(value: object, name: str) -> int:
    """A MAC address from text, 6 bytes or an int."""
    if isinstance(value, str):
        return parse_mac(value)
    if isinstance(value, bytes):
        return mac_from_bytes(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return mac_from_int(min(value, _I128_MAX))
    raise error("not_a_mac", name=name, got=type_name(value))


def to_ip(value: object, name: str) -> bytes:
    """An IP address from text, 4 or 16 bytes, or an int."""
    if isinstance(value, str):
        return parse_ip(value)
    if isinstance(value, bytes):
        return ip_from_bytes(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return ip_from_int(value)
    raise error("not_an_ip", name=name, got=type_name(value))
