"""target.acknowledge(tc, n, window=...) and TcpIndicateSendBacklogChange: SendBacklogSize is
the smaller of Cwnd and the advertised window (the DDI's example), never what is posted, and
its changes are indicated with a throttle (indicating-tcp-chimney-specific-events.md; DDI
NdisTcpOffloadEventHandler). Both backends."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import offload_tree as ot
from _helpers import offloaded_connection, raises_unchanged


def _live(tree: Any, tc: int) -> dict[str, int]:
    return dict(tree.query([tc]).delegated(tc))


def test_posted_data_does_not_move_the_backlog(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.send(tc, b"x" * 5000)
    tree.target.send(tc, 700)
    tree.target.acknowledge(tc, 100)
    assert _live(tree, tc)["send_backlog_size"] == 0
    assert tree.process_events() == []


def test_an_advertised_window_moves_the_backlog_and_is_indicated(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, cwnd=30000)
    tree.target.acknowledge(tc, 0, window=20000)
    live = _live(tree, tc)
    assert (live["snd_wnd"], live["send_backlog_size"]) == (20000, 20000)
    (event,) = tree.process_events()
    assert (event.kind, event.handle, event.action, event.size) == (
        ot.EventKind.SEND_BACKLOG_CHANGE,
        tc,
        "backlog_noted",
        20000,
    )
    # Cwnd caps it: the bandwidth-delay product stands behind a larger window.
    tree.target.acknowledge(tc, 0, window=100000)
    assert _live(tree, tc)["send_backlog_size"] == 30000
    assert _live(tree, tc)["max_snd_wnd"] == 100000
    assert [e.size for e in tree.process_events()] == [30000]


def test_small_changes_are_throttled(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree, cwnd=100000)
    tree.target.acknowledge(tc, 0, window=40000)
    tree.process_events()
    # Less than a quarter of 40000: SendBacklogSize stays, nothing is indicated.
    tree.target.acknowledge(tc, 0, window=45000)
    assert _live(tree, tc)["send_backlog_size"] == 40000
    assert _live(tree, tc)["snd_wnd"] == 45000, "the window itself moves"
    assert tree.process_events() == []
    tree.target.acknowledge(tc, 0, window=20000)
    assert [e.size for e in tree.process_events()] == [20000]


def test_a_smaller_window_holds_posted_data_back(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.target.acknowledge(tc, 0, window=100)
    assert tree.send(tc, b"y" * 250) == 100
    tree.target.acknowledge(tc, 100, window=1000)
    assert _live(tree, tc)["snd_nxt"] == 250


def test_a_stale_change_is_ignored(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.target.acknowledge(tc, 0, window=5000)
    tree.terminate([tc])
    (event,) = tree.process_events()
    assert event.action == "ignored"


def test_a_bad_window_changes_nothing(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    ex = SimpleNamespace(tree=tree, target=tree.target)
    for window in (-1, 2**32, 1.5, "big"):
        raises_unchanged(
            ex, ot.ValidationError, lambda w=window: tree.target.acknowledge(tc, 0, window=w)
        )
