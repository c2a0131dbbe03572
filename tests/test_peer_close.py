"""target.peer_close(tc, abortive=False): the peer's FIN or RST on an offloaded connection
(responding-to-the-reception-of-a-fin-or-rst-segment.md, indicating-tcp-chimney-specific-
events.md) and the host's response in process_events. Both backends."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import offload_tree as ot
import pytest
from _helpers import offloaded_connection, raises_unchanged

CS = ot.ConnectionState


def _live(tree: Any, tc: int) -> dict[str, int]:
    return dict(tree.query([tc]).delegated(tc))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (CS.ESTABLISHED, CS.CLOSE_WAIT),
        (CS.FIN_WAIT_1, CS.CLOSING),
        (CS.FIN_WAIT_2, CS.TIME_WAIT),
    ],
)
def test_a_fin_closes_the_receive_half(make_tree: Any, before: Any, after: Any) -> None:
    tree, tc = offloaded_connection(make_tree, state=before, rcv_nxt=2**32 - 1)
    tree.target.peer_close(tc)
    live = _live(tree, tc)
    assert live["state"] == after
    assert live["rcv_nxt"] == 0, "the FIN takes one sequence number (mod 2**32)"
    assert tree.target.offload_stats(4)["tcp"]["in_segments"] == 1


def test_after_a_fin_alone_the_connection_stays_offloaded(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.target.peer_close(tc)
    (event,) = tree.process_events()
    assert (event.kind, event.handle, event.action) == (ot.EventKind.DISCONNECT, tc, "peer_closed")
    assert event.result is None
    assert tree.is_offloaded(tc)
    assert tree.send(tc, b"still sending") > 0, "the send half is open"


def test_with_both_halves_closed_the_host_terminates(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, state=CS.FIN_WAIT_2)
    tree.target.peer_close(tc)
    (event,) = tree.process_events()
    assert event.action == "terminated"
    assert event.result.delegated(tc)["state"] == CS.TIME_WAIT
    assert not tree.is_offloaded(tc)


def test_the_disconnect_waits_until_the_host_took_the_data(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.target.receive(tc, b"before the fin")
    tree.target.peer_close(tc)
    assert tree.process_events() == [], "data received before the FIN is still buffered"
    tree.post_receive(tc, 6)
    assert tree.process_events() == [], "8 bytes are left"
    tree.post_receive(tc, 8)
    assert tree.read(tc) == b"before the fin"
    (event,) = tree.process_events()
    assert event.kind == ot.EventKind.DISCONNECT


def test_a_terminate_before_the_data_is_taken_drops_the_waiting_indication(
    make_tree: Any,
) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.target.receive(tc, b"xyz")
    tree.target.peer_close(tc)
    result = tree.terminate([tc])
    assert result.received_data(tc) == b"xyz"
    assert result.delegated(tc)["state"] == CS.CLOSE_WAIT
    assert tree.process_events() == []


def test_a_reset_aborts_sends_completes_receives_and_is_terminated(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, snd_wnd=4)
    tree.send(tc, b"unsent data")
    tree.post_receive(tc, 10)
    tree.target.receive(tc, b"part")
    tree.target.peer_close(tc, abortive=True)
    assert _live(tree, tc)["state"] == CS.CLOSED
    b = tree.stats()["bytes"]
    assert (b["send_aborted"], b["send_queued"]) == (11, 0), "REQUEST_ABORTED: data dropped"
    assert tree.read(tc) == b"part", "the receive request completes with what it held"
    assert tree.target.offload_stats(4)["tcp"]["reset_established"] == 1
    (event,) = tree.process_events()
    assert (event.kind, event.action) == (ot.EventKind.ABORT, "terminated")
    assert event.result.send_data(tc) == b""
    assert not tree.is_offloaded(tc)


def test_a_reset_outside_established_does_not_count_as_reset_established(
    make_tree: Any,
) -> None:
    tree, tc = offloaded_connection(make_tree, state=CS.FIN_WAIT_1)
    tree.target.peer_close(tc, abortive=True)
    assert tree.target.offload_stats(4)["tcp"]["reset_established"] == 0


def test_a_stale_event_is_ignored(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.target.peer_close(tc, abortive=True)
    tree.terminate([tc])
    assert tree.initiate_offload([tc]).ok
    (event,) = tree.process_events()
    assert event.action == "ignored"
    assert tree.is_offloaded(tc), "the event was about the previous offload"


@pytest.mark.parametrize("state", [CS.CLOSE_WAIT, CS.TIME_WAIT, CS.CLOSED, CS.LISTEN])
def test_a_fin_where_rfc_793_takes_none_is_refused(make_tree: Any, state: Any) -> None:
    tree, tc = offloaded_connection(make_tree, state=state)
    ex = SimpleNamespace(tree=tree, target=tree.target)
    err = raises_unchanged(ex, ot.StateError, lambda: tree.target.peer_close(tc))
    assert state.name in str(err) and "FIN" in str(err)


def test_bad_calls_change_nothing(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, state=CS.CLOSED)
    ex = SimpleNamespace(tree=tree, target=tree.target)
    err = raises_unchanged(ex, ot.StateError, lambda: tree.target.peer_close(tc, abortive=True))
    assert "RST" in str(err)
    raises_unchanged(ex, ot.ValidationError, lambda: tree.target.peer_close(tc, abortive=1))
    nb = tree.depends_on(tree.depends_on(tc))
    raises_unchanged(ex, ot.LayerError, lambda: tree.target.peer_close(nb))
    tree.terminate([tc])
    with pytest.raises(ot.StateError, match="not offloaded"):
        tree.target.peer_close(tc)
