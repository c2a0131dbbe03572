"""State records: immutable, the three kinds of variables, defaults (docs/DESIGN.md §5)."""

from __future__ import annotations

import dataclasses
import ipaddress

import numpy as np
import offload_tree as ot
import pytest

NEIGHBOR_CONSTANT = {"source_mac": None, "vlan_id": 0}
NEIGHBOR_CACHED = {"mac": "00:15:5d:01:02:03", "host_reachability_delta": 0}
NEIGHBOR_DELEGATED = {"nic_reachability_delta": 0}

TCP_CONSTANT_DEFAULTS = {
    "local_port": 49152,
    "remote_port": 443,
    "snd_wind_scale": 0,
    "rcv_wind_scale": 0,
    "remote_mss": 1460,
    "hash_value": 0,
    "timestamps": False,
    "sack": False,
    "window_scaling": False,
}
TCP_CACHED_DEFAULTS = {
    "initial_rcv_wnd": 65535,
    "rcv_indication_size": 0,
    "ka_probe_count": 10,
    "ka_timeout": 7200000,
    "ka_interval": 1000,
    "max_rt": 10,
    "flow_label": 0,
    "ttl_or_hop_limit": 128,
    "tos_or_traffic_class": 0,
    "user_priority": 0,
    "keep_alive": False,
    "nagle": True,
}
TCP_DELEGATED_DEFAULTS = {
    "state": ot.ConnectionState.ESTABLISHED,
    "rcv_nxt": 0,
    "rcv_wnd": 65535,
    "snd_una": 0,
    "snd_nxt": 0,
    "snd_max": 0,
    "snd_wnd": 65535,
    "max_snd_wnd": 65535,
    "send_wl1": 0,
    "cwnd": 14600,
    "ssthresh": 65535,
    "srtt": 0,
    "rttvar": 0,
    "ts_recent": 0,
    "ts_recent_age": 0,
    "ts_time": 0,
    "total_rt": 0,
    "dup_ack_count": 0,
    "snd_wnd_probe_count": 0,
    "keepalive_probe_count": 0,
    "keepalive_timeout_delta": 2**32 - 1,
    "retransmit_count": 0,
    "retransmit_timeout_delta": 2**32 - 1,
    "send_backlog_size": 0,
    "dwnd": 0,
}


@pytest.fixture
def nb(tree):
    return tree.add_neighbor(mac="00:15:5d:01:02:03")


@pytest.fixture
def pa(tree, nb):
    return tree.add_path(nb, source="10.0.0.1", destination="10.0.0.9")


def test_neighbor_defaults_and_kinds(tree, nb):
    st = tree.state(nb)
    assert st.layer == ot.Layer.NEIGHBOR and st.handle == nb
    assert st.constant() == NEIGHBOR_CONSTANT
    assert st.cached() == NEIGHBOR_CACHED
    assert st.delegated() == NEIGHBOR_DELEGATED
    assert list(st.constant()) == list(NEIGHBOR_CONSTANT)
    assert list(st.cached()) == list(NEIGHBOR_CACHED)


def test_neighbor_explicit_fields(tree):
    h = tree.add_neighbor(
        mac="AA-BB-CC-DD-EE-FF",
        vlan_id=4095,
        source_mac=b"\x02\x00\x00\x00\x00\x01",
        host_reachability_delta=7,
        nic_reachability_delta=2**32 - 1,
    )
    st = tree.state(h)
    assert st.mac == "aa:bb:cc:dd:ee:ff"
    assert st.vlan_id == 4095
    assert st.source_mac == "02:00:00:00:00:01"
    assert st.host_reachability_delta == 7
    assert st.nic_reachability_delta == 2**32 - 1


@pytest.mark.parametrize(
    "mac",
    [
        "00:15:5d:01:02:03",
        "00:15:5D:01:02:03",
        "00-15-5d-01-02-03",
        b"\x00\x15\x5d\x01\x02\x03",
        0x00155D010203,
    ],
)
def test_mac_input_forms(tree, mac):
    assert tree.state(tree.add_neighbor(mac=mac)).mac == "00:15:5d:01:02:03"


def test_path_defaults_and_kinds(tree, pa):
    st = tree.state(pa)
    assert st.layer == ot.Layer.PATH
    assert st.constant() == {
        "source": ipaddress.IPv4Address("10.0.0.1"),
        "destination": ipaddress.IPv4Address("10.0.0.9"),
    }
    assert st.cached() == {"path_mtu": 1500}
    assert st.delegated() == {}


@pytest.mark.parametrize(
    ("source", "destination", "expected"),
    [
        ("10.0.0.1", "10.0.0.9", ("10.0.0.1", "10.0.0.9")),
        (b"\x0a\x00\x00\x01", b"\xc0\xa8\x01\x01", ("10.0.0.1", "192.168.1.1")),
        (
            ipaddress.IPv4Address("172.16.0.1"),
            ipaddress.IPv4Address("172.16.0.2"),
            ("172.16.0.1", "172.16.0.2"),
        ),
        (0x0A000001, 0x0A000009, ("10.0.0.1", "10.0.0.9")),
        ("fe80::1", "2001:db8::9", ("fe80::1", "2001:db8::9")),
        (
            ipaddress.IPv6Address("2001:db8::1"),
            b"\x20\x01\x0d\xb8" + bytes(11) + b"\x02",
            ("2001:db8::1", "2001:db8::2"),
        ),
        (2**32, 2**128 - 1, ("::1:0:0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
    ],
)
def test_path_addresses_ipv4_and_ipv6_input_forms(tree, nb, source, destination, expected):
    st = tree.state(tree.add_path(nb, source=source, destination=destination))
    assert st.source == ipaddress.ip_address(expected[0])
    assert st.destination == ipaddress.ip_address(expected[1])
    assert isinstance(st.source, ipaddress.IPv4Address | ipaddress.IPv6Address)
    assert st.source.version == st.destination.version


def test_tcp_defaults_and_kinds(tree, pa):
    st = tree.state(tree.add_tcp(pa, local_port=49152, remote_port=443))
    assert st.layer == ot.Layer.TCP
    assert st.constant() == TCP_CONSTANT_DEFAULTS
    assert st.cached() == TCP_CACHED_DEFAULTS
    assert st.delegated() == TCP_DELEGATED_DEFAULTS
    assert list(st.constant()) == list(TCP_CONSTANT_DEFAULTS)
    assert list(st.cached()) == list(TCP_CACHED_DEFAULTS)
    assert list(st.delegated()) == list(TCP_DELEGATED_DEFAULTS)
    assert isinstance(st.state, ot.ConnectionState)
    for name, value in TCP_DELEGATED_DEFAULTS.items():
        assert getattr(st, name) == value


def test_tcp_accepts_every_field_kind_at_creation(tree, pa):
    fields = {
        "snd_wind_scale": 14,
        "rcv_wind_scale": 7,
        "remote_mss": 9000,
        "hash_value": 2**32 - 1,
        "timestamps": True,
        "sack": True,
        "window_scaling": True,
        "initial_rcv_wnd": 1 << 20,
        "flow_label": 2**20 - 1,
        "user_priority": 7,
        "ttl_or_hop_limit": 255,
        "keep_alive": True,
        "nagle": False,
        "state": int(ot.ConnectionState.CLOSE_WAIT),
        "rcv_nxt": 12345,
        "snd_una": 2**32 - 1,
        "dup_ack_count": 255,
    }
    st = tree.state(tree.add_tcp(pa, local_port=0, remote_port=65535, **fields))
    assert st.local_port == 0 and st.remote_port == 65535
    for name, value in fields.items():
        assert getattr(st, name) == value, name
    assert st.state is ot.ConnectionState.CLOSE_WAIT


def test_tcp_accepts_numpy_integer_values(tree, pa):
    h = tree.add_tcp(pa, local_port=np.int64(80), remote_port=np.uint16(8080))
    st = tree.state(h)
    assert (st.local_port, st.remote_port) == (80, 8080)
    assert type(st.local_port) is int


@pytest.mark.parametrize("attr", ["path_mtu", "offloaded", "handle"])
def test_records_are_immutable(tree, pa, attr):
    st = tree.state(pa)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(st, attr, 9000)
    assert tree.state(pa).path_mtu == 1500


def test_state_record_is_a_snapshot_not_a_view(tree, pa):
    before = tree.state(pa)
    tree.update(pa, path_mtu=1400)
    assert before.path_mtu == 1500
    assert tree.state(pa).path_mtu == 1400


def test_record_dicts_are_fresh_copies(tree, pa):
    st = tree.state(pa)
    d = st.cached()
    d["path_mtu"] = 1
    assert st.cached() == {"path_mtu": 1500}


def test_state_accepts_numpy_integer_handle(tree, pa):
    assert tree.state(np.uint64(pa)).handle == pa
