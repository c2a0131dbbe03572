"""Iteration (issue 15): what has a ``len()`` iterates the same things, as Python ints.

``iter(tree)`` yields every live handle in the order of ``tree.handles()`` (block-list order,
docs/DESIGN.md §3), read when iteration begins; ``iter(result)`` yields the handles
``len(result)`` counts, in the result's order.
"""

from __future__ import annotations

import numpy as np
import offload_tree as ot
import pytest
from _helpers import hl
from offload_tree import _text

S = ot.Status


def test_a_tree_iterates_its_handles_in_block_list_order(ex):
    got = list(ex.tree)
    assert got == [ex.nb1, ex.pa1, ex.tc1, ex.tc2, ex.pa2, ex.tc3] == hl(ex.tree.handles())
    assert len(got) == len(ex.tree)
    assert all(type(h) is int for h in got)
    assert all(h in ex.tree for h in ex.tree)
    # A relinked path goes to the end of its new neighbor's dependents (§3): the order follows.
    nb2 = ex.tree.add_neighbor(mac=2)
    ex.tree.relink(ex.pa1, nb2)
    assert list(ex.tree) == [ex.nb1, ex.pa2, ex.tc3, nb2, ex.pa1, ex.tc1, ex.tc2]


def test_an_empty_tree_iterates_nothing(tree):
    assert list(tree) == [] and len(tree) == 0


def test_a_tree_changed_while_iterated_yields_the_handles_it_had_when_iteration_began(ex):
    it = iter(ex.tree)
    first = next(it)
    added = ex.tree.add_neighbor(mac=7)
    ex.tree.remove(ex.tc3)
    rest = list(it)
    assert [first, *rest] == [ex.nb1, ex.pa1, ex.tc1, ex.tc2, ex.pa2, ex.tc3]
    assert added not in rest and ex.tc3 not in ex.tree  # yielded, and stale by now
    assert list(ex.tree) == [ex.nb1, ex.pa1, ex.tc1, ex.tc2, ex.pa2, added]


def test_a_large_tree_iterates_across_chunks(tree):
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, "10.0.0.1", "10.0.0.2")
    n = 3 * _text._CHUNK + 5  # the conversion to ints goes a chunk at a time
    tcs = tree.add_tcps(np.full(n, pa, dtype=np.uint64), np.arange(n), 443)
    got = list(tree)
    assert got == [nb, pa, *hl(tcs)]
    assert len(got) == len(tree) == n + 2


def test_an_offload_result_iterates_the_handles_of_its_blocks(ex):
    ex.target.inject_fault(ex.tc2, S.RESOURCES)
    result = ex.tree.initiate_offload([ex.tc3, ex.tc1, ex.tc2])
    assert (
        list(result)
        == hl(result.blocks.handles)
        == [
            ex.nb1,
            ex.pa2,
            ex.tc3,
            ex.pa1,
            ex.tc1,
            ex.tc2,
        ]
    )
    assert len(list(result)) == len(result) and all(type(h) is int for h in result)
    assert ex.tc2 in result and ex.tc2 in result.failed
    assert (ex.tc3 + 100) not in result and "x" not in result
    # The block list itself still iterates blocks.
    assert [b.handle for b in result.blocks] == list(result)


def test_update_results_iterate_the_requested_handles_duplicates_included(off):
    result = off.tree.update([off.tc1, off.tc2, off.tc1], nagle=False)
    assert list(result) == [off.tc1, off.tc2, off.tc1] and len(result) == 3
    assert off.tc2 in result and off.nb1 not in result and None not in result


def test_terminate_query_and_invalidate_results_iterate_their_handles(off):
    off.target.inject_fault(off.tc3, S.FAILURE, "query")
    query = off.tree.query([off.tc1, off.tc3, off.tc1])
    assert list(query) == hl(query.handles) == [off.tc1, off.tc3]
    assert list(query.upload) == hl(query.terminated) and off.tc3 in query.upload
    invalidate = off.tree.invalidate([off.pa1, off.pa1])
    assert list(invalidate) == [off.pa1] and off.pa1 in invalidate and off.pa2 not in invalidate
    terminated = off.tree.terminate(off.nb1)
    assert list(terminated) == hl(terminated.terminated) and len(list(terminated)) == len(
        terminated
    )
    assert all(type(h) is int for h in terminated)


def test_results_iterate_alike_after_a_pickle(off):
    import pickle

    for result in (off.tree.query(off.tc1), off.tree.update(off.tc1, nagle=False)):
        assert list(pickle.loads(pickle.dumps(result))) == list(result)
    offload = off.tree.initiate_offload(off.tree.add_tcp(off.pa1, 1, 2))
    assert list(pickle.loads(pickle.dumps(offload))) == list(offload)


def test_a_block_list_contains_the_blocks_it_yields_and_their_handles(ex):
    bl = ex.tree.block_list([ex.tc1, ex.tc3])
    assert all(b in bl for b in bl)
    assert all(b.handle in bl for b in bl)
    other = ex.tree.block_list([ex.tc2])
    assert not any(b in bl for b in other if b.handle == ex.tc2)
    # A block of the same handle from another list differs (its links differ): not "in".
    (pa1_elsewhere,) = [b for b in other if b.handle == ex.pa1]
    assert ex.pa1 in bl and pa1_elsewhere != bl.block(ex.pa1) and pa1_elsewhere not in bl
    result = ex.tree.initiate_offload([ex.tc1])
    assert all(b in result.blocks for b in result.blocks)
    assert all(h in result for h in result)


def test_looking_up_a_value_that_is_no_handle_names_the_value(ex):
    result = ex.tree.initiate_offload([ex.tc1])
    bl = result.blocks
    for lookup in (result.status, bl.position, bl.block):
        with pytest.raises(ot.InvalidHandleError, match=r"invalid handle -1: handles are in"):
            lookup(-1)
        with pytest.raises(ot.InvalidHandleError, match=rf"invalid handle {2**64}: handles"):
            lookup(2**64)
        with pytest.raises(ot.InvalidHandleError, match="expected an int, got str"):
            lookup("x")
        with pytest.raises(ot.InvalidHandleError, match=r"0x[0-9a-f]{16} is not in this block"):
            lookup(ex.tc3)
