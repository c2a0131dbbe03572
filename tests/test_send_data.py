"""tree.send(tc, data) and target.acknowledge(tc, n): the host's send data on an offloaded
connection (sending-data-from-an-offload-target.md), transmitted within the send window,
completed when acknowledged, and handed back byte for byte by a terminate
(handling-outstanding-send-data-during-a-terminate-offload-operation.md). Both backends."""

from __future__ import annotations

import pickle
from types import SimpleNamespace
from typing import Any

import offload_tree as ot
import pytest
from _helpers import offloaded_connection, raises_unchanged


def _seq(tree: Any, tc: int) -> tuple[int, int, int]:
    d = tree.query([tc]).delegated(tc)
    return d["snd_una"], d["snd_nxt"], d["snd_max"]


def test_posted_data_goes_out_within_the_send_window(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, snd_wnd=8)
    assert tree.send(tc, b"0123456789") == 8
    assert _seq(tree, tc) == (0, 8, 8)
    assert tree.send(tc, b"ab") == 0, "the window is full"
    b = tree.stats()["bytes"]
    assert (b["posted"], b["send_queued"], b["acknowledged"]) == (12, 12, 0)
    assert tree.target.stats()["bytes_sent"] == 8


def test_acknowledgements_complete_requests_in_order_and_open_the_window(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, snd_wnd=8)
    tree.send(tc, b"0123")
    tree.send(tc, b"456789")
    tree.send(tc, b"ab")
    assert _seq(tree, tc) == (0, 8, 8)
    assert tree.target.acknowledge(tc, 3) == 0, "the first request has 4 bytes"
    assert _seq(tree, tc) == (3, 11, 11), "3 more went out"
    assert tree.target.acknowledge(tc, 1) == 1
    assert _seq(tree, tc) == (4, 12, 12), "the last byte went out"
    assert tree.target.acknowledge(tc, 7) == 1, "the second; one byte of the third is left"
    assert tree.target.acknowledge(tc, 1) == 1
    assert _seq(tree, tc) == (12, 12, 12)
    b = tree.stats()["bytes"]
    assert (b["acknowledged"], b["send_queued"]) == (12, 0)
    assert tree.target.stats()["bytes_acknowledged"] == 12
    assert tree.terminate([tc]).send_data(tc) == b""


def test_terminate_returns_unacknowledged_then_unsent_bytes_in_order(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, snd_wnd=6)
    tree.send(tc, b"hello ")
    tree.send(tc, b"world")
    tree.target.acknowledge(tc, 4)
    result = tree.terminate([tc])
    assert result.send_data(tc) == b"o world"
    assert result.total_send_data == 7
    d = result.delegated(tc)
    # The host gets the target's sequence numbers: [SndUna, SndNxt) is the part sent.
    assert (d["snd_una"], d["snd_nxt"]) == (4, 10)
    b = tree.stats()["bytes"]
    assert (b["posted"], b["acknowledged"], b["send_queued"], b["send_returned"]) == (
        11,
        4,
        0,
        7,
    )
    # Pickled results keep the bytes.
    assert pickle.loads(pickle.dumps(result)).send_data(tc) == b"o world"


def test_bytes_in_flight_before_any_post_are_acknowledged_first(make_tree: Any) -> None:
    # The connection came with 100 bytes in flight (SndNxt - SndUna) it carried no data for.
    tree, tc = offloaded_connection(make_tree, snd_una=0, snd_nxt=100, snd_max=100, snd_wnd=104)
    assert tree.send(tc, b"abcdefgh") == 4, "the window holds 100 in flight + 4"
    assert tree.target.acknowledge(tc, 101) == 0
    assert tree.stats()["bytes"]["acknowledged"] == 1
    assert tree.terminate([tc]).send_data(tc) == b"bcdefgh"


def test_payloadless_sends_take_their_place_in_the_sequence(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.send(tc, b"ab")
    assert tree.target.send(tc, 5) == 5  # no payload: bytes the simulation does not carry
    tree.send(tc, b"cd")
    assert _seq(tree, tc)[1] == 9
    assert tree.target.acknowledge(tc, 3) == 1, "ab, then one payload-less byte"
    assert tree.target.acknowledge(tc, 4) == 0, "the other four"
    assert tree.terminate([tc]).send_data(tc) == b"cd"


def test_held_back_data_waits_and_comes_back(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.invalidate([tc])
    assert tree.send(tc, b"held") == 0
    assert _seq(tree, tc)[1] == 0
    assert tree.terminate([tc]).send_data(tc) == b"held"


def test_after_a_mandatory_upload_request_data_waits_for_the_upload(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    assert tree.send(tc, b"first") == 5
    tree.target.request_upload(tc, ot.UploadReason.HARDWARE_FAILURE)
    assert tree.send(tc, b"second") == 0
    (event,) = tree.process_events()
    assert event.action == "terminated"
    assert event.result.send_data(tc) == b"firstsecond"
    assert tree.stats()["bytes"]["send_returned"] == 11


def test_every_upload_path_returns_the_data(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.send(tc, b"xyz")
    tree.target.request_upload_all()
    (event,) = tree.process_events()
    assert event.result.send_data(tc) == b"xyz"
    assert event.result.total_send_data == 3


def test_an_acknowledgement_is_a_received_segment(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    nb = tree.depends_on(tree.depends_on(tc))
    tree.send(tc, b"abc")
    before = tree.target.offload_stats(4)["tcp"]["in_segments"]
    tree.target.acknowledge(tc, 0)  # a duplicate ACK: nothing acknowledged, still a segment
    assert tree.target.offload_stats(4)["tcp"]["in_segments"] == before + 1
    assert tree.target.offload_stats(4)["tcp"]["out_segments"] == 1
    assert tree.query([nb]).delegated(nb)["nic_reachability_delta"] == 0


def test_a_large_send_flows_through_a_small_window(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, snd_wnd=1000)
    data = bytes(range(256)) * 40  # 10240 bytes
    assert tree.send(tc, data) == 1000
    completed = 0
    while tree.stats()["bytes"]["send_queued"] > 1500:
        completed += tree.target.acknowledge(tc, 1000)
    assert completed == 0
    result = tree.terminate([tc])
    returned = result.send_data(tc)
    acked = tree.stats()["bytes"]["acknowledged"]
    assert returned == data[acked:], "byte for byte"


def test_bad_calls_change_nothing(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, snd_wnd=4)
    tree.send(tc, b"abcdef")
    ex = SimpleNamespace(tree=tree, target=tree.target)
    raises_unchanged(ex, ot.ValidationError, lambda: tree.target.acknowledge(tc, 5))
    raises_unchanged(ex, ot.ValidationError, lambda: tree.target.acknowledge(tc, -1))
    raises_unchanged(ex, ot.ValidationError, lambda: tree.target.acknowledge(tc, 2**32))
    raises_unchanged(ex, ot.ValidationError, lambda: tree.target.acknowledge(tc, 1.5))
    raises_unchanged(ex, ot.ValidationError, lambda: tree.send(tc, "text"))
    nb = tree.depends_on(tree.depends_on(tc))
    raises_unchanged(ex, ot.LayerError, lambda: tree.send(nb, b"x"))
    raises_unchanged(ex, ot.LayerError, lambda: tree.target.acknowledge(nb, 0))


def test_only_an_offloaded_connection_takes_data(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.terminate([tc])
    with pytest.raises(ot.StateError, match="not offloaded"):
        tree.send(tc, b"x")
    with pytest.raises(ot.StateError, match="not offloaded"):
        tree.target.acknowledge(tc, 0)


def test_empty_data_posts_nothing(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    assert tree.send(tc, b"") == 0
    assert tree.send(tc, bytearray(b"ab")) == 2
    assert tree.send(tc, memoryview(b"cd")) == 2
    assert tree.stats()["bytes"]["posted"] == 4
    assert tree.terminate([tc]).send_data(tc) == b"abcd"


def test_a_new_offload_starts_with_an_empty_queue(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.send(tc, b"old")
    assert tree.terminate([tc]).send_data(tc) == b"old"
    assert tree.initiate_offload([tc]).ok
    tree.send(tc, b"new")
    assert tree.terminate([tc]).send_data(tc) == b"new"


@pytest.mark.parametrize(
    "state",
    [
        ot.ConnectionState.FIN_WAIT_1,
        ot.ConnectionState.FIN_WAIT_2,
        ot.ConnectionState.CLOSING,
        ot.ConnectionState.LAST_ACK,
        ot.ConnectionState.TIME_WAIT,
        ot.ConnectionState.CLOSED,
    ],
)
def test_no_data_after_the_hosts_fin(make_tree: Any, state: Any) -> None:
    tree, tc = offloaded_connection(make_tree, state=state)
    ex = SimpleNamespace(tree=tree, target=tree.target)
    err = raises_unchanged(ex, ot.StateError, lambda: tree.send(tc, b"late"))
    assert state.name in str(err) and "send half is closed" in str(err)


def test_data_posted_before_a_disconnect_still_goes_but_none_after(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, state=ot.ConnectionState.CLOSE_WAIT)
    assert tree.send(tc, b"reply") == 5, "CLOSE_WAIT: the peer closed, the host may send"
    tree.disconnect(tc)
    with pytest.raises(ot.StateError, match="send half is closed"):
        tree.send(tc, b"more")
