"""Link-layer (MAC) and IP addresses: parsing, and the forms they are read out in
(``crates/core/src/model/address.rs``).

MACs are kept as 48-bit ints and IP addresses as packed bytes (4 or 16).
"""

from __future__ import annotations

import ipaddress
import re

from ..._messages import error

__all__ = [
    "MAC_MAX",
    "format_mac",
    "ip_from_bytes",
    "ip_from_int",
    "mac_from_bytes",
    "mac_from_int",
    "parse_ip",
    "parse_mac",
]

_MAC_COLON = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")
_MAC_DASH = re.compile(r"[0-9a-fA-F]{2}(?:-[0-9a-fA-F]{2}){5}")
MAC_MAX = 2**48 - 1


def parse_mac(text: str) -> int:
    """``"00:15:5d:01:02:03"`` or ``"00-15-5D-01-02-03"`` (one separator throughout)."""
    if _MAC_COLON.fullmatch(text) or _MAC_DASH.fullmatch(text):
        return int(text.replace(text[2], ""), 16)
    raise error("malformed_mac", text=text)


def mac_from_bytes(data: bytes) -> int:
    """Six bytes, most significant first."""
    if len(data) != 6:
        raise error("mac_bytes_length", len=len(data))
    return int.from_bytes(data, "big")


def mac_from_int(value: int) -> int:
    """An int in 0..2**48-1."""
    if not 0 <= value <= MAC_MAX:
        raise error("mac_int_range", value=value)
    return value


def format_mac(mac: int) -> str:
    """A 48-bit MAC as lowercase ``aa:bb:cc:dd:ee:ff``, the form ``state()`` reports."""
    text = f"{mac:012x}"
    return ":".join(text[i : i + 2] for i in range(0, 12, 2))


def parse_ip(text: str) -> bytes:
    """IPv4 dotted-quad text without leading zeros, or IPv6 text without a scope id."""
    if "%" in text:  # Python accepts a scope id ("fe80::1%eth0"); the contract does not
        raise error("malformed_ip", text=text)
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        raise error("malformed_ip", text=text) from None


def ip_from_bytes(data: bytes) -> bytes:
    """4 bytes (IPv4) or 16 (IPv6)."""
    if len(data) not in (4, 16):
        raise error("ip_bytes_length", len=len(data))
    return data


def ip_from_int(value: int) -> bytes:
    """Below 2**32 IPv4, otherwise IPv6 (as ``ipaddress.ip_address(int)``)."""
    if value < 0:
        raise error("ip_int_range", value=value)
    return value.to_bytes(4 if value < 2**32 else 16, "big")
