"""Who holds a connection's delegated state, and when (docs/SPEC.md §1: delegated variables
are owned by the target while offloaded and returned on terminate; docs/DESIGN.md §8: the host
copy keeps the values of the last offload or terminate).

The native engine stores the target's copy only once traffic changes it (copy-on-write over the
host's frozen copy, docs/DESIGN.md §11); these tests pin the observable behaviour both engines
share.
"""

from __future__ import annotations

from typing import Any


def _connections(tree: Any, n: int) -> list[int]:
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    return [tree.add_tcp(pa, local_port=1000 + i, remote_port=443, rcv_nxt=i) for i in range(n)]


def test_the_host_copy_stays_at_the_offload_values_while_the_target_moves_on(make_tree):
    tree = make_tree()
    (tc,) = _connections(tree, 1)
    tree.initiate_offload(tc)
    tree.target.receive(tc, b"hello")
    assert tree.query(tc).delegated(tc)["rcv_nxt"] == 5
    assert tree.state(tc).rcv_nxt == 0, "the host copy is not live while the target owns it"
    tree.terminate(tc)
    assert tree.state(tc).rcv_nxt == 5, "terminate hands the live values back"


def test_a_query_result_is_a_snapshot(make_tree):
    tree = make_tree()
    a, b = _connections(tree, 2)
    tree.initiate_offload([a, b])
    before = tree.query([a, b])  # a: still the offload values; b: already changed
    tree.target.receive(b, b"xy")
    during = tree.query([a, b])
    tree.target.receive(a, b"abc")
    tree.target.receive(b, b"z")
    tree.terminate([a, b])
    assert (before.delegated(a)["rcv_nxt"], before.delegated(b)["rcv_nxt"]) == (0, 1)
    assert (during.delegated(a)["rcv_nxt"], during.delegated(b)["rcv_nxt"]) == (0, 3)
    assert (tree.state(a).rcv_nxt, tree.state(b).rcv_nxt) == (3, 4)


def test_changed_connections_never_see_each_others_state(make_tree):
    # Changes, terminates and re-offloads in an order that makes the target reuse storage.
    tree = make_tree()
    tcs = _connections(tree, 4)
    tree.initiate_offload(tcs)
    for i, tc in enumerate(tcs):
        tree.target.receive(tc, b"." * (10 * (i + 1)))
    tree.terminate([tcs[1], tcs[2]])
    tree.initiate_offload([tcs[2], tcs[1]])
    tree.target.receive(tcs[2], b"!")
    tree.target.send(tcs[1], 7)
    live = tree.query(tcs)
    expected_rcv = [0 + 10, 1 + 20, 2 + 30 + 1, 3 + 40]
    assert [live.delegated(tc)["rcv_nxt"] for tc in tcs] == expected_rcv
    assert [live.delegated(tc)["snd_nxt"] for tc in tcs] == [0, 7, 0, 0]
    back = tree.terminate(tcs)
    assert [back.delegated(tc)["rcv_nxt"] for tc in tcs] == expected_rcv
    assert [tree.state(tc).rcv_nxt for tc in tcs] == expected_rcv


def test_an_unchanged_connection_comes_back_with_exactly_its_offload_values(make_tree):
    tree = make_tree()
    (tc,) = _connections(tree, 1)
    before = tree.state(tc).delegated()
    tree.initiate_offload(tc)
    back = tree.terminate(tc)
    assert back.delegated(tc) == before
    assert tree.state(tc).delegated() == before


def test_connections_at_their_defaults_share_nothing_a_change_can_reach(make_tree):
    # The native engine keeps one shared copy of the default variables for every connection
    # that never changed (docs/DESIGN.md §11): the first change to one connection, by update,
    # by a keyword at creation or by terminate taking back traffic, must reach that one alone.
    import numpy as np

    tree = make_tree()
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    a, b, c, d = (int(h) for h in tree.add_tcps(np.full(4, pa), np.arange(4) + 100, 443))
    e = tree.add_tcp(pa, local_port=200, remote_port=443, nagle=False)
    tree.update(a, ka_probe_count=3)
    tree.initiate_offload([a, b, c, d, e])
    tree.target.receive(b, b"12345")
    queried = tree.query([a, b, c, d, e])
    done = tree.terminate([a, b, c, d, e])
    for result in (queried, done):
        assert [result.delegated(h)["rcv_nxt"] for h in (a, b, c, d, e)] == [0, 5, 0, 0, 0]
    states = [tree.state(h) for h in (a, b, c, d, e)]
    assert [s.local_port for s in states] == [100, 101, 102, 103, 200]
    assert [s.ka_probe_count for s in states] == [3, 10, 10, 10, 10]
    assert [s.nagle for s in states] == [True, True, True, True, False]
    assert [s.rcv_nxt for s in states] == [0, 5, 0, 0, 0]
    tree.update(c, rcv_indication_size=9)
    assert (tree.state(c).rcv_indication_size, tree.state(d).rcv_indication_size) == (9, 0)


def test_a_query_checks_the_same_way_with_and_without_a_fault_aimed_somewhere(make_tree):
    # With no fault aimed anywhere a query cannot change the tree, and the native engine reads
    # as it resolves; the checks must still come out as when it resolves everything first: an
    # invalid handle anywhere wins over one that is not offloaded, duplicates count once.
    import offload_tree as ot
    import pytest

    for aim_a_fault in (False, True):
        tree = make_tree()
        a, b, c = _connections(tree, 3)
        tree.initiate_offload([a, b])
        if aim_a_fault:
            tree.target.inject_fault(b, ot.Status.FAILURE, operation="query")
        with pytest.raises(ot.InvalidHandleError):
            tree.query([c, a, a + (1 << 60)])
        with pytest.raises(ot.StateError, match="not offloaded"):
            tree.query([a, c, a])
        result = tree.query([a, a, a])
        assert list(result.handles) == [a]
        assert tree.stats()["operations"]["query"]["requested"] == 1
