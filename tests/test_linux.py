"""offload_tree.linux: trees from the kernel's socket, route and neighbour tables.

Real sockets throughout. Loopback connections on 127.0.0.1 and ::1 (any Linux machine) must
be skipped as local, not guessed into the tree. Where network namespaces can be made (root
and ``ip netns add``), two namespaces joined by a veth pair with chosen MACs and MTU hold
TCP connections with real neighbour entries: the client namespace's tree must hold exactly
those connections, on the right paths, over the right neighbor, from netlink (pyroute2) and
from the /proc fallback. Files in /proc's formats test the fallback's parsers where the
kernel here cannot (VLANs, ARP states); the /proc path never needs pyroute2.
"""

from __future__ import annotations

import ctypes
import importlib.util
import ipaddress
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import offload_tree as ot
import pytest
from offload_tree import linux
from offload_tree._fields import FIELD_BY_NAME, U32_MAX
from offload_tree.linux import FourTuple, NextHop

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="offload_tree.linux reads Linux's tables"
)

HAS_PYROUTE2 = importlib.util.find_spec("pyroute2") is not None
SOURCES = ["netlink", "proc"]
PACKAGE_PARENT = Path(ot.__file__).resolve().parents[1]
T = TypeVar("T")

CLIENT_MAC = "02:00:00:00:0c:01"  # the client namespace's veth end
SERVER_MAC = "02:00:00:00:05:01"  # the server namespace's: the client's neighbour
VETH_MTU = 1400
ROUTE_MTU = 1300  # the route to 10.202.0.0/24, via 10.201.0.2
CLIENT_IF = "otc0"
CLIENT4, SERVER4, FAR4, NOBODY4 = "10.201.0.1", "10.201.0.2", "10.202.0.2", "10.201.0.77"
CLIENT6, SERVER6 = "fd42::1", "fd42::2"


def require_source(source: str) -> None:
    if source == "netlink" and not HAS_PYROUTE2:
        pytest.skip("pyroute2 is not installed: pip install 'offload-tree[linux]'")


def run_cli(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``python -m offload_tree ARGS`` with the offload_tree this process imported."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [*prefix, sys.executable, "-m", "offload_tree", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def in_netns(name: str, work: Callable[[], T]) -> T:
    """``work()`` in a thread that entered network namespace ``name``: the sockets it makes
    stay in that namespace, usable from any thread."""
    box: list[Any] = []

    def run() -> None:
        try:
            fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
                    raise OSError(ctypes.get_errno(), "setns failed")
            finally:
                os.close(fd)
            box.append(work())
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]  # type: ignore[no-any-return]


def listener(family: socket.AddressFamily, address: str) -> socket.socket:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((address, 0))
    s.listen(16)
    return s


def four_tuple(s: socket.socket) -> FourTuple:
    local, remote = s.getsockname(), s.getpeername()
    return FourTuple(local[0], local[1], remote[0], remote[1])


# --------------------------------------------------------------------------------------------
# loopback: on any Linux machine


@dataclass
class Loopback:
    sockets: list[socket.socket] = field(default_factory=list)
    connections: set[FourTuple] = field(default_factory=set)  # both ends of each
    listeners: set[FourTuple] = field(default_factory=set)


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    """Listening sockets on 127.0.0.1 and ::1 (when this machine has IPv6), each with a
    connected client and the accepted server end."""
    lo = Loopback()
    families = [(socket.AF_INET, "127.0.0.1", "0.0.0.0")]
    try:
        socket.socket(socket.AF_INET6).close()
        probe = listener(socket.AF_INET6, "::1")
        probe.close()
        families.append((socket.AF_INET6, "::1", "::"))
    except OSError:
        pass  # no IPv6 here: IPv4 alone
    try:
        for family, address, anywhere in families:
            server = listener(family, address)
            client = socket.create_connection(server.getsockname()[:2])
            accepted, _ = server.accept()
            lo.sockets += [server, client, accepted]
            lo.connections |= {four_tuple(client), four_tuple(accepted)}
            port = server.getsockname()[1]
            lo.listeners.add(FourTuple(address, port, anywhere, 0))
        yield lo
    finally:
        for s in lo.sockets:
            s.close()


@pytest.mark.parametrize("source", SOURCES)
def test_loopback_connections_are_skipped_as_local(
    backend: str, source: str, loopback: Loopback
) -> None:
    require_source(source)
    snap = linux.snapshot(source=source, backend=backend)
    assert snap.source == source and snap.note is None
    assert snap.tree.backend == backend
    skipped = {s.four_tuple: s for s in snap.skipped}
    for key in loopback.connections:
        assert key in skipped, key
        assert skipped[key].reason == "local", skipped[key]
        assert skipped[key].state == ot.ConnectionState.ESTABLISHED
        assert key not in snap.connections.values()
    # Nothing of them is guessed into the tree; listeners are not listed unless asked.
    for key in loopback.connections:
        assert snap.tree.find_path(key.local_address, key.remote_address) is None
    assert not loopback.listeners & set(skipped)
    assert repr(snap).startswith(f"<HostSnapshot {source}: ") and "\n" not in repr(snap)
    json.dumps(snap.to_dict())

    with_listeners = linux.snapshot(source=source, backend=backend, include_listening=True)
    listed = {s.four_tuple: s for s in with_listeners.skipped}
    for key in loopback.listeners:
        assert listed[key].reason == "listening"
        assert listed[key].state == ot.ConnectionState.LISTEN


def test_snapshot_binds_the_tree_to_the_given_target(loopback: Loopback) -> None:
    target = ot.SimulatedTarget(tcp_capacity=3)
    snap = linux.snapshot(source="proc", target=target, backend="python")
    assert snap.tree.target is target and snap.tree.backend == "python"


def test_cli_host_here(loopback: Loopback) -> None:
    proc = run_cli("host", "--target-capacity", "1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("offload-tree host (source: ")
    assert "tree: " in out and "TCP connection(s)" in out
    assert "local" in out  # this test's loopback connections
    assert "offload of " in out and "SimulatedTarget(tcp_capacity=1)" in out
    assert "fits: " in out


def test_cli_host_errors_are_one_line() -> None:
    proc = run_cli("host", "--netns", "offload-tree-no-such-namespace")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "no network namespace" in proc.stderr
    proc = run_cli("host", "--target-capacity", "-1")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "tcp_capacity" in proc.stderr


# --------------------------------------------------------------------------------------------
# errors and the choice of source


def test_without_pyroute2_proc_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyroute2", None)  # import pyroute2 -> ImportError
    snap = linux.snapshot()
    assert snap.source == "proc"
    assert snap.note is not None and "pip install 'offload-tree[linux]'" in snap.note
    with pytest.raises(linux.HostError, match=r"pip install 'offload-tree\[linux\]'"):
        linux.snapshot(source="netlink")


def test_linux_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(linux.HostError, match="Linux only") as info:
        linux.snapshot()
    assert isinstance(info.value, ot.StateError)


def test_bad_arguments() -> None:
    with pytest.raises(ot.ValidationError, match="source"):
        linux.snapshot(source="sysfs")
    with pytest.raises(ot.ValidationError, match="include_listening"):
        linux.snapshot(include_listening="yes")  # type: ignore[arg-type]
    with pytest.raises(ot.ValidationError, match="netns"):
        linux.snapshot(netns="")
    with pytest.raises(linux.HostError, match="no network namespace"):
        linux.snapshot(netns="offload-tree-no-such-namespace")


# --------------------------------------------------------------------------------------------
# tcp_info and netlink messages, byte by byte


def tcp_info_bytes(length: int = 280, **fields: int) -> bytes:
    raw = bytearray(length)
    raw[2] = fields.get("retransmits", 0)
    raw[5] = fields.get("options", 0)
    raw[6] = fields.get("snd_wscale", 0) | fields.get("rcv_wscale", 0) << 4
    struct.pack_into("=I", raw, 16, fields.get("snd_mss", 0))
    struct.pack_into("=4I", raw, 68, fields.get("rtt", 0), fields.get("rttvar", 0),
                     fields.get("ssthresh", 0x7FFFFFFF), fields.get("cwnd", 10))  # fmt: skip
    if length >= 236:
        struct.pack_into("=2I", raw, 228, fields.get("snd_wnd", 0), fields.get("rcv_wnd", 0))
    return bytes(raw)


@pytest.mark.skipif(sys.byteorder != "little", reason="the bytes below are little-endian's")
def test_tcp_info_variables() -> None:
    raw = tcp_info_bytes(options=7, snd_wscale=9, rcv_wscale=2, snd_mss=1448, rtt=12_500,
                         rttvar=2_000, cwnd=10, ssthresh=20, snd_wnd=70_000, rcv_wnd=60_000,
                         retransmits=3)  # fmt: skip
    v = linux._tcp_info_variables(raw, 1000)
    assert v == {
        "timestamps": True, "sack": True, "window_scaling": True, "retransmit_count": 3,
        "srtt": 13, "rttvar": 2, "snd_wind_scale": 9, "rcv_wind_scale": 2,
        "remote_mss": 1448, "cwnd": 14480, "ssthresh": 28960, "snd_wnd": 70_000,
        "rcv_wnd": 60_000,
    }  # fmt: skip
    # No window scaling: no scales; no slow-start threshold yet: "infinite"; an older,
    # shorter struct: no windows; no MSS yet: none of what depends on it.
    v = linux._tcp_info_variables(tcp_info_bytes(length=104, options=1, snd_mss=1000), 100)
    assert "snd_wind_scale" not in v and v["ssthresh"] == U32_MAX
    assert "snd_wnd" not in v and "rcv_wnd" not in v and v["timestamps"] and not v["sack"]
    v = linux._tcp_info_variables(tcp_info_bytes(snd_mss=0), 1000)
    assert not {"remote_mss", "cwnd", "ssthresh"} & set(v)
    assert linux._tcp_info_variables(b"\x01" * 40, 1000) == {}


@pytest.mark.skipif(not HAS_PYROUTE2, reason="pyroute2 is not installed")
def test_netlink_link_of_a_vlan_interface() -> None:
    """No 8021q is needed: the link message is built, encoded and decoded by pyroute2."""
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

    msg = ifinfmsg()
    msg["index"], msg["ifi_type"], msg["flags"] = 7, 1, 0x1003
    msg["attrs"] = [
        ("IFLA_IFNAME", "eth9.7"), ("IFLA_MTU", 1496), ("IFLA_ADDRESS", "02:00:00:00:09:07"),
        ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "vlan"),
                                     ("IFLA_INFO_DATA", {"attrs": [("IFLA_VLAN_ID", 7)]})]}),
    ]  # fmt: skip
    msg.encode()
    decoded = ifinfmsg(msg.data)
    decoded.decode()
    link = linux._link_from_msg(decoded)
    assert (link.name, link.mtu, link.vlan_id, link.mac) == ("eth9.7", 1496, 7, "02:00:00:00:09:07")


# --------------------------------------------------------------------------------------------
# /proc from files: what this kernel cannot show (VLANs, mapped addresses, duplicates)


def proc4(address: str) -> str:
    return f"{struct.unpack('=I', ipaddress.IPv4Address(address).packed)[0]:08X}"


def proc6(address: str) -> str:
    words = struct.unpack("=4I", ipaddress.IPv6Address(address).packed)
    return "".join(f"{w:08X}" for w in words)


def tcp_line(i: int, local: str, lport: int, remote: str, rport: int, state: int) -> str:
    enc = proc4 if ":" not in local else proc6
    # ... retrnsmt 2, then uid, timeout, inode and the fields of a full socket.
    rest = "00000000:00000000 00:00000000 00000002     0        0 1234 1 0 20 4 30 10 -1"
    return f"{i:4}: {enc(local)}:{lport:04X} {enc(remote)}:{rport:04X} {state:02X} {rest}"


def write_proc(tmp: Path) -> tuple[Path, Path]:
    net, sys_net = tmp / "net", tmp / "sys"
    (net / "vlan").mkdir(parents=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue ...\n"
    (net / "tcp").write_text(header + "\n".join([
        tcp_line(0, "10.9.7.5", 40000, "198.51.100.7", 443, 1),  # via the gateway, VLAN 7
        tcp_line(1, "10.9.7.5", 40000, "198.51.100.7", 443, 6),  # the same 4-tuple again
        tcp_line(2, "10.9.7.5", 40001, "10.9.7.9", 80, 1),  # on-link, ARP INCOMPLETE
        tcp_line(3, "10.9.7.5", 40002, "10.9.7.5", 22, 1),  # to its own address
        tcp_line(4, "10.9.7.5", 22, "0.0.0.0", 0, 10),  # listening
        tcp_line(5, "10.9.7.5", 40003, "10.9.7.8", 80, 2),  # no ARP entry at all
    ]) + "\n")  # fmt: skip
    (net / "tcp6").write_text(header + "\n".join([
        tcp_line(0, "::ffff:10.9.7.5", 40004, "::ffff:198.51.100.7", 8080, 8),  # mapped
        tcp_line(1, "2001:db8::5", 40005, "2001:db8::1", 443, 1),
    ]) + "\n")  # fmt: skip
    route_header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\n"
    (net / "route").write_text(route_header + "".join([
        f"eth9.7\t00000000\t{proc4('10.9.7.1')}\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
        f"eth9.7\t{proc4('10.9.7.0')}\t00000000\t0001\t0\t0\t0\t{proc4('255.255.255.0')}\t0\n",
    ]))  # fmt: skip
    (net / "fib_trie").write_text(
        "Local:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.9.7.5\n        /32 host LOCAL\n"
    )
    (net / "ipv6_route").write_text(
        f"{'0' * 32} 00 {'0' * 32} 00 {'20010db8' + '0' * 23 + '1'} 00000400 00000001 "
        "00000000 00000003   eth9.7\n"
    )
    (net / "arp").write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "10.9.7.1         0x1         0x2         02:00:00:00:07:01     *        eth9.7\n"
        "10.9.7.9         0x1         0x0         00:00:00:00:00:00     *        eth9.7\n"
    )
    (net / "vlan" / "config").write_text(
        "VLAN Dev name\t | VLAN ID\nName-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD\n"
        "eth9.7         | 7  | eth9\n"
    )
    iface = sys_net / "eth9.7"
    iface.mkdir(parents=True)
    (iface / "mtu").write_text("1496\n")
    (iface / "address").write_text("02:00:00:00:09:07\n")
    (iface / "type").write_text("1\n")
    (iface / "flags").write_text("0x1003\n")
    return net, sys_net


def test_proc_tables_from_files(backend: str, tmp_path: Path) -> None:
    net, sys_net = write_proc(tmp_path)
    tables = linux._ProcTables(net, sys_class_net=sys_net, ipv6_conf=tmp_path / "none",
                               ioctl=False)  # fmt: skip
    tree = ot.OffloadStateTree(backend=backend)
    snap = linux._build(tree, "proc", None, tables.resolve_all(), include_listening=True)
    assert set(snap.connections.values()) == {
        FourTuple("10.9.7.5", 40000, "198.51.100.7", 443),
        FourTuple("10.9.7.5", 40004, "198.51.100.7", 8080),  # IPv4-mapped, as IPv4
    }
    (nb,) = tree.handles("neighbor")
    n = tree.state(nb)
    assert (n.mac, n.vlan_id, n.source_mac) == ("02:00:00:00:07:01", 7, "02:00:00:00:09:07")
    assert snap.neighbors == {nb: NextHop("10.9.7.1", "eth9.7", "COMPLETE")}
    path = tree.find_path("10.9.7.5", "198.51.100.7")
    assert path is not None and tree.state(path).path_mtu == 1496
    assert tree.dependents(path).size == 2
    states = {snap.connections[h].remote_port: tree.state(h).state for h in snap.connections}
    assert states == {443: ot.ConnectionState.ESTABLISHED, 8080: ot.ConnectionState.CLOSE_WAIT}
    assert all(tree.state(h).retransmit_count == 2 for h in snap.connections)
    reasons = {(s.local_port, s.reason) for s in snap.skipped}
    assert reasons == {(40000, "duplicate"), (40001, "unresolved"), (40002, "local"),
                       (22, "listening"), (40003, "no-neighbour"),
                       (40005, "unsupported")}  # fmt: skip
    assert snap.skipped_by_reason()["duplicate"] == 1


# --------------------------------------------------------------------------------------------
# two network namespaces and a veth pair


@dataclass
class Veth:
    client_ns: str
    server_ns: str
    ipv6: bool
    ipv6_error: str = ""
    sockets: list[socket.socket] = field(default_factory=list)
    clients: dict[FourTuple, socket.socket] = field(default_factory=dict)
    local: set[FourTuple] = field(default_factory=set)  # loopback inside the client namespace

    def expected(self, source: str) -> set[FourTuple]:
        """The connections the client namespace's tree holds from ``source``."""
        return {k for k in self.clients if source == "netlink" or ":" not in k.local_address}


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def veth() -> Iterator[Veth]:
    """Namespaces ot-c-PID (client) and ot-s-PID (server) joined by veth otc0 <-> ots0, MTU
    1400, MACs set; 10.201.0.0/24 and fd42::/64 on the link, 10.202.0.2 behind the server
    (a route with MTU 1300 via 10.201.0.2). Clients connect: two to 10.201.0.2, one to
    10.202.0.2, one to fd42::2, and a loopback pair inside the client namespace."""
    if os.geteuid() != 0:
        pytest.skip(f"network namespaces need root; this is uid {os.geteuid()}")
    if shutil.which("ip") is None:
        pytest.skip("the ip command (iproute2) is not installed")
    tag = os.getpid()
    net = Veth(f"ot-c-{tag}", f"ot-s-{tag}", ipv6=False)
    made: list[str] = []
    try:
        for ns in (net.client_ns, net.server_ns):
            done = _ip("netns", "add", ns)
            if done.returncode != 0:
                pytest.skip(f"ip netns add {ns} failed: {done.stderr.strip()}")
            made.append(ns)
        c, s = net.client_ns, net.server_ns
        for args in (
            ("link", "add", CLIENT_IF, "netns", c, "type", "veth", "peer", "name", "ots0",
             "netns", s),
            ("-n", c, "link", "set", CLIENT_IF, "address", CLIENT_MAC, "mtu", str(VETH_MTU), "up"),
            ("-n", s, "link", "set", "ots0", "address", SERVER_MAC, "mtu", str(VETH_MTU), "up"),
            ("-n", c, "link", "set", "lo", "up"),
            ("-n", c, "addr", "add", f"{CLIENT4}/24", "dev", CLIENT_IF),
            ("-n", s, "addr", "add", f"{SERVER4}/24", "dev", "ots0"),
            ("-n", s, "addr", "add", f"{FAR4}/32", "dev", "ots0"),
            ("-n", c, "route", "add", "10.202.0.0/24", "via", SERVER4, "mtu", str(ROUTE_MTU)),
        ):  # fmt: skip
            done = _ip(*args)
            if done.returncode != 0:
                pytest.skip(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
        # nodad: usable at once, no duplicate address detection to wait for.
        net.ipv6 = True
        for ns, addr, dev in ((c, CLIENT6, CLIENT_IF), (s, SERVER6, "ots0")):
            done = _ip("-n", ns, "-6", "addr", "add", f"{addr}/64", "dev", dev, "nodad")
            if done.returncode != 0:
                net.ipv6, net.ipv6_error = False, done.stderr.strip()

        def server(family: socket.AddressFamily, address: str) -> socket.socket:
            return in_netns(s, lambda: listener(family, address))

        def connect(to: socket.socket, family: socket.AddressFamily) -> None:
            def make() -> socket.socket:
                sock = socket.socket(family, socket.SOCK_STREAM)
                # A small receive buffer: the client's window scale differs from the server's.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                return sock

            sock = in_netns(c, make)
            net.sockets.append(sock)
            sock.settimeout(10)
            sock.connect(to.getsockname()[:2])
            net.clients[four_tuple(sock)] = sock

        near, far = server(socket.AF_INET, SERVER4), server(socket.AF_INET, FAR4)
        net.sockets += [near, far]
        connect(near, socket.AF_INET)
        connect(near, socket.AF_INET)
        connect(far, socket.AF_INET)
        if net.ipv6:
            six = server(socket.AF_INET6, SERVER6)
            net.sockets.append(six)
            connect(six, socket.AF_INET6)
        lo = in_netns(c, lambda: listener(socket.AF_INET, "127.0.0.1"))
        lo_client = in_netns(c, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        lo_client.connect(lo.getsockname())
        lo_server, _ = lo.accept()
        net.sockets += [lo, lo_client, lo_server]
        net.local = {four_tuple(lo_client), four_tuple(lo_server)}
        yield net
    finally:
        for sock in net.sockets:
            sock.close()
        for ns in made:
            _ip("netns", "del", ns)


@pytest.mark.parametrize("source", SOURCES)
def test_netns_tree_holds_exactly_the_veth_connections(
    backend: str, source: str, veth: Veth, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_source(source)
    if source == "proc":  # the fallback needs no pyroute2
        monkeypatch.setitem(sys.modules, "pyroute2", None)
    snap = linux.snapshot(source=source, backend=backend, netns=veth.client_ns)
    tree = snap.tree
    assert snap.source == source
    expected = veth.expected(source)
    assert set(snap.connections.values()) == expected
    assert len(snap.connections) == tree.count("tcp") == len(expected)
    for h, key in snap.connections.items():
        assert tree.find_tcp(key.local_address, key.remote_address, key.local_port,
                             key.remote_port) == h  # fmt: skip
        s = tree.state(h)
        assert (s.local_port, s.remote_port) == (key.local_port, key.remote_port)
        assert s.state == ot.ConnectionState.ESTABLISHED

    # Paths: the veth's MTU on the link; the route's MTU through the gateway, which /proc
    # does not show (its MTU column is advmss + 40), so there the interface's.
    mtus = {(CLIENT4, SERVER4): VETH_MTU,
            (CLIENT4, FAR4): ROUTE_MTU if source == "netlink" else VETH_MTU}  # fmt: skip
    if veth.ipv6 and source == "netlink":
        mtus[(CLIENT6, SERVER6)] = VETH_MTU
    assert tree.count("path") == len(mtus)
    neighbor_of = {}
    for (src, dst), mtu in mtus.items():
        path = tree.find_path(src, dst)
        assert path is not None, (src, dst)
        assert tree.state(path).path_mtu == mtu
        nb = tree.depends_on(path)
        assert nb is not None
        n = tree.state(nb)
        assert (n.mac, n.source_mac, n.vlan_id) == (SERVER_MAC, CLIENT_MAC, 0)
        hop = snap.neighbors[nb]
        assert hop.address == (SERVER6 if ":" in src else SERVER4)
        assert hop.interface == CLIENT_IF
        assert hop.state in ("REACHABLE", "STALE", "DELAY", "PROBE", "COMPLETE")
        neighbor_of[(src, dst)] = nb
    # One neighbor per neighbour entry: 10.201.0.2 is both the peer and the gateway.
    assert neighbor_of[(CLIENT4, SERVER4)] == neighbor_of[(CLIENT4, FAR4)]
    assert tree.count("neighbor") == len(set(neighbor_of.values())) == len(snap.neighbors)

    # What is left out is said, not guessed: the loopback pair, and IPv6 from /proc.
    skipped = {s.four_tuple: s.reason for s in snap.skipped}
    assert all(skipped[key] == "local" for key in veth.local)
    for key in set(veth.clients) - expected:
        assert skipped[key] == "unsupported"
    assert len(snap.skipped) == len(veth.local) + len(set(veth.clients) - expected)


def test_netns_ipv6_over_netlink(veth: Veth) -> None:
    """fd42::1 -> fd42::2: its own path and its own neighbor (the IPv6 neighbour entry of
    the MAC the IPv4 one has too); /proc has no IPv6 neighbour table and says so."""
    require_source("netlink")
    if not veth.ipv6:
        pytest.skip(f"IPv6 addresses could not be added: {veth.ipv6_error}")
    snap = linux.snapshot(source="netlink", netns=veth.client_ns)
    tree = snap.tree
    (key,) = [k for k in veth.clients if ":" in k.local_address]
    (h,) = [h for h, k in snap.connections.items() if k == key]
    path = tree.depends_on(h)
    assert path == tree.find_path(CLIENT6, SERVER6) and tree.state(path).path_mtu == VETH_MTU
    nb = tree.depends_on(path)
    assert nb is not None and tree.state(nb).mac == SERVER_MAC
    assert snap.neighbors[nb].address == SERVER6
    assert nb != tree.depends_on(tree.find_path(CLIENT4, SERVER4))
    proc = linux.snapshot(source="proc", netns=veth.client_ns)
    (entry,) = [s for s in proc.skipped if s.four_tuple == key]
    assert entry.reason == "unsupported" and "neighbour table" in entry.detail


def tcp_info(sock: socket.socket) -> bytes:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)


@pytest.mark.parametrize("source", SOURCES)
def test_netns_tcp_variables(source: str, veth: Veth) -> None:
    """Over netlink, tcp_info's variables, as getsockopt(TCP_INFO) on the socket itself
    reads them; from /proc, the library's defaults (nothing made up)."""
    require_source(source)
    snap = linux.snapshot(source=source, netns=veth.client_ns)
    tree = snap.tree
    for h, key in snap.connections.items():
        s = tree.state(h)
        if source == "proc":
            for name in ("remote_mss", "snd_wind_scale", "window_scaling", "timestamps", "cwnd",
                         "srtt", "snd_wnd", "rcv_wnd"):  # fmt: skip
                assert getattr(s, name) == FIELD_BY_NAME[name].default, name
            continue
        raw = tcp_info(veth.clients[key])
        path = tree.state(tree.depends_on(h))
        headers = 40 if path.source.version == 4 else 60
        # A fresh namespace's defaults: timestamps, SACK and window scaling on.
        assert (s.timestamps, s.sack, s.window_scaling) == (True, True, True)
        assert s.remote_mss == path.path_mtu - headers - 12  # 12: the timestamp option
        assert s.remote_mss == struct.unpack_from("=I", raw, 16)[0]
        # The client's small receive buffer: a smaller scale than the server's.
        assert s.rcv_wind_scale < s.snd_wind_scale
        if sys.byteorder == "little":
            assert (s.snd_wind_scale, s.rcv_wind_scale) == (raw[6] & 0xF, raw[6] >> 4)
        cwnd_segments = struct.unpack_from("=I", raw, 80)[0]
        assert s.cwnd == cwnd_segments * s.remote_mss
        if len(raw) >= 236:
            assert (s.snd_wnd, s.rcv_wnd) == struct.unpack_from("=2I", raw, 228)
        assert s.state == ot.ConnectionState.ESTABLISHED


@pytest.mark.parametrize("source", SOURCES)
def test_netns_unresolved_next_hop_is_skipped(source: str, veth: Veth) -> None:
    """A SYN to an address nobody answers ARP for: SYN_SENT over an INCOMPLETE entry."""
    require_source(source)

    def make() -> socket.socket:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    sock = in_netns(veth.client_ns, make)
    try:
        sock.setblocking(False)
        sock.connect_ex((NOBODY4, 80))
        snap = linux.snapshot(source=source, netns=veth.client_ns)
        (entry,) = [s for s in snap.skipped if s.remote_address == NOBODY4]
        assert entry.state == ot.ConnectionState.SYN_SENT
        assert entry.reason == "unresolved", entry
        assert snap.tree.find_path(CLIENT4, NOBODY4) is None
    finally:
        sock.close()


def test_netns_cli_offload_to_a_small_target(veth: Veth) -> None:
    proc = run_cli("host", "--netns", veth.client_ns, "--target-capacity", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    source = "netlink" if HAS_PYROUTE2 else "proc"
    n = len(veth.expected(source))
    assert (data["source"], data["connections"]) == (source, n)
    offload = data["offload"]
    assert offload["target_capacity"] == 1 and offload["requested"] == n
    assert offload["statuses"]["SUCCESS"]["tcp"] == 1
    assert offload["statuses"]["TCP_ENTRIES"]["tcp"] == n - 1
    assert offload["offloaded"] == {"neighbors": 1, "paths": 1, "connections": 1}
    assert offload["failed"] == n - 1

    proc = run_cli("host", "--netns", veth.client_ns, "--target-capacity", "1")
    assert proc.returncode == 0, proc.stderr
    assert f"tree: {data['neighbors']} neighbor(s), {data['paths']} path(s), {n} TCP" in proc.stdout
    assert "TCP_ENTRIES" in proc.stdout
    assert f"fits: 1 of {n} connection(s)" in proc.stdout


def test_netns_ip_netns_exec(veth: Veth) -> None:
    """The way a user would: ``ip netns exec NS offload-tree host``."""
    proc = run_cli("host", "--json", prefix=("ip", "netns", "exec", veth.client_ns))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["connections"] == len(veth.expected(data["source"]))
    assert data["skipped_by_reason"].get("local") == len(veth.local)
