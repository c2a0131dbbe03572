"""Block lists as built (docs/SPEC.md §3, docs/DESIGN.md §7): shape, order, new vs referenced."""

from __future__ import annotations

import numpy as np
import offload_tree as ot
from _helpers import assert_unchanged, check_block_list_shape, hl, snapshot

N, P, T = ot.Layer.NEIGHBOR, ot.Layer.PATH, ot.Layer.TCP


def rows(blocks):
    return [(b.layer, b.handle, b.depth, b.referenced) for b in blocks]


def test_connections_request_is_rooted_at_the_neighbor(ex):
    bl = ex.tree.block_list([ex.tc1, ex.tc2, ex.tc3])
    assert isinstance(bl, ot.BlockList)
    assert rows(bl) == [
        (N, ex.nb1, 0, False),
        (P, ex.pa1, 1, False),
        (T, ex.tc1, 2, False),
        (T, ex.tc2, 2, False),
        (P, ex.pa2, 1, False),
        (T, ex.tc3, 2, False),
    ]
    check_block_list_shape(ex.tree, bl, [ex.tc1, ex.tc2, ex.tc3])


def test_links_of_the_source_example(ex):
    bl = list(ex.tree.block_list([ex.tc1, ex.tc2, ex.pa2]))
    nb, pa1, tc1, tc2, pa2 = bl
    assert [b.handle for b in bl] == [ex.nb1, ex.pa1, ex.tc1, ex.tc2, ex.pa2]
    assert nb.next is None and nb.dependent is pa1
    assert pa1.next is pa2 and pa1.dependent is tc1
    assert tc1.next is tc2 and tc1.dependent is None
    assert tc2.next is None and tc2.dependent is None
    assert pa2.next is None and pa2.dependent is None
    assert all(b.status is None for b in bl)


def test_each_object_appears_once_even_if_requested_twice(ex):
    bl = ex.tree.block_list([ex.tc1, ex.pa1, ex.tc1, ex.nb1])
    assert hl(bl.handles) == [ex.nb1, ex.pa1, ex.tc1]
    check_block_list_shape(ex.tree, bl, [ex.tc1, ex.pa1, ex.nb1])


def test_order_of_first_mention(ex):
    bl = ex.tree.block_list([ex.tc3, ex.tc2, ex.tc1])
    assert hl(bl.handles) == [ex.nb1, ex.pa2, ex.tc3, ex.pa1, ex.tc2, ex.tc1]
    check_block_list_shape(ex.tree, bl, [ex.tc3, ex.tc2, ex.tc1])


def test_several_neighbors_are_roots_chained_by_next(tree):
    a = tree.add_neighbor(mac=1)
    b = tree.add_neighbor(mac=2)
    pa = tree.add_path(a, source="10.0.0.1", destination="10.0.0.2")
    pb = tree.add_path(b, source="10.0.0.1", destination="10.0.0.3")
    bl = list(tree.block_list([pb, pa]))
    assert [b_.handle for b_ in bl] == [b, pb, a, pa]
    assert bl[0].next is bl[2] and bl[0].dependent is bl[1]
    assert bl[1].next is None
    check_block_list_shape(tree, tree.block_list([pb, pa]), [pb, pa])


def test_full_request_pre_order_equals_walk(ex):
    bl = ex.tree.block_list(ex.tree.handles())
    assert hl(bl.handles) == hl(ex.tree.walk("pre"))
    assert [b.handle for b in bl.post_order()] == hl(ex.tree.walk("post"))


def test_references_offloaded_ancestor_and_roots_at_its_layer(ex):
    ex.tree.initiate_offload([ex.tc1])
    tc4 = ex.tree.add_tcp(ex.pa1, local_port=1, remote_port=2)
    bl = ex.tree.block_list([tc4])
    assert rows(bl) == [(P, ex.pa1, 0, True), (T, tc4, 1, False)]
    check_block_list_shape(ex.tree, bl, [tc4])


def test_extends_down_to_the_lowest_layer_with_references(ex):
    ex.tree.initiate_offload([ex.tc1])
    tc4 = ex.tree.add_tcp(ex.pa1, local_port=1, remote_port=2)
    # tc3's chain reaches the (new) path pa2 and the offloaded neighbor: lowest layer NEIGHBOR,
    # so tc4's chain (ending at offloaded pa1) is extended down to the neighbor.
    bl = ex.tree.block_list([tc4, ex.tc3])
    assert rows(bl) == [
        (N, ex.nb1, 0, True),
        (P, ex.pa1, 1, True),
        (T, tc4, 2, False),
        (P, ex.pa2, 1, False),
        (T, ex.tc3, 2, False),
    ]
    check_block_list_shape(ex.tree, bl, [tc4, ex.tc3])


def test_offloaded_requested_object_is_a_referenced_block(ex):
    ex.tree.initiate_offload([ex.tc2])
    bl = ex.tree.block_list([ex.pa1, ex.tc1])
    assert rows(bl) == [(P, ex.pa1, 0, True), (T, ex.tc1, 1, False)]
    first, second = bl
    assert first.new is False and second.new is True


def test_block_list_arrays(ex):
    bl = ex.tree.block_list([ex.tc1, ex.tc3])
    assert bl.handles.dtype == np.uint64
    assert hl(bl.layers) == [0, 1, 2, 1, 2]
    assert bl.referenced.dtype == np.bool_ and not bl.referenced.any()
    assert bl.statuses is None
    assert len(bl) == 5
    assert bl.root.handle == ex.nb1
    assert ex.tc1 in bl and ex.tc2 not in bl


def test_block_list_changes_nothing(ex):
    before = snapshot(ex.tree, ex.target)
    ex.tree.block_list(ex.tree.handles())
    assert_unchanged(before, snapshot(ex.tree, ex.target))


def test_empty_block_list(ex):
    bl = ex.tree.block_list([])
    assert len(bl) == 0 and list(bl) == [] and bl.root is None


def test_block_list_accepts_every_handle_form(ex):
    expected = hl(ex.tree.block_list([ex.tc2]).handles)
    assert hl(ex.tree.block_list(ex.tc2).handles) == expected
    assert hl(ex.tree.block_list(np.uint64(ex.tc2)).handles) == expected
    assert hl(ex.tree.block_list(np.array([ex.tc2], dtype=np.uint64)).handles) == expected
    if ex.tc2 < 2**63:  # a signed array can hold it
        signed = np.array([ex.tc2], dtype=np.int64)
        assert hl(ex.tree.block_list(signed).handles) == expected
    assert hl(ex.tree.block_list((ex.tc2,)).handles) == expected
