"""Shared state is reference counted (issue 10).

terminate-offload-initiated-by-the-host-stack.md: "For each neighbor state object and path
state object, the host stack maintains a reference count of dependent state objects. The host
stack terminates the offload of a neighbor state object and path state object only when the
reference count for that object is zero." The peers do the same with their L2 entries:
FreeBSD's ``t4_l2t_release`` and Linux's ``cxgb4_l2t_release`` free an entry when its last
user lets go. Whatever drops a count to zero (a host terminate, a processed upload request, a
refused update, a relink) releases the object in that operation's result, dependents first.
"""

from __future__ import annotations

import offload_tree as ot
import pytest
from _helpers import check_invariants, hl

S = ot.Status
R = ot.UploadReason


def refs(tree, name):
    return tree.stats()["references"][name]


# --- terminate-offload-initiated-by-the-host-stack.md ------------------------------------------


def test_terminate_offload_initiated_by_the_host_stack_frees_path_capacity(make_example):
    # The example: path_capacity=1, offload t1 on p1, terminate t1, offload t3 on p2.
    ex = make_example(path_capacity=1)
    assert ex.tree.initiate_offload(ex.tc1).ok
    t = ex.tree.terminate(ex.tc1)
    assert hl(t.terminated) == [ex.tc1, ex.pa1, ex.nb1], "dependents first"
    assert t.delegated(ex.nb1) == {"nic_reachability_delta": 0} and t.delegated(ex.pa1) == {}
    r = ex.tree.initiate_offload(ex.tc3)
    assert r.ok and ex.tree.is_offloaded(ex.pa2)
    check_invariants(ex.tree, ex.target)


def test_a_host_that_keeps_shared_state_runs_out_of_path_capacity(make_example):
    ex = make_example(path_capacity=1, release_unreferenced=False)
    assert not ex.tree.release_unreferenced
    ex.tree.initiate_offload(ex.tc1)
    assert hl(ex.tree.terminate(ex.tc1).terminated) == [ex.tc1]
    assert ex.tree.is_offloaded(ex.pa1) and ex.tree.is_offloaded(ex.nb1)
    assert refs(ex.tree, "path") == {"held": 0, "unreferenced": 1, "released": 0}
    assert ex.tree.initiate_offload(ex.tc3).status(ex.pa2) is S.PATH_ENTRIES
    check_invariants(ex.tree, ex.target)


def test_the_host_releases_only_when_the_count_reaches_zero(ex):
    # cxgb4_l2t_release: an entry shared by two users is freed by the second release only.
    ex.tree.initiate_offload([ex.tc1, ex.tc2, ex.tc3])
    assert refs(ex.tree, "neighbor")["held"] == 2 and refs(ex.tree, "path")["held"] == 3
    assert hl(ex.tree.terminate(ex.tc1).terminated) == [ex.tc1]
    assert ex.tree.is_offloaded(ex.pa1)
    assert refs(ex.tree, "path")["held"] == 2
    assert hl(ex.tree.terminate(ex.tc2).terminated) == [ex.tc2, ex.pa1]
    assert ex.tree.is_offloaded(ex.nb1), "pa2 still references nb1"
    assert hl(ex.tree.terminate(ex.tc3).terminated) == [ex.tc3, ex.pa2, ex.nb1]
    assert refs(ex.tree, "path") == {"held": 0, "unreferenced": 0, "released": 2}
    assert refs(ex.tree, "neighbor") == {"held": 0, "unreferenced": 0, "released": 1}
    assert ex.tree.count(offloaded=True) == 0
    check_invariants(ex.tree, ex.target)


def test_releases_follow_the_whole_request_and_count_as_terminates(ex):
    ex.tree.initiate_offload([ex.tc1, ex.tc2, ex.tc3])
    ex.target.receive(ex.tc2, b"data")
    t = ex.tree.terminate([ex.tc2, ex.tc3, ex.tc1])
    # the requested uploads first, then paths, then the neighbor they freed
    assert hl(t.terminated) == [ex.tc2, ex.tc3, ex.tc1, ex.pa2, ex.pa1, ex.nb1]
    assert t.received_data(ex.tc2) == b"data"
    assert ex.tree.stats()["operations"]["terminate"]["succeeded"] == 6
    assert ex.target.stats()["contexts_freed"] == 6


def test_terminating_shared_state_itself_releases_what_is_above_it(ex):
    ex.tree.initiate_offload([ex.tc1, ex.tc3])
    t = ex.tree.terminate(ex.pa1)
    assert hl(t.terminated) == [ex.tc1, ex.pa1], "nb1 keeps pa2"
    t = ex.tree.terminate(ex.pa2)
    assert hl(t.terminated) == [ex.tc3, ex.pa2, ex.nb1]


# --- initiate_offload: a new path or neighbor nothing references ---------------------------


def test_a_new_path_whose_connections_all_failed_is_released(make_example):
    ex = make_example(tcp_capacity=1)
    ex.target.inject_fault(ex.tc3, S.RESOURCES)
    r = ex.tree.initiate_offload([ex.tc1, ex.tc3])
    assert r.status(ex.pa2) is S.PARTIAL_SUCCESS and r.status(ex.tc3) is S.RESOURCES
    assert hl(r.succeeded) == [ex.nb1, ex.pa1, ex.tc1, ex.pa2]
    assert hl(r.released.terminated) == [ex.pa2]
    assert not ex.tree.is_offloaded(ex.pa2) and ex.tree.is_offloaded(ex.pa1)
    check_invariants(ex.tree, ex.target)


def test_a_whole_new_chain_whose_connection_failed_is_released_dependents_first(ex):
    ex.target.inject_fault(ex.tc1, S.TCP_ENTRIES)
    r = ex.tree.initiate_offload(ex.tc1)
    assert [b.status for b in r.blocks] == [S.SUCCESS, S.PARTIAL_SUCCESS, S.TCP_ENTRIES]
    assert hl(r.released.terminated) == [ex.pa1, ex.nb1]
    assert ex.tree.count(offloaded=True) == 0
    assert ex.tree.stats()["references"]["neighbor"]["released"] == 1


def test_shared_state_requested_alone_is_released_at_once(ex):
    r = ex.tree.initiate_offload([ex.pa1, ex.pa2])
    assert r.ok and hl(r.succeeded) == [ex.nb1, ex.pa1, ex.pa2]
    assert hl(r.released.terminated) == [ex.pa1, ex.pa2, ex.nb1]
    assert ex.tree.count(offloaded=True) == 0


def test_a_referenced_path_is_not_released_when_a_new_connection_fails(ex):
    ex.tree.initiate_offload(ex.tc1)
    ex.target.inject_fault(ex.tc2, S.FAILURE)
    r = ex.tree.initiate_offload(ex.tc2)
    assert len(r.released) == 0 and ex.tree.is_offloaded(ex.pa1)


def test_a_paused_target_releases_nothing(ex):
    ex.tree.initiate_offload(ex.tc1)
    ex.target.request_upload_all()
    r = ex.tree.initiate_offload(ex.tc3)
    assert len(r.released) == 0 and ex.tree.is_offloaded(ex.pa1)


# --- every other cause of a drop to zero ------------------------------------------------


def test_a_processed_upload_request_releases_the_last_references(ex):
    ex.tree.initiate_offload(ex.tc3)
    ex.target.request_upload(ex.tc3, R.LOW_ACTIVITY)
    (event,) = ex.tree.process_events()
    assert event.action == "terminated"
    assert hl(event.result.terminated) == [ex.tc3, ex.pa2, ex.nb1]


def test_an_invalidation_upload_releases_the_invalid_path(ex):
    ex.tree.initiate_offload([ex.tc1, ex.tc3])
    ex.tree.invalidate(ex.pa1)
    (event,) = ex.tree.process_events()
    assert hl(event.result.terminated) == [ex.tc1, ex.pa1]
    assert not ex.tree.is_offloaded(ex.pa1), "the invalid path leaves with its last user"
    assert ex.target.stats()["invalid"] == 0


def test_a_refused_update_releases_the_last_references(make_example):
    ex = make_example(max_rcv_window=2**16)
    assert ex.tree.initiate_offload(ex.tc3).ok
    result = ex.tree.update(ex.tc3, initial_rcv_wnd=2**20)
    assert result.reason(ex.tc3) is S.TCP_RCV_WINDOW
    assert hl(result.terminated) == [ex.tc3, ex.pa2, ex.nb1]
    assert result.delegated(ex.nb1) == {"nic_reachability_delta": 0}


def test_relink_moving_the_last_path_off_a_neighbor_releases_it(ex):
    nb2 = ex.tree.add_neighbor(mac=2)
    ex.tree.initiate_offload([ex.tc1, ex.tc3])
    assert len(ex.tree.relink(ex.pa1, nb2)) == 0, "nb1 keeps pa2"
    released = ex.tree.relink(ex.pa2, nb2)
    assert isinstance(released, ot.TerminateResult)
    assert hl(released.terminated) == [ex.nb1]
    assert not ex.tree.is_offloaded(ex.nb1)
    assert refs(ex.tree, "neighbor")["held"] == 2
    check_invariants(ex.tree, ex.target)


def test_relink_of_a_path_that_is_not_offloaded_moves_no_reference(ex):
    nb2 = ex.tree.add_neighbor(mac=2)
    ex.tree.initiate_offload(ex.tc1)
    assert len(ex.tree.relink(ex.pa2, nb2)) == 0
    assert ex.tree.is_offloaded(ex.nb1)


def test_upload_all_leaves_nothing_to_release(ex):
    ex.tree.initiate_offload([ex.tc1, ex.tc3])
    ex.target.request_upload_all()
    (event,) = ex.tree.process_events()
    assert hl(event.result.terminated) == [ex.tc1, ex.pa1, ex.tc3, ex.pa2, ex.nb1]
    assert refs(ex.tree, "path")["released"] == 0


@pytest.mark.parametrize("release", [True, False])
def test_the_policy_is_the_trees(make_tree, release):
    tree = make_tree(release_unreferenced=release)
    assert tree.release_unreferenced is release
    with pytest.raises(ot.ValidationError):
        make_tree(release_unreferenced="yes")
