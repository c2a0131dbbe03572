"""The chimney statistics an offload target keeps per IP family and reports for
OID_IP4/6_OFFLOAD_STATS and OID_TCP4/6_OFFLOAD_STATS
(NDIS "Maintaining and Reporting Chimney-Specific Statistics";
``crates/core/src/target/statistics.rs``, which holds the rules and the field order).

A send of ``n`` bytes leaves as ``ceil(n / mss)`` segments; a receive arrives as
``ceil(n / mss)`` segments, at least one (a bare ACK). Each segment is one IP datagram whose
20 (IPv4) or 40 (IPv6) bytes of IP header and 20 of TCP header count in the octets. Every
counter wraps at its NDIS width.
"""

from __future__ import annotations

__all__ = [
    "IP_FIELDS",
    "TCP_FIELDS",
    "OffloadStats",
    "count_received",
    "count_sent",
    "count_sent_bare",
    "family_index",
    "mss",
]

#: IP_OFFLOAD_STATS, in the structure's order, with each counter's width in bits.
IP_FIELDS: tuple[tuple[str, int], ...] = (
    ("in_receives", 64),
    ("in_octets", 64),
    ("in_delivers", 64),
    ("out_requests", 64),
    ("out_octets", 64),
    ("in_header_errors", 32),
    ("in_truncated_packets", 32),
    ("in_discards", 32),
    ("out_discards", 32),
    ("out_no_routes", 32),
)
#: TCP_OFFLOAD_STATS, in the structure's order, with each counter's width in bits.
TCP_FIELDS: tuple[tuple[str, int], ...] = (
    ("in_segments", 64),
    ("out_segments", 64),
    ("currently_established", 32),
    ("reset_established", 32),
    ("retransmitted_segments", 32),
    ("in_errors", 32),
    ("out_resets", 32),
)
TCP_HEADER = 20
U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


class OffloadStats:
    """One family's counters (CurrentlyEstablished is counted when read, so not kept)."""

    __slots__ = ("ip", "tcp")

    def __init__(self) -> None:
        """All counters at zero."""
        self.ip: dict[str, int] = {name: 0 for name, _ in IP_FIELDS}
        self.tcp: dict[str, int] = {name: 0 for name, _ in TCP_FIELDS}


def family_index(ip: bytes) -> int:
    """0 for an IPv4 address (4 bytes), 1 for IPv6: the index of its family's statistics."""
    return 0 if len(ip) == 4 else 1


def _ip_header(family: int) -> int:
    return 20 if family == 0 else 40


def mss(family: int, path_mtu: int) -> int:
    """The largest TCP payload a datagram of ``path_mtu`` bytes carries (at least 1)."""
    return max(path_mtu - _ip_header(family) - TCP_HEADER, 1)


def _segments(n: int, size: int, minimum: int) -> int:
    return max(-(-n // max(size, 1)), minimum)


def count_received(
    stats: OffloadStats, family: int, n: int, size: int
) -> tuple[dict[str, int], dict[str, int]]:
    """The ``ip`` and ``tcp`` counters of ``stats`` after ``n`` bytes were received on a
    connection of ``family`` whose path MSS is ``size``. New dicts, so that the caller commits
    them with stores only."""
    segs = _segments(n, size, 1)
    ip, tcp = dict(stats.ip), dict(stats.tcp)
    ip["in_receives"] = (ip["in_receives"] + segs) & U64
    ip["in_octets"] = (ip["in_octets"] + n + segs * (_ip_header(family) + TCP_HEADER)) & U64
    ip["in_delivers"] = (ip["in_delivers"] + segs) & U64
    tcp["in_segments"] = (tcp["in_segments"] + segs) & U64
    return ip, tcp


def count_sent(
    stats: OffloadStats, family: int, n: int, size: int
) -> tuple[dict[str, int], dict[str, int]]:
    """The ``ip`` and ``tcp`` counters of ``stats`` after ``n`` bytes were sent on a
    connection of ``family`` in segments of at most ``size`` (new dicts, as above)."""
    segs = _segments(n, size, 0)
    ip, tcp = dict(stats.ip), dict(stats.tcp)
    ip["out_requests"] = (ip["out_requests"] + segs) & U64
    ip["out_octets"] = (ip["out_octets"] + n + segs * (_ip_header(family) + TCP_HEADER)) & U64
    tcp["out_segments"] = (tcp["out_segments"] + segs) & U64
    return ip, tcp


def count_sent_bare(
    stats: OffloadStats, family: int, reset: bool
) -> tuple[dict[str, int], dict[str, int]]:
    """The counters after one segment without data went out: a FIN, or an RST (``reset``,
    which OutResets counts too). New dicts, as above."""
    ip, tcp = dict(stats.ip), dict(stats.tcp)
    ip["out_requests"] = (ip["out_requests"] + 1) & U64
    ip["out_octets"] = (ip["out_octets"] + _ip_header(family) + TCP_HEADER) & U64
    tcp["out_segments"] = (tcp["out_segments"] + 1) & U64
    if reset:
        tcp["out_resets"] = (tcp["out_resets"] + 1) & U32
    return ip, tcp
