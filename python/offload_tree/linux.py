"""Trees from a real Linux host: the offload state tree of the machine this runs on.

:func:`snapshot` reads the kernel's TCP sockets, asks the kernel's routing decision for each
connection's destination, looks the next hop up in the neighbour table, and builds the
:class:`~offload_tree.OffloadStateTree` those make: one neighbor per neighbour-table entry
in use, one path per (source, destination) address pair, one connection per socket.

Two sources, the same tree shape (docs/DESIGN.md §13 lists which variable comes from where):

* ``"netlink"``: sock_diag (inet_diag, with ``tcp_info``), ``RTM_GETROUTE`` per destination,
  and the link and neighbour dumps of rtnetlink, through pyroute2
  (``pip install 'offload-tree[linux]'``). IPv4 and IPv6.
* ``"proc"``: ``/proc/net/tcp``, ``/proc/net/tcp6``, ``/proc/net/route``,
  ``/proc/net/ipv6_route``, ``/proc/net/fib_trie``, ``/proc/net/arp`` and
  ``/proc/net/vlan/config``: no dependency, fewer variables, IPv4 neighbours only.

Nothing is guessed: a connection whose next hop has no usable link-layer address in the
neighbour table (loopback and other local delivery, an unresolved or absent entry, a device
without MACs) is not in the tree but in :attr:`HostSnapshot.skipped`, with the reason.

pyroute2 is imported only inside :func:`snapshot`: ``import offload_tree.linux`` needs NumPy
alone.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import struct
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from ._enums import ConnectionState, Layer
from ._errors import DuplicateKeyError, StateError, ValidationError
from ._fields import FIELD_BY_NAME, U32_MAX
from ._states import NeighborHandle, PathHandle, TcpHandle
from ._target import SimulatedTarget
from ._tree import OffloadStateTree

__all__ = [
    "SKIP_REASONS",
    "SOURCES",
    "FourTuple",
    "HostError",
    "HostSnapshot",
    "NextHop",
    "Skipped",
    "snapshot",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_T = TypeVar("_T")

#: The sources :func:`snapshot` reads, best first.
SOURCES = ("netlink", "proc")

INSTALL_HINT = "pip install 'offload-tree[linux]'"

#: Why a socket is not in the tree: the ``reason`` of a :class:`Skipped` entry.
SKIP_REASONS: dict[str, str] = {
    "listening": "a listening or otherwise unconnected socket: no remote end, so no path "
    "(listed only with include_listening=True)",
    "local": "delivered by this host itself (loopback, or one of its own addresses): no link, "
    "so no neighbor to offload to",
    "no-route": "the kernel has no usable route to the remote address",
    "no-neighbour": "the next hop has no entry in the neighbour table",
    "unresolved": "the next hop's neighbour entry holds no link-layer address yet "
    "(INCOMPLETE) or any more (FAILED)",
    "no-mac": "the next hop has no 48-bit MAC: a device without link-layer addresses "
    "(NOARP, e.g. a tunnel) or another link type",
    "unsupported": "the source cannot tell: the /proc fallback has no IPv6 neighbour table "
    f"and no scope for IPv6 link-local addresses ({INSTALL_HINT} reads them over netlink)",
    "mtu": "the path MTU is below the library's minimum of 68",
    "duplicate": "a second socket with the 4-tuple of a connection already in the tree",
}


class HostError(StateError):
    """The host's tables cannot be read: not Linux, no such network namespace, no
    permission, pyroute2 missing when ``source="netlink"`` asks for it, or a failing read."""


class FourTuple(NamedTuple):
    """A TCP connection as the kernel names it, from this host's side. IPv4-mapped IPv6
    addresses (a dual-stack socket talking to an IPv4 peer) are given as IPv4."""

    local_address: str
    local_port: int
    remote_address: str
    remote_port: int

    def __str__(self) -> str:
        """``local:port -> remote:port``, IPv6 addresses in brackets."""

        def end(address: str, port: int) -> str:
            return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"

        return f"{end(self.local_address, self.local_port)} -> " + end(
            self.remote_address, self.remote_port
        )


class NextHop(NamedTuple):
    """The neighbour-table entry behind a neighbor of the tree."""

    #: The next hop's IP address: the route's gateway, else the destination itself.
    address: str
    #: The output interface.
    interface: str
    #: The entry's state: a NUD state name over netlink (REACHABLE, STALE, DELAY, PROBE,
    #: PERMANENT), ``COMPLETE`` or ``PERMANENT`` (the ARP flags) from /proc.
    state: str


class Skipped(NamedTuple):
    """A socket that is not in the tree, and why (``reason``: a key of ``SKIP_REASONS``)."""

    local_address: str
    local_port: int
    remote_address: str
    remote_port: int
    state: ConnectionState
    reason: str
    #: The particulars: the interface, the next hop, the neighbour state, ...
    detail: str

    @property
    def four_tuple(self) -> FourTuple:
        """The socket's addresses and ports."""
        return FourTuple(*self[:4])


@dataclass(frozen=True, eq=False)
class HostSnapshot:
    """What :func:`snapshot` read: the tree, and how its objects map to the kernel's."""

    #: The offload state tree of the host (nothing offloaded yet).
    tree: OffloadStateTree
    #: Where the sockets, routes and neighbours came from: ``"netlink"`` or ``"proc"``.
    source: str
    #: Every connection of the tree by handle, as the kernel names it (handle order).
    connections: dict[TcpHandle, FourTuple]
    #: Every neighbor of the tree by handle: the neighbour-table entry it stands for.
    neighbors: dict[NeighborHandle, NextHop]
    #: The sockets left out, with the reason, in the order read.
    skipped: list[Skipped]
    #: Why the source is not the one asked for or preferred (e.g. pyroute2 is missing), or None.
    note: str | None = None

    def skipped_by_reason(self) -> dict[str, int]:
        """How many sockets were skipped for each reason, most frequent first."""
        return dict(Counter(s.reason for s in self.skipped).most_common())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: source, counts per layer, every skipped socket."""
        return {
            "source": self.source,
            "note": self.note,
            "backend": self.tree.backend,
            "neighbors": self.tree.count(Layer.NEIGHBOR),
            "paths": self.tree.count(Layer.PATH),
            "connections": self.tree.count(Layer.TCP),
            "skipped_by_reason": self.skipped_by_reason(),
            "skipped": [
                {
                    **s.four_tuple._asdict(),
                    "state": s.state.name,
                    "reason": s.reason,
                    "detail": s.detail,
                }
                for s in self.skipped
            ],
        }

    def __repr__(self) -> str:
        counts = ", ".join(f"{layer.name.lower()}s={self.tree.count(layer)}" for layer in Layer)
        reasons = ", ".join(f"{k}={n}" for k, n in self.skipped_by_reason().items())
        skipped = f"skipped={len(self.skipped)}" + (f" ({reasons})" if reasons else "")
        return f"<HostSnapshot {self.source}: {counts}, {skipped}>"


def snapshot(
    *,
    source: str | None = None,
    backend: str | None = None,
    target: SimulatedTarget | None = None,
    netns: str | None = None,
    include_listening: bool = False,
) -> HostSnapshot:
    """The offload state tree of this Linux host's TCP connections, IPv4 and IPv6.

    ``source``: ``"netlink"`` (needs pyroute2: ``pip install 'offload-tree[linux]'``),
    ``"proc"``, or None for netlink when pyroute2 is installed and works, else /proc
    (:attr:`HostSnapshot.note` says why). ``backend`` and ``target``: those of the new
    :class:`~offload_tree.OffloadStateTree`. ``netns``: read the network namespace of that
    name (``ip netns`` names it; a path such as ``/proc/PID/ns/net`` works too) rather than
    this process's; entering one needs CAP_SYS_ADMIN. ``include_listening``: also list
    listening sockets in :attr:`HostSnapshot.skipped` (chimney offloads connections only).

    Every connected socket becomes a connection with its ``state`` (and, over netlink, the
    ``tcp_info`` variables of docs/DESIGN.md §13) on the path of its (local, remote) address
    pair, whose ``path_mtu`` is the route's MTU, over the neighbor of its next hop (the
    route's gateway, else the remote address): the entry's MAC, the interface's VLAN id and
    MAC. The first connection of an address pair decides its path. Raises
    :class:`HostError` off Linux and when a table cannot be read.
    """
    if not sys.platform.startswith("linux"):
        raise HostError(
            f"offload_tree.linux reads the Linux kernel's socket, route and neighbour tables: "
            f"Linux only (this is {sys.platform})"
        )
    if source is not None and source not in SOURCES:
        raise ValidationError(f"source must be 'netlink', 'proc' or None, got {source!r}")
    if not isinstance(include_listening, bool):
        raise ValidationError(
            f"include_listening must be a bool, got {type(include_listening).__name__}"
        )

    def read() -> tuple[str, str | None, list[_Resolved]]:
        return _read(source)

    # The kernel is read first (in the namespace's thread, if any), so that a failed read
    # leaves the caller's target unattached; the tree is built in this thread.
    used, note, resolved = read() if netns is None else _in_netns(netns, read)
    tree = OffloadStateTree(target, backend=backend)
    return _build(tree, used, note, resolved, include_listening)


# ---------------------------------------------------------------------------------------------
# What the sources produce: sockets, routes and neighbours as plain records

#: Kernel TCP states (include/net/tcp_states.h, the ``st`` of /proc/net/tcp) to RFC 793's.
_KERNEL_STATES: dict[int, ConnectionState] = {
    1: ConnectionState.ESTABLISHED,
    2: ConnectionState.SYN_SENT,
    3: ConnectionState.SYN_RCVD,
    4: ConnectionState.FIN_WAIT_1,
    5: ConnectionState.FIN_WAIT_2,
    6: ConnectionState.TIME_WAIT,
    7: ConnectionState.CLOSED,
    8: ConnectionState.CLOSE_WAIT,
    9: ConnectionState.LAST_ACK,
    10: ConnectionState.LISTEN,
    11: ConnectionState.CLOSING,
    12: ConnectionState.SYN_RCVD,  # TCP_NEW_SYN_RECV: a request socket, half-open
}

_ARPHRD_ETHER = 1
_IFF_LOOPBACK = 0x8
_IFF_NOARP = 0x80
_MIN_MTU = FIELD_BY_NAME["path_mtu"].min or 68
_MAX_MTU = FIELD_BY_NAME["path_mtu"].max or 65535


@dataclass(slots=True)
class _Socket:
    """One TCP socket of the kernel's tables, addresses normalised (mapped IPv4 as IPv4)."""

    local: IPAddress
    local_port: int
    remote: IPAddress
    remote_port: int
    state: ConnectionState
    #: The interface the socket is bound to (its IPv6 scope); 0 when none or unknown.
    ifindex: int
    #: TCP variables of the tree, by name, that the source gave (but tcp_info's).
    variables: dict[str, int | bool]
    #: The bytes of its ``struct tcp_info`` (netlink), parsed once the tree's clock is known.
    tcp_info: bytes | None = None

    @property
    def connected(self) -> bool:
        return (
            self.state != ConnectionState.LISTEN
            and self.remote_port != 0
            and not self.remote.is_unspecified
        )


@dataclass(frozen=True, slots=True)
class _Route:
    """The kernel's routing decision for one destination, and the output interface."""

    interface: str
    ifindex: int  # 0 from /proc
    gateway: IPAddress | None
    mtu: int
    vlan_id: int
    source_mac: str | None


@dataclass(frozen=True, slots=True)
class _Neighbour:
    """A usable neighbour-table entry."""

    mac: str
    state: str
    #: Seconds since the kernel last confirmed the neighbour reachable, when it says.
    confirmed_age: float | None


@dataclass(slots=True)
class _Resolved:
    """A socket with its route and neighbour, or why it has none."""

    socket: _Socket
    route: _Route | None = None
    next_hop: IPAddress | None = None
    neighbour: _Neighbour | None = None
    problem: tuple[str, str] | None = None  # (reason, detail)


class _Unusable(Exception):
    """A socket that cannot be placed in the tree: ``reason`` (a SKIP_REASONS key), detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def _plain(address: str | bytes | IPAddress) -> IPAddress:
    """An address object, IPv4-mapped IPv6 as IPv4 (the kernel routes it as IPv4)."""
    value = address if isinstance(address, IPAddress) else ipaddress.ip_address(address)
    if isinstance(value, ipaddress.IPv6Address) and value.ipv4_mapped is not None:
        return value.ipv4_mapped
    return value


def _mac(text: object) -> str | None:
    """A 48-bit MAC as lowercase text, or None for anything else (absent, all zero, an
    address of another length)."""
    if not isinstance(text, str):
        return None
    octets = text.lower().split(":")
    if len(octets) != 6 or not all(len(o) == 2 for o in octets):
        return None
    try:
        if int("".join(octets), 16) == 0:
            return None
    except ValueError:
        return None
    return ":".join(octets)


def _ticks(microseconds: int, tps: int) -> int:
    """Microseconds as clock ticks of the tree (rounded), at most 2**32-1."""
    return min((microseconds * tps + 500_000) // 1_000_000, U32_MAX)


# ---------------------------------------------------------------------------------------------
# tcp_info (struct tcp_info of include/uapi/linux/tcp.h, as inet_diag's INET_DIAG_INFO)

_TCPI_OPT_TIMESTAMPS = 1
_TCPI_OPT_SACK = 2
_TCPI_OPT_WSCALE = 4
#: The kernel's "no slow-start threshold yet" (TCP_INFINITE_SSTHRESH); ``ss`` shows a
#: threshold only below 0xFFFF segments, and so does this.
_SSTHRESH_UNSET = 0xFFFF
_TCPI_SND_WND = 228  # offsets of the fields newer kernels append (bytes into the struct)
_TCPI_RCV_WND = 232


def _tcp_info_variables(raw: bytes, tps: int) -> dict[str, int | bool]:
    """The tree's TCP variables from the bytes of a ``struct tcp_info``.

    Parsed here rather than from pyroute2's decoding: pyroute2 (0.7-0.9) gives
    ``tcpi_snd_wscale`` and ``tcpi_rcv_wscale`` both as the low nibble of their shared
    byte, and stops before ``tcpi_rcv_wnd``. Fields the kernel did not send (an older,
    shorter struct) are left out.
    """
    if len(raw) < 84:  # up to tcpi_snd_cwnd: every kernel since 2.6
        return {}
    options, scales = raw[5], raw[6]
    # __u8 tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4; the first bit-field takes the low
    # bits on little-endian ABIs and the high bits on big-endian ones.
    snd_scale, rcv_scale = (
        (scales & 0xF, scales >> 4) if sys.byteorder == "little" else (scales >> 4, scales & 0xF)
    )
    snd_mss = struct.unpack_from("=I", raw, 16)[0]
    rtt, rttvar, ssthresh, cwnd = struct.unpack_from("=4I", raw, 68)
    variables: dict[str, int | bool] = {
        "timestamps": bool(options & _TCPI_OPT_TIMESTAMPS),
        "sack": bool(options & _TCPI_OPT_SACK),
        "window_scaling": bool(options & _TCPI_OPT_WSCALE),
        "retransmit_count": raw[2],  # tcpi_retransmits: RTOs of the current segment
        "srtt": _ticks(rtt, tps),
        "rttvar": _ticks(rttvar, tps),
    }
    if options & _TCPI_OPT_WSCALE:
        variables["snd_wind_scale"] = min(snd_scale, 14)
        variables["rcv_wind_scale"] = min(rcv_scale, 14)
    if snd_mss:
        # tcpi_snd_mss is the send MSS in use: the peer's MSS option bounded by the path
        # MTU, less the TCP options every segment carries. The option itself is not exposed.
        variables["remote_mss"] = min(snd_mss, 65535)
        # The kernel counts cwnd and ssthresh in segments, NDIS in bytes.
        variables["cwnd"] = min(cwnd * snd_mss, U32_MAX)
        variables["ssthresh"] = (
            U32_MAX if ssthresh >= _SSTHRESH_UNSET else min(ssthresh * snd_mss, U32_MAX)
        )
    if len(raw) >= _TCPI_SND_WND + 4:  # Linux 5.19+
        variables["snd_wnd"] = struct.unpack_from("=I", raw, _TCPI_SND_WND)[0]
    if len(raw) >= _TCPI_RCV_WND + 4:  # Linux 6.2+
        variables["rcv_wnd"] = struct.unpack_from("=I", raw, _TCPI_RCV_WND)[0]
    return variables


# ---------------------------------------------------------------------------------------------
# Reading the kernel


def _read(source: str | None) -> tuple[str, str | None, list[_Resolved]]:
    """Every socket, resolved, from ``source`` (None: netlink if it works, else /proc):
    ``(source used, note, resolved sockets)``."""
    note = None
    if source in (None, "netlink"):
        try:
            from pyroute2 import NetlinkError
        except ImportError:
            if source == "netlink":
                raise HostError(
                    f"source='netlink' reads the kernel's tables with pyroute2, which is not "
                    f"installed: {INSTALL_HINT}"
                ) from None
            note = f"pyroute2 is not installed, so /proc was read ({INSTALL_HINT} for netlink)"
        else:
            try:
                return "netlink", None, _NetlinkTables().resolve_all()
            except (OSError, NetlinkError) as exc:
                if source == "netlink":
                    raise HostError(f"cannot read the kernel's tables over netlink: {exc}") from exc
                note = f"netlink failed ({exc}), so /proc was read"
    try:
        return "proc", note, _ProcTables.of_this_thread().resolve_all()
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        raise HostError(f"cannot read{where}: {exc.strerror or exc}") from exc


class _Tables:
    """Routes and neighbours of one source; resolves sockets, remembering each destination's
    outcome (a host has many connections per destination)."""

    def __init__(self) -> None:
        # A route, or why there is none: (reason, detail), raised afresh each time (a cached
        # exception would carry a traceback that grows with every raise).
        self._routes: dict[tuple[IPAddress, IPAddress, int], _Route | tuple[str, str]] = {}

    def sockets(self) -> list[_Socket]:
        raise NotImplementedError

    def route(self, local: IPAddress, remote: IPAddress, ifindex: int) -> _Route:
        """The route from ``local`` to ``remote``; raises ``_Unusable``."""
        raise NotImplementedError

    def neighbour(self, route: _Route, next_hop: IPAddress) -> _Neighbour:
        """The neighbour-table entry of ``next_hop`` on the route's interface; raises
        ``_Unusable``."""
        raise NotImplementedError

    def _cached_route(self, s: _Socket) -> _Route:
        key = (s.local, s.remote, s.ifindex)
        found = self._routes.get(key)
        if found is None:
            try:
                found = self.route(s.local, s.remote, s.ifindex)
            except _Unusable as unusable:
                found = (unusable.reason, unusable.detail)
            self._routes[key] = found
        if isinstance(found, tuple):
            raise _Unusable(*found)
        return found

    def resolve(self, s: _Socket) -> _Resolved:
        """``s`` with its route and next hop's neighbour, or the problem."""
        resolved = _Resolved(s)
        if not s.connected:
            return resolved
        try:
            resolved.route = self._cached_route(s)
            resolved.next_hop = resolved.route.gateway or s.remote
            resolved.neighbour = self.neighbour(resolved.route, resolved.next_hop)
        except _Unusable as unusable:
            resolved.problem = (unusable.reason, unusable.detail)
        return resolved

    def resolve_all(self) -> list[_Resolved]:
        # Sorted, so that the same host state gives the same handles.
        order = sorted(
            self.sockets(),
            key=lambda s: (s.local.version, s.local.packed, s.local_port, s.remote.packed,
                           s.remote_port),
        )  # fmt: skip
        return [self.resolve(s) for s in order]


def _clamped_mtu(mtu: int, interface: str) -> int:
    """The path MTU the tree takes: above 65535 (loopback's 65536, jumbo setups) it is 65535,
    the largest IP packet without IPv6 jumbograms; below 68 the path is unusable."""
    if mtu < _MIN_MTU:
        raise _Unusable("mtu", f"{interface} has MTU {mtu}, below {_MIN_MTU}")
    return min(mtu, _MAX_MTU)


def _local(remote: IPAddress, interface: str) -> _Unusable:
    return _Unusable("local", f"{remote} is delivered locally (over {interface})")


def _nud_name(state: int) -> str:
    """The name of a neighbour's NUD state (the highest flag set)."""
    for bit, name in _NUD_NAMES:
        if state & bit:
            return name
    return "NONE"


_NUD_INCOMPLETE, _NUD_FAILED, _NUD_NOARP = 0x01, 0x20, 0x40
_NUD_NAMES = (
    (0x80, "PERMANENT"),
    (0x40, "NOARP"),
    (0x20, "FAILED"),
    (0x10, "PROBE"),
    (0x08, "DELAY"),
    (0x04, "STALE"),
    (0x02, "REACHABLE"),
    (0x01, "INCOMPLETE"),
)


# -- netlink (pyroute2)

_RTN_UNICAST, _RTN_LOCAL = 1, 2
_RTN_NAMES = {3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole", 7: "unreachable",
              8: "prohibit", 9: "throw", 10: "nat"}  # fmt: skip
#: inet_diag extensions asked for: INET_DIAG_INFO (tcp_info), INET_DIAG_TOS, INET_DIAG_TCLASS.
_DIAG_EXTENSIONS = (1 << (2 - 1)) | (1 << (5 - 1)) | (1 << (6 - 1))


@dataclass(frozen=True, slots=True)
class _Link:
    """What the tree needs of an interface (rtnetlink's link dump)."""

    name: str
    mtu: int
    mtu6: int | None  # the IPv6 MTU (IFLA_INET6_CONF), which may be below the link's
    vlan_id: int
    mac: str | None  # its own MAC, when it is an Ethernet device
    flags: int


def _link_from_msg(msg: Any) -> _Link:
    """An RTM_NEWLINK message of pyroute2 as a ``_Link``."""
    name = str(msg.get_attr("IFLA_IFNAME") or f"if{msg['index']}")
    vlan_id = 0
    info = msg.get_attr("IFLA_LINKINFO")
    if info is not None and info.get_attr("IFLA_INFO_KIND") == "vlan":
        data = info.get_attr("IFLA_INFO_DATA")
        if data is not None:
            vlan_id = int(data.get_attr("IFLA_VLAN_ID") or 0)
    mtu6 = None
    try:
        conf = msg.get_attr("IFLA_AF_SPEC").get_attr("AF_INET6").get_attr("IFLA_INET6_CONF")
        mtu6 = int(conf["mtu"]) if conf is not None else None
    except (AttributeError, KeyError, TypeError, ValueError):
        pass  # no IPv6 on this link (or an older pyroute2 layout): the link MTU stands
    ethernet = msg["ifi_type"] == _ARPHRD_ETHER
    return _Link(
        name=name,
        mtu=int(msg.get_attr("IFLA_MTU") or 0),
        mtu6=mtu6,
        vlan_id=vlan_id,
        mac=_mac(msg.get_attr("IFLA_ADDRESS")) if ethernet else None,
        flags=int(msg["flags"]),
    )


def _raw_nla(nla: Any) -> bytes | None:
    """The payload bytes of a pyroute2 attribute (after its 4-byte header), or None when
    this pyroute2 does not keep them."""
    try:
        data, offset, length = nla.data, nla.offset, nla.length
        raw = bytes(data[offset + 4 : offset + length])
    except (AttributeError, TypeError):
        return None
    return raw if len(raw) == length - 4 else None


def _diag_tos(msg: Any, family: int) -> int | None:
    """INET_DIAG_TOS (IPv4) or INET_DIAG_TCLASS (IPv6): pyroute2 gives it as hex text."""
    value = msg.get_attr("INET_DIAG_TCLASS" if family == 6 else "INET_DIAG_TOS")
    if value is None:
        return None
    try:
        return int(str(value).replace(":", ""), 16) & 0xFF
    except ValueError:
        return None


class _NetlinkTables(_Tables):
    """sock_diag and rtnetlink through pyroute2."""

    def __init__(self) -> None:
        super().__init__()
        self._hz = os.sysconf("SC_CLK_TCK")  # the unit of NDA_CACHEINFO's ages (USER_HZ)
        self._links: dict[int, _Link] = {}
        self._neighbours: dict[tuple[int, IPAddress], Any] = {}
        self._ipr: Any = None

    def resolve_all(self) -> list[_Resolved]:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            self._ipr = ipr
            self._links = {int(m["index"]): _link_from_msg(m) for m in ipr.get_links()}
            for m in ipr.get_neighbours():
                if m["family"] not in (socket.AF_INET, socket.AF_INET6):
                    continue
                dst = m.get_attr("NDA_DST")
                if dst is not None:
                    self._neighbours[(int(m["ifindex"]), _plain(dst))] = m
            try:
                return super().resolve_all()
            finally:
                self._ipr = None

    def sockets(self) -> list[_Socket]:
        from pyroute2 import DiagSocket
        from pyroute2.netlink.diag import SS_ALL

        found: list[_Socket] = []
        with DiagSocket() as diag:
            diag.bind()
            for family, version in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
                for msg in diag.get_sock_stats(
                    family=family, states=SS_ALL, extensions=_DIAG_EXTENSIONS
                ):
                    found.append(self._socket(msg, version))
        return found

    def _socket(self, msg: Any, version: int) -> _Socket:
        local, remote = _plain(msg["idiag_src"]), _plain(msg["idiag_dst"])
        variables: dict[str, int | bool] = {}
        info = msg.get_attr("INET_DIAG_INFO")  # absent for TIME_WAIT and request sockets
        tos = _diag_tos(msg, remote.version if version == 6 else 4)
        if tos is not None:
            variables["tos_or_traffic_class"] = tos
        return _Socket(
            local=local,
            local_port=int(msg["idiag_sport"]),
            remote=remote,
            remote_port=int(msg["idiag_dport"]),
            state=_KERNEL_STATES.get(int(msg["idiag_state"]), ConnectionState.CLOSED),
            ifindex=int(msg["idiag_if"]),
            variables=variables,
            tcp_info=None if info is None else _raw_nla(info),
        )

    def route(self, local: IPAddress, remote: IPAddress, ifindex: int) -> _Route:
        from pyroute2 import NetlinkError

        query: dict[str, Any] = {"dst": str(remote), "src": str(local)}
        if ifindex:
            query["oif"] = ifindex
        try:
            answer = self._ipr.route("get", **query)
        except NetlinkError as exc:
            raise _Unusable("no-route", f"to {remote} from {local}: {exc.args[-1]}") from None
        msg = answer[0]
        oif = int(msg.get_attr("RTA_OIF") or 0)
        link = self._links.get(oif)
        name = link.name if link is not None else f"if{oif}"
        kind = int(msg["type"])
        if kind == _RTN_LOCAL or (link is not None and link.flags & _IFF_LOOPBACK):
            raise _local(remote, name)
        if kind != _RTN_UNICAST or link is None:
            what = _RTN_NAMES.get(kind, f"type {kind}") if kind != _RTN_UNICAST else "no device"
            raise _Unusable("no-route", f"to {remote}: the route is {what}")
        if link.flags & _IFF_NOARP:
            raise _Unusable("no-mac", f"{name} resolves no link-layer addresses (NOARP)")
        gateway = msg.get_attr("RTA_GATEWAY")
        via = msg.get_attr("RTA_VIA")  # a next hop of the other family (RFC 5549 routes)
        if gateway is None and via is not None:
            gateway = via.get("addr")
        metrics = msg.get_attr("RTA_METRICS")
        mtu = int(metrics.get_attr("RTAX_MTU") or 0) if metrics is not None else 0
        if not mtu:  # no route MTU and no learned path MTU: the interface's
            mtu = (link.mtu6 or link.mtu) if remote.version == 6 else link.mtu
        return _Route(
            interface=name,
            ifindex=oif,
            gateway=_plain(gateway) if gateway else None,
            mtu=_clamped_mtu(mtu, name),
            vlan_id=link.vlan_id,
            source_mac=link.mac,
        )

    def neighbour(self, route: _Route, next_hop: IPAddress) -> _Neighbour:
        msg = self._neighbours.get((route.ifindex, next_hop))
        if msg is None:
            raise _Unusable("no-neighbour", f"no entry for {next_hop} on {route.interface}")
        state = int(msg["state"])
        name = _nud_name(state)
        if state & (_NUD_INCOMPLETE | _NUD_FAILED) or state == 0:
            raise _Unusable("unresolved", f"{next_hop} on {route.interface} is {name}")
        mac = _mac(msg.get_attr("NDA_LLADDR"))
        if mac is None or state & _NUD_NOARP:
            raise _Unusable("no-mac", f"{next_hop} on {route.interface} has no MAC ({name})")
        cache = msg.get_attr("NDA_CACHEINFO")
        age = None
        if cache is not None and self._hz > 0:
            age = int(cache["ndm_confirmed"]) / self._hz
        return _Neighbour(mac=mac, state=name, confirmed_age=age)


# -- /proc

_RTF_UP, _RTF_GATEWAY, _RTF_REJECT, _RTF_LOCAL = 0x1, 0x2, 0x200, 0x80000000
_ATF_COM, _ATF_PERM, _ATF_PUBL = 0x2, 0x4, 0x8
_SIOCGIFFLAGS, _SIOCGIFMTU, _SIOCGIFHWADDR = 0x8913, 0x8921, 0x8927


def _proc_ipv4(word: str) -> ipaddress.IPv4Address:
    """An IPv4 address as /proc prints it: the network-order bytes read as a host-order
    32-bit integer in hex."""
    return ipaddress.IPv4Address(struct.pack("=I", int(word, 16)))


def _proc_ipv6_words(text: str) -> ipaddress.IPv6Address:
    """An IPv6 address of /proc/net/tcp6: four such 32-bit words."""
    words = (int(text[i : i + 8], 16) for i in range(0, 32, 8))
    return ipaddress.IPv6Address(struct.pack("=4I", *words))


def _proc_endpoint(text: str) -> tuple[IPAddress, int]:
    address, port = text.split(":")
    ip = _proc_ipv4(address) if len(address) == 8 else _proc_ipv6_words(address)
    return _plain(ip), int(port, 16)


def _lines(path: Path, header: bool = True) -> Iterator[list[str]]:
    """The whitespace-split lines of a /proc table (the first one a header when ``header``)."""
    with path.open() as f:
        lines = iter(f)
        if header:
            next(lines, None)
        for line in lines:
            fields = line.split()
            if fields:
                yield fields


def _optional(read: Callable[[], _T], default: _T) -> _T:
    """``read()``, or ``default`` when the file does not exist (a module not loaded)."""
    try:
        return read()
    except FileNotFoundError:
        return default


@dataclass(frozen=True, slots=True)
class _Route4:
    network: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address | None
    flags: int
    metric: int
    interface: str


@dataclass(frozen=True, slots=True)
class _Route6:
    network: ipaddress.IPv6Network
    gateway: ipaddress.IPv6Address | None
    flags: int
    metric: int
    interface: str


class _ProcTables(_Tables):
    """The /proc files (and interface ioctls, or /sys, for MTUs and MACs).

    ``net`` is the ``net`` directory of /proc to read; tests point it, ``sys_class_net`` and
    ``ipv6_conf`` at fixtures and turn ``ioctl`` off."""

    def __init__(
        self,
        net: Path,
        sys_class_net: Path = Path("/sys/class/net"),
        ipv6_conf: Path = Path("/proc/sys/net/ipv6/conf"),
        ioctl: bool = True,
    ) -> None:
        super().__init__()
        self._net = net
        self._sys = sys_class_net
        self._ipv6_conf = ipv6_conf
        self._ioctl = ioctl
        self._routes4: list[_Route4] | None = None
        self._routes6: list[_Route6] | None = None
        self._local4: list[ipaddress.IPv4Network] | None = None
        self._arp: dict[tuple[str, ipaddress.IPv4Address], tuple[int, int, str]] | None = None
        self._vlans: dict[str, int] | None = None

    @classmethod
    def of_this_thread(cls) -> _ProcTables:
        # /proc/net is /proc/self/net: the main thread's namespace. thread-self (Linux 3.17)
        # follows a thread that entered another one.
        thread = Path("/proc/thread-self/net")
        return cls(thread if thread.is_dir() else Path("/proc/net"))

    # -- sockets
    def sockets(self) -> list[_Socket]:
        found: list[_Socket] = []
        for name in ("tcp", "tcp6"):
            path = self._net / name
            if name == "tcp6" and not path.exists():
                continue  # IPv6 disabled
            for fields in _lines(path):
                # sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
                local, local_port = _proc_endpoint(fields[1])
                remote, remote_port = _proc_endpoint(fields[2])
                found.append(
                    _Socket(
                        local=local,
                        local_port=local_port,
                        remote=remote,
                        remote_port=remote_port,
                        state=_KERNEL_STATES.get(int(fields[3], 16), ConnectionState.CLOSED),
                        ifindex=0,
                        variables={"retransmit_count": min(int(fields[6], 16), 255)},
                    )
                )
        return found

    # -- routes
    def _ipv4_routes(self) -> list[_Route4]:
        if self._routes4 is None:
            routes = []
            # Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT; the MTU
            # column is the route's advmss + 40, not its mtu metric, so it is not used.
            for f in _lines(self._net / "route"):
                mask = _proc_ipv4(f[7])
                network = ipaddress.IPv4Network(f"{_proc_ipv4(f[1])}/{mask}", strict=False)
                flags = int(f[3], 16)
                gateway = _proc_ipv4(f[2]) if flags & _RTF_GATEWAY else None
                routes.append(_Route4(network, gateway, flags, int(f[6]), f[0]))
            routes.sort(key=lambda r: (-r.network.prefixlen, r.metric))
            self._routes4 = routes
        return self._routes4

    def _ipv4_local(self) -> list[ipaddress.IPv4Network]:
        """The host's own IPv4 prefixes: the "host LOCAL" leaves of /proc/net/fib_trie (the
        local table, which /proc/net/route does not show)."""
        if self._local4 is None:
            local: set[ipaddress.IPv4Network] = set()
            last = None
            for f in _lines(self._net / "fib_trie", header=False):
                if f[0] == "|--" and len(f) > 1:
                    last = f[1]
                elif f[0].startswith("/") and f[-1] == "LOCAL" and last is not None:
                    local.add(ipaddress.IPv4Network(f"{last}{f[0]}", strict=False))
            self._local4 = sorted(local)
        return self._local4

    def _ipv6_routes(self) -> list[_Route6]:
        if self._routes6 is None:
            routes = []
            # dest plen src plen next_hop metric refcnt use flags device, in plain hex
            for f in _lines(self._net / "ipv6_route", header=False):
                network = ipaddress.IPv6Network(
                    (ipaddress.IPv6Address(bytes.fromhex(f[0])), int(f[1], 16))
                )
                flags = int(f[8], 16)
                hop = ipaddress.IPv6Address(bytes.fromhex(f[4]))
                gateway = hop if flags & _RTF_GATEWAY and not hop.is_unspecified else None
                routes.append(_Route6(network, gateway, flags, int(f[5], 16), f[9]))
            routes.sort(key=lambda r: (-r.network.prefixlen, r.metric))
            self._routes6 = routes
        return self._routes6

    def route(self, local: IPAddress, remote: IPAddress, ifindex: int) -> _Route:
        # /proc shows the main table (IPv4) or every table (IPv6) but not the rules that pick
        # one: the longest prefix wins, then the lowest metric.
        gateway: IPAddress | None
        if isinstance(remote, ipaddress.IPv4Address):
            if remote.is_loopback or any(remote in n for n in self._ipv4_local()):
                raise _local(remote, "lo")
            found4 = next((r for r in self._ipv4_routes() if remote in r.network
                           and r.flags & _RTF_UP), None)  # fmt: skip
            if found4 is None or found4.flags & _RTF_REJECT:
                raise _Unusable("no-route", f"no route to {remote} in {self._net / 'route'}")
            interface, gateway, mtu = found4.interface, found4.gateway, self._mtu(found4.interface)
        else:
            if remote.is_loopback:
                raise _local(remote, "lo")
            if remote.is_link_local:
                raise _Unusable(
                    "unsupported", f"{remote} is link-local and /proc/net/tcp6 gives no scope"
                )
            found6 = next((r for r in self._ipv6_routes() if remote in r.network
                           and r.flags & _RTF_UP), None)  # fmt: skip
            if found6 is None or found6.flags & _RTF_REJECT:
                raise _Unusable("no-route", f"no route to {remote} in {self._net / 'ipv6_route'}")
            if found6.flags & _RTF_LOCAL or found6.interface == "lo":
                raise _local(remote, found6.interface)
            interface, gateway = found6.interface, found6.gateway
            mtu = self._mtu6(interface)
        if interface == "lo":
            raise _local(remote, interface)
        mac, flags = self._hwaddr(interface)
        if flags & _IFF_NOARP:
            raise _Unusable("no-mac", f"{interface} resolves no link-layer addresses (NOARP)")
        return _Route(
            interface=interface,
            ifindex=0,
            gateway=gateway,
            mtu=_clamped_mtu(mtu, interface),
            vlan_id=self._vlan_ids().get(interface, 0),
            source_mac=mac,
        )

    # -- neighbours
    def neighbour(self, route: _Route, next_hop: IPAddress) -> _Neighbour:
        if next_hop.version == 6:
            raise _Unusable(
                "unsupported",
                f"IPv6 next hop {next_hop} on {route.interface}: /proc has no IPv6 neighbour "
                f"table ({INSTALL_HINT} reads it over netlink)",
            )
        if self._arp is None:
            self._arp = {}
            # IP address, HW type, Flags, HW address, Mask, Device
            for f in _lines(self._net / "arp"):
                flags = int(f[2], 16)
                if not flags & _ATF_PUBL:  # a proxy-ARP publication is no neighbour
                    self._arp[(f[5], ipaddress.IPv4Address(f[0]))] = (int(f[1], 16), flags, f[3])
        entry = self._arp.get((route.interface, next_hop))
        if entry is None:
            raise _Unusable("no-neighbour", f"no ARP entry for {next_hop} on {route.interface}")
        hw_type, flags, text = entry
        if not flags & _ATF_COM:
            raise _Unusable("unresolved", f"{next_hop} on {route.interface} is INCOMPLETE")
        mac = _mac(text) if hw_type == _ARPHRD_ETHER else None
        if mac is None:
            raise _Unusable("no-mac", f"{next_hop} on {route.interface} has no MAC ({text})")
        state = "PERMANENT" if flags & _ATF_PERM else "COMPLETE"
        return _Neighbour(mac=mac, state=state, confirmed_age=None)

    # -- interfaces
    def _vlan_ids(self) -> dict[str, int]:
        """VLAN ids by interface (/proc/net/vlan/config, present once 8021q is loaded:
        without it there are no VLAN interfaces)."""
        if self._vlans is None:

            def read() -> dict[str, int]:
                vlans = {}
                with (self._net / "vlan" / "config").open() as f:
                    for line in f:
                        cells = [c.strip() for c in line.split("|")]
                        if len(cells) == 3 and cells[1].isdigit():
                            vlans[cells[0]] = int(cells[1])
                return vlans

            none: dict[str, int] = {}
            self._vlans = _optional(read, none)
        return self._vlans

    def _if_ioctl(self, request: int, interface: str) -> bytes | None:
        """An interface ioctl's ``struct ifreq``: unlike /sys, which shows the namespace it
        was mounted in, a socket asks the namespace of the calling thread."""
        if not self._ioctl:
            return None
        import fcntl  # here: the module imports on every platform, to say "Linux only"

        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                request_buffer = struct.pack("16s24x", interface.encode()[:15])
                return fcntl.ioctl(s.fileno(), request, request_buffer)
        except OSError:
            return None

    def _mtu(self, interface: str) -> int:
        answer = self._if_ioctl(_SIOCGIFMTU, interface)
        if answer is not None:
            return int(struct.unpack_from("=i", answer, 16)[0])
        return int((self._sys / interface / "mtu").read_text())

    def _mtu6(self, interface: str) -> int:
        return _optional(
            lambda: int((self._ipv6_conf / interface / "mtu").read_text()), self._mtu(interface)
        )

    def _hwaddr(self, interface: str) -> tuple[str | None, int]:
        """The interface's own MAC (None unless Ethernet) and its IFF_* flags."""
        answer = self._if_ioctl(_SIOCGIFHWADDR, interface)
        flags_answer = self._if_ioctl(_SIOCGIFFLAGS, interface)
        if answer is not None and flags_answer is not None:
            family, octets = struct.unpack_from("=H6s", answer, 16)
            flags = struct.unpack_from("=H", flags_answer, 16)[0]
            mac = _mac(octets.hex(":")) if family == _ARPHRD_ETHER else None
            return mac, int(flags)
        base = self._sys / interface
        kind = _optional(lambda: int((base / "type").read_text()), 0)
        mac = _optional(lambda: (base / "address").read_text().strip(), "")
        flags = _optional(lambda: int((base / "flags").read_text(), 16), 0)
        return (_mac(mac) if kind == _ARPHRD_ETHER else None), flags


# ---------------------------------------------------------------------------------------------
# Network namespaces

_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    """Move the calling thread into the network namespace open at ``fd``."""
    setns = getattr(os, "setns", None)  # Python 3.12+
    if setns is not None:
        setns(fd, _CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _in_netns(name: str, work: Callable[[], _T]) -> _T:
    """``work()`` run in network namespace ``name`` by a thread of its own: a thread can
    enter another namespace and leave the rest of the process where it is; every socket it
    opens, and /proc/thread-self/net, belong to that namespace."""
    if not isinstance(name, str) or not name:
        raise ValidationError(f"netns must be a namespace name, got {name!r}")
    path = name if "/" in name else f"/run/netns/{name}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise HostError(f"no network namespace {name!r}: {path} does not exist") from None
    except OSError as exc:
        raise HostError(f"cannot open network namespace {name!r}: {exc.strerror}") from None
    outcome: list[Any] = []

    def run() -> None:
        try:
            try:
                _setns(fd)
            except OSError as exc:
                hint = " (it needs root or CAP_SYS_ADMIN)" if exc.errno == 1 else ""
                raise HostError(
                    f"cannot enter network namespace {name!r}: {exc.strerror}{hint}"
                ) from None
            outcome.append(work())
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    try:
        thread = threading.Thread(target=run, name=f"offload-tree netns {name}", daemon=True)
        thread.start()
        thread.join()
    finally:
        os.close(fd)
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# Building the tree


def _build(
    tree: OffloadStateTree,
    source: str,
    note: str | None,
    resolved: Iterable[_Resolved],
    include_listening: bool,
) -> HostSnapshot:
    """The tree of the resolved sockets: neighbors by (interface, next hop), paths by address
    pair, a connection per socket."""
    tps = tree.ticks_per_second
    neighbor_of: dict[tuple[str, IPAddress], NeighborHandle] = {}
    path_of: dict[tuple[IPAddress, IPAddress], PathHandle] = {}
    neighbors: dict[NeighborHandle, NextHop] = {}
    connections: dict[TcpHandle, FourTuple] = {}
    skipped: list[Skipped] = []
    for r in resolved:
        s = r.socket
        key = FourTuple(str(s.local), s.local_port, str(s.remote), s.remote_port)
        if not s.connected:
            if include_listening:
                skipped.append(Skipped(*key, s.state, "listening", f"{s.state.name} socket"))
            continue
        if r.problem is not None:
            skipped.append(Skipped(*key, s.state, *r.problem))
            continue
        assert r.route is not None and r.neighbour is not None and r.next_hop is not None
        path = path_of.get((s.local, s.remote))
        if path is None:
            hop = (r.route.interface, r.next_hop)
            nb = neighbor_of.get(hop)
            if nb is None:
                age = r.neighbour.confirmed_age
                nb = tree.add_neighbor(
                    mac=r.neighbour.mac,
                    vlan_id=r.route.vlan_id,
                    source_mac=r.route.source_mac,
                    host_reachability_delta=0 if age is None else min(int(age * tps), U32_MAX),
                )
                neighbor_of[hop] = nb
                neighbors[nb] = NextHop(str(r.next_hop), r.route.interface, r.neighbour.state)
            path = tree.add_path(nb, source=s.local, destination=s.remote, path_mtu=r.route.mtu)
            path_of[(s.local, s.remote)] = path
        variables = dict(s.variables)
        if s.tcp_info is not None:
            variables.update(_tcp_info_variables(s.tcp_info, tps))
        try:
            tc = tree.add_tcp(path, s.local_port, s.remote_port, state=s.state, **variables)
        except DuplicateKeyError:
            skipped.append(Skipped(*key, s.state, "duplicate", "one connection per 4-tuple"))
            continue
        connections[tc] = key
    return HostSnapshot(tree, source, connections, neighbors, skipped, note)
