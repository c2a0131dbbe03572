"""tree.disconnect(tc, abortive=False): the host's graceful or abortive disconnect of an
offloaded connection (responding-to-a-disconnect-request.md; MiniportTcpOffloadDisconnect and
NdisTcpOffloadDisconnectComplete in the DDI). Both backends."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import offload_tree as ot
import pytest
from _helpers import offloaded_connection, raises_unchanged

CS = ot.ConnectionState


def _live(tree: Any, tc: int) -> dict[str, int]:
    return dict(tree.query([tc]).delegated(tc))


def test_the_fin_follows_the_last_posted_byte(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, snd_wnd=4)
    tree.send(tc, b"abcdef")
    assert tree.disconnect(tc) is None
    live = _live(tree, tc)
    assert (live["state"], live["snd_nxt"]) == (CS.FIN_WAIT_1, 4), "2 bytes still wait"
    tree.target.acknowledge(tc, 4)
    assert _live(tree, tc)["snd_nxt"] == 7, "the last 2 bytes, then the FIN"
    assert tree.process_events() == [], "the FIN is not acknowledged yet"
    assert tree.target.acknowledge(tc, 3) == 1
    assert _live(tree, tc)["state"] == CS.FIN_WAIT_2
    (event,) = tree.process_events()
    assert (event.kind, event.action) == (ot.EventKind.DISCONNECT_COMPLETE, "disconnected")
    assert tree.is_offloaded(tc), "it waits for the peer's FIN"
    tree.target.peer_close(tc)
    (event,) = tree.process_events()
    assert (event.kind, event.action) == (ot.EventKind.DISCONNECT, "terminated")
    assert event.result.delegated(tc)["state"] == CS.TIME_WAIT
    # One FIN segment counted, besides the data.
    assert tree.target.offload_stats(4)["tcp"]["out_segments"] == 3


def test_after_the_peer_closed_the_disconnect_ends_theoffloaded_connection(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.target.peer_close(tc)
    tree.process_events()
    tree.disconnect(tc)
    assert _live(tree, tc)["state"] == CS.LAST_ACK
    assert tree.target.acknowledge(tc, 1) == 0
    (event,) = tree.process_events()
    assert (event.kind, event.action) == (ot.EventKind.DISCONNECT_COMPLETE, "terminated")
    assert event.result.delegated(tc)["state"] == CS.CLOSED
    assert not tree.is_offloaded(tc)


def test_simultaneous_close_goes_through_closing(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.disconnect(tc)
    tree.target.peer_close(tc)
    assert _live(tree, tc)["state"] == CS.CLOSING
    assert [e.action for e in tree.process_events()] == ["peer_closed"]
    tree.target.acknowledge(tc, 1)
    assert _live(tree, tc)["state"] == CS.TIME_WAIT
    (event,) = tree.process_events()
    assert event.action == "terminated"


def test_a_terminate_returns_the_data_before_the_fin(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, snd_wnd=2)
    tree.send(tc, b"wxyz")
    tree.disconnect(tc)
    result = tree.terminate([tc])
    assert result.send_data(tc) == b"wxyz", "the FIN is no data"
    assert result.delegated(tc)["state"] == CS.FIN_WAIT_1


def test_an_abortive_disconnect_resets_and_releases(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, snd_wnd=2)
    tree.send(tc, b"dropped")
    tree.target.receive(tc, b"kept")
    result = tree.disconnect(tc, abortive=True)
    assert isinstance(result, ot.TerminateResult)
    assert tc in result.terminated.tolist()
    assert result.received_data(tc) == b"kept", "buffered data still comes back"
    assert result.send_data(tc) == b"", "REQUEST_ABORTED: the host does not process it"
    assert result.delegated(tc)["state"] == CS.CLOSED
    assert tree.stats()["bytes"]["send_aborted"] == 7
    tcp = tree.target.offload_stats(4)["tcp"]
    assert (tcp["out_resets"], tcp["reset_established"]) == (1, 1)
    assert not tree.is_offloaded(tc)


@pytest.mark.parametrize("state", [CS.FIN_WAIT_1, CS.FIN_WAIT_2, CS.TIME_WAIT, CS.CLOSED])
def test_a_graceful_disconnect_needs_an_open_send_half(make_tree: Any, state: Any) -> None:
    tree, tc = offloaded_connection(make_tree, state=state)
    ex = SimpleNamespace(tree=tree, target=tree.target)
    err = raises_unchanged(ex, ot.StateError, lambda: tree.disconnect(tc))
    assert state.name in str(err) and "graceful" in str(err)


def test_bad_calls_change_nothing(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, state=CS.CLOSED)
    ex = SimpleNamespace(tree=tree, target=tree.target)
    raises_unchanged(ex, ot.StateError, lambda: tree.disconnect(tc, abortive=True))
    raises_unchanged(ex, ot.ValidationError, lambda: tree.disconnect(tc, abortive="yes"))
    nb = tree.depends_on(tree.depends_on(tc))
    raises_unchanged(ex, ot.LayerError, lambda: tree.disconnect(nb))
    tree.terminate([tc])
    with pytest.raises(ot.StateError, match="not offloaded"):
        tree.disconnect(tc)
