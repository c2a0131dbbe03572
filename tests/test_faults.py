"""Every operation can fail the NDIS way (issue 10).

Terminate, query, invalidate and update each have a "Returning the completion status" page:
the target writes SUCCESS or FAILURE into every block, and for terminate, query and
invalidate FAILURE means the hardware state of the object is corrupt. A fault aimed with
``target.inject_fault(h, Status.FAILURE, operation)`` stands for that corruption. What the host
does next follows the page: it terminates what it could not query or update; the target asks
for the upload (HARDWARE_FAILURE) of what an invalidate could not reach; a connection whose
state is lost is aborted. The simulation still hands back every byte the target buffered.
"""

from __future__ import annotations

import offload_tree as ot
import pytest
from _helpers import check_invariants, hl
from _helpers import raises_unchanged as unchanged

S = ot.Status
R = ot.UploadReason
K = ot.EventKind
Op = ot.Operation
CLOSED = int(ot.ConnectionState.CLOSED)
ESTABLISHED = int(ot.ConnectionState.ESTABLISHED)


def pending(ex):
    return ex.target.stats()["faults_pending_by_operation"]


# --- returning-the-completion-status-of-a-terminate-offload-operation.md --------------------


def test_returning_the_completion_status_of_a_terminate_offload_operation(off):
    """FAILURE: "a catastrophic failure that resulted in the loss of the state object"; the
    target then indicates TcpIndicateAbort: the connection comes back CLOSED."""
    off.target.receive(off.tc1, b"buffered")
    off.target.inject_fault(off.tc1, S.FAILURE, operation="terminate")
    t = off.tree.terminate(off.pa1, cascade=True)
    assert hl(t.terminated) == [off.tc1, off.tc2, off.pa1]
    assert t.status(off.tc1) is S.FAILURE and t.status(off.tc2) is S.SUCCESS
    assert t.statuses.tolist() == [S.FAILURE, S.SUCCESS, S.SUCCESS] and not t.ok
    assert hl(t.failed) == [off.tc1]
    assert t.delegated(off.tc1)["state"] == CLOSED
    assert t.delegated(off.tc2)["state"] == ESTABLISHED
    assert t.received_data(off.tc1) == b"buffered", "nothing the target held is lost"
    assert off.tree.state(off.tc1).state == CLOSED, "the host copy is aborted too"
    assert not off.tree.is_offloaded(off.tc1)
    ops = off.tree.stats()["operations"]["terminate"]
    assert ops["requested"] == 3 and ops["succeeded"] == 2 and ops["failed"] == {"FAILURE": 1}
    assert pending(off)["terminate"] == 0, "faults are one-shot"
    check_invariants(off.tree, off.target)


def test_a_terminate_fault_fails_whatever_upload_reaches_the_object(off):
    # An upload request, a release and upload-all are terminate operations too.
    off.target.inject_fault(off.pa2, S.FAILURE, Op.TERMINATE)
    off.target.request_upload(off.tc3, R.LOW_ACTIVITY)
    (event,) = off.tree.process_events()
    assert hl(event.result.terminated) == [off.tc3, off.pa2]
    assert event.result.status(off.pa2) is S.FAILURE and event.result.status(off.tc3) is S.SUCCESS
    assert not off.tree.is_offloaded(off.pa2)
    check_invariants(off.tree, off.target)


# --- returning-the-completion-status-of-a-query-offload-operation.md ------------------------


def test_returning_the_completion_status_of_a_query_offload_operation(off):
    """FAILURE: "The host stack will terminate the offload of the state objects that could
    not be queried" (and, for a path, the connections that depend on it first)."""
    off.target.inject_fault(off.pa1, S.FAILURE, "query")
    q = off.tree.query([off.tc3, off.pa1])
    assert q.status(off.tc3) is S.SUCCESS and q.status(off.pa1) is S.FAILURE
    assert hl(q.failed) == [off.pa1] and not q.ok
    assert q.delegated(off.tc3)["state"] == ESTABLISHED
    with pytest.raises(ot.StateError, match="failed"):
        q.delegated(off.pa1)
    assert hl(q.terminated) == [off.tc1, off.tc2, off.pa1]
    assert q.upload.status(off.pa1) is S.FAILURE, "the corrupt state fails its upload too"
    assert q.upload.status(off.tc1) is S.SUCCESS
    assert not off.tree.is_offloaded(off.pa1) and off.tree.is_offloaded(off.pa2)
    assert off.tree.is_offloaded(off.nb1), "pa2 still references nb1"
    ops = off.tree.stats()["operations"]["query"]
    assert ops["requested"] == 2 and ops["succeeded"] == 1 and ops["failed"] == {"FAILURE": 1}
    check_invariants(off.tree, off.target)


def test_a_failed_query_hands_back_the_buffered_bytes_of_what_it_terminates(off):
    off.target.receive(off.tc1, b"in flight")
    off.target.inject_fault(off.tc1, S.FAILURE, "query")
    q = off.tree.query(off.tc1, variables=("cached",))
    assert q.upload.received_data(off.tc1) == b"in flight"
    assert q.upload.delegated(off.tc1)["state"] == CLOSED
    with pytest.raises(ot.StateError):
        q.cached(off.tc1)


# --- returning-the-completion-status-of-an-invalidate-operation.md --------------------------


def test_returning_the_completion_status_of_an_invalidate_operation(off):
    """FAILURE: the hardware state is corrupt; the target indicates TcpIndicateRetrieve with
    HardwareFailure for the connections, and the object is not marked invalid."""
    off.target.inject_fault(off.pa1, S.FAILURE, "invalidate")
    done = off.tree.invalidate([off.pa1, off.pa2])
    assert isinstance(done, ot.InvalidateResult) and not done and len(done) == 2
    assert done.status(off.pa1) is S.FAILURE and done.status(off.pa2) is S.SUCCESS
    assert hl(done.failed) == [off.pa1]
    assert not off.tree.state(off.pa1).invalidated and off.tree.state(off.pa2).invalidated
    # The fault fired; what it found is counted as corruption, not as a pending fault.
    assert off.target.stats()["faults_pending"] == 0 and off.target.stats()["corrupt"] == 1
    # HARDWARE_FAILURE is mandatory: sends complete with UPLOAD_IN_PROGRESS meanwhile.
    assert off.target.send(off.tc1, 10) == 0
    assert off.tree.stats()["bytes"]["upload_in_progress"] == 10
    events = off.tree.process_events()
    assert [(e.handle, e.reason) for e in events] == [
        (off.tc1, R.HARDWARE_FAILURE),
        (off.tc2, R.HARDWARE_FAILURE),
        (off.tc3, R.INVALID_STATE),
    ]
    # tc2 was pa1's last reference: pa1's release meets its corrupt state.
    assert hl(events[1].result.terminated) == [off.tc2, off.pa1]
    assert events[1].result.status(off.pa1) is S.FAILURE
    assert events[1].result.status(off.tc2) is S.SUCCESS
    assert off.target.stats()["corrupt"] == 0, "the upload that met the corruption clears it"
    ops = off.tree.stats()["operations"]["invalidate"]
    assert ops["requested"] == 2 and ops["succeeded"] == 1 and ops["failed"] == {"FAILURE": 1}
    check_invariants(off.tree, off.target)


def test_an_invalidate_fault_on_a_connection_asks_for_its_own_upload(off):
    off.target.inject_fault(off.tc3, S.FAILURE, "invalidate")
    assert off.tree.invalidate(off.tc3).status(off.tc3) is S.FAILURE
    (event,) = off.tree.process_events()
    assert event.reason is R.HARDWARE_FAILURE and event.action == "terminated"
    assert event.result.status(off.tc3) is S.FAILURE
    assert off.tree.state(off.tc3).state == CLOSED


# --- returning-the-completion-status-of-an-update-offload-operation.md ----------------------


def test_returning_the_completion_status_of_an_update_offload_operation(off):
    """FAILURE: "The host stack will terminate the offload of the state objects that could
    not be updated." The object's state was fine: its upload succeeds and hands it back."""
    off.target.receive(off.tc1, b"kept")
    off.target.inject_fault(off.tc1, S.FAILURE, "update")
    r = off.tree.update([off.tc1, off.tc2, off.tc1], nagle=[False, False, False])
    assert r.statuses.tolist() == [S.FAILURE, S.SUCCESS, S.FAILURE]
    assert r.reason(off.tc1) is S.FAILURE and r.status(off.tc1) is S.FAILURE
    assert hl(r.terminated) == [off.tc1]
    assert r.received_data(off.tc1) == b"kept"
    assert r.delegated(off.tc1)["state"] == ESTABLISHED
    assert off.tree.is_offloaded(off.tc2) and not off.tree.is_offloaded(off.tc1)
    assert off.tree.update(off.tc2, nagle=True).ok, "the fault was one-shot"
    check_invariants(off.tree, off.target)


def test_an_update_reports_the_status_of_the_upload_it_caused(off):
    off.target.inject_fault(off.tc1, S.FAILURE, "update")
    off.target.inject_fault(off.tc1, S.FAILURE, "terminate")
    r = off.tree.update(off.tc1, nagle=False)
    assert r.status(off.tc1) is S.FAILURE
    assert r.upload.status(off.tc1) is S.FAILURE and hl(r.upload.failed) == [off.tc1]
    assert r.delegated(off.tc1)["state"] == CLOSED


def test_the_truth_of_a_result_is_ok(off):
    off.target.inject_fault(off.tc3, S.FAILURE, "query")
    q = off.tree.query([off.tc1, off.tc3])
    assert len(q) == 2 and not q and not q.upload
    assert off.tree.query(off.tc1)
    assert off.tree.terminate([]), "an empty terminate failed nothing"
    assert "1 failed" in repr(q.upload)


# --- aiming a fault -------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["terminate", "update", "query", "invalidate"])
@pytest.mark.parametrize("status", [S.RESOURCES, S.PATH_MTU, S.SUCCESS])
def test_only_failure_completes_the_operations_other_than_offload(off, operation, status):
    unchanged(off, ot.ValidationError, lambda: off.target.inject_fault(off.tc1, status, operation))


@pytest.mark.parametrize(
    "operation", ["bogus", "offload", "\u0131nvalidate", 5, -1, 1.5, None, S.FAILURE, ot.Layer.TCP]
)
def test_a_fault_names_an_operation_that_exists(off, operation):
    unchanged(
        off,
        ot.ValidationError,
        lambda: off.target.inject_fault(off.tc1, S.FAILURE, operation),
    )


def test_a_status_of_another_enum_is_refused(off):
    # Swapped arguments must not pass as codes: Operation.INVALIDATE == 4 == TCP_ENTRIES.
    unchanged(
        off,
        ot.ValidationError,
        lambda: off.target.inject_fault(off.tc1, Op.INVALIDATE, "initiate_offload"),
    )


@pytest.mark.parametrize("status", [S.PAUSED, 255, 16])
def test_a_completion_fault_names_failure_whatever_the_status(off, status):
    with pytest.raises(ot.ValidationError, match="SUCCESS or FAILURE only"):
        off.target.inject_fault(off.tc1, status, "query")


def test_a_bad_handle_is_reported_before_the_operation_and_the_status(make_example):
    ex = make_example()
    ex.tree.remove(ex.tc3)
    for operation, status in [("bogus", S.FAILURE), ("query", 2.0), (9, 2), ("query", S.PAUSED)]:
        unchanged(
            ex,
            ot.InvalidHandleError,
            lambda operation=operation, status=status: ex.target.inject_fault(
                ex.tc3, status, operation
            ),
        )
    # then the operation, then the status
    with pytest.raises(ot.ValidationError, match="operation"):
        ex.target.inject_fault(ex.tc1, 2.0, "bogus")


@pytest.mark.parametrize("operation", [Op.QUERY, 3, "query", "QUERY", "Query"])
def test_an_operation_is_a_member_its_code_or_its_name(off, operation):
    off.target.inject_fault(off.tc1, S.FAILURE, operation)
    assert pending(off) == {
        "initiate_offload": 0,
        "terminate": 0,
        "update": 0,
        "query": 1,
        "invalidate": 0,
    }
    assert off.target.stats()["faults_pending"] == 1


def test_a_fault_fires_only_on_its_own_operation(off):
    off.target.inject_fault(off.tc1, S.FAILURE, "query")
    off.target.inject_fault(off.tc1, S.FAILURE, "invalidate")
    assert off.tree.update(off.tc1, nagle=False).ok
    t = off.tree.terminate(off.tc1)
    assert t.ok, "a query or invalidate fault is not a terminate fault"
    assert off.tree.initiate_offload(off.tc1).ok
    assert off.tree.query(off.tc1).status(off.tc1) is S.FAILURE
    assert pending(off)["invalidate"] == 1 and pending(off)["query"] == 0


def test_remove_drops_the_faults_of_every_operation(make_example):
    ex = make_example()
    for operation in Op:
        ex.target.inject_fault(ex.tc3, S.FAILURE, operation)
    assert ex.target.stats()["faults_pending"] == 5
    ex.tree.remove(ex.tc3)
    assert ex.target.stats()["faults_pending"] == 0


def test_a_host_that_keeps_shared_state_terminates_only_what_it_could_not_query(make_example):
    ex = make_example(release_unreferenced=False)
    ex.tree.initiate_offload(ex.tree.handles())
    ex.target.inject_fault(ex.tc1, S.FAILURE, "query")
    q = ex.tree.query(ex.tc1)
    assert hl(q.terminated) == [ex.tc1]
    assert ex.tree.is_offloaded(ex.pa1)
    check_invariants(ex.tree, ex.target)
