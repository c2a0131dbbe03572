"""update, relink, query and invalidate (issue 3)."""

from __future__ import annotations

import numpy as np
import offload_tree as ot
import pytest
from _helpers import assert_unchanged, check_invariants, hl, snapshot
from _helpers import raises_unchanged as unchanged

S = ot.Status
R = ot.UploadReason
K = ot.EventKind


@pytest.fixture
def off(make_example):
    """The worked example, everything offloaded; max_path_mtu 9000, max_rcv_window 2**20."""
    ex = make_example(max_path_mtu=9000, max_rcv_window=2**20)
    assert ex.tree.initiate_offload(ex.tree.handles()).ok
    return ex


# --- update -------------------------------------------------------------------------------


def test_update_cached_on_host_when_not_offloaded(ex):
    assert ex.tree.update(ex.pa1, path_mtu=1280).ok
    assert ex.tree.state(ex.pa1).path_mtu == 1280
    assert ex.tree.update(ex.nb1, mac="02:00:00:00:00:09").ok
    assert ex.tree.state(ex.nb1).mac == "02:00:00:00:00:09"


def test_update_offloaded_object_applies_to_host_and_target(off):
    assert off.tree.update(off.tc1, ka_timeout=1000, keep_alive=True, flow_label=5).ok
    st = off.tree.state(off.tc1)
    assert (st.ka_timeout, st.keep_alive, st.flow_label) == (1000, True, 5)
    assert off.tree.is_offloaded(off.tc1)
    # query shows the target's delegated state; an update of cached variables leaves it alone
    assert off.tree.query(off.tc1).delegated(off.tc1)["rcv_nxt"] == 0
    check_invariants(off.tree, off.target)


def test_update_offloaded_path_mtu_reaches_the_target(off):
    # The target copy is observable through the refusal rule: a path MTU above the target's
    # limit is refused, within the limit accepted.
    assert off.tree.update(off.pa1, path_mtu=9000).ok
    assert off.tree.state(off.pa1).path_mtu == 9000
    assert off.tree.is_offloaded(off.pa1)


def test_update_many_handles_returns_an_update_result(off):
    result = off.tree.update([off.tc1, off.tc2], ka_interval=np.array([5, 6]))
    assert isinstance(result, ot.UpdateResult) and result.ok and len(result) == 2
    assert result.statuses.dtype == np.uint8 and hl(result.statuses) == [0, 0]
    assert hl(result.handles) == [off.tc1, off.tc2] and len(result.terminated) == 0
    assert off.tree.state(off.tc1).ka_interval == 5
    assert off.tree.state(off.tc2).ka_interval == 6


def test_update_scalar_value_broadcasts(ex):
    ex.tree.update([ex.tc1, ex.tc2, ex.tc3], ttl_or_hop_limit=64)
    assert [ex.tree.state(h).ttl_or_hop_limit for h in (ex.tc1, ex.tc2, ex.tc3)] == [64] * 3


def test_update_with_no_handles_is_noop(ex):
    codes = ex.tree.update([], path_mtu=1280)
    assert len(codes) == 0


def test_update_over_max_path_mtu_terminates_with_path_mtu(off):
    result = off.tree.update(off.pa1, path_mtu=9001)
    # returning-the-completion-status-of-an-update-offload-operation.md: SUCCESS or FAILURE;
    # the cause is kept as the reason.
    assert result.status(off.pa1) is S.FAILURE and result.reason(off.pa1) is S.PATH_MTU
    assert not result and hl(result.failed) == [off.pa1]
    assert hl(result.terminated) == [off.tc1, off.tc2, off.pa1]
    assert off.tree.state(off.pa1).path_mtu == 9001, "the host applies the update"
    assert not off.tree.is_offloaded(off.pa1)
    assert not off.tree.is_offloaded(off.tc1) and not off.tree.is_offloaded(off.tc2)
    assert off.tree.is_offloaded(off.nb1) and off.tree.is_offloaded(off.pa2)
    assert off.tree.stats()["operations"]["update"]["failed"] == {"PATH_MTU": 1}
    check_invariants(off.tree, off.target)


def test_update_over_max_path_mtu_returns_buffered_data_to_host(off):
    # Nothing the target held is lost: the refused update hands the data to the caller.
    off.target.receive(off.tc1, b"keep me")
    off.target.send(off.tc1, 5)
    result = off.tree.update(off.pa1, path_mtu=9001)
    assert result.received_data(off.tc1) == b"keep me" and result.total_received == 7
    assert result.delegated(off.tc1)["rcv_nxt"] == 7
    assert result.delegated(off.tc1)["snd_nxt"] == 5
    assert result.delegated(off.pa1) == {}
    assert off.tree.stats()["bytes"]["returned"] == 7
    assert off.tree.stats()["bytes"]["buffered"] == 0


def test_update_over_max_rcv_window_terminates_with_tcp_rcv_window(off):
    result = off.tree.update([off.tc1, off.tc2], initial_rcv_wnd=[2**20 + 1, 2**20])
    assert hl(result.reasons) == [S.TCP_RCV_WINDOW, S.SUCCESS]
    assert hl(result.statuses) == [S.FAILURE, S.SUCCESS]
    assert result.reason(off.tc2) is S.SUCCESS and result.status(off.tc2) is S.SUCCESS
    assert hl(result.terminated) == [off.tc1], "pa1 still has tc2: not released"
    assert not off.tree.is_offloaded(off.tc1) and off.tree.is_offloaded(off.tc2)
    assert off.tree.state(off.tc1).initial_rcv_wnd == 2**20 + 1


def test_update_over_limit_when_not_offloaded_succeeds(make_example):
    ex = make_example(max_path_mtu=1500)
    assert ex.tree.update(ex.pa1, path_mtu=9000).ok


@pytest.mark.parametrize(
    ("who", "field", "value"),
    [
        ("tc1", "local_port", 1),
        ("tc1", "sack", True),
        ("tc1", "rcv_nxt", 5),
        ("tc1", "state", 0),
        ("pa1", "source", 1),
        ("nb1", "vlan_id", 3),
        ("nb1", "nic_reachability_delta", 3),
    ],
)
def test_update_constant_or_delegated_is_state_error(off, who, field, value):
    err = unchanged(
        off, ot.StateError, lambda: off.tree.update(getattr(off, who), **{field: value})
    )
    assert field in str(err)


@pytest.mark.parametrize("who", ["tc1", "nb1"])
def test_update_constant_on_non_offloaded_is_state_error_too(ex, who):
    field = {"tc1": "remote_port", "nb1": "source_mac"}[who]
    unchanged(ex, ot.StateError, lambda: ex.tree.update(getattr(ex, who), **{field: 1}))


@pytest.mark.parametrize(
    "fields",
    [
        {"mac": "02:00:00:00:00:01", "host_reachability_delta": 0},
        {"host_reachability_delta": 0, "mac": "02:00:00:00:00:01"},
    ],
    ids=["mac-first", "delta-first"],
)
def test_update_reports_the_first_bad_name_in_the_order_given(ex, fields):
    """Found by the lockstep machine: the bindings once checked int columns before the MAC
    column, so the two backends named different variables for the same call."""
    first = next(iter(fields))
    err = unchanged(ex, ot.ValidationError, lambda: ex.tree.update(ex.pa1, **fields))
    assert str(err) == f"'{first}' is not a variable of a PATH"


@pytest.mark.parametrize(
    ("who", "field"), [("tc1", "no_such"), ("pa1", "mac"), ("nb1", "path_mtu"), ("tc1", "mac")]
)
def test_update_unknown_variable_is_validation_error(off, who, field):
    err = unchanged(
        off, ot.ValidationError, lambda: off.tree.update(getattr(off, who), **{field: 1})
    )
    assert field in str(err)


@pytest.mark.parametrize(
    ("who", "field", "value"),
    [
        ("pa1", "path_mtu", 67),
        ("pa1", "path_mtu", 65536),
        ("tc1", "flow_label", 2**20),
        ("tc1", "user_priority", 8),
        ("tc1", "ka_probe_count", -1),
        ("nb1", "mac", "not a mac"),
        ("nb1", "host_reachability_delta", 2**32),
        ("tc1", "ka_timeout", 1.5),
    ],
)
def test_update_bad_value_is_validation_error(off, who, field, value):
    unchanged(off, ot.ValidationError, lambda: off.tree.update(getattr(off, who), **{field: value}))


def test_update_one_bad_value_in_batch_changes_nothing(off):
    unchanged(
        off, ot.ValidationError, lambda: off.tree.update([off.tc1, off.tc2], user_priority=[1, 9])
    )


def test_update_mixed_layers_with_field_of_one_layer(off):
    unchanged(off, ot.ValidationError, lambda: off.tree.update([off.tc1, off.pa1], ka_timeout=5))


def test_update_stale_handle(off):
    off.tree.terminate(off.tc3)
    off.tree.remove(off.tc3)
    unchanged(off, ot.InvalidHandleError, lambda: off.tree.update(off.tc3, ka_timeout=5))


def test_update_counts_in_stats(off):
    off.tree.update([off.tc1, off.tc2], ka_timeout=5)
    op = off.tree.stats()["operations"]["update"]
    assert op == {"requested": 2, "succeeded": 2, "failed": {}}


# --- relink -------------------------------------------------------------------------------


def test_relink_host_only(ex):
    nb2 = ex.tree.add_neighbor(mac=2)
    extra = ex.tree.add_path(nb2, source="10.0.0.1", destination="10.9.9.9")
    ex.tree.relink(ex.pa1, nb2)
    assert ex.tree.depends_on(ex.pa1) == nb2
    assert hl(ex.tree.dependents(nb2)) == [extra, ex.pa1]
    assert hl(ex.tree.dependents(ex.nb1)) == [ex.pa2]
    assert hl(ex.tree.walk()) == [ex.nb1, ex.pa2, ex.tc3, nb2, extra, ex.pa1, ex.tc1, ex.tc2]
    check_invariants(ex.tree, ex.target)


def test_relink_same_neighbor_is_noop(ex):
    before = snapshot(ex.tree, ex.target)
    ex.tree.relink(ex.pa1, ex.nb1)
    assert_unchanged(before, snapshot(ex.tree, ex.target))
    assert hl(ex.tree.dependents(ex.nb1)) == [ex.pa1, ex.pa2]


def test_relink_offloaded_path_offloads_new_neighbor(off):
    nb2 = off.tree.add_neighbor(mac=2)
    allocated = off.target.stats()["contexts_allocated"]
    off.tree.relink(off.pa1, nb2)
    assert off.tree.is_offloaded(nb2)
    assert off.tree.depends_on(off.pa1) == nb2
    assert off.target.stats()["contexts_allocated"] == allocated + 1
    assert off.target.internal_tree()[off.pa1] == nb2
    check_invariants(off.tree, off.target)
    # the target relinked its context: terminating the old neighbor leaves pa1 offloaded
    t = off.tree.terminate(off.nb1)
    assert hl(t.terminated) == [off.tc3, off.pa2, off.nb1]
    assert off.tree.is_offloaded(off.pa1)
    t = off.tree.terminate(nb2)
    assert hl(t.terminated) == [off.tc1, off.tc2, off.pa1, nb2]


def test_relink_offloaded_path_to_offloaded_neighbor(make_example):
    off = make_example(release_unreferenced=False)
    off.tree.initiate_offload(off.tree.handles())
    nb2 = off.tree.add_neighbor(mac=2)
    off.tree.initiate_offload(nb2)
    allocated = off.target.stats()["contexts_allocated"]
    off.tree.relink(off.pa2, nb2)
    assert off.target.stats()["contexts_allocated"] == allocated
    assert off.target.internal_tree()[off.pa2] == nb2
    check_invariants(off.tree, off.target)


def test_relink_does_not_count_as_offload_operation(off):
    nb2 = off.tree.add_neighbor(mac=2)
    before = off.tree.stats()["operations"]
    off.tree.relink(off.pa1, nb2)
    assert off.tree.stats()["operations"] == before


def test_relink_neighbor_offload_failure_is_state_error(off):
    nb2 = off.tree.add_neighbor(mac=2)
    off.target.inject_fault(nb2, S.NEIGHBOR_ENTRIES)
    before = snapshot(off.tree, off.target)
    with pytest.raises(ot.StateError) as info:
        off.tree.relink(off.pa1, nb2)
    assert "NEIGHBOR_ENTRIES" in str(info.value)
    # docs/DESIGN.md §8: a failed relink changes nothing, the fault that fired is put back.
    assert_unchanged(before, snapshot(off.tree, off.target))
    assert off.tree.depends_on(off.pa1) == off.nb1
    # ...so it fires again on the next attempt.
    with pytest.raises(ot.StateError):
        off.tree.relink(off.pa1, nb2)


def test_relink_capacity_failure_is_state_error(make_example):
    ex = make_example(neighbor_capacity=1)
    ex.tree.initiate_offload(ex.tc1)
    nb2 = ex.tree.add_neighbor(mac=2)
    unchanged(ex, ot.StateError, lambda: ex.tree.relink(ex.pa1, nb2))


def test_relink_while_paused_is_state_error(off):
    nb2 = off.tree.add_neighbor(mac=2)
    off.target.request_upload_all()
    unchanged(off, ot.StateError, lambda: off.tree.relink(off.pa1, nb2))


@pytest.mark.parametrize(
    ("p", "n"), [("nb1", "nb1"), ("pa1", "pa2"), ("tc1", "nb1"), ("pa1", "tc1")]
)
def test_relink_wrong_layers_is_layer_error(ex, p, n):
    unchanged(ex, ot.LayerError, lambda: ex.tree.relink(getattr(ex, p), getattr(ex, n)))


def test_relink_stale_neighbor(ex):
    nb2 = ex.tree.add_neighbor(mac=2)
    ex.tree.remove(nb2)
    unchanged(ex, ot.InvalidHandleError, lambda: ex.tree.relink(ex.pa1, nb2))


# --- query --------------------------------------------------------------------------------


def test_query_returns_target_values_without_change(off):
    off.target.receive(off.tc1, b"abc")
    off.target.send(off.tc2, 10)
    q = off.tree.query([off.tc1, off.tc2, off.nb1, off.pa1])
    assert isinstance(q, ot.QueryResult)
    assert hl(q.handles) == [off.tc1, off.tc2, off.nb1, off.pa1]
    assert len(q) == 4
    assert q.delegated(off.tc1)["rcv_nxt"] == 3
    assert q.delegated(off.tc2)["snd_nxt"] == 10
    assert q.delegated(off.nb1) == {"nic_reachability_delta": 0}
    assert q.delegated(off.pa1) == {}
    assert list(q.delegated(off.tc1)) == list(off.tree.state(off.tc1).delegated())
    before = snapshot(off.tree, off.target)
    off.tree.query(off.tree.handles())
    after = snapshot(off.tree, off.target)
    # only the query counter moved
    assert after["stats"]["operations"]["query"]["requested"] > 0
    for key in before:
        if key not in ("stats", "stats_end"):
            assert after[key] == before[key]


def test_querying_offloaded_state_returns_constant_and_cached_variables(off):
    # querying-offloaded-state.md: "The host stack can query constant, cached, and delegated
    # state."
    off.tree.update(off.pa1, path_mtu=4000)
    q = off.tree.query([off.tc1, off.pa1, off.nb1], variables=("constant", "cached", "delegated"))
    assert q.cached(off.pa1) == {"path_mtu": 4000}
    assert list(q.constant(off.pa1)) == ["source", "destination"]
    assert q.constant(off.nb1) == {"source_mac": None, "vlan_id": 0}
    assert q.cached(off.nb1)["mac"] == off.tree.state(off.nb1).mac
    st = off.tree.state(off.tc1)
    assert q.constant(off.tc1)["local_port"] == st.local_port
    assert list(q.cached(off.tc1)) == list(st.cached())
    assert q.delegated(off.tc1)["rcv_nxt"] == 0
    # the values are those of the moment of the query
    off.tree.update(off.pa1, path_mtu=3000)
    assert q.cached(off.pa1) == {"path_mtu": 4000}


def test_query_of_delegated_state_only_refuses_the_other_kinds(off):
    q = off.tree.query(off.tc1)
    with pytest.raises(ot.StateError, match="cached"):
        q.cached(off.tc1)
    with pytest.raises(ot.StateError, match="constant"):
        off.tree.query(off.tc1, variables="cached").constant(off.tc1)
    with pytest.raises(ot.InvalidHandleError):
        off.tree.query(off.tc1, variables="cached").cached(off.tc2)
    unchanged(off, ot.ValidationError, lambda: off.tree.query(off.tc1, variables=("bogus",)))


def test_query_non_offloaded_is_state_error(ex):
    ex.tree.initiate_offload(ex.tc1)
    unchanged(ex, ot.StateError, lambda: ex.tree.query([ex.tc1, ex.tc2]))


def test_query_invalid_handle(off):
    unchanged(off, ot.InvalidHandleError, lambda: off.tree.query([off.tc1, -5]))


def test_query_counts_in_stats(off):
    off.tree.query([off.tc1, off.tc2])
    op = off.tree.stats()["operations"]["query"]
    assert op["requested"] == 2 and op["failed"] == {}


# --- invalidate ---------------------------------------------------------------------------


def test_invalidate_path_queues_upload_events_and_holds_sends(off):
    done = off.tree.invalidate(off.pa1)
    assert done.ok and hl(done.handles) == [off.pa1] and done.status(off.pa1) == ot.Status.SUCCESS
    assert off.tree.state(off.pa1).invalidated
    assert not off.tree.state(off.tc1).invalidated
    assert off.target.stats()["invalid"] == 1
    ev = off.tree.stats()["events"]
    assert ev["pending"] == 2 and ev["seen"] == 2
    assert off.target.send(off.tc1, 100) == 0
    assert off.target.send(off.tc2, 50) == 0
    assert off.target.send(off.tc3, 10) == 10, "tc3 does not depend on the invalid path"
    assert off.tree.stats()["bytes"]["held_back"] == 150
    assert off.tree.query(off.tc1).delegated(off.tc1)["snd_nxt"] == 0
    events = off.tree.process_events()
    assert [(e.kind, e.handle, e.reason, e.action) for e in events] == [
        (K.UPLOAD_REQUESTED, off.tc1, R.INVALID_STATE, "terminated"),
        (K.UPLOAD_REQUESTED, off.tc2, R.INVALID_STATE, "terminated"),
    ]
    assert hl(events[0].result.terminated) == [off.tc1]
    # tc2 was pa1's last reference: the host releases pa1 with it; nb1 keeps pa2.
    assert hl(events[1].result.terminated) == [off.tc2, off.pa1]
    assert not off.tree.is_offloaded(off.tc1) and not off.tree.is_offloaded(off.tc2)
    assert not off.tree.is_offloaded(off.pa1) and off.tree.is_offloaded(off.nb1)
    check_invariants(off.tree, off.target)


def test_invalidate_neighbor_affects_all_connections_in_preorder(off):
    off.tree.invalidate(off.nb1)
    events = off.tree.process_events()
    assert [e.handle for e in events] == [off.tc1, off.tc2, off.tc3]


def test_invalidate_event_order_follows_request_order(off):
    off.tree.invalidate([off.tc3, off.pa1, off.tc1])
    events = off.tree.process_events()
    assert [e.handle for e in events] == [off.tc3, off.tc1, off.tc2]


def test_invalidate_does_not_queue_twice_while_pending(off):
    off.tree.invalidate(off.tc1)
    off.tree.invalidate([off.tc1, off.pa1])
    assert off.tree.stats()["events"]["pending"] == 2
    assert [e.handle for e in off.tree.process_events()] == [off.tc1, off.tc2]


@pytest.mark.parametrize("who", ["nb1", "pa1", "tc1"])
def test_synchronizing_update_operations_never_update_an_invalidated_object(off, who):
    """synchronizing-update-operations.md: the host never updates an invalidated object."""
    h = getattr(off, who)
    off.tree.invalidate(h)
    fields = {"nb1": {"mac": 5}, "pa1": {"path_mtu": 1400}, "tc1": {"ka_timeout": 9}}[who]
    err = unchanged(off, ot.StateError, lambda: off.tree.update(h, **fields))
    assert "invalidated" in str(err)
    unchanged(off, ot.StateError, lambda: off.tree.update(h))
    assert off.tree.state(h).invalidated


def test_the_way_back_from_invalidated_state_is_terminate_and_offload_again(off):
    off.tree.invalidate(off.pa1)
    assert off.target.send(off.tc1, 5) == 0
    done = off.tree.process_events()
    assert [e.action for e in done] == ["terminated", "terminated"]
    # The upload of tc2, pa1's last reference, released pa1 too: the host terminated it.
    assert hl(done[1].result.terminated) == [off.tc2, off.pa1]
    assert not off.tree.state(off.pa1).invalidated
    assert off.tree.update(off.pa1, path_mtu=1400).ok
    off.tree.initiate_offload(off.tc1)
    assert off.target.send(off.tc1, 5) == 5
    assert off.target.stats()["invalid"] == 0


def test_terminate_clears_invalid_mark(off):
    off.tree.invalidate(off.tc1)
    off.tree.terminate(off.tc1)
    assert not off.tree.state(off.tc1).invalidated
    assert off.target.stats()["invalid"] == 0
    assert off.tree.process_events()[0].action == "ignored"


def test_invalidate_non_offloaded_is_state_error(ex):
    ex.tree.initiate_offload(ex.tc1)
    unchanged(ex, ot.StateError, lambda: ex.tree.invalidate([ex.tc1, ex.tc2]))


def test_invalidate_stale_handle(off):
    unchanged(off, ot.InvalidHandleError, lambda: off.tree.invalidate([off.tc1, off.tc1 + 99]))


def test_invalidate_counts_in_stats(off):
    off.tree.invalidate([off.tc1, off.pa2])
    op = off.tree.stats()["operations"]["invalidate"]
    assert op["requested"] == 2 and op["failed"] == {}


def test_update_single_element_sequence_and_numpy_scalar(ex):
    result = ex.tree.update([ex.pa1], path_mtu=1400)
    assert result.statuses.dtype == np.uint8 and hl(result.statuses) == [0]
    assert ex.tree.update(np.uint64(ex.pa1), path_mtu=1300).status(ex.pa1) is S.SUCCESS


def test_relink_random_failure_rewinds_the_rng(make_pair):
    # SplitMix64(9) at rate 0.5: ok, ok, FAILURE, ok. The relink's failed attempt uses the
    # third number; docs/DESIGN.md §8 restores the generator, so the next offload gets the
    # third again.
    tree, _ = make_pair(fail_rate=0.5, seed=9, release_unreferenced=False)
    nb1 = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb1, source="10.0.0.1", destination="10.0.0.2")
    nb2 = tree.add_neighbor(mac=2)
    assert tree.initiate_offload(pa).ok  # draws 1 and 2
    with pytest.raises(ot.StateError) as info:
        tree.relink(pa, nb2)  # draw 3, then rewound
    assert "FAILURE" in str(info.value)
    assert tree.depends_on(pa) == nb1 and not tree.is_offloaded(nb2)
    assert tree.initiate_offload(nb2).status(nb2) is S.FAILURE  # draw 3 again
    assert tree.initiate_offload(nb2).status(nb2) is S.SUCCESS  # draw 4


# --- invalidation follows the tree as it is ------------------------------------------------


def test_an_invalid_state_request_keeps_a_connection_from_sending_after_its_path_goes(off):
    """The INVALID_STATE request is mandatory: once it is asked for, the connection sends
    nothing until it is uploaded, whatever happens to the invalid path meanwhile."""
    off.tree.invalidate([off.tc1, off.pa1])
    assert off.target.send(off.tc1, 3) == 0
    assert off.target.send(off.tc2, 3) == 0
    assert off.tree.stats()["bytes"]["held_back"] == 6


def test_relinking_under_an_invalid_neighbor_holds_sends(off):
    nb2 = off.tree.add_neighbor(mac=2)
    pa3 = off.tree.add_path(nb2, source="10.0.0.1", destination="10.0.0.3")
    tc4 = off.tree.add_tcp(pa3, local_port=4, remote_port=4)
    off.tree.initiate_offload(tc4)
    off.tree.invalidate(nb2)
    assert off.target.send(off.tc3, 1) == 1
    off.tree.relink(off.pa2, nb2)
    assert off.target.send(off.tc3, 1) == 0, "tc3 now depends on an invalid neighbor"
    assert len(off.tree.relink(off.pa2, off.nb1)) == 0, "nb2 keeps pa3: not released"
    assert off.target.send(off.tc3, 1) == 1
    assert off.tree.stats()["bytes"]["held_back"] == 1


def test_connection_offloaded_under_an_invalid_path_is_held(off):
    off.tree.invalidate(off.pa1)
    tc = off.tree.add_tcp(off.pa1, local_port=7, remote_port=7)
    r = off.tree.initiate_offload(tc)
    assert r.ok and r.blocks.root.referenced
    assert off.target.send(tc, 9) == 0


def test_receive_still_buffers_on_an_invalid_connection(off):
    off.tree.invalidate(off.tc1)
    off.target.receive(off.tc1, b"in")
    assert off.tree.terminate(off.tc1).received_data(off.tc1) == b"in"


def test_relink_back_goes_to_the_end(ex):
    nb2 = ex.tree.add_neighbor(mac=2)
    ex.tree.relink(ex.pa1, nb2)
    ex.tree.relink(ex.pa1, ex.nb1)
    assert hl(ex.tree.dependents(ex.nb1)) == [ex.pa2, ex.pa1]
    assert len(ex.tree.dependents(nb2)) == 0


# --- update input forms -------------------------------------------------------------------


def test_update_mac_forms_for_many_neighbors(tree):
    a, b, c = hl(tree.add_neighbors([1, 2, 3]))
    result = tree.update([a, b, c], mac=["AA-BB-CC-DD-EE-01", b"\xaa\xbb\xcc\xdd\xee\x02", 3])
    assert hl(result.statuses) == [0, 0, 0]
    assert [tree.state(h).mac for h in (a, b, c)] == [
        "aa:bb:cc:dd:ee:01",
        "aa:bb:cc:dd:ee:02",
        "00:00:00:00:00:03",
    ]
    tree.update([a, b], mac="02:00:00:00:00:09")
    assert tree.state(a).mac == tree.state(b).mac == "02:00:00:00:00:09"


def test_update_bool_field_arrays(ex):
    ex.tree.update([ex.tc1, ex.tc2], keep_alive=[True, False], nagle=np.array([False, True]))
    assert (ex.tree.state(ex.tc1).keep_alive, ex.tree.state(ex.tc1).nagle) == (True, False)
    assert (ex.tree.state(ex.tc2).keep_alive, ex.tree.state(ex.tc2).nagle) == (False, True)


@pytest.mark.parametrize("value", [1, "yes", [1, 0]])
def test_update_bool_field_needs_bools(ex, value):
    unchanged(ex, ot.ValidationError, lambda: ex.tree.update([ex.tc1, ex.tc2], keep_alive=value))


def test_update_value_array_length_must_match(ex):
    unchanged(
        ex, ot.ValidationError, lambda: ex.tree.update([ex.pa1, ex.pa2], path_mtu=np.array([1400]))
    )
    unchanged(
        ex, ot.ValidationError, lambda: ex.tree.update([ex.pa1, ex.pa2], path_mtu=[1400, 1400, 9])
    )


def test_update_mac_bad_item_changes_nothing(tree):
    a, b = hl(tree.add_neighbors([1, 2]))
    before = snapshot(tree, tree.target)
    with pytest.raises(ot.ValidationError):
        tree.update([a, b], mac=["02:00:00:00:00:01", "nope"])
    assert_unchanged(before, snapshot(tree, tree.target))


def test_update_is_atomic_when_one_handle_is_refused_by_kind(ex):
    # nb1 has no variable ka_timeout: nothing is updated, not even tc1
    unchanged(ex, ot.ValidationError, lambda: ex.tree.update([ex.tc1, ex.nb1], ka_timeout=5))
