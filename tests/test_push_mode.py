"""Push-mode receive requests (posting-and-completing-receive-requests.md, push-timer.md): a
request in push mode completes partly filled on a segment with the PSH bit or when the push
timer expires; one in nonpush mode only when full. Both backends."""

from __future__ import annotations

from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import check_invariants, offloaded_connection


def test_a_push_request_completes_partly_filled_on_psh(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.post_receive(tc, 10, push=True)
    tree.target.receive(tc, b"abc")
    assert tree.read(tc) == b"", "no PSH yet"
    tree.target.receive(tc, b"de", push=True)
    assert tree.read(tc) == b"abcde"
    assert tree.target.stats()["bytes_placed"] == 0
    check_invariants(tree, tree.target)


def test_a_nonpush_request_ignores_psh(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.post_receive(tc, 10)
    tree.target.receive(tc, b"abc", push=True)
    assert tree.read(tc) == b""
    assert tree.target.stats()["bytes_placed"] == 3
    tree.advance(10_000)
    assert tree.read(tc) == b"", "no push timer either"


def test_the_push_timer_starts_with_the_first_byte_and_restarts_with_each_segment(
    make_tree: Any,
) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.post_receive(tc, 10, push=True)
    tree.post_receive(tc, 10, push=True)
    tree.advance(1000)
    tree.target.receive(tc, b"ab")  # the timer starts: 500 ms
    tree.advance(300)
    tree.target.receive(tc, b"c")  # and restarts
    tree.advance(499)
    assert tree.read(tc) == b""
    tree.advance(1)
    assert tree.read(tc) == b"abc", "the timer expired: the request completes as it is"
    tree.target.receive(tc, b"d")
    tree.advance(500)
    assert tree.read(tc) == b"d", "the second request, on its own timer"
    check_invariants(tree, tree.target)


def test_buffered_data_moved_into_a_push_request_starts_the_timer(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.target.receive(tc, b"xyz")
    assert tree.post_receive(tc, 8, push=True) == 0
    tree.advance(500)
    assert tree.read(tc) == b"xyz"


def test_the_timer_follows_the_ticks_the_host_set(backend: str) -> None:
    tree = ot.OffloadStateTree(backend=backend, ticks_per_second=10)
    nb = tree.add_neighbor(mac="02:00:00:00:00:01")
    path = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tc = tree.add_tcp(path, local_port=1, remote_port=2)
    tree.initiate_offload([tc])
    tree.post_receive(tc, 4, push=True)
    tree.target.receive(tc, b"q")
    tree.advance(4)
    assert tree.read(tc) == b""
    tree.advance(1)
    assert tree.read(tc) == b"q", "500 ms are 5 ticks at 10 a second"


def test_push_flags_must_be_bools(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.post_receive(tc, 4, push=np.True_)  # NumPy bools are bools, everywhere
    tree.target.receive(tc, b"x", push=np.True_)
    assert tree.read(tc) == b"x"
    with pytest.raises(ot.ValidationError, match="push must be True or False"):
        tree.post_receive(tc, 4, push=1)  # type: ignore[arg-type]
    with pytest.raises(ot.ValidationError, match="push must be True or False"):
        tree.target.receive(tc, b"x", push="yes")  # type: ignore[arg-type]
    with pytest.raises(ot.ValidationError, match="push must be True or False"):
        tree.post_receive_many([tc], 4, push=None)  # type: ignore[arg-type]
