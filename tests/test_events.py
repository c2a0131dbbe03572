"""Target-initiated events and process_events (docs/SPEC.md §4, docs/DESIGN.md §8)."""

from __future__ import annotations

from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import check_invariants, hl
from _helpers import raises_unchanged as unchanged

S = ot.Status
R = ot.UploadReason
K = ot.EventKind


def test_no_events(off):
    assert off.tree.process_events() == []


def test_request_upload_terminates_the_connection(off):
    off.target.receive(off.tc2, b"data")
    off.target.request_upload(off.tc2, R.LOW_ACTIVITY)
    assert off.tree.stats()["events"] == {"seen": 1, "processed": 0, "pending": 1}
    assert off.tree.is_offloaded(off.tc2), "events wait for process_events"
    events = off.tree.process_events()
    assert len(events) == 1
    e = events[0]
    assert isinstance(e, ot.ProcessedEvent)
    assert e.kind is K.UPLOAD_REQUESTED
    assert e.handle == off.tc2
    assert e.reason is R.LOW_ACTIVITY
    assert e.action == "terminated"
    assert isinstance(e.result, ot.TerminateResult)
    assert hl(e.result.terminated) == [off.tc2]
    assert e.result.received_data(off.tc2) == b"data"
    assert not off.tree.is_offloaded(off.tc2)
    assert off.tree.stats()["events"] == {"seen": 1, "processed": 1, "pending": 0}
    assert off.target.stats()["events_indicated"] == 1
    assert off.tree.process_events() == []
    check_invariants(off.tree, off.target)


def test_request_upload_accepts_int_reason(off):
    off.target.request_upload(off.tc1, 8)
    assert off.tree.process_events()[0].reason is R.TIMEOUT_EXPIRATION


def test_request_upload_for_already_terminated_connection_is_ignored(off):
    off.target.request_upload(off.tc1, R.SMALL_IO)
    off.tree.terminate(off.pa1)
    (e,) = off.tree.process_events()
    assert (e.kind, e.handle, e.action, e.result) == (K.UPLOAD_REQUESTED, off.tc1, "ignored", None)


def test_request_upload_for_removed_connection_is_ignored(off):
    off.target.request_upload(off.tc1, R.SMALL_IO)
    off.tree.terminate(off.tc1)
    off.tree.remove(off.tc1)
    (e,) = off.tree.process_events()
    assert e.action == "ignored" and e.result is None


def test_events_processed_fifo(off):
    off.target.request_upload(off.tc3, R.HIGH_DROP_RATE)
    off.target.indicate_neighbor_reachability_query(off.nb1)
    off.target.request_upload(off.tc1, R.HARDWARE_FAILURE)
    events = off.tree.process_events()
    assert [(e.kind, e.handle) for e in events] == [
        (K.UPLOAD_REQUESTED, off.tc3),
        (K.NEIGHBOR_REACHABILITY_QUERY, off.nb1),
        (K.UPLOAD_REQUESTED, off.tc1),
    ]
    assert events[1].reason is None


@pytest.mark.parametrize("reason", [0, 12, -1, 255])
def test_request_upload_bad_reason_is_validation_error(off, reason):
    unchanged(off, ot.ValidationError, lambda: off.target.request_upload(off.tc1, reason))


def test_request_upload_non_offloaded_is_state_error(ex):
    unchanged(ex, ot.StateError, lambda: ex.target.request_upload(ex.tc1, R.LOW_ACTIVITY))


def test_request_upload_on_path_is_layer_error(off):
    unchanged(off, ot.LayerError, lambda: off.target.request_upload(off.pa1, R.LOW_ACTIVITY))


def test_request_upload_stale_is_invalid_handle_error(off):
    off.tree.terminate(off.tc1)
    off.tree.remove(off.tc1)
    unchanged(off, ot.InvalidHandleError, lambda: off.target.request_upload(off.tc1, 1))


# --- upload all / resume -------------------------------------------------------------------


def test_upload_all_pauses_offloads_until_resume(off):
    extra = off.tree.add_tcp(off.pa1, local_port=9, remote_port=9)
    nb2 = off.tree.add_neighbor(mac=2)
    off.target.request_upload_all()
    assert off.target.stats()["paused"] is True
    before_alloc = off.target.stats()["contexts_allocated"]
    r = off.tree.initiate_offload([extra, nb2])
    assert [(b.handle, b.referenced, b.status) for b in r.blocks] == [
        (off.nb1, True, S.PAUSED),
        (off.pa1, True, S.PAUSED),
        (extra, False, S.PAUSED),
        (nb2, False, S.PAUSED),
    ]
    assert not off.tree.is_offloaded(extra) and not off.tree.is_offloaded(nb2)
    assert off.target.stats()["contexts_allocated"] == before_alloc
    # process_events terminates everything
    events = off.tree.process_events()
    assert [(e.kind, e.action) for e in events] == [(K.UPLOAD_ALL, "terminated_all")]
    assert hl(events[0].result.terminated) == [off.tc1, off.tc2, off.pa1, off.tc3, off.pa2, off.nb1]
    assert off.tree.count(offloaded=True) == 0
    # still paused until resume
    assert all(b.status is S.PAUSED for b in off.tree.initiate_offload([off.tc1]).blocks)
    off.target.resume()
    assert off.target.stats()["paused"] is False
    events = off.tree.process_events()
    assert [(e.kind, e.handle, e.action, e.result) for e in events] == [
        (K.OFFLOAD_RESUME, None, "resumed", None)
    ]
    assert off.tree.initiate_offload([off.tc1]).ok
    check_invariants(off.tree, off.target)


def test_paused_offload_fails_referenced_blocks_too(off):
    extra = off.tree.add_tcp(off.pa1, local_port=9, remote_port=9)
    off.target.request_upload_all()
    r = off.tree.initiate_offload([extra])
    assert r.status(off.pa1) is S.PAUSED
    assert hl(r.failed) == [off.pa1, extra]
    assert off.tree.is_offloaded(off.pa1), "a paused offload changes nothing"


def test_paused_offload_counts_paused_failures(ex):
    ex.target.request_upload_all()
    ex.tree.initiate_offload([ex.tc1])
    op = ex.tree.stats()["operations"]["initiate_offload"]
    assert op == {"requested": 3, "succeeded": 0, "failed": {"PAUSED": 3}}


def test_paused_offload_consumes_no_fault(ex):
    ex.target.inject_fault(ex.tc1, S.FAILURE)
    ex.target.request_upload_all()
    ex.tree.initiate_offload([ex.tc1])
    assert ex.target.stats()["faults_pending"] == 1


def test_upload_all_with_nothing_offloaded(ex):
    ex.target.request_upload_all()
    (e,) = ex.tree.process_events()
    assert e.action == "terminated_all"
    assert len(e.result) == 0


def test_upload_all_terminates_neighbors_in_order(off):
    nb2 = off.tree.add_neighbor(mac=2)
    pa3 = off.tree.add_path(nb2, source="10.0.0.1", destination="10.0.0.3")
    tc4 = off.tree.add_tcp(pa3, local_port=4, remote_port=4)
    off.tree.initiate_offload(tc4)
    off.target.receive(off.tc3, b"abc")
    off.target.request_upload_all()
    (e,) = off.tree.process_events()
    assert hl(e.result.terminated) == [
        off.tc1,
        off.tc2,
        off.pa1,
        off.tc3,
        off.pa2,
        off.nb1,
        tc4,
        pa3,
        nb2,
    ]
    assert e.result.received_data(off.tc3) == b"abc"


def test_upload_all_twice_is_state_error(off):
    off.target.request_upload_all()
    unchanged(off, ot.StateError, off.target.request_upload_all)


def test_resume_when_not_paused_is_state_error(off):
    unchanged(off, ot.StateError, off.target.resume)


def test_upload_all_then_pending_upload_request_is_ignored(off):
    off.target.request_upload(off.tc1, R.LOW_ACTIVITY)
    off.target.request_upload_all()
    events = off.tree.process_events()
    assert [e.action for e in events] == ["terminated", "terminated_all"]
    assert off.tc1 not in hl(events[1].result.terminated)


def test_upload_all_after_resume_is_allowed_again(off):
    off.target.request_upload_all()
    off.target.resume()
    off.target.request_upload_all()
    assert [e.kind for e in off.tree.process_events()] == [
        K.UPLOAD_ALL,
        K.OFFLOAD_RESUME,
        K.UPLOAD_ALL,
    ]
    assert off.target.stats()["paused"] is True


# --- neighbor reachability ----------------------------------------------------------------


def test_making_a_neighborreachabilityquery_indication_is_answered_with_the_hrd(make_example):
    # making-a-neighborreachabilityquery-indication.md: "the host stack synchronously returns a
    # value for the neighbor's HRD variable"; the answer never touches the NRD.
    ex = make_example()
    nb = ex.tree.add_neighbor(mac=5, host_reachability_delta=7, nic_reachability_delta=9)
    pa = ex.tree.add_path(nb, source="10.0.0.1", destination="10.0.0.5")
    tc = ex.tree.add_tcp(pa, local_port=5, remote_port=5)
    ex.tree.initiate_offload(tc)
    assert ex.tree.query(nb).delegated(nb) == {"nic_reachability_delta": 9}
    ex.target.indicate_neighbor_reachability_query(nb)
    (e,) = ex.tree.process_events()
    assert (e.kind, e.handle, e.reason, e.action, e.result) == (
        K.NEIGHBOR_REACHABILITY_QUERY,
        nb,
        None,
        "reachability_answered",
        None,
    )
    assert ex.tree.state(nb).host_reachability_delta == 7, "the host's HRD is its answer"
    assert ex.tree.query(nb).delegated(nb) == {"nic_reachability_delta": 9}, "NRD unchanged"
    assert ex.tree.is_offloaded(nb)


def test_a_stale_neighbor_cache_entry_answers_zero(make_example):
    # "If the host stack's NCE is stale, the host stack returns a value of zero for HRD": the
    # caller models the stale entry by updating the cached HRD, which the answer then carries.
    ex = make_example()
    ex.tree.initiate_offload(ex.tc1)
    ex.tree.update(ex.nb1, host_reachability_delta=0)
    ex.target.indicate_neighbor_reachability_query(ex.nb1)
    (e,) = ex.tree.process_events()
    assert e.action == "reachability_answered"
    assert ex.tree.state(ex.nb1).host_reachability_delta == 0


def test_forward_progress_resets_the_nic_reachability_delta(make_example):
    # "Whenever an offload target receives confirmation of forward progress on a connection,
    # it finds the neighbor state object that was used by the connection and sets [its] NRT
    # to the NCT. This action resets the NRD value to zero."
    ex = make_example()
    nb = ex.tree.add_neighbor(mac=6, nic_reachability_delta=40)
    pa = ex.tree.add_path(nb, source="10.0.0.1", destination="10.0.0.6")
    tc = ex.tree.add_tcp(pa, local_port=6, remote_port=6)
    ex.tree.initiate_offload([tc, ex.tc1])
    ex.target.send(tc, 100)
    assert ex.tree.query(nb).delegated(nb) == {"nic_reachability_delta": 40}, "a send is not"
    ex.target.receive(tc, b"")  # an ACK: forward progress with no data
    assert ex.tree.query(nb).delegated(nb) == {"nic_reachability_delta": 0}
    assert ex.tree.terminate(tc).delegated(nb) == {"nic_reachability_delta": 0}
    assert ex.tree.state(nb).nic_reachability_delta == 0


def test_indicate_neighbor_unreachable_is_a_deprecated_alias(off):
    with pytest.warns(DeprecationWarning, match="indicate_neighbor_reachability_query"):
        off.target.indicate_neighbor_unreachable(off.nb1)
    (e,) = off.tree.process_events()
    assert e.kind is K.NEIGHBOR_REACHABILITY_QUERY is K.NEIGHBOR_UNREACHABLE
    assert e.action == "reachability_answered"


def test_reachability_query_after_terminate_is_ignored(off):
    off.target.indicate_neighbor_reachability_query(off.nb1)
    off.tree.terminate(off.nb1)
    (e,) = off.tree.process_events()
    assert e.action == "ignored"


def test_reachability_query_non_offloaded_is_state_error(ex):
    unchanged(ex, ot.StateError, lambda: ex.target.indicate_neighbor_reachability_query(ex.nb1))


def test_reachability_query_on_path_is_layer_error(off):
    unchanged(off, ot.LayerError, lambda: off.target.indicate_neighbor_reachability_query(off.pa1))


# --- inject_fault errors ------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.SUCCESS, S.PARTIAL_SUCCESS, S.PAUSED, 17, 255, -1])
def test_inject_fault_needs_a_failure_status(ex, status):
    unchanged(ex, ot.ValidationError, lambda: ex.target.inject_fault(ex.tc1, status))


def test_inject_fault_stale_handle(ex):
    ex.tree.remove(ex.tc1)
    unchanged(ex, ot.InvalidHandleError, lambda: ex.target.inject_fault(ex.tc1, S.FAILURE))


def test_remove_drops_pending_fault(ex):
    ex.target.inject_fault(ex.tc1, S.FAILURE)
    ex.target.inject_fault(ex.tc2, S.FAILURE)
    ex.tree.remove(ex.tc1)
    assert ex.target.stats()["faults_pending"] == 1
    # a new object in the freed slot does not inherit the fault
    tc = ex.tree.add_tcp(ex.pa1, local_port=1, remote_port=1)
    assert ex.tree.initiate_offload(tc).status(tc) is S.SUCCESS


def test_process_events_result_status_lookup_accepts_numpy_handles(off):
    off.target.request_upload(off.tc1, R.SMALL_IO)
    (e,) = off.tree.process_events()
    assert e.result.delegated(np.uint64(off.tc1))["state"] == ot.ConnectionState.ESTABLISHED


def test_second_upload_request_for_the_same_connection_is_ignored(off):
    off.target.request_upload(off.tc1, R.SMALL_IO)
    off.target.request_upload(off.tc1, R.LOW_ACTIVITY)
    events = off.tree.process_events()
    assert [(e.reason, e.action) for e in events] == [
        (R.SMALL_IO, "terminated"),
        (R.LOW_ACTIVITY, "ignored"),
    ]


def test_pending_upload_request_does_not_follow_a_reused_slot(off):
    off.target.request_upload(off.tc1, R.SMALL_IO)
    off.tree.terminate(off.tc1)
    off.tree.remove(off.tc1)
    new = off.tree.add_tcp(off.pa1, local_port=5, remote_port=5)
    assert new & 0xFFFFFFFF == off.tc1 & 0xFFFFFFFF, "the freed slot is reused"
    off.tree.initiate_offload(new)
    (e,) = off.tree.process_events()
    assert e.handle == off.tc1 and e.action == "ignored"
    assert off.tree.is_offloaded(new), "the event named the old connection, not the new one"


def test_pending_unreachable_event_does_not_follow_a_reused_slot(make_example):
    ex = make_example(release_unreferenced=False)  # the neighbors are offloaded alone
    nb = ex.tree.add_neighbor(mac=7, host_reachability_delta=5)
    ex.tree.initiate_offload(nb)
    ex.target.indicate_neighbor_reachability_query(nb)
    ex.tree.terminate(nb)
    ex.tree.remove(nb)
    new = ex.tree.add_neighbor(mac=8, host_reachability_delta=6)
    assert new & 0xFFFFFFFF == nb & 0xFFFFFFFF
    ex.tree.initiate_offload(new)
    (e,) = ex.tree.process_events()
    assert e.action == "ignored"
    assert ex.tree.state(new).host_reachability_delta == 6


# --- upload reasons as ndis_tcp_offload_event_indicate defines them -----------------------

MANDATORY = {
    R.HARDWARE_FAILURE,
    R.INVALID_STATE,
    R.RECEIVED_URGENT_DATA,
    R.TIMEOUT_EXPIRATION,
    R.UPLOAD_REQUESTED,
}


def test_tcp_upload_reason_values_are_those_of_ndischimney_h():
    """TCP_UPLOAD_REASON starts at LowActivity = 1 (not LowResources) and ends at
    HardwareFailure = 11; NoBufferProposting is the DDI tables' spelling of value 4."""
    assert [(r.name, r.value) for r in R] == [
        ("LOW_ACTIVITY", 1),
        ("HIGH_DROP_RATE", 2),
        ("SMALL_IO", 3),
        ("NO_BUFFER_PREPOSTING", 4),
        ("RECEIVED_URGENT_DATA", 5),
        ("HIGH_FRAGMENTATION", 6),
        ("HIGH_OUT_OF_ORDER_PACKETS", 7),
        ("TIMEOUT_EXPIRATION", 8),
        ("INVALID_STATE", 9),
        ("UPLOAD_REQUESTED", 10),
        ("HARDWARE_FAILURE", 11),
    ]
    assert R.NO_BUFFER_PROPOSTING is R.NO_BUFFER_PREPOSTING


def test_ndis_tcp_offload_event_indicate_mandatory_and_optional_reasons():
    assert {r for r in R if r.mandatory} == MANDATORY
    assert R.LOW_ACTIVITY.__doc__ == "LowActivity (Optional)."


@pytest.mark.parametrize("reason", sorted(set(R) - MANDATORY))
def test_the_host_may_decline_an_optional_upload_request(off, reason):
    off.target.request_upload(off.tc1, reason)
    off.target.request_upload(off.tc2, R.UPLOAD_REQUESTED)
    done = off.tree.process_events(decline=[reason])
    assert [(e.handle, e.action) for e in done] == [(off.tc1, "declined"), (off.tc2, "terminated")]
    assert done[0].result is None
    assert off.tree.is_offloaded(off.tc1), "a declined request leaves the connection offloaded"
    # The target goes on processing a connection whose optional request was declined.
    assert off.target.send(off.tc1, 7) == 7
    check_invariants(off.tree, off.target)


@pytest.mark.parametrize("reason", sorted(MANDATORY))
def test_a_mandatory_upload_reason_cannot_be_declined(off, reason):
    off.target.request_upload(off.tc1, reason)
    err = unchanged(off, ot.ValidationError, lambda: off.tree.process_events(decline=[reason]))
    assert str(err) == (
        f"{reason.name} is a mandatory upload reason: the host always uploads the connection"
    )
    assert [e.action for e in off.tree.process_events()] == ["terminated"]


def test_process_events_refuses_a_decline_that_is_no_reason(off):
    unchanged(off, ot.ValidationError, lambda: off.tree.process_events(decline=[0]))
    unchanged(off, ot.ValidationError, lambda: off.tree.process_events(decline="x"))
    unchanged(off, ot.ValidationError, lambda: off.tree.process_events(decline=["LOW_ACTIVITY"]))


@pytest.mark.parametrize("reason", sorted(MANDATORY))
def test_resource_constraint_sends_complete_with_upload_in_progress(off, reason):
    """terminating-the-offload-of-a-connection-because-of-resource-constraint.md: once the
    target has asked for the upload, I/O on the connection is completed with
    NDIS_STATUS_UPLOAD_IN_PROGRESS, not processed, until the upload is done."""
    off.target.request_upload(off.tc1, reason)
    before = off.tree.query(off.tc1).delegated(off.tc1)
    assert off.target.send(off.tc1, 100) == 0
    assert off.tree.query(off.tc1).delegated(off.tc1) == before
    assert off.tree.stats()["bytes"]["upload_in_progress"] == 100
    assert off.target.stats()["bytes_upload_in_progress"] == 100
    assert off.target.stats()["bytes_sent"] == 0
    off.tree.process_events()
    off.tree.initiate_offload(off.tc1)
    assert off.target.send(off.tc1, 100) == 100, "a new offload starts without the request"


def test_sends_go_on_after_an_optional_upload_request(off):
    off.target.request_upload(off.tc1, R.SMALL_IO)
    assert off.target.send(off.tc1, 100) == 100
    assert off.tree.stats()["bytes"]["upload_in_progress"] == 0


def test_a_request_queued_before_a_terminate_does_not_act_on_the_next_offload(off: Any) -> None:
    """Regression (issue 11): an upload request, or a reachability query, that was queued
    before its object was terminated and offloaded again terminated (or answered for) the new
    offload. Events remember which offload they were about and are ignored after it ended."""
    tree, target = off.tree, off.target
    target.request_upload(off.tc1, ot.UploadReason.HARDWARE_FAILURE)
    target.indicate_neighbor_reachability_query(off.nb1)
    tree.terminate(off.nb1)
    assert tree.initiate_offload([off.tc1, off.tc2]).ok
    done = tree.process_events()
    assert [(e.kind, e.action) for e in done] == [
        (ot.EventKind.UPLOAD_REQUESTED, "ignored"),
        (ot.EventKind.NEIGHBOR_REACHABILITY_QUERY, "ignored"),
    ]
    assert tree.is_offloaded(off.tc1) and tree.is_offloaded(off.nb1)
    # A request about the current offload still acts.
    target.request_upload(off.tc1, ot.UploadReason.HARDWARE_FAILURE)
    (done,) = tree.process_events()
    assert done.action == "terminated" and not tree.is_offloaded(off.tc1)
    check_invariants(tree, target)
