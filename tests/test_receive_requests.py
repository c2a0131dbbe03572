"""tree.post_receive(tc, size) and tree.read(tc): the host's receive requests on an offloaded
connection (posting-and-completing-receive-requests.md) and the delivery algorithm that fills
them (delivery-algorithm.md): posted requests first, buffered data before new data, a request
complete when full, every received byte delivered exactly once. Both backends."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import offload_tree as ot
import pytest
from _helpers import offloaded_connection, raises_unchanged


def _window(tree: Any, tc: int) -> int:
    return int(tree.query([tc]).delegated(tc)["rcv_wnd"])


def test_posted_requests_take_data_before_it_is_buffered(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    assert tree.post_receive(tc, 4) == 0
    assert tree.post_receive(tc, 3) == 0
    tree.target.receive(tc, b"abcdefghij")
    # Both requests filled and completed in order; 3 bytes left for the target's buffer.
    assert tree.read(tc) == b"abcdefg"
    assert tree.read(tc) == b"", "reading takes the bytes"
    b = tree.stats()["bytes"]
    assert (b["delivered"], b["read"], b["buffered"]) == (7, 7, 3)
    assert _window(tree, tc) == 65535 - 3, "only what the target keeps narrows the window"


def test_a_request_completes_only_when_full(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.post_receive(tc, 5)
    tree.target.receive(tc, b"ab")
    assert tree.read(tc) == b""
    assert tree.target.stats()["bytes_placed"] == 2
    tree.target.receive(tc, b"cde")
    assert tree.read(tc) == b"abcde"
    assert tree.target.stats()["bytes_placed"] == 0


def test_buffered_data_fills_a_new_request_first_and_reopens_the_window(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.target.receive(tc, b"0123456789")
    assert _window(tree, tc) == 65525
    assert tree.post_receive(tc, 4) == 4, "complete at once from the buffer"
    assert tree.read(tc) == b"0123"
    assert _window(tree, tc) == 65529
    assert tree.post_receive(tc, 10) == 0, "6 buffered bytes placed, 4 more wanted"
    tree.target.receive(tc, b"abcdef")
    assert tree.read(tc) == b"456789abcd"
    assert tree.stats()["bytes"]["buffered"] == 2
    assert _window(tree, tc) == 65535 - 2


def test_the_window_never_reopens_past_the_initial_one(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, rcv_wnd=8, initial_rcv_wnd=6)
    assert tree.target.receive(tc, b"01234567") == 8
    assert _window(tree, tc) == 0
    tree.post_receive(tc, 10)
    assert _window(tree, tc) == 6


def test_a_segment_beyond_the_receive_window_is_dropped_whole(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, rcv_wnd=4)
    assert tree.target.receive(tc, b"012") == 3
    before = tree.query([tc]).delegated(tc)
    assert tree.target.receive(tc, b"abc") == 0, "2 bytes would fit: the segment is dropped"
    assert tree.query([tc]).delegated(tc) == before, "not acknowledged: RcvNxt stays"
    t = tree.target.stats()
    assert (t["bytes_received"], t["bytes_buffered"], t["bytes_beyond_window"]) == (3, 3, 3)
    tree.post_receive(tc, 5)  # 3 buffered bytes go in: the window reopens, 2 more fit it
    assert tree.target.receive(tc, b"abc") == 3, "room in the request plus the window"
    assert tree.read(tc) == b"012ab"
    assert tree.target.receive_many([tc, tc], b"xy" + b"q" * 5, [2, 5]).tolist() == [2, 0]


def test_terminate_hands_back_buffered_bytes_and_completes_requests(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.target.receive(tc, b"buffered")
    tree.post_receive(tc, 20)  # takes the 8 buffered bytes
    tree.target.receive(tc, b"+more")
    result = tree.terminate([tc])
    assert result.received_data(tc) == b"", "nothing was left in the target's buffer"
    # The request completes with what was placed in it (UPLOAD_IN_PROGRESS).
    assert tree.read(tc) == b"buffered+more"
    assert tree.target.stats()["bytes_placed"] == 0
    tree2, tc2 = offloaded_connection(make_tree)
    tree2.target.receive(tc2, b"kept")
    assert tree2.terminate([tc2]).received_data(tc2) == b"kept"
    assert tree2.read(tc2) == b""


def test_every_received_byte_is_delivered_exactly_once(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    sent = bytes(range(256)) * 8
    got = bytearray()
    sizes = [1, 7, 300, 2, 50, 1000, 9, 400]
    chunks = [sent[i : i + 97] for i in range(0, len(sent), 97)]
    for i, chunk in enumerate(chunks):
        if i < len(sizes):
            tree.post_receive(tc, sizes[i])
        tree.target.receive(tc, chunk)
        got += tree.read(tc)
    got += tree.read(tc)
    result = tree.terminate([tc])
    got += tree.read(tc)
    got += result.received_data(tc)
    assert bytes(got) == sent
    b = tree.stats()["bytes"]
    assert tree.target.stats()["bytes_received"] == b["delivered"] + b["returned"]


def test_unread_bytes_survive_terminate_and_go_with_remove(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.post_receive(tc, 3)
    tree.target.receive(tc, b"abc")
    tree.terminate([tc])
    assert tree.stats()["bytes"]["unread"] == 3
    tree.remove([tc])
    b = tree.stats()["bytes"]
    assert (b["unread"], b["discarded"], b["read"]) == (0, 3, 0)


def test_bad_calls_change_nothing(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.target.receive(tc, b"xy")
    ex = SimpleNamespace(tree=tree, target=tree.target)
    for size in (0, -1, 2**32):
        raises_unchanged(ex, ot.ValidationError, lambda s=size: tree.post_receive(tc, s))
    raises_unchanged(ex, ot.ValidationError, lambda: tree.post_receive(tc, 2.0))
    raises_unchanged(ex, ot.ValidationError, lambda: tree.post_receive(tc, True))
    nb = tree.depends_on(tree.depends_on(tc))
    raises_unchanged(ex, ot.LayerError, lambda: tree.post_receive(nb, 1))
    raises_unchanged(ex, ot.LayerError, lambda: tree.read(nb))


def test_a_request_needs_an_offloaded_connection_but_read_does_not(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.terminate([tc])
    with pytest.raises(ot.StateError, match="not offloaded"):
        tree.post_receive(tc, 1)
    assert tree.read(tc) == b""
    tree.remove([tc])
    with pytest.raises(ot.InvalidHandleError):
        tree.read(tc)
