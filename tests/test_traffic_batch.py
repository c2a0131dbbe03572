"""The batch forms of the data-path calls: ``tree.send_many``, ``tree.post_receive_many``,
``tree.read_many``, ``target.receive_many`` and ``target.acknowledge_many``. A batch does
what the single calls one after another do, checks every item before it changes anything,
and names the first item that fails (docs/DESIGN.md §8, "Batches of traffic"). Both
backends."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import assert_unchanged, check_invariants, raises_unchanged, snapshot
from _ops import masked_snapshot


def _connections(make_tree: Any, k: int, **tcp: Any) -> tuple[Any, list[int]]:
    """A tree with ``k`` offloaded IPv4 connections on one path."""
    tree = make_tree()
    nb = tree.add_neighbor(mac="02:00:00:00:00:01")
    path = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tcs = [tree.add_tcp(path, local_port=1000 + i, remote_port=80, **tcp) for i in range(k)]
    assert tree.initiate_offload(tcs).ok
    return tree, tcs


def _observed(tree: Any) -> tuple[Any, ...]:
    """Everything a user can see of ``tree`` and its target, handles masked; processes the
    pending events and reads every connection, so call it last."""
    snap = masked_snapshot(snapshot(tree, tree.target))
    events = [(e.kind, e.action, e.size) for e in tree.process_events()]
    reads = [tree.read(h) for h in tree.handles(ot.Layer.TCP)]
    return snap, events, reads


# Pieces with repeats, an empty piece, and a connection listed twice in a row.
ORDER = [0, 2, 1, 0, 0, 3, 2]
PIECES = [b"abc", b"", b"defgh", b"ij", b"k", b"lmnopq", b"rs"]


def test_send_many_is_send_one_after_another(make_tree: Any) -> None:
    batch, tcs_b = _connections(make_tree, 4, snd_wnd=5)
    single, tcs_s = _connections(make_tree, 4, snd_wnd=5)
    lengths = [len(p) for p in PIECES]
    sent = batch.send_many([tcs_b[i] for i in ORDER], b"".join(PIECES), lengths)
    expected = [single.send(tcs_s[i], p) for i, p in zip(ORDER, PIECES, strict=True)]
    assert sent.dtype == np.int64
    assert sent.tolist() == expected
    assert expected == [3, 0, 5, 2, 0, 5, 2], "the window of 5 holds back some bytes"
    assert batch.stats()["bytes"]["posted"] == sum(lengths)
    check_invariants(batch, batch.target)
    assert _observed(batch) == _observed(single)


def test_receive_many_and_post_receive_many_are_the_single_calls(make_tree: Any) -> None:
    batch, tcs_b = _connections(make_tree, 4)
    single, tcs_s = _connections(make_tree, 4)
    sizes = [4, 1, 7, 2]
    done = batch.post_receive_many(tcs_b, sizes)
    assert done.tolist() == [single.post_receive(tc, s) for tc, s in zip(tcs_s, sizes, strict=True)]
    batch.target.receive_many([tcs_b[i] for i in ORDER], b"".join(PIECES), [len(p) for p in PIECES])
    for i, piece in zip(ORDER, PIECES, strict=True):
        single.target.receive(tcs_s[i], piece)
    # Buffered data goes into requests posted later: the second post completes some.
    again = batch.post_receive_many(tcs_b, 3)
    assert again.tolist() == [single.post_receive(tc, 3) for tc in tcs_s]
    assert sum(again.tolist()) > 0
    check_invariants(batch, batch.target)
    assert _observed(batch) == _observed(single)


def test_read_many_returns_each_connections_bytes_in_order(make_tree: Any) -> None:
    tree, tcs = _connections(make_tree, 3)
    tree.post_receive_many(tcs, [2, 3, 1])
    tree.target.receive_many(tcs, b"abXYZq", [2, 3, 1])
    data, lengths = tree.read_many([tcs[2], tcs[0], tcs[1], tcs[0]])
    assert lengths.dtype == np.int64
    assert lengths.tolist() == [1, 2, 3, 0], "the repeat finds nothing left"
    assert [bytes(p) for p in np.split(np.frombuffer(data, np.uint8), np.cumsum(lengths)[:-1])] == [
        b"q",
        b"ab",
        b"XYZ",
        b"",
    ]
    assert tree.read_many(tcs)[1].tolist() == [0, 0, 0]
    assert tree.stats()["bytes"]["read"] == 6


def test_acknowledge_many_is_acknowledge_one_after_another(make_tree: Any) -> None:
    batch, tcs_b = _connections(make_tree, 3, snd_wnd=10)
    single, tcs_s = _connections(make_tree, 3, snd_wnd=10)
    for tree, tcs in ((batch, tcs_b), (single, tcs_s)):
        for tc in tcs:
            tree.send(tc, b"0123")
            tree.send(tc, b"456789")
    order, counts, windows = [0, 1, 0, 2, 1], [3, 4, 1, 10, 6], [10, 20, 30, 2000, 40]
    done = batch.target.acknowledge_many([tcs_b[i] for i in order], counts, windows=windows)
    expected = [
        single.target.acknowledge(tcs_s[i], n, window=w)
        for i, n, w in zip(order, counts, windows, strict=True)
    ]
    assert done.tolist() == expected == [0, 1, 1, 2, 1]
    check_invariants(batch, batch.target)
    assert _observed(batch) == _observed(single)


def test_a_connections_acks_in_one_batch_cover_only_what_was_in_flight(make_tree: Any) -> None:
    tree, (tc,) = _connections(make_tree, 1, snd_wnd=4)
    tree.send(tc, b"01234567")  # 4 in flight, 4 waiting for the window
    # One by one the first ack would let 3 more out; together they find 4 in flight.
    error = raises_unchanged(
        SimpleNamespace(tree=tree, target=tree.target),
        ot.ValidationError,
        lambda: tree.target.acknowledge_many([tc, tc], [3, 2]),
    )
    assert str(error).startswith("nbytes=2 acknowledges more than connection ")
    assert str(error).endswith(
        " had in flight when the batch began (4, of which earlier items acknowledged 3) (item 1)"
    )
    assert tree.target.acknowledge_many([tc, tc], [3, 1]).tolist() == [0, 0]
    assert tree.query([tc]).delegated(tc)["snd_una"] == 4


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        ("send_len", ot.ValidationError, "the lengths add up to 5 bytes but data holds 6"),
        (
            "send_neg",
            ot.ValidationError,
            "length=-1 is out of range 0..9223372036854775807 (item 1)",
        ),
        ("send_closed", ot.StateError, "(item 2)"),
        ("recv_off", ot.StateError, "is not offloaded: cannot receive on it (item 1)"),
        ("recv_count", ot.ValidationError, "lengths has 2 values but there are 3 handles"),
        ("post_size", ot.ValidationError, "size=0 is out of range 1..4294967295 (item 2)"),
        ("read_stale", ot.InvalidHandleError, "(item 1)"),
        ("ack_window", ot.ValidationError, "window=-1 is out of range 0..4294967295 (item 0)"),
        ("ack_layer", ot.LayerError, "(item 1)"),
    ],
)
def test_a_bad_item_is_named_and_nothing_changes(
    make_tree: Any, call: str, exc: type[Exception], message: str
) -> None:
    tree, tcs = _connections(make_tree, 3, snd_wnd=100)
    tree.send(tcs[0], b"xyz")
    tree.post_receive(tcs[1], 2)
    tree.target.receive(tcs[1], b"abcd")  # fills the request, buffers 2
    gone = tree.add_tcp(tree.depends_on(tcs[0]), local_port=9, remote_port=9)
    tree.remove([gone])
    idle = tree.add_tcp(tree.depends_on(tcs[0]), local_port=7, remote_port=7)
    if call == "send_closed":
        tree.disconnect(tcs[2])
    calls = {
        "send_len": lambda: tree.send_many(tcs[:2], b"abcdef", [2, 3]),
        "send_neg": lambda: tree.send_many(tcs[:2], b"ab", [3, -1]),
        "send_closed": lambda: tree.send_many(tcs, b"abc", 1),
        "recv_off": lambda: tree.target.receive_many([tcs[0], idle], b"ab", 1),
        "recv_count": lambda: tree.target.receive_many(tcs, b"ab", [1, 1]),
        "post_size": lambda: tree.post_receive_many(tcs, [1, 2, 0]),
        "read_stale": lambda: tree.read_many([tcs[1], gone]),
        "ack_window": lambda: tree.target.acknowledge_many(tcs[:1], 1, windows=[-1]),
        "ack_layer": lambda: tree.target.acknowledge_many([tcs[0], tree.depends_on(tcs[0])], 0),
    }
    error = raises_unchanged(SimpleNamespace(tree=tree, target=tree.target), exc, calls[call])
    assert message in str(error)


def test_empty_batches_change_nothing(make_tree: Any) -> None:
    tree, _ = _connections(make_tree, 2)
    before = snapshot(tree, tree.target)
    assert tree.send_many([], b"", []).tolist() == []
    tree.target.receive_many([], b"", 1)
    assert tree.post_receive_many([], 5).tolist() == []
    data, lengths = tree.read_many([])
    assert (data, lengths.tolist()) == (b"", [])
    assert tree.target.acknowledge_many([], []).tolist() == []
    assert_unchanged(before, snapshot(tree, tree.target))
