"""terminate: cascade, post-order, delegated state and buffered data come back (issue 3)."""

from __future__ import annotations

import numpy as np
import offload_tree as ot
import pytest
from _helpers import U32, assert_unchanged, check_invariants, hl, snapshot

S = ot.Status


@pytest.fixture
def off(make_example):
    """The source page's example (five objects), all offloaded: Path2 with no connection, so
    on a host that keeps unreferenced shared state (tests/test_references.py has the rest)."""
    ex = make_example(with_tc3=False, release_unreferenced=False)
    ex.tree.initiate_offload([ex.tc1, ex.tc2, ex.pa2])
    return ex


def test_terminating_neighbor1_uploads_all_five_post_order(off):
    t = off.tree.terminate([off.nb1])
    assert isinstance(t, ot.TerminateResult)
    assert hl(t.terminated) == [off.tc1, off.tc2, off.pa1, off.pa2, off.nb1]
    assert t.terminated.dtype == np.uint64
    assert len(t) == 5
    assert off.tree.count(offloaded=True) == 0
    assert len(off.tree) == 5, "terminate is not close: the objects stay in the tree"
    tstats = off.target.stats()
    assert tstats["offloaded"] == {"neighbor": 0, "path": 0, "tcp": 0}
    assert tstats["contexts_freed"] == 5
    assert off.target.internal_tree() == {}
    check_invariants(off.tree, off.target)


def test_terminate_returns_delegated_state_per_layer(off):
    t = off.tree.terminate([off.nb1])
    assert t.delegated(off.nb1) == {"nic_reachability_delta": 0}
    assert t.delegated(off.pa1) == {}
    d = t.delegated(off.tc1)
    assert list(d) == list(off.tree.state(off.tc1).delegated())
    assert d == {k: int(v) for k, v in off.tree.state(off.tc1).delegated().items()}
    assert t.received_data(off.tc1) == b""
    assert t.received_data(off.pa1) == b""


def test_terminate_path_cascades_to_its_connections_only(off):
    t = off.tree.terminate(off.pa1)
    assert hl(t.terminated) == [off.tc1, off.tc2, off.pa1]
    assert off.tree.is_offloaded(off.nb1) and off.tree.is_offloaded(off.pa2)
    check_invariants(off.tree, off.target)


def test_terminate_order_follows_request_order(off):
    t = off.tree.terminate([off.tc2, off.pa2, off.nb1])
    assert hl(t.terminated) == [off.tc2, off.pa2, off.tc1, off.pa1, off.nb1]


def test_terminate_duplicates_dropped(off):
    t = off.tree.terminate([off.tc1, off.tc1])
    assert hl(t.terminated) == [off.tc1]


def test_terminate_without_cascade_with_dependents_listed(off):
    t = off.tree.terminate([off.tc1, off.tc2, off.pa1], cascade=False)
    assert hl(t.terminated) == [off.tc1, off.tc2, off.pa1]


def test_terminate_without_cascade_is_dependency_error(off):
    before = snapshot(off.tree, off.target)
    with pytest.raises(ot.DependencyError):
        off.tree.terminate([off.pa1, off.tc1], cascade=False)
    assert_unchanged(before, snapshot(off.tree, off.target))


def test_terminate_neighbor_without_cascade_is_dependency_error(off):
    before = snapshot(off.tree, off.target)
    with pytest.raises(ot.DependencyError):
        off.tree.terminate([off.nb1], cascade=False)
    assert_unchanged(before, snapshot(off.tree, off.target))


def test_terminate_non_offloaded_is_state_error(ex):
    ex.tree.initiate_offload([ex.tc1])
    before = snapshot(ex.tree, ex.target)
    with pytest.raises(ot.StateError):
        ex.tree.terminate([ex.tc1, ex.tc2])
    assert_unchanged(before, snapshot(ex.tree, ex.target))


def test_terminate_checks_state_before_dependency(ex):
    ex.tree.initiate_offload([ex.tc1])
    before = snapshot(ex.tree, ex.target)
    with pytest.raises(ot.StateError):
        ex.tree.terminate([ex.pa1, ex.tc2], cascade=False)
    assert_unchanged(before, snapshot(ex.tree, ex.target))


def test_terminate_stale_handle_is_invalid_handle_error(off):
    tc = off.tree.add_tcp(off.pa2, local_port=9, remote_port=9)
    off.tree.remove(tc)
    before = snapshot(off.tree, off.target)
    with pytest.raises(ot.InvalidHandleError):
        off.tree.terminate([off.tc1, tc])
    assert_unchanged(before, snapshot(off.tree, off.target))


def test_terminated_objects_can_be_offloaded_again(off):
    off.tree.terminate([off.nb1])
    r = off.tree.initiate_offload([off.tc1])
    assert r.ok and off.tree.is_offloaded(off.tc1)
    assert off.target.stats()["contexts_allocated"] == 8


def test_delegated_result_for_unknown_handle(off):
    t = off.tree.terminate([off.tc1])
    with pytest.raises(ot.InvalidHandleError):
        t.delegated(off.tc2)
    with pytest.raises(ot.InvalidHandleError):
        t.received_data(off.tc2)


def test_empty_terminate(off):
    t = off.tree.terminate([])
    assert len(t) == 0 and t.total_received == 0


# --- nothing lost -------------------------------------------------------------------------


def test_received_bytes_come_back_in_order(off):
    chunks = [b"GET / HTTP/1.1\r\n", b"", bytes(range(256)), b"\x00" * 1000, b"tail"]
    for c in chunks:
        off.target.receive(off.tc1, c)
    off.target.receive(off.tc2, b"other")
    total = sum(len(c) for c in chunks)
    assert off.tree.stats()["bytes"]["buffered"] == total + 5
    t = off.tree.terminate([off.tc1])
    assert t.received_data(off.tc1) == b"".join(chunks)
    assert t.total_received == total
    stats = off.tree.stats()["bytes"]
    assert stats["buffered"] == 5 and stats["returned"] == total
    t2 = off.tree.terminate([off.tc2])
    assert t2.received_data(off.tc2) == b"other"
    assert off.tree.stats()["bytes"] == {
        "buffered": 0,
        "returned": total + 5,
        "held_back": 0,
        "upload_in_progress": 0,
        "posted": 0,
        "acknowledged": 0,
        "send_queued": 0,
        "send_returned": 0,
        "send_aborted": 0,
        "delivered": 0,
        "read": 0,
        "unread": 0,
        "discarded": 0,
    }


def test_receive_accepts_bytearray_and_memoryview(off):
    off.target.receive(off.tc1, bytearray(b"ab"))
    off.target.receive(off.tc1, memoryview(b"cd"))
    assert off.tree.terminate(off.tc1).received_data(off.tc1) == b"abcd"


def test_received_data_is_not_returned_twice(off):
    off.target.receive(off.tc1, b"once")
    assert off.tree.terminate(off.tc1).received_data(off.tc1) == b"once"
    off.tree.initiate_offload(off.tc1)
    assert off.tree.terminate(off.tc1).received_data(off.tc1) == b""


def test_receive_advances_rcv_nxt_and_shrinks_window(off):
    off.target.receive(off.tc1, b"x" * 1000)
    d = off.tree.query(off.tc1).delegated(off.tc1)
    assert d["rcv_nxt"] == 1000
    assert d["rcv_wnd"] == 65535 - 1000
    # the host copy is untouched until terminate
    assert off.tree.state(off.tc1).rcv_nxt == 0


def test_rcv_window_closes_at_zero_and_drops_what_is_beyond(make_example):
    ex = make_example(with_tc3=False)
    tc = ex.tree.add_tcp(ex.pa1, local_port=1, remote_port=2, rcv_wnd=10)
    ex.tree.initiate_offload(tc)
    assert ex.target.receive(tc, b"y" * 10) == 10
    assert ex.target.receive(tc, b"z" * 15) == 0, "beyond the window: dropped"
    t = ex.tree.terminate(tc)
    assert t.delegated(tc)["rcv_wnd"] == 0
    assert t.delegated(tc)["rcv_nxt"] == 10
    assert t.received_data(tc) == b"y" * 10


def test_sequence_numbers_wrap_and_host_takes_them(make_example):
    ex = make_example(with_tc3=False)
    start = U32 - 10
    tc = ex.tree.add_tcp(
        ex.pa1,
        local_port=1,
        remote_port=2,
        rcv_nxt=U32 - 3,
        snd_una=start,
        snd_nxt=start,
        snd_max=start,
    )
    ex.tree.initiate_offload(tc)
    ex.target.receive(tc, b"abcd")
    ex.target.receive(tc, b"efgh")
    assert ex.target.send(tc, 4) == 4
    assert ex.target.send(tc, 96) == 96
    q = ex.tree.query(tc).delegated(tc)
    assert q["rcv_nxt"] == 5
    assert q["snd_nxt"] == 90
    assert q["snd_max"] == 90
    # SendBacklogSize follows the advertised window, not what is in flight (DDI).
    assert q["send_backlog_size"] == 0
    assert q["snd_una"] == start
    t = ex.tree.terminate(tc)
    d = t.delegated(tc)
    assert (d["rcv_nxt"], d["snd_nxt"], d["snd_max"]) == (5, 90, 90)
    assert t.received_data(tc) == b"abcdefgh"
    st = ex.tree.state(tc)
    assert (st.rcv_nxt, st.snd_nxt, st.snd_max, st.send_backlog_size) == (5, 90, 90, 0)
    assert st.rcv_wnd == 65535 - 8
    assert st.delegated() == {
        k: (v if k != "state" else ot.ConnectionState(v)) for k, v in d.items()
    }


def test_snd_max_only_moves_forward(make_example):
    ex = make_example(with_tc3=False)
    tc = ex.tree.add_tcp(ex.pa1, local_port=1, remote_port=2, snd_nxt=100, snd_max=500)
    ex.tree.initiate_offload(tc)
    ex.target.send(tc, 50)
    q = ex.tree.query(tc).delegated(tc)
    assert q["snd_nxt"] == 150 and q["snd_max"] == 500
    ex.target.send(tc, 400)
    q = ex.tree.query(tc).delegated(tc)
    assert q["snd_nxt"] == 550 and q["snd_max"] == 550


def test_send_zero_and_max(make_example):
    ex = make_example(with_tc3=False)
    ex.tree.initiate_offload(ex.tc1)
    assert ex.target.send(ex.tc1, 0) == 0
    assert ex.target.send(ex.tc1, U32 - 1) == U32 - 1
    q = ex.tree.query(ex.tc1).delegated(ex.tc1)
    assert q["snd_nxt"] == U32 - 1


def test_target_byte_counters(off):
    off.target.receive(off.tc1, b"12345")
    off.target.send(off.tc2, 7)
    s = off.target.stats()
    assert s["bytes_received"] == 5 and s["bytes_sent"] == 7 and s["bytes_buffered"] == 5
    off.tree.terminate(off.tc1)
    s = off.target.stats()
    assert s["bytes_received"] == 5 and s["bytes_buffered"] == 0


# --- traffic errors -----------------------------------------------------------------------


def _unchanged(ex, exc, call):
    before = snapshot(ex.tree, ex.target)
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc
    assert_unchanged(before, snapshot(ex.tree, ex.target))


def test_receive_on_non_offloaded_connection_is_state_error(ex):
    ex.tree.initiate_offload(ex.tc1)
    _unchanged(ex, ot.StateError, lambda: ex.target.receive(ex.tc2, b"x"))


def test_receive_on_path_is_layer_error(off):
    _unchanged(off, ot.LayerError, lambda: off.target.receive(off.pa1, b"x"))


def test_receive_on_stale_handle_is_invalid_handle_error(off):
    tc = off.tree.add_tcp(off.pa1, local_port=1, remote_port=1)
    off.tree.remove(tc)
    _unchanged(off, ot.InvalidHandleError, lambda: off.target.receive(tc, b"x"))


def test_receive_non_bytes_is_validation_error(off):
    _unchanged(off, ot.ValidationError, lambda: off.target.receive(off.tc1, "text"))


def test_send_on_non_offloaded_is_state_error(ex):
    _unchanged(ex, ot.StateError, lambda: ex.target.send(ex.tc1, 1))


def test_send_on_neighbor_is_layer_error(off):
    _unchanged(off, ot.LayerError, lambda: off.target.send(off.nb1, 1))


@pytest.mark.parametrize("n", [-1, U32, 2**40, 1.0, True, "1"])
def test_send_bad_count_is_validation_error(off, n):
    _unchanged(off, ot.ValidationError, lambda: off.target.send(off.tc1, n))


def test_target_calls_before_attachment_are_state_errors():
    target = ot.SimulatedTarget()
    for call in (
        lambda: target.receive(1, b"x"),
        lambda: target.send(1, 1),
        lambda: target.request_upload(1, ot.UploadReason.LOW_ACTIVITY),
        target.request_upload_all,
        target.resume,
        lambda: target.indicate_neighbor_reachability_query(1),
        lambda: target.inject_fault(1, ot.Status.FAILURE),
        target.stats,
    ):
        with pytest.raises(ot.StateError):
            call()


def test_target_attaches_to_one_tree_only(make_tree):
    target = ot.SimulatedTarget()
    tree = make_tree(target)
    with pytest.raises(ot.StateError):
        make_tree(target)
    assert tree.target is target
    assert len(tree) == 0


def test_results_own_their_arrays(make_example):
    # Regression (issue 11): on the fallback, result.terminated was the engine's own array:
    # after result.terminated[:] = 0, received_data(tc) failed and the bytes were gone.
    ex = make_example()
    ex.tree.initiate_offload(ex.tree.handles())
    ex.target.receive(ex.tc1, b"mine")
    ex.target.inject_fault(ex.tc2, ot.Status.FAILURE, "query")
    ex.target.inject_fault(ex.pa2, ot.Status.FAILURE, "invalidate")
    q = ex.tree.query([ex.tc1, ex.tc2])
    upd = ex.tree.update([ex.tc1], nagle=[False])
    inv = ex.tree.invalidate([ex.pa1, ex.pa2])
    t = ex.tree.terminate(ex.nb1, cascade=True)
    off = ex.tree.initiate_offload(ex.tc1)
    arrays = {
        "terminate.terminated": t.terminated,
        "terminate.statuses": t.statuses,
        "terminate.failed": t.failed,
        "query.handles": q.handles,
        "query.statuses": q.statuses,
        "query.failed": q.failed,
        "query.terminated": q.terminated,
        "invalidate.handles": inv.handles,
        "invalidate.statuses": inv.statuses,
        "invalidate.failed": inv.failed,
        "update.handles": upd.handles,
        "update.statuses": upd.statuses,
        "update.reasons": upd.reasons,
        "update.failed": upd.failed,
        "update.terminated": upd.terminated,
        "offload.succeeded": off.succeeded,
        "offload.failed": off.failed,
        "offload.blocks.handles": off.blocks.handles,
    }
    for name, array in arrays.items():
        assert not array.flags.writeable, name
        if len(array):
            with pytest.raises(ValueError, match="read-only"):
                array[:] = 0
    assert t.received_data(ex.tc1) == b"mine"
    assert hl(t.terminated)[-1] == ex.nb1


def test_an_update_result_does_not_alias_the_callers_array(make_example):
    ex = make_example()
    mine = np.array([ex.tc1, ex.tc2], dtype=np.uint64)
    result = ex.tree.update(mine, nagle=False)
    assert mine.flags.writeable, "the caller's array stays theirs"
    mine[:] = 0
    assert hl(result.handles) == [ex.tc1, ex.tc2]


def test_results_pickle_alike_on_both_backends(make_example):
    # Regression (issue 11): results pickled on the fallback and raised TypeError on native.
    import copy
    import pickle

    ex = make_example()
    off = ex.tree.initiate_offload(ex.tree.handles())
    ex.target.receive(ex.tc1, b"kept")
    ex.target.inject_fault(ex.tc3, ot.Status.FAILURE, "query")
    q = ex.tree.query([ex.tc1, ex.tc3], variables=("cached",))
    upd = ex.tree.update([ex.tc2], nagle=[False])
    inv = ex.tree.invalidate([ex.pa1])
    t = ex.tree.terminate(ex.nb1, cascade=True)
    events = ex.tree.process_events()
    for result in (off, q, upd, inv, t, off.blocks, *events):
        for twin in (pickle.loads(pickle.dumps(result)), copy.copy(result), copy.deepcopy(result)):
            assert type(twin) is type(result)
            assert repr(twin) == repr(result)
    again = pickle.loads(pickle.dumps(t))
    assert hl(again.terminated) == hl(t.terminated)
    assert again.received_data(ex.tc1) == b"kept" and again.total_received == 4
    assert again.delegated(ex.nb1) == t.delegated(ex.nb1)
    assert again.statuses.tolist() == t.statuses.tolist() and not again.terminated.flags.writeable
    q2 = pickle.loads(pickle.dumps(q))
    assert q2.status(ex.tc3) is ot.Status.FAILURE and hl(q2.terminated) == hl(q.terminated)
    assert q2.cached(ex.tc1) == q.cached(ex.tc1) and q2.delegated(ex.tc1) == q.delegated(ex.tc1)
    off2 = pickle.loads(pickle.dumps(off))
    assert off2.statuses == off.statuses and hl(off2.released.terminated) == hl(
        off.released.terminated
    )
    upd2 = pickle.loads(pickle.dumps(upd))
    assert upd2.reasons.tolist() == upd.reasons.tolist() and hl(upd2.handles) == [ex.tc2]
    assert pickle.loads(pickle.dumps(inv)).status(ex.pa1) is ot.Status.SUCCESS


def test_a_tree_or_target_is_never_copied_into_an_alias(make_example):
    # Regression (issue 11): copy.copy(tree) and copy.copy(target) returned a second name
    # for the same engine. A tree's copies are now independent trees (issue 14), and a
    # target copies as the copied tree's target.
    import copy
    import pickle

    ex = make_example()
    for make in (copy.copy, copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))):
        twin = make(ex.tree)
        assert twin._engine is not ex.tree._engine and twin.target is not ex.target
        twin.remove([ex.tc3])
        assert ex.tc3 in ex.tree, "a change to the copy reached the original"
    # A target copies with its tree: the copy is the copied tree's target, not an alias.
    for make in (copy.copy, copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))):
        twin_target = make(ex.target)
        assert twin_target is not ex.target and twin_target._engine is not ex.target._engine
