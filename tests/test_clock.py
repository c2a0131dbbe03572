"""Simulated time: ``tree.advance(ticks)`` ages neighbor reachability
(making-a-neighborreachabilityquery-indication.md) and runs the retransmit, FIN_WAIT_2 and
keepalive timers of offloaded connections (retransmit-timer.md, fin-wait-2-timer.md,
keepalive-timer.md), in the ticks the host set (docs/DESIGN.md §8, "Time"). Both backends."""

from __future__ import annotations

from typing import Any

import offload_tree as ot
import pytest
from _helpers import offloaded_connection

STOPPED = 2**32 - 1


def _quiet_connection(backend: str, **tcp: Any) -> tuple[Any, int]:
    """An offloaded connection on a tree whose neighbors never go stale
    (NceStaleTicks 2**32-1), so only the connection's timers indicate anything."""
    tree = ot.OffloadStateTree(backend=backend, nce_stale_ticks=2**32 - 1)
    nb = tree.add_neighbor(mac="02:00:00:00:00:01")
    path = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tc = tree.add_tcp(path, local_port=1000, remote_port=80, **tcp)
    assert tree.initiate_offload([tc]).ok
    return tree, tc


def _d(tree: Any, tc: int) -> dict[str, int]:
    return dict(tree.query([tc]).delegated(tc))


def _events(tree: Any) -> list[tuple[str, str | None, str]]:
    return [
        (e.kind.name, None if e.reason is None else e.reason.name, e.action)
        for e in tree.process_events()
    ]


def test_the_clock_moves_only_when_advanced_and_checks_its_parameters(make_tree: Any) -> None:
    tree = make_tree()
    assert (tree.now, tree.ticks_per_second, tree.nce_stale_ticks) == (0, 1000, 30_000)
    assert tree.advance(250) == 0
    assert tree.advance(0) == 0
    assert tree.now == 250
    with pytest.raises(ot.ValidationError, match=r"ticks=-1 is out of range 0\.\.4294967295"):
        tree.advance(-1)
    with pytest.raises(ot.ValidationError, match="ticks=4294967296 is out of range"):
        tree.advance(2**32)
    assert tree.now == 250
    backend = tree.backend
    slow = ot.OffloadStateTree(backend=backend, ticks_per_second=10)
    assert (slow.ticks_per_second, slow.nce_stale_ticks) == (10, 300)
    with pytest.raises(ot.ValidationError, match="ticks_per_second must be 10, 100 or 1000"):
        ot.OffloadStateTree(backend=backend, ticks_per_second=50)
    target = ot.SimulatedTarget()
    with pytest.raises(ot.ValidationError, match="nce_stale_ticks=-1 is out of range"):
        ot.OffloadStateTree(target, backend=backend, nce_stale_ticks=-1)
    assert not target.attached, "a refused tree leaves its target free"


def test_a_stale_neighbor_is_asked_about_once_until_the_host_answers(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    nb = tree.depends_on(tree.depends_on(tc))
    assert tree.advance(30_000) == 0, "not over NceStaleTicks yet"
    assert tree.advance(1) == 1
    assert tree.query([nb]).delegated(nb)["nic_reachability_delta"] == 30_001
    assert tree.advance(5_000) == 0, "the query is still unanswered"
    assert _events(tree) == [("NEIGHBOR_REACHABILITY_QUERY", None, "reachability_answered")]
    # The host's NCE is stale (HostReachabilityDelta 0): HRT = NCT, so no query for a while.
    assert tree.advance(30_000) == 0
    assert tree.advance(1) == 1, "both deltas are over the limit again"
    assert _events(tree)[0][0] == "NEIGHBOR_REACHABILITY_QUERY"


def test_forward_progress_keeps_a_neighbor_fresh(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    nb = tree.depends_on(tree.depends_on(tc))
    for _ in range(4):
        assert tree.advance(20_000) == 0
        tree.target.receive(tc, b"")  # an ACK from the peer: forward progress
    assert tree.query([nb]).delegated(nb)["nic_reachability_delta"] == 0
    assert tree.now == 80_000


def test_the_retransmit_timer_backs_off_and_an_ack_stops_it(backend: str) -> None:
    tree, tc = _quiet_connection(backend)
    tree.send(tc, b"hello")
    assert tree.advance(999) == 0
    assert _d(tree, tc)["retransmit_timeout_delta"] == 1, "started at 1 s when the data went out"
    tree.advance(1 + 2000)
    d = _d(tree, tc)
    assert (d["retransmit_count"], d["retransmit_timeout_delta"], d["total_rt"]) == (2, 4000, 2000)
    assert tree.target.offload_stats(4)["tcp"]["retransmitted_segments"] == 2
    tree.target.acknowledge(tc, 5)
    d = _d(tree, tc)
    assert (d["retransmit_count"], d["total_rt"], d["retransmit_timeout_delta"]) == (0, 0, STOPPED)
    assert tree.advance(10**6) == 0


def test_a_segment_out_of_retransmissions_asks_for_the_upload(backend: str) -> None:
    tree, tc = _quiet_connection(backend, max_rt=2)
    tree.send(tc, b"x")
    assert tree.advance(1000 + 2000) == 0
    assert _d(tree, tc)["retransmit_count"] == 2
    assert tree.advance(4000) == 1
    assert tree.send(tc, b"more") == 0, "a mandatory upload request holds the I/O back"
    assert tree.advance(10**6) == 0, "its timers wait too"
    assert _events(tree) == [("UPLOAD_REQUESTED", "TIMEOUT_EXPIRATION", "terminated")]
    assert not tree.is_offloaded(tc)


def test_keepalives_probe_an_idle_connection_and_a_segment_restarts_them(backend: str) -> None:
    tree, tc = _quiet_connection(
        backend, keep_alive=True, ka_timeout=5000, ka_interval=1000, ka_probe_count=2,
        keepalive_timeout_delta=5000,
    )  # fmt: skip
    out = tree.target.offload_stats(4)["tcp"]["out_segments"]
    assert tree.advance(6000) == 0
    d = _d(tree, tc)
    assert (d["keepalive_probe_count"], d["keepalive_timeout_delta"]) == (2, 1000)
    assert tree.target.offload_stats(4)["tcp"]["out_segments"] == out + 2, "two probes went out"
    tree.target.receive(tc, b"")  # the peer answered
    d = _d(tree, tc)
    assert (d["keepalive_probe_count"], d["keepalive_timeout_delta"]) == (0, 5000)
    assert tree.advance(5000 + 1999) == 0
    assert tree.advance(1) == 1, "two probes unanswered: the connection is not intact"
    assert _events(tree) == [("UPLOAD_REQUESTED", "TIMEOUT_EXPIRATION", "terminated")]


def test_a_new_connection_runs_no_timer(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    d = _d(tree, tc)
    assert (d["retransmit_timeout_delta"], d["keepalive_timeout_delta"]) == (STOPPED, STOPPED)


def test_a_timer_handed_over_at_zero_expires_at_once(backend: str) -> None:
    tree, tc = _quiet_connection(backend, snd_nxt=10, snd_max=10, retransmit_timeout_delta=0)
    tree.advance(0)
    assert _d(tree, tc)["retransmit_count"] == 1, "0: the host's timer expired as it handed over"


def test_without_keepalive_an_idle_connection_is_left_alone(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    before = _d(tree, tc)
    assert tree.advance(2**32 - 1) == 1, "only the neighbor's reachability query"
    assert _d(tree, tc) == before


def test_fin_wait_2_times_out_into_closed(backend: str) -> None:
    tree, tc = _quiet_connection(backend)
    tree.disconnect(tc)
    tree.target.acknowledge(tc, 1)  # the FIN: FIN_WAIT_2
    d = _d(tree, tc)
    assert (d["state"], d["retransmit_timeout_delta"]) == (
        int(ot.ConnectionState.FIN_WAIT_2),
        120_000,
    )
    assert _events(tree) == [("DISCONNECT_COMPLETE", None, "disconnected")]
    tree.advance(100_000)
    tree.target.receive(tc, b"")  # an acceptable segment restarts it
    assert _d(tree, tc)["retransmit_timeout_delta"] == 120_000
    assert tree.advance(119_999) == 0
    assert tree.advance(1) == 1
    assert _d(tree, tc)["state"] == int(ot.ConnectionState.CLOSED)
    assert _events(tree) == [("UPLOAD_REQUESTED", "TIMEOUT_EXPIRATION", "terminated")]


def test_timers_of_a_held_back_connection_wait(backend: str) -> None:
    tree, tc = _quiet_connection(backend)
    tree.send(tc, b"abc")
    tree.invalidate([tc])
    tree.advance(10_000)
    assert _d(tree, tc)["retransmit_count"] == 0
    assert tree.target.offload_stats(4)["tcp"]["retransmitted_segments"] == 0


def test_timers_run_in_the_hosts_order_whatever_the_targets_numbering(backend: str) -> None:
    # Requesting a path before the connections numbers the target's contexts otherwise
    # than the host's slots; the events still come in the host's order.
    tree = ot.OffloadStateTree(backend=backend, nce_stale_ticks=2**32 - 1)
    nb = tree.add_neighbor(mac=1)
    p0 = tree.add_path(nb, "10.0.0.1", "10.0.0.2")
    p1 = tree.add_path(nb, "10.0.0.1", "10.0.0.3")
    a = tree.add_tcp(p0, 80, 1000, max_rt=0)
    c = tree.add_tcp(p1, 80, 1000, max_rt=0)
    for request in ([p1, a, c], [p0, p1, c, a]):
        tree.initiate_offload(request)
        tree.send(a, b"x")
        tree.send(c, b"y")
        tree.advance(1000)
        assert [e.handle for e in tree.process_events()] == [a, c]
