"""target.offload_stats(family) and reset_offload_stats(family): the chimney statistics an
offload target keeps per IP family (maintaining-and-reporting-chimney-specific-statistics.md;
DDI IP_OFFLOAD_STATS and TCP_OFFLOAD_STATS), on both backends."""

from __future__ import annotations

from typing import Any

import offload_tree as ot
import pytest

IP_KEYS = [
    "in_receives",
    "in_octets",
    "in_delivers",
    "out_requests",
    "out_octets",
    "in_header_errors",
    "in_truncated_packets",
    "in_discards",
    "out_discards",
    "out_no_routes",
]
TCP_KEYS = [
    "in_segments",
    "out_segments",
    "currently_established",
    "reset_established",
    "retransmitted_segments",
    "in_errors",
    "out_resets",
]


def _dual_stack(make_tree: Any, **tcp: Any) -> tuple[Any, int, int]:
    """A tree with one offloaded IPv4 and one offloaded IPv6 connection on one neighbor."""
    tree = make_tree()
    nb = tree.add_neighbor(mac="02:00:00:00:00:01")
    p4 = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    p6 = tree.add_path(nb, source="fe80::1", destination="fe80::2", path_mtu=1280)
    c4 = tree.add_tcp(p4, local_port=1000, remote_port=80, **tcp)
    c6 = tree.add_tcp(p6, local_port=1000, remote_port=80, **tcp)
    assert tree.initiate_offload([c4, c6]).ok
    return tree, c4, c6


def test_shape_and_zero_on_a_new_tree(tree: Any) -> None:
    for family in (4, 6):
        stats = tree.target.offload_stats(family)
        assert list(stats) == ["ip", "tcp"]
        assert list(stats["ip"]) == IP_KEYS
        assert list(stats["tcp"]) == TCP_KEYS
        assert set(stats["ip"].values()) == {0} and set(stats["tcp"].values()) == {0}
    assert tree.target.offload_stats() == tree.target.offload_stats(4), "IPv4 by default"


def test_receives_count_segments_and_octets_with_headers(make_tree: Any) -> None:
    tree, c4, c6 = _dual_stack(make_tree)
    # Path MTU 1500 on IPv4: MSS 1460. 3000 bytes arrive in three segments.
    tree.target.receive(c4, b"x" * 3000)
    ip4 = tree.target.offload_stats(4)["ip"]
    tcp4 = tree.target.offload_stats(4)["tcp"]
    assert (ip4["in_receives"], ip4["in_delivers"], tcp4["in_segments"]) == (3, 3, 3)
    assert ip4["in_octets"] == 3000 + 3 * (20 + 20)
    # An empty receive is a bare ACK: one segment of headers only (IPv6: 40 + 20).
    tree.target.receive(c6, b"")
    ip6 = tree.target.offload_stats(6)["ip"]
    assert (ip6["in_receives"], ip6["in_octets"]) == (1, 60)
    assert tree.target.offload_stats(6)["tcp"]["in_segments"] == 1
    # The families are kept apart.
    assert tree.target.offload_stats(4)["ip"]["in_receives"] == 3
    for family in (4, 6):
        assert tree.target.offload_stats(family)["ip"]["out_requests"] == 0


def test_sends_are_cut_at_the_smaller_of_the_peer_and_path_mss(make_tree: Any) -> None:
    tree, c4, _c6 = _dual_stack(make_tree, remote_mss=536)
    assert tree.target.send(c4, 1072) == 1072  # two segments of the peer's 536
    tcp4 = tree.target.offload_stats(4)["tcp"]
    ip4 = tree.target.offload_stats(4)["ip"]
    assert (tcp4["out_segments"], ip4["out_requests"]) == (2, 2)
    assert ip4["out_octets"] == 1072 + 2 * 40
    # IPv6 path MTU 1280 leaves 1220: below the peer's 1460 default, so the path decides.
    tree2, _c4, c6b = _dual_stack(make_tree)
    tree2.target.send(c6b, 1221)
    assert tree2.target.offload_stats(6)["tcp"]["out_segments"] == 2
    assert tree2.target.offload_stats(6)["ip"]["out_octets"] == 1221 + 2 * 60
    # remote_mss 0 means "not set": the path's MSS applies.
    tree3, c4c, _c6 = _dual_stack(make_tree, remote_mss=0)
    tree3.target.send(c4c, 1460)
    assert tree3.target.offload_stats(4)["tcp"]["out_segments"] == 1
    # Nothing sent, nothing counted: a zero-byte send.
    tree3.target.send(c4c, 0)
    assert tree3.target.offload_stats(4)["tcp"]["out_segments"] == 1


def test_sends_the_target_does_not_process_are_not_counted(make_tree: Any) -> None:
    tree, c4, _c6 = _dual_stack(make_tree)
    tree.invalidate([c4])
    assert tree.target.send(c4, 500) == 0  # held back
    assert tree.target.offload_stats(4)["tcp"]["out_segments"] == 0
    tree2, d4, _d6 = _dual_stack(make_tree)
    tree2.target.request_upload(d4, ot.UploadReason.HARDWARE_FAILURE)
    assert tree2.target.send(d4, 500) == 0  # completed with UPLOAD_IN_PROGRESS
    assert tree2.target.offload_stats(4)["ip"]["out_requests"] == 0


def test_currently_established_counts_offloaded_connections_now(make_tree: Any) -> None:
    tree, c4, _c6 = _dual_stack(make_tree)
    assert tree.target.offload_stats(4)["tcp"]["currently_established"] == 1
    assert tree.target.offload_stats(6)["tcp"]["currently_established"] == 1
    p4 = tree.depends_on(c4)
    closing = tree.add_tcp(p4, local_port=2000, remote_port=80, state=ot.ConnectionState.CLOSE_WAIT)
    waiting = tree.add_tcp(p4, local_port=2001, remote_port=80, state=ot.ConnectionState.FIN_WAIT_1)
    not_offloaded = tree.add_tcp(p4, local_port=2002, remote_port=80)
    assert not_offloaded
    assert tree.initiate_offload([closing, waiting]).ok
    assert tree.target.offload_stats(4)["tcp"]["currently_established"] == 2
    tree.terminate([c4])
    assert tree.target.offload_stats(4)["tcp"]["currently_established"] == 1
    assert tree.target.offload_stats(6)["tcp"]["currently_established"] == 1


def test_reset_zeroes_one_family_and_keeps_the_gauge(make_tree: Any) -> None:
    tree, c4, c6 = _dual_stack(make_tree)
    tree.target.receive(c4, b"abc")
    tree.target.receive(c6, b"abc")
    tree.target.reset_offload_stats(4)
    after4 = tree.target.offload_stats(4)
    assert set(after4["ip"].values()) == {0}
    assert after4["tcp"]["in_segments"] == 0
    assert after4["tcp"]["currently_established"] == 1, "a gauge, not a counter"
    assert tree.target.offload_stats(6)["ip"]["in_receives"] == 1, "IPv6 untouched"
    # Counting goes on from zero.
    tree.target.receive(c4, b"")
    assert tree.target.offload_stats(4)["tcp"]["in_segments"] == 1
    # The data itself is not the statistics': terminate still returns every byte.
    result = tree.terminate([c4])
    assert result.received_data(c4) == b"abc"


def test_statistics_survive_terminate_of_the_connections(make_tree: Any) -> None:
    tree, c4, _c6 = _dual_stack(make_tree)
    tree.target.send(c4, 100)
    tree.terminate([c4])
    stats = tree.target.offload_stats(4)
    assert stats["tcp"]["out_segments"] == 1
    assert stats["tcp"]["currently_established"] == 0


@pytest.mark.parametrize("family", [0, 5, -4, 2**70, "4", 4.0, True, None])
def test_a_family_other_than_4_or_6_is_a_validation_error(tree: Any, family: Any) -> None:
    with pytest.raises(ot.ValidationError, match="family must"):
        tree.target.offload_stats(family)
    with pytest.raises(ot.ValidationError, match="family must"):
        tree.target.reset_offload_stats(family)


def test_numpy_integer_families_are_accepted(tree: Any) -> None:
    import numpy as np

    assert tree.target.offload_stats(np.int64(6)) == tree.target.offload_stats(6)


def test_a_detached_target_has_no_statistics() -> None:
    with pytest.raises(ot.StateError):
        ot.SimulatedTarget().offload_stats(4)
