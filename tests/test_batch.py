"""Batch adds: sequences and NumPy arrays in, uint64 handle arrays out; all or nothing."""

from __future__ import annotations

import ipaddress

import numpy as np
import offload_tree as ot
import pytest
from _helpers import assert_unchanged, check_invariants, hl, snapshot


def _is_handle_array(a, n):
    return isinstance(a, np.ndarray) and a.dtype == np.uint64 and a.ndim == 1 and len(a) == n


def test_add_neighbors_from_list_of_strings(tree):
    hs = tree.add_neighbors(["00:00:00:00:00:01", "00:00:00:00:00:02", b"\x00" * 5 + b"\x03"])
    assert _is_handle_array(hs, 3)
    assert [tree.state(h).mac for h in hl(hs)] == [
        "00:00:00:00:00:01",
        "00:00:00:00:00:02",
        "00:00:00:00:00:03",
    ]
    assert all(tree.state(h).vlan_id == 0 for h in hl(hs))
    assert hl(tree.handles(ot.Layer.NEIGHBOR)) == hl(hs)


def test_add_neighbors_from_numpy_arrays(tree):
    macs = np.array([0x001122334455, 0xFFFFFFFFFFFF], dtype=np.uint64)
    hs = tree.add_neighbors(macs, vlan_ids=np.array([5, 4095]))
    assert _is_handle_array(hs, 2)
    assert tree.state(int(hs[0])).mac == "00:11:22:33:44:55"
    assert tree.state(int(hs[1])).mac == "ff:ff:ff:ff:ff:ff"
    assert [tree.state(h).vlan_id for h in hl(hs)] == [5, 4095]


def test_add_neighbors_vlan_scalar_broadcasts(tree):
    hs = tree.add_neighbors([1, 2, 3], vlan_ids=7)
    assert [tree.state(h).vlan_id for h in hl(hs)] == [7, 7, 7]


def test_batch_handles_match_single_add_rules(tree):
    first = tree.add_neighbor(mac=1)
    hs = tree.add_neighbors([2, 3])
    assert [h & 0xFFFFFFFF for h in hl(hs)] == [1, 2]
    assert hl(tree.handles()) == [first, *hl(hs)]


def test_add_paths_from_lists_and_arrays(tree):
    nbs = tree.add_neighbors([1, 2])
    hs = tree.add_paths(
        nbs,
        ["10.0.0.1", ipaddress.IPv4Address("10.0.0.2")],
        np.array([0x0A000009, 0x0A00000A], dtype=np.uint64),
        path_mtus=np.array([1280, 9000]),
    )
    assert _is_handle_array(hs, 2)
    s0, s1 = tree.state(int(hs[0])), tree.state(int(hs[1]))
    assert (str(s0.source), str(s0.destination), s0.path_mtu) == ("10.0.0.1", "10.0.0.9", 1280)
    assert (str(s1.source), str(s1.destination), s1.path_mtu) == ("10.0.0.2", "10.0.0.10", 9000)
    assert tree.depends_on(int(hs[0])) == int(nbs[0])
    assert tree.depends_on(int(hs[1])) == int(nbs[1])


def test_add_paths_default_mtu_and_ipv6(tree):
    nb = tree.add_neighbor(mac=1)
    hs = tree.add_paths([nb, nb], ["fe80::1", "fe80::2"], ["fe80::9", "fe80::a"])
    assert [tree.state(h).path_mtu for h in hl(hs)] == [1500, 1500]
    assert tree.state(int(hs[1])).source == ipaddress.IPv6Address("fe80::2")
    assert hl(tree.dependents(nb)) == hl(hs)


def test_add_tcps_from_arrays_with_broadcast_port(tree):
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    n = 100
    hs = tree.add_tcps(np.full(n, pa, dtype=np.uint64), np.arange(1000, 1000 + n), 443)
    assert _is_handle_array(hs, n)
    assert [tree.state(h).local_port for h in hl(hs)] == list(range(1000, 1000 + n))
    assert all(tree.state(h).remote_port == 443 for h in hl(hs))
    assert hl(tree.dependents(pa)) == hl(hs)
    check_invariants(tree)


def test_add_tcps_from_lists(tree):
    nb = tree.add_neighbor(mac=1)
    pas = tree.add_paths([nb, nb], ["10.0.0.1"] * 2, ["10.0.0.2", "10.0.0.3"])
    hs = tree.add_tcps(hl(pas), [1, 2], [3, 4])
    assert [tree.depends_on(h) for h in hl(hs)] == hl(pas)
    assert [(tree.state(h).local_port, tree.state(h).remote_port) for h in hl(hs)] == [
        (1, 3),
        (2, 4),
    ]


def test_empty_batches_add_nothing(tree):
    assert _is_handle_array(tree.add_neighbors([]), 0)
    assert len(tree) == 0


# --- one bad item: nothing added ----------------------------------------------------------


@pytest.fixture
def base(make_pair):
    tree, target = make_pair()
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tc = tree.add_tcp(pa, local_port=1, remote_port=2)
    return tree, target, nb, pa, tc


def _raises_unchanged(tree, target, exc, call):
    before = snapshot(tree, target)
    with pytest.raises(exc):
        call()
    assert_unchanged(before, snapshot(tree, target))


def test_add_neighbors_one_bad_mac_adds_nothing(base):
    tree, target, *_ = base
    _raises_unchanged(
        tree, target, ot.ValidationError, lambda: tree.add_neighbors(["00:00:00:00:00:05", "bad"])
    )


def test_add_neighbors_one_bad_vlan_adds_nothing(base):
    tree, target, *_ = base
    _raises_unchanged(
        tree, target, ot.ValidationError, lambda: tree.add_neighbors([5, 6], vlan_ids=[1, 4096])
    )


def test_add_neighbors_mac_too_large_in_array_adds_nothing(base):
    tree, target, *_ = base
    macs = np.array([5, 2**48], dtype=np.uint64)
    _raises_unchanged(tree, target, ot.ValidationError, lambda: tree.add_neighbors(macs))


def test_add_neighbors_length_mismatch(base):
    tree, target, *_ = base
    _raises_unchanged(
        tree, target, ot.ValidationError, lambda: tree.add_neighbors([5, 6], vlan_ids=[1, 2, 3])
    )


def test_add_paths_one_stale_neighbor_adds_nothing(base):
    tree, target, nb, *_ = base
    gone = tree.add_neighbor(mac=9)
    tree.remove([gone])
    _raises_unchanged(
        tree,
        target,
        ot.InvalidHandleError,
        lambda: tree.add_paths([nb, gone], ["10.0.0.1"] * 2, ["10.0.0.3", "10.0.0.4"]),
    )


def test_add_paths_one_wrong_layer_parent_adds_nothing(base):
    tree, target, nb, pa, _ = base
    _raises_unchanged(
        tree,
        target,
        ot.LayerError,
        lambda: tree.add_paths([nb, pa], ["10.0.0.1"] * 2, ["10.0.0.3", "10.0.0.4"]),
    )


def test_add_paths_one_bad_address_adds_nothing(base):
    tree, target, nb, *_ = base
    _raises_unchanged(
        tree,
        target,
        ot.ValidationError,
        lambda: tree.add_paths([nb, nb], ["10.0.0.1", "10.0.0.1"], ["10.0.0.3", "10.0.0.300"]),
    )


def test_add_paths_one_mixed_family_adds_nothing(base):
    tree, target, nb, *_ = base
    _raises_unchanged(
        tree,
        target,
        ot.ValidationError,
        lambda: tree.add_paths([nb, nb], ["10.0.0.1", "10.0.0.1"], ["10.0.0.3", "fe80::1"]),
    )


def test_add_paths_one_bad_mtu_adds_nothing(base):
    tree, target, nb, *_ = base
    _raises_unchanged(
        tree,
        target,
        ot.ValidationError,
        lambda: tree.add_paths([nb, nb], ["10.0.0.1"] * 2, ["10.0.0.3"] * 2, path_mtus=[1500, 67]),
    )


def test_add_paths_ipv4_array_value_too_large(base):
    tree, target, nb, *_ = base
    dst = np.array([1, 2**32], dtype=np.uint64)
    _raises_unchanged(
        tree,
        target,
        ot.ValidationError,
        lambda: tree.add_paths([nb, nb], np.array([1, 1], dtype=np.uint64), dst),
    )


def test_add_tcps_one_bad_port_adds_nothing(base):
    tree, target, _, pa, _ = base
    _raises_unchanged(
        tree, target, ot.ValidationError, lambda: tree.add_tcps([pa, pa], [1, 65536], [2, 2])
    )


def test_add_tcps_negative_port_adds_nothing(base):
    tree, target, _, pa, _ = base
    _raises_unchanged(tree, target, ot.ValidationError, lambda: tree.add_tcps([pa, pa], [1, -1], 2))


def test_add_tcps_float_ports_rejected(base):
    tree, target, _, pa, _ = base
    _raises_unchanged(
        tree,
        target,
        ot.ValidationError,
        lambda: tree.add_tcps([pa, pa], np.array([1.0, 2.0]), [2, 2]),
    )


def test_add_tcps_bool_ports_rejected(base):
    tree, target, _, pa, _ = base
    _raises_unchanged(
        tree,
        target,
        ot.ValidationError,
        lambda: tree.add_tcps([pa, pa], np.array([True, False]), [2, 2]),
    )


def test_add_tcps_wrong_layer_parent_adds_nothing(base):
    tree, target, _, pa, tc = base
    _raises_unchanged(tree, target, ot.LayerError, lambda: tree.add_tcps([pa, tc], [1, 2], [3, 4]))


def test_add_tcps_length_mismatch(base):
    tree, target, _, pa, _ = base
    _raises_unchanged(
        tree, target, ot.ValidationError, lambda: tree.add_tcps([pa, pa], [1, 2, 3], [3, 4])
    )


def test_add_tcps_garbage_handle_array(base):
    tree, target, _, pa, _ = base
    _raises_unchanged(
        tree,
        target,
        ot.InvalidHandleError,
        lambda: tree.add_tcps(np.array([float(pa)]), [1], [2]),
    )


def test_add_paths_broadcasts_one_address(tree):
    nb = tree.add_neighbor(mac=1)
    hs = tree.add_paths([nb, nb], "10.0.0.1", ["10.0.0.2", "10.0.0.3"])
    assert [str(tree.state(h).source) for h in hl(hs)] == ["10.0.0.1", "10.0.0.1"]
    assert [str(tree.state(h).destination) for h in hl(hs)] == ["10.0.0.2", "10.0.0.3"]


def test_length_one_field_array_does_not_broadcast(base):
    tree, target, _, pa, _ = base
    _raises_unchanged(
        tree, target, ot.ValidationError, lambda: tree.add_tcps([pa, pa], np.array([1]), 2)
    )


# -- threads: a large batch gives the same tree on any thread count -----------------------


def _large_build(tree, n=20_000):
    """W(n)-like: n connections over n // 100 paths over n // 1000 neighbors, with the second
    connection of path 0 removed first so the batch reuses a freed slot."""
    k, p = n // 1000, n // 100
    nbs = tree.add_neighbors(np.arange(k) + 1)
    pas = tree.add_paths(nbs[np.arange(p) % k], 0x0A000001, 0xC6120000 + np.arange(p))
    spare = tree.add_tcps(pas[:2], [1, 2], 443)
    tree.remove(spare[1])
    i = np.arange(n)
    return pas, tree.add_tcps(pas[i % p], 1024 + i // p, 443)


def test_a_large_add_tcps_gives_the_same_tree_on_two_threads(make_tree):
    mask = np.uint64((1 << 48) - 1)  # handles without the tree id
    results = []
    for threads in (1, 2):
        tree = make_tree()
        tree.threads = threads
        assert tree.threads == threads
        _, tcs = _large_build(tree)
        walk = tree.walk()
        offload = tree.initiate_offload(tcs[::7])
        results.append(
            (tcs & mask, walk & mask, offload.blocks.handles & mask, offload.blocks.statuses,
             tree.find_tcps(0x0A000001, 0xC6120000 + np.arange(9), 1024 + 3, 443) & mask,
             [tree.state(int(h)).local_port for h in tcs[-3:]],
             np.array([tree.is_offloaded(int(h)) for h in tcs[::500]]),
             np.array(sorted(str(tree.stats()).split())))
        )  # fmt: skip
        check_invariants(tree)
    for one, two in zip(*results, strict=True):
        assert np.array_equal(np.asarray(one), np.asarray(two))


def test_a_repeated_4_tuple_in_a_large_batch_on_two_threads_changes_nothing(make_tree):
    tree = make_tree()
    tree.threads = 2
    pas, _ = _large_build(tree, 10_000)
    before = snapshot(tree)
    i = np.arange(8_000)
    local = 30_000 + i
    local[6_000] = local[17]  # item 6000 repeats item 17
    with pytest.raises(ot.DuplicateKeyError, match=r"item 17 of this batch.*\(item 6000\)"):
        tree.add_tcps(np.full(8_000, pas[3]), local, 443)
    assert_unchanged(before, snapshot(tree))
    again = tree.add_tcps(np.full(8_000, pas[3]), 30_000 + i, 443)
    assert len(again) == 8_000


def test_threads_must_be_a_positive_int(make_tree):
    tree = make_tree()
    for bad in (0, -1, 2.0):
        with pytest.raises(ot.ValidationError, match="threads"):
            tree.threads = bad
    assert tree.threads == 1
    with pytest.raises(ot.ValidationError, match="at least 1"):
        ot.OffloadStateTree(ot.SimulatedTarget(), backend=tree.backend, threads=0)
