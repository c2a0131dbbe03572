"""stats() and target.stats(): dict shapes and counting rules of docs/DESIGN.md §9."""

from __future__ import annotations

import offload_tree as ot
import pytest

S = ot.Status
OPS = ["initiate_offload", "terminate", "update", "query", "invalidate"]
TARGET_KEYS = [
    "offloaded",
    "capacity",
    "contexts_allocated",
    "contexts_freed",
    "invalid",
    "paused",
    "faults_pending",
    "faults_pending_by_operation",
    "corrupt",
    "bytes_received",
    "bytes_sent",
    "bytes_buffered",
    "bytes_upload_in_progress",
    "bytes_acknowledged",
    "bytes_send_queued",
    "bytes_placed",
    "bytes_handed_over",
    "bytes_non_offload",
    "bytes_beyond_window",
    "events_indicated",
]


def test_tree_stats_shape_of_a_new_tree(make_tree):
    tree = make_tree(tcp_capacity=5)
    st = tree.stats()
    assert list(st) == ["layers", "operations", "bytes", "events", "references"]
    assert list(st["layers"]) == ["neighbor", "path", "tcp"]
    for name in ("neighbor", "path"):
        assert st["layers"][name] == {"live": 0, "offloaded": 0, "capacity": None}
    assert st["layers"]["tcp"] == {"live": 0, "offloaded": 0, "capacity": 5}
    for entry in st["layers"].values():
        assert list(entry) == ["live", "offloaded", "capacity"]
    assert list(st["operations"]) == OPS
    for op in OPS:
        assert st["operations"][op] == {"requested": 0, "succeeded": 0, "failed": {}}
        assert list(st["operations"][op]) == ["requested", "succeeded", "failed"]
    byte_keys = [
        "buffered",
        "returned",
        "held_back",
        "upload_in_progress",
        "posted",
        "acknowledged",
        "send_queued",
        "send_returned",
        "send_aborted",
        "delivered",
        "read",
        "unread",
        "discarded",
    ]
    assert list(st["bytes"]) == byte_keys
    assert set(st["bytes"].values()) == {0}
    assert st["events"] == {"seen": 0, "processed": 0, "pending": 0}
    assert list(st["events"]) == ["seen", "processed", "pending"]
    zero = {"held": 0, "unreferenced": 0, "released": 0}
    assert st["references"] == {"neighbor": zero, "path": zero}
    assert list(st["references"]["path"]) == ["held", "unreferenced", "released"]


def test_target_stats_shape_of_a_new_tree(make_pair):
    _, target = make_pair(neighbor_capacity=1, path_capacity=2)
    st = target.stats()
    assert list(st) == TARGET_KEYS
    assert st["offloaded"] == {"neighbor": 0, "path": 0, "tcp": 0}
    assert list(st["offloaded"]) == ["neighbor", "path", "tcp"]
    assert st["capacity"] == {"neighbor": 1, "path": 2, "tcp": None}
    assert list(st["capacity"]) == ["neighbor", "path", "tcp"]
    by_operation = st["faults_pending_by_operation"]
    assert by_operation == {op.name.lower(): 0 for op in ot.Operation}
    for key in TARGET_KEYS[2:]:
        if key != "faults_pending_by_operation":
            assert st[key] == (False if key == "paused" else 0), key
    assert type(st["paused"]) is bool


def test_stats_returns_a_fresh_dict(tree):
    st = tree.stats()
    st["layers"]["tcp"]["live"] = 99
    assert tree.stats()["layers"]["tcp"]["live"] == 0


def test_offload_counts_new_blocks_and_failures_by_status(ex):
    ex.target.inject_fault(ex.tc2, S.RESOURCES)
    ex.target.inject_fault(ex.pa2, S.FAILURE)
    ex.tree.initiate_offload([ex.tc1, ex.tc2, ex.tc3])
    op = ex.tree.stats()["operations"]["initiate_offload"]
    assert op == {"requested": 6, "succeeded": 3, "failed": {"RESOURCES": 1, "FAILURE": 2}}
    # referenced blocks are not counted
    ex.tree.initiate_offload([ex.tc2])
    op = ex.tree.stats()["operations"]["initiate_offload"]
    assert op == {"requested": 7, "succeeded": 4, "failed": {"RESOURCES": 1, "FAILURE": 2}}


def test_failed_call_is_not_counted(ex):
    ex.tree.initiate_offload([ex.tc1])
    before = ex.tree.stats()
    with pytest.raises(ot.StateError):
        ex.tree.initiate_offload([ex.tc1])
    with pytest.raises(ot.StateError):
        ex.tree.query([ex.tc2])
    with pytest.raises(ot.DependencyError):
        ex.tree.terminate([ex.pa1], cascade=False)
    with pytest.raises(ot.StateError):
        ex.tree.update(ex.tc1, local_port=3)
    assert ex.tree.stats() == before


def test_terminate_counts_uploaded_objects(ex):
    ex.tree.initiate_offload(ex.tree.handles())
    ex.tree.terminate([ex.pa1])
    op = ex.tree.stats()["operations"]["terminate"]
    assert op == {"requested": 3, "succeeded": 3, "failed": {}}


def test_update_counts_handles_and_failures(make_example):
    ex = make_example(max_path_mtu=1500)
    ex.tree.initiate_offload(ex.tree.handles())
    ex.tree.update([ex.pa1, ex.pa2], path_mtu=[1500, 1501])
    op = ex.tree.stats()["operations"]["update"]
    assert op["requested"] == 2
    assert op["succeeded"] == 1
    assert op["failed"] == {"PATH_MTU": 1}


def test_layer_counts(ex):
    ex.tree.initiate_offload([ex.tc1])
    layers = ex.tree.stats()["layers"]
    assert layers["neighbor"] == {"live": 1, "offloaded": 1, "capacity": None}
    assert layers["path"] == {"live": 2, "offloaded": 1, "capacity": None}
    assert layers["tcp"] == {"live": 3, "offloaded": 1, "capacity": None}


def test_target_context_counters(ex):
    ex.tree.initiate_offload([ex.tc1, ex.tc2])
    ex.tree.terminate([ex.tc2])
    st = ex.target.stats()
    assert st["contexts_allocated"] == 4 and st["contexts_freed"] == 1
    assert st["offloaded"] == {"neighbor": 1, "path": 1, "tcp": 1}


def test_event_counters(ex):
    ex.tree.initiate_offload(ex.tree.handles())
    ex.target.request_upload(ex.tc1, ot.UploadReason.SMALL_IO)
    ex.target.indicate_neighbor_reachability_query(ex.nb1)
    ex.tree.invalidate(ex.tc3)
    assert ex.tree.stats()["events"] == {"seen": 3, "processed": 0, "pending": 3}
    assert ex.target.stats()["events_indicated"] == 3
    ex.tree.process_events()
    assert ex.tree.stats()["events"] == {"seen": 3, "processed": 3, "pending": 0}


def test_held_back_bytes(ex):
    ex.tree.initiate_offload(ex.tree.handles())
    ex.tree.invalidate(ex.nb1)
    ex.target.send(ex.tc1, 10)
    ex.target.send(ex.tc3, 5)
    assert ex.tree.stats()["bytes"]["held_back"] == 15
    assert ex.target.stats()["bytes_sent"] == 0
    assert ex.target.stats()["invalid"] == 1


def test_failed_keys_in_status_code_order(ex):
    ex.target.inject_fault(ex.tc2, S.RESOURCES)
    ex.target.inject_fault(ex.pa2, S.FAILURE)
    ex.tree.initiate_offload([ex.tc1, ex.tc2, ex.tc3])
    failed = ex.tree.stats()["operations"]["initiate_offload"]["failed"]
    assert list(failed) == ["FAILURE", "RESOURCES"]


def test_paused_referenced_blocks_are_not_counted(ex):
    ex.tree.initiate_offload([ex.tc1])
    before = ex.tree.stats()["operations"]["initiate_offload"]
    ex.target.request_upload_all()
    ex.tree.initiate_offload([ex.tc2])  # pa1 referenced (PAUSED), tc2 new (PAUSED)
    op = ex.tree.stats()["operations"]["initiate_offload"]
    assert op["requested"] - before["requested"] == 1
    assert op["failed"] == {"PAUSED": 1}
    assert op["requested"] == op["succeeded"] + sum(op["failed"].values())


def test_every_upload_counts_as_terminate(make_example):
    ex = make_example(max_path_mtu=1500)
    ex.tree.initiate_offload(ex.tree.handles())
    ex.target.receive(ex.tc3, b"12345")
    ex.tree.update(ex.pa2, path_mtu=9000)  # refused: pa2 and tc3 uploaded
    op = ex.tree.stats()["operations"]["terminate"]
    assert op == {"requested": 2, "succeeded": 2, "failed": {}}
    assert ex.tree.stats()["bytes"]["returned"] == 5
    ex.target.request_upload(ex.tc1, ot.UploadReason.LOW_ACTIVITY)
    ex.tree.process_events()
    assert ex.tree.stats()["operations"]["terminate"]["succeeded"] == 3
    ex.target.request_upload_all()
    ex.tree.process_events()  # tc2, pa1, nb1
    assert ex.tree.stats()["operations"]["terminate"]["succeeded"] == 6


def test_query_and_invalidate_count_each_object_once(ex):
    ex.tree.initiate_offload(ex.tree.handles())
    q = ex.tree.query([ex.tc1, ex.tc1, ex.tc2])
    assert [int(h) for h in q.handles] == [ex.tc1, ex.tc2] and len(q) == 2
    assert ex.tree.stats()["operations"]["query"]["requested"] == 2
    ex.tree.invalidate([ex.tc3, ex.tc3])
    assert ex.tree.stats()["operations"]["invalidate"]["requested"] == 1
    assert ex.tree.stats()["events"]["pending"] == 1


def test_update_keeps_duplicates_in_order(ex):
    result = ex.tree.update([ex.pa1, ex.pa1], path_mtu=[1400, 1300])
    assert [int(c) for c in result.statuses] == [0, 0]
    assert ex.tree.state(ex.pa1).path_mtu == 1300
    assert ex.tree.stats()["operations"]["update"]["requested"] == 2
