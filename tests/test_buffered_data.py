"""Receive data that does not come from the target's wire: the host's BufferedData handed
over with an offload (handling-buffered-receive-data-during-and-after-an-offload-
operation.md) and segments the host forwards (forwarding-data-to-an-offload-target.md).
Both backends."""

from __future__ import annotations

from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import check_invariants, raises_unchanged


def _connection(tree: Any) -> int:
    nb = tree.add_neighbor(mac="02:00:00:00:00:01")
    path = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    return int(tree.add_tcp(path, local_port=1000, remote_port=80))


def test_buffered_data_goes_with_the_offload_and_is_delivered_first(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    assert tree.initiate_offload([tc], buffered_data={tc: b"early"}).ok
    t = tree.target.stats()
    assert (t["bytes_handed_over"], t["bytes_buffered"], t["bytes_received"]) == (5, 5, 0)
    assert tree.query([tc]).delegated(tc)["rcv_nxt"] == 0, "the bytes are left of RcvNxt"
    assert tree.post_receive(tc, 3) == 3
    tree.target.receive(tc, b"X")  # after the host's bytes
    assert tree.post_receive(tc, 3) == 3
    assert tree.read(tc) == b"earlyX"
    check_invariants(tree, tree.target)


def test_what_a_terminate_returns_can_go_back_with_the_next_offload(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    tree.initiate_offload([tc], buffered_data={tc: bytearray(b"ab")})
    tree.target.receive(tc, b"cd")
    back = tree.terminate([tc]).received_data(tc)
    assert back == b"abcd"
    assert tree.initiate_offload([tc], buffered_data={tc: back}).ok
    assert tree.terminate([tc]).received_data(tc) == b"abcd", "nothing lost, nothing doubled"
    check_invariants(tree, tree.target)


def test_a_connection_that_stays_on_the_host_keeps_its_data(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    tree.target.inject_fault(tc, ot.Status.RESOURCES)
    result = tree.initiate_offload([tc], buffered_data={tc: b"mine"})
    assert result.status(tc) == ot.Status.RESOURCES
    assert tree.target.stats()["bytes_handed_over"] == 0
    tree.policy = ot.HostPolicy(offload_rules=(ot.OffloadRule(offload=False),))
    assert tree.initiate_offload([tc], buffered_data={tc: b"mine"}).declined.tolist() == [tc]
    assert tree.target.stats()["bytes_handed_over"] == 0


def test_buffered_data_for_a_handle_not_requested_is_refused_first(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    other = int(tree.add_tcp(tree.depends_on(tc), local_port=2000, remote_port=80))
    ex = type("Ex", (), {"tree": tree, "target": tree.target})
    error = raises_unchanged(
        ex, ot.ValidationError, lambda: tree.initiate_offload([tc], buffered_data={other: b"x"})
    )
    assert "not a requested handle" in str(error)
    path = tree.depends_on(tc)
    with pytest.raises(ot.LayerError, match="a path: only connections carry BufferedData"):
        tree.initiate_offload([tc, path], buffered_data={path: b"x"})
    with pytest.raises(ot.ValidationError, match="must map connection handles to bytes"):
        tree.initiate_offload([tc], buffered_data=[(tc, b"x")])  # type: ignore[arg-type]
    with pytest.raises(ot.ValidationError, match="data must be bytes"):
        tree.initiate_offload([tc], buffered_data={tc: "text"})  # type: ignore[dict-item]
    assert not tree.is_offloaded(tc)


def test_the_engine_checks_buffered_data_before_it_offloads(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    other = int(tree.add_tcp(tree.depends_on(tc), local_port=3000, remote_port=80))
    ex = type("Ex", (), {"tree": tree, "target": tree.target})
    requested = np.array([tc], dtype=np.uint64)

    def offload(named: int, lengths: list[int]) -> Any:
        buffered = (np.array([named], np.uint64), b"abc", np.array(lengths, np.int64))
        return tree._engine.initiate_offload(requested, buffered)

    error = raises_unchanged(ex, ot.ValidationError, lambda: offload(other, [3]))
    assert "which is not a requested handle (item 0)" in str(error)
    error = raises_unchanged(ex, ot.ValidationError, lambda: offload(tc, [2]))
    assert "the lengths add up to 2 bytes but data holds 3" in str(error)
    offload(tc, [3])
    assert tree.target.stats()["bytes_handed_over"] == 3


def test_forwarded_segments_are_processed_as_received(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    with pytest.raises(ot.StateError, match="cannot forward data to it"):
        tree.forward(tc, b"x")
    tree.initiate_offload([tc])
    tree.post_receive(tc, 2)
    tree.forward(tc, b"hey")
    assert tree.read(tc) == b"he"
    d = tree.query([tc]).delegated(tc)
    assert d["rcv_nxt"] == 3
    t = tree.target.stats()
    assert (t["bytes_received"], t["bytes_buffered"]) == (3, 1)
    check_invariants(tree, tree.target)


def test_segments_during_an_upload_take_the_non_offload_path(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    tree.initiate_offload([tc])
    tree.target.receive(tc, b"kept")  # buffered at the target
    tree.target.request_upload(tc, ot.UploadReason.UPLOAD_REQUESTED)  # mandatory: I/O stops
    assert tree.post_receive(tc, 2) == 2, "buffered bytes still go into requests"
    tree.target.receive(tc, b"late")  # not processed: indicated on the non-offload path
    d = tree.query([tc]).delegated(tc)
    assert d["rcv_nxt"] == 4, "the target did not process it"
    t = tree.target.stats()
    assert (t["bytes_received"], t["bytes_non_offload"], t["bytes_buffered"]) == (8, 4, 2)
    check_invariants(tree, tree.target)
    (event,) = tree.process_events()
    result = event.result
    assert result.received_data(tc) == b"pt" + b"late", "after the buffered bytes"
    assert tree.read(tc) == b"ke"
    assert result.delegated(tc)["rcv_nxt"] == 8, "the host's stack took them in sequence"
    assert tree.target.stats()["bytes_non_offload"] == 0
    check_invariants(tree, tree.target)


def test_segments_during_upload_all_take_the_non_offload_path_too(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    tree.initiate_offload([tc])
    tree.target.request_upload_all()
    tree.forward(tc, b"fwd")  # the host's forwarded segments alike
    tree.target.receive(tc, b"wire")
    (event,) = tree.process_events()
    assert event.result.received_data(tc) == b"fwdwire"
    assert event.result.delegated(tc)["rcv_nxt"] == 7


def test_a_declined_offload_of_an_offloaded_connection_hands_nothing_over(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    tree.initiate_offload([tc])
    tree.policy = ot.HostPolicy(offload_rules=(ot.OffloadRule(offload=False),))
    result = tree.initiate_offload([tc], buffered_data={tc: b"hello"})
    assert result.declined.tolist() == [tc]
    assert tree.target.stats()["bytes_handed_over"] == 0, "the caller keeps its bytes"


def test_a_resume_gives_the_target_back_what_came_during_the_upload_all(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    tree.initiate_offload([tc])
    target = tree.target
    target.receive(tc, b"AAA")
    target.request_upload_all()
    target.receive(tc, b"BBB")  # the non-offload path
    target.resume()  # no upload after all: the target takes BBB back, in order
    assert target.stats()["bytes_non_offload"] == 0
    assert tree.query([tc]).delegated(tc)["rcv_nxt"] == 6
    target.receive(tc, b"CCC")
    tree.post_receive(tc, 9)
    assert tree.read(tc) == b"AAABBBCCC"
    check_invariants(tree, tree.target)


def test_bytes_parked_during_an_upload_all_survive_a_resume_past_the_window(
    make_tree: Any,
) -> None:
    tree = make_tree()
    nb = tree.add_neighbor(mac="02:00:00:00:00:01")
    path = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tc = tree.add_tcp(path, local_port=1, remote_port=2, initial_rcv_wnd=100, rcv_wnd=100)
    tree.initiate_offload([tc])
    tree.target.request_upload_all()
    assert tree.target.receive(tc, b"a" * 60) == 60
    assert tree.target.receive(tc, b"b" * 60) == 60, "taken: they fit one by one"
    tree.target.resume()
    assert tree.terminate([tc]).received_data(tc) == b"a" * 60 + b"b" * 60
    check_invariants(tree, tree.target)


def test_a_host_that_takes_indicated_data_gets_what_was_held_first(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    tree.initiate_offload([tc], buffered_data={tc: b"old"})
    tree.target.receive(tc, b"first")
    tree.policy = ot.HostPolicy(accept_indicated=True)
    tree.target.receive(tc, b"new")
    assert tree.read(tc) == b"oldfirstnew"
    assert tree.target.stats()["bytes_buffered"] == 0
    assert tree.query([tc]).delegated(tc)["rcv_wnd"] == 65535, "the held window reopened"
    check_invariants(tree, tree.target)


def test_sends_held_during_an_upload_all_go_out_on_resume(make_tree: Any) -> None:
    tree = make_tree()
    tc = _connection(tree)
    tree.initiate_offload([tc])
    tree.target.request_upload_all()
    assert tree.send(tc, b"hello") == 0
    tree.disconnect(tc)
    tree.target.resume()
    d = tree.query([tc]).delegated(tc)
    assert d["snd_nxt"] == 6, "the data and the FIN went out"
