"""initiate_offload: per-block status, partial failure, capacity, limits, faults (issue 3)."""

from __future__ import annotations

import numpy as np
import offload_tree as ot
import pytest
from _helpers import (
    assert_unchanged,
    check_invariants,
    hl,
    random_fault,
    snapshot,
    splitmix64,
)

S = ot.Status
N, P, T = ot.Layer.NEIGHBOR, ot.Layer.PATH, ot.Layer.TCP


def statuses(result):
    return {b.handle: b.status for b in result.blocks}


def test_source_example_offloaded_in_one_call(make_example):
    # The source page's figure offloads Path2 with no connection: a host that keeps
    # unreferenced state (the default host releases it: tests/test_references.py).
    ex = make_example(with_tc3=False, release_unreferenced=False)
    r = ex.tree.initiate_offload([ex.tc1, ex.tc2, ex.pa2])
    assert isinstance(r, ot.OffloadResult)
    blocks = list(r.blocks)
    assert [(b.layer, b.handle) for b in blocks] == [
        (N, ex.nb1),
        (P, ex.pa1),
        (T, ex.tc1),
        (T, ex.tc2),
        (P, ex.pa2),
    ]
    nb, pa1, tc1, tc2, pa2 = blocks
    assert nb.depth == 0 and nb.next is None and nb.dependent is pa1
    assert pa1.next is pa2 and pa1.dependent is tc1
    assert tc1.next is tc2
    assert all(b.status is S.SUCCESS for b in blocks)
    assert all(not b.referenced for b in blocks)
    assert len(r) == 5 and r.ok
    assert hl(r.succeeded) == [ex.nb1, ex.pa1, ex.tc1, ex.tc2, ex.pa2]
    assert r.succeeded.dtype == np.uint64
    assert len(r.failed) == 0
    for h in ex.all:
        assert ex.tree.is_offloaded(h)
        assert r.status(h) is S.SUCCESS
        assert ex.tree.state(h).offloaded
    tstats = ex.target.stats()
    assert tstats["offloaded"] == {"neighbor": 1, "path": 2, "tcp": 2}
    assert tstats["contexts_allocated"] == 5
    check_invariants(ex.tree, ex.target)


def test_offloading_neighbor_alone(make_example):
    ex = make_example(release_unreferenced=False)
    r = ex.tree.initiate_offload(ex.nb1)
    assert [b.handle for b in r.blocks] == [ex.nb1]
    assert r.status(ex.nb1) is S.SUCCESS and len(r.released) == 0
    assert ex.tree.is_offloaded(ex.nb1) and not ex.tree.is_offloaded(ex.pa1)


def test_offloading_neighbor_alone_is_released_by_the_default_host(ex):
    # The target takes it, but nothing references it: the host terminates it at once.
    r = ex.tree.initiate_offload(ex.nb1)
    assert r.status(ex.nb1) is S.SUCCESS and hl(r.succeeded) == [ex.nb1]
    assert hl(r.released.terminated) == [ex.nb1]
    assert r.released.delegated(ex.nb1) == {"nic_reachability_delta": 0}
    assert not ex.tree.is_offloaded(ex.nb1)


def test_internal_tree_mirrors_host_links(ex):
    ex.tree.initiate_offload([ex.tc1, ex.tc3])
    assert ex.target.internal_tree() == {
        ex.nb1: None,
        ex.pa1: ex.nb1,
        ex.tc1: ex.pa1,
        ex.pa2: ex.nb1,
        ex.tc3: ex.pa2,
    }


def test_worked_example_partial_success(ex):
    ex.target.inject_fault(ex.tc2, S.RESOURCES)
    ex.target.inject_fault(ex.pa2, S.FAILURE)
    assert ex.target.stats()["faults_pending"] == 2
    r = ex.tree.initiate_offload([ex.tc1, ex.tc2, ex.tc3])
    assert statuses(r) == {
        ex.nb1: S.PARTIAL_SUCCESS,
        ex.pa1: S.PARTIAL_SUCCESS,
        ex.tc1: S.SUCCESS,
        ex.tc2: S.RESOURCES,
        ex.pa2: S.FAILURE,
        ex.tc3: S.FAILURE,
    }
    assert [b.handle for b in r.blocks] == [ex.nb1, ex.pa1, ex.tc1, ex.tc2, ex.pa2, ex.tc3]
    assert hl(r.succeeded) == [ex.nb1, ex.pa1, ex.tc1]
    assert hl(r.failed) == [ex.tc2, ex.pa2, ex.tc3]
    assert not r.ok
    assert [ex.tree.is_offloaded(h) for h in ex.all] == [True, True, True, False, False, False]
    assert ex.target.stats()["faults_pending"] == 0
    assert ex.target.stats()["offloaded"] == {"neighbor": 1, "path": 1, "tcp": 1}
    check_invariants(ex.tree, ex.target)


def test_failed_objects_stay_host_owned_and_unchanged(ex):
    before = {h: ex.tree.state(h) for h in (ex.tc2, ex.pa2, ex.tc3)}
    ex.target.inject_fault(ex.tc2, S.RESOURCES)
    ex.target.inject_fault(ex.pa2, S.FAILURE)
    ex.tree.initiate_offload([ex.tc1, ex.tc2, ex.tc3])
    for h, st in before.items():
        assert ex.tree.state(h) == st


def test_not_attempted_dependents_keep_their_fault(ex):
    # tc3 is not attempted because pa2 failed, so the fault injected for it stays pending.
    ex.target.inject_fault(ex.pa2, S.FAILURE)
    ex.target.inject_fault(ex.tc3, S.RESOURCES)
    r = ex.tree.initiate_offload([ex.tc3])
    assert r.status(ex.tc3) is S.FAILURE
    assert ex.target.stats()["faults_pending"] == 1
    r = ex.tree.initiate_offload([ex.tc3])
    assert r.status(ex.pa2) is S.PARTIAL_SUCCESS
    assert r.status(ex.tc3) is S.RESOURCES


def test_fault_is_one_shot(ex):
    ex.target.inject_fault(ex.tc1, S.CONNECTION_REJECTED)
    assert ex.tree.initiate_offload([ex.tc1]).status(ex.tc1) is S.CONNECTION_REJECTED
    assert ex.tree.initiate_offload([ex.tc1]).status(ex.tc1) is S.SUCCESS


def test_later_fault_replaces_earlier(ex):
    ex.target.inject_fault(ex.tc1, S.FAILURE)
    ex.target.inject_fault(ex.tc1, S.TCP_XMIT_BUFFER)
    assert ex.target.stats()["faults_pending"] == 1
    assert ex.tree.initiate_offload([ex.tc1]).status(ex.tc1) is S.TCP_XMIT_BUFFER


@pytest.mark.parametrize("status", [S.FAILURE, S.RESOURCES, S.NEIGHBOR_ENTRIES, S.VLAN_MISMATCH])
def test_root_failure_attempts_nothing(ex, status):
    ex.target.inject_fault(ex.nb1, status)
    ex.target.inject_fault(ex.tc1, S.RESOURCES)
    r = ex.tree.initiate_offload(ex.tree.handles())
    assert all(b.status is status for b in r.blocks)
    assert len(r.succeeded) == 0 and hl(r.failed) == hl(ex.tree.walk("pre"))
    assert ex.tree.count(offloaded=True) == 0
    t = ex.target.stats()
    assert t["contexts_allocated"] == 0
    assert t["faults_pending"] == 1, "tc1 was not attempted: its fault is still pending"
    check_invariants(ex.tree, ex.target)


def test_tcp_capacity(make_example):
    ex = make_example(with_tc3=False, tcp_capacity=2)
    tc3 = ex.tree.add_tcp(ex.pa1, local_port=5, remote_port=6)
    before = ex.tree.state(tc3)
    r = ex.tree.initiate_offload([ex.tc1, ex.tc2, tc3])
    assert r.status(ex.tc1) is S.SUCCESS
    assert r.status(ex.tc2) is S.SUCCESS
    assert r.status(tc3) is S.TCP_ENTRIES
    assert r.status(ex.pa1) is S.PARTIAL_SUCCESS
    assert r.status(ex.nb1) is S.SUCCESS
    assert not ex.tree.is_offloaded(tc3)
    assert ex.tree.state(tc3) == before
    assert ex.tree.stats()["layers"]["tcp"] == {"live": 3, "offloaded": 2, "capacity": 2}
    check_invariants(ex.tree, ex.target)


def test_capacity_is_freed_by_terminate(make_example):
    ex = make_example(tcp_capacity=1)
    assert ex.tree.initiate_offload([ex.tc1, ex.tc2]).status(ex.tc2) is S.TCP_ENTRIES
    ex.tree.terminate([ex.tc1])
    assert ex.tree.initiate_offload([ex.tc2]).status(ex.tc2) is S.SUCCESS


def test_path_capacity(make_example):
    ex = make_example(path_capacity=1)
    tc4 = ex.tree.add_tcp(ex.pa2, local_port=7, remote_port=8)
    r = ex.tree.initiate_offload([ex.tc1, ex.tc3, tc4])
    assert statuses(r) == {
        ex.nb1: S.PARTIAL_SUCCESS,
        ex.pa1: S.SUCCESS,
        ex.tc1: S.SUCCESS,
        ex.pa2: S.PATH_ENTRIES,
        ex.tc3: S.PATH_ENTRIES,
        tc4: S.PATH_ENTRIES,
    }
    check_invariants(ex.tree, ex.target)


def test_neighbor_capacity(make_pair):
    tree, target = make_pair(neighbor_capacity=1)
    a, b = hl(tree.add_neighbors([1, 2]))
    r = tree.initiate_offload([a, b])
    assert r.status(a) is S.SUCCESS and r.status(b) is S.NEIGHBOR_ENTRIES
    check_invariants(tree, target)


def test_zero_capacity(make_example):
    ex = make_example(neighbor_capacity=0)
    r = ex.tree.initiate_offload([ex.tc1])
    assert all(b.status is S.NEIGHBOR_ENTRIES for b in r.blocks)


def test_path_mtu_limit(make_example):
    ex = make_example(max_path_mtu=1400)
    ex.tree.update(ex.pa2, path_mtu=1400)
    r = ex.tree.initiate_offload([ex.tc1, ex.tc3])
    assert r.status(ex.pa1) is S.PATH_MTU
    assert r.status(ex.tc1) is S.PATH_MTU
    assert r.status(ex.pa2) is S.SUCCESS and r.status(ex.tc3) is S.SUCCESS
    assert r.status(ex.nb1) is S.PARTIAL_SUCCESS


def test_rcv_window_limit(make_example):
    ex = make_example(max_rcv_window=65535)
    big = ex.tree.add_tcp(ex.pa1, local_port=9, remote_port=9, initial_rcv_wnd=65536)
    r = ex.tree.initiate_offload([ex.tc1, big])
    assert r.status(ex.tc1) is S.SUCCESS
    assert r.status(big) is S.TCP_RCV_WINDOW
    assert r.status(ex.pa1) is S.PARTIAL_SUCCESS


def test_injected_fault_checked_before_capacity(make_example):
    ex = make_example(tcp_capacity=0)
    ex.target.inject_fault(ex.tc1, S.TCP_RCV_BUFFER)
    r = ex.tree.initiate_offload([ex.tc1, ex.tc2])
    assert r.status(ex.tc1) is S.TCP_RCV_BUFFER
    assert r.status(ex.tc2) is S.TCP_ENTRIES


def test_capacity_checked_before_mtu(make_example):
    ex = make_example(path_capacity=0, max_path_mtu=100)
    assert ex.tree.initiate_offload([ex.pa1]).status(ex.pa1) is S.PATH_ENTRIES


def test_referencing_offloaded_path_allocates_no_context(ex):
    ex.tree.initiate_offload([ex.tc1])
    assert ex.target.stats()["contexts_allocated"] == 3
    r = ex.tree.initiate_offload([ex.tc2])
    blocks = list(r.blocks)
    assert [(b.handle, b.referenced) for b in blocks] == [(ex.pa1, True), (ex.tc2, False)]
    assert r.status(ex.pa1) is S.SUCCESS
    assert hl(r.succeeded) == [ex.tc2]
    assert ex.target.stats()["contexts_allocated"] == 4
    assert ex.target.stats()["offloaded"] == {"neighbor": 1, "path": 1, "tcp": 2}
    check_invariants(ex.tree, ex.target)


def test_a_linker_with_some_dependents_failed_reports_partial_success(ex):
    """placeholders--linkers--and-new-offloads.md, the table: a linker (a referenced block)
    reports PARTIAL_SUCCESS when one or more of its dependents failed to offload."""
    ex.tree.initiate_offload([ex.tc1])
    tc4 = ex.tree.add_tcp(ex.pa1, local_port=9, remote_port=9)
    ex.target.inject_fault(ex.tc2, S.FAILURE)
    r = ex.tree.initiate_offload([ex.tc2, tc4])
    assert r.blocks.block(ex.pa1).referenced
    assert r.status(ex.pa1) is S.PARTIAL_SUCCESS
    assert hl(r.failed) == [ex.tc2]


def test_a_linker_whose_every_dependent_failed_reports_failure(ex):
    """placeholders--linkers--and-new-offloads.md, the table: "If all dependent blocks failed
    to offload: NDIS_STATUS_FAILURE". The linked object itself stays offloaded."""
    ex.tree.initiate_offload([ex.tc1])
    ex.target.inject_fault(ex.tc2, S.RESOURCES)
    r = ex.tree.initiate_offload([ex.tc2])
    assert r.status(ex.pa1) is S.FAILURE
    assert r.status(ex.tc2) is S.RESOURCES
    assert hl(r.failed) == [ex.pa1, ex.tc2], "failed lists referenced blocks too"
    assert not r.ok
    assert ex.tree.is_offloaded(ex.pa1) and ex.tree.is_offloaded(ex.tc1)
    # The linker's FAILURE counts as a failed dependent of its own linker.
    ex.target.inject_fault(ex.tc3, S.RESOURCES)
    tc5 = ex.tree.add_tcp(ex.pa1, local_port=5, remote_port=5)
    ex.target.inject_fault(tc5, S.FAILURE)
    r = ex.tree.initiate_offload([ex.tc3, tc5])
    assert [r.status(h) for h in (ex.nb1, ex.pa1, tc5, ex.pa2, ex.tc3)] == [
        S.PARTIAL_SUCCESS,  # nb1 links p1 (failed) and p2 (new, offloaded): partly
        S.FAILURE,
        S.FAILURE,
        S.PARTIAL_SUCCESS,  # a new block that was offloaded, with a failed dependent
        S.RESOURCES,
    ]
    assert ex.tree.stats()["operations"]["initiate_offload"]["failed"] == {
        "FAILURE": 1,
        "RESOURCES": 2,
    }, "referenced blocks are not counted"


def test_offloading_an_offloaded_object_is_state_error(ex):
    ex.tree.initiate_offload([ex.tc1])
    before = snapshot(ex.tree, ex.target)
    with pytest.raises(ot.StateError):
        ex.tree.initiate_offload([ex.tc2, ex.tc1])
    assert_unchanged(before, snapshot(ex.tree, ex.target))
    assert not ex.tree.is_offloaded(ex.tc2)


def test_offloading_an_offloaded_neighbor_is_state_error(ex):
    ex.tree.initiate_offload([ex.tc1])
    before = snapshot(ex.tree, ex.target)
    with pytest.raises(ot.StateError):
        ex.tree.initiate_offload(ex.nb1)
    assert_unchanged(before, snapshot(ex.tree, ex.target))


def test_offload_error_consumes_no_fault(ex):
    ex.tree.initiate_offload([ex.tc1])
    ex.target.inject_fault(ex.tc2, S.FAILURE)
    with pytest.raises(ot.StateError):
        ex.tree.initiate_offload([ex.tc2, ex.tc1])
    assert ex.target.stats()["faults_pending"] == 1
    assert ex.tree.initiate_offload([ex.tc2]).status(ex.tc2) is S.FAILURE


def test_empty_offload_request(ex):
    r = ex.tree.initiate_offload([])
    assert len(r) == 0 and r.ok and len(r.succeeded) == 0


def test_status_of_handle_not_in_result(ex):
    r = ex.tree.initiate_offload([ex.tc1])
    with pytest.raises(ot.InvalidHandleError):
        r.status(ex.tc3)


def test_offload_with_numpy_array_and_scalar(ex):
    r = ex.tree.initiate_offload(np.array([ex.tc1], dtype=np.uint64))
    assert hl(r.succeeded) == [ex.nb1, ex.pa1, ex.tc1]
    r = ex.tree.initiate_offload(np.uint64(ex.tc2))
    assert hl(r.succeeded) == [ex.tc2]


def test_offload_copies_host_state_to_target(ex):
    tc = ex.tree.add_tcp(ex.pa1, local_port=1, remote_port=2, rcv_nxt=77, snd_una=5, cwnd=3)
    ex.tree.initiate_offload([tc])
    d = ex.tree.query([tc]).delegated(tc)
    assert (d["rcv_nxt"], d["snd_una"], d["cwnd"]) == (77, 5, 3)
    assert ex.tree.state(tc).rcv_nxt == 77


# --- random faults ------------------------------------------------------------------------


def _random_run(make_example, fail_rate, seed):
    ex = make_example(fail_rate=fail_rate, seed=seed)
    more = hl(ex.tree.add_tcps([ex.pa1] * 10 + [ex.pa2] * 10, list(range(20)), 80))
    r = ex.tree.initiate_offload(ex.tree.handles())
    return ex, more, [(b.handle & ((1 << 48) - 1), b.status) for b in r.blocks]


def test_fail_rate_is_reproducible_for_a_seed(make_example):
    _, _, a = _random_run(make_example, 0.3, 1234)
    _, _, b = _random_run(make_example, 0.3, 1234)
    assert a == b


def test_fail_rate_follows_splitmix64(make_example):
    fail_rate, seed = 0.35, 2
    ex, _, got = _random_run(make_example, fail_rate, seed)
    rng = splitmix64(seed)
    expected = {}
    parent_status = {}
    for b in ex.tree.block_list(ex.tree.handles()):  # nothing offloaded: same list
        h = b.handle
        parent = ex.tree.depends_on(h)
        if parent is not None and parent_status[parent].is_failure:
            st = parent_status[parent]
        else:
            st = random_fault(next(rng), fail_rate) or S.SUCCESS
        parent_status[h] = st
        expected[h] = st
    # Every non-failed block must also hold the SUCCESS/PARTIAL_SUCCESS rule.
    r_status = dict(got)
    for h, st in expected.items():
        mh = h & ((1 << 48) - 1)
        if st.is_failure:
            assert r_status[mh] is st
        else:
            assert r_status[mh] in (S.SUCCESS, S.PARTIAL_SUCCESS)
            children = [c for c in hl(ex.tree.dependents(h))]
            want = S.PARTIAL_SUCCESS if any(expected[c].is_failure for c in children) else S.SUCCESS
            assert r_status[mh] is want
    assert any(st.is_failure for st in expected.values())
    assert not all(st.is_failure for st in expected.values())


def test_fail_rate_one_fails_every_attempt(make_example):
    ex = make_example(fail_rate=1.0, seed=5)
    r = ex.tree.initiate_offload([ex.tc1])
    assert r.status(ex.nb1).is_failure
    assert r.status(ex.nb1) in (S.FAILURE, S.RESOURCES)
    assert ex.tree.count(offloaded=True) == 0


def test_fail_rate_draws_only_for_attempted_blocks(make_example):
    # Injected faults, capacity failures, referenced blocks and blocks under a failed parent
    # draw no random number. SplitMix64(0) at rate 0.5 gives: ok, FAILURE, RESOURCES, ...
    rng = splitmix64(0)
    draws = [random_fault(next(rng), 0.5) for _ in range(3)]
    assert draws == [None, S.FAILURE, S.RESOURCES]
    ex = make_example(fail_rate=0.5, seed=0, tcp_capacity=0, release_unreferenced=False)
    ex.target.inject_fault(ex.nb1, S.FAILURE)
    assert ex.tree.initiate_offload([ex.tc1]).status(ex.tc1) is S.FAILURE  # no draw
    r = ex.tree.initiate_offload([ex.nb1])  # draw 1: ok
    assert r.status(ex.nb1) is S.SUCCESS
    r = ex.tree.initiate_offload([ex.tc1])  # nb1 referenced; pa1 draw 2: FAILURE; tc1 none
    # nb1 is a linker whose only dependent failed: FAILURE (placeholders--linkers page).
    assert [b.status for b in r.blocks] == [S.FAILURE, S.FAILURE, S.FAILURE]
    r = ex.tree.initiate_offload([ex.tc1])  # pa1 draw 3: RESOURCES
    assert r.status(ex.pa1) is S.RESOURCES and r.status(ex.tc1) is S.RESOURCES
    r = ex.tree.initiate_offload([ex.pa1])  # draw 4
    fourth = random_fault(next(rng), 0.5)
    assert r.status(ex.pa1) is (fourth or S.SUCCESS)
    if fourth is None:
        r = ex.tree.initiate_offload([ex.tc1])  # capacity 0: TCP_ENTRIES, no draw
        assert r.status(ex.tc1) is S.TCP_ENTRIES
        r = ex.tree.initiate_offload([ex.pa2])  # draw 5
        assert r.status(ex.pa2) is (random_fault(next(rng), 0.5) or S.SUCCESS)


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), "0.5"])
def test_bad_fail_rate_is_validation_error(make_tree, rate):
    with pytest.raises(ot.ValidationError):
        make_tree(fail_rate=rate)


@pytest.mark.parametrize("key", ["tcp_capacity", "max_path_mtu"])
def test_bad_target_config_is_validation_error(make_tree, key):
    with pytest.raises(ot.ValidationError):
        make_tree(**{key: -1})


def test_duplicate_handles_in_a_request_offload_once(ex):
    r = ex.tree.initiate_offload([ex.tc1, ex.tc1, ex.pa1])
    assert [b.handle for b in r.blocks] == [ex.nb1, ex.pa1, ex.tc1]
    assert ex.target.stats()["contexts_allocated"] == 3
