"""The host tree: building, links, sharing, traversal, handles and removal (issue 2)."""

from __future__ import annotations

import numpy as np
import offload_tree as ot
import pytest
from _helpers import MASK48, check_invariants, hl, require_backend

N, P, T = ot.Layer.NEIGHBOR, ot.Layer.PATH, ot.Layer.TCP


def slot(h):
    return h & 0xFFFFFFFF


def generation(h):
    return (h >> 32) & 0x3FFF


# --- the source page's example ------------------------------------------------------------


def test_source_example_links(ex):
    tree = ex.tree
    assert tree.layer(ex.nb1) == N
    assert tree.layer(ex.pa1) == P and tree.layer(ex.pa2) == P
    assert tree.layer(ex.tc1) == T and tree.layer(ex.tc2) == T
    assert isinstance(tree.layer(ex.nb1), ot.Layer)
    assert tree.depends_on(ex.nb1) is None
    assert tree.depends_on(ex.pa1) == ex.nb1
    assert tree.depends_on(ex.pa2) == ex.nb1
    assert tree.depends_on(ex.tc1) == ex.pa1
    assert tree.depends_on(ex.tc2) == ex.pa1
    check_invariants(tree, ex.target)


def test_connections_share_a_path_and_paths_share_a_neighbor(ex):
    tree = ex.tree
    assert hl(tree.dependents(ex.pa1)) == [ex.tc1, ex.tc2]
    assert hl(tree.dependents(ex.nb1)) == [ex.pa1, ex.pa2]
    assert hl(tree.dependents(ex.pa2)) == [ex.tc3]


def test_dependents_are_in_insertion_order(tree):
    nb = tree.add_neighbor(mac="00:00:00:00:00:01")
    pas = [tree.add_path(nb, source="10.0.0.1", destination=f"10.0.0.{i}") for i in (9, 3, 7)]
    assert hl(tree.dependents(nb)) == pas
    tcs = [tree.add_tcp(pas[1], local_port=p, remote_port=80) for p in (5, 1, 3)]
    assert hl(tree.dependents(pas[1])) == tcs


def test_dependents_returns_uint64_array_and_empty_for_connection(ex):
    deps = ex.tree.dependents(ex.nb1)
    assert isinstance(deps, np.ndarray) and deps.dtype == np.uint64
    tc_deps = ex.tree.dependents(ex.tc1)
    assert isinstance(tc_deps, np.ndarray) and len(tc_deps) == 0


def test_handles_are_python_ints(ex):
    for h in ex.all:
        assert type(h) is int


def test_handle_bits_encode_layer_slot_and_generation(ex):
    assert (ex.nb1 >> 46) & 3 == 0
    assert (ex.pa1 >> 46) & 3 == 1
    assert (ex.tc1 >> 46) & 3 == 2
    # one arena per layer, slots in creation order, generation 0
    assert [slot(h) for h in (ex.nb1, ex.pa1, ex.pa2, ex.tc1, ex.tc2, ex.tc3)] == [
        0,
        0,
        1,
        0,
        1,
        2,
    ]
    assert all(generation(h) == 0 for h in ex.all)
    assert len({h >> 48 for h in ex.all}) == 1
    assert ex.nb1 >> 48 != 0


def test_two_trees_have_different_tree_ids(make_tree):
    a, b = make_tree(), make_tree()
    ha = a.add_neighbor(mac="00:00:00:00:00:01")
    hb = b.add_neighbor(mac="00:00:00:00:00:01")
    assert ha & MASK48 == hb & MASK48
    assert ha >> 48 != hb >> 48


def test_freed_slot_is_reused_lifo_with_next_generation(tree):
    nbs = [tree.add_neighbor(mac=i + 1) for i in range(3)]
    tree.remove([nbs[0]])
    tree.remove([nbs[2]])
    again = tree.add_neighbor(mac=10)
    assert slot(again) == slot(nbs[2]) and generation(again) == 1
    assert again != nbs[2]
    again2 = tree.add_neighbor(mac=11)
    assert slot(again2) == slot(nbs[0]) and generation(again2) == 1
    fresh = tree.add_neighbor(mac=12)
    assert slot(fresh) == 3 and generation(fresh) == 0


def test_slot_is_retired_when_generation_would_overflow(tree):
    h = tree.add_neighbor(mac=1)
    assert slot(h) == 0
    for gen in range(1, 2**14):
        tree.remove([h])
        h = tree.add_neighbor(mac=1)
        assert (slot(h), generation(h)) == (0, gen)
    tree.remove([h])
    nxt = tree.add_neighbor(mac=1)
    assert slot(nxt) == 1 and generation(nxt) == 0
    tree.remove([nxt])
    again = tree.add_neighbor(mac=1)
    assert slot(again) == 1 and generation(again) == 1


# --- counting and membership --------------------------------------------------------------


def test_len_count_and_contains(ex):
    tree = ex.tree
    assert len(tree) == 6
    assert tree.count() == 6
    assert tree.count(layer=N) == 1
    assert tree.count(layer=P) == 2
    assert tree.count(layer=T) == 3
    assert tree.count(layer=1) == 2
    assert tree.count(offloaded=True) == 0
    assert tree.count(offloaded=False) == 6
    for h in ex.all:
        assert h in tree
    assert (ex.nb1 + 7) not in tree


def test_count_offloaded_after_offload(ex):
    ex.tree.initiate_offload([ex.tc1])
    tree = ex.tree
    assert tree.count(offloaded=True) == 3
    assert tree.count(layer=T, offloaded=True) == 1
    assert tree.count(layer=T, offloaded=False) == 2
    assert tree.count(layer=P, offloaded=False) == 1
    assert tree.is_offloaded(ex.tc1) and not tree.is_offloaded(ex.tc2)


def test_contains_accepts_numpy_integer(ex):
    assert np.uint64(ex.tc1) in ex.tree


def test_empty_tree(tree):
    assert len(tree) == 0
    assert tree.count() == 0
    h = tree.handles()
    assert isinstance(h, np.ndarray) and h.dtype == np.uint64 and len(h) == 0
    assert len(tree.walk("pre")) == 0 and len(tree.walk("post")) == 0
    check_invariants(tree)


# --- handles() and walk() -----------------------------------------------------------------


def test_handles_is_preorder_and_filters_by_layer(ex):
    tree = ex.tree
    h = tree.handles()
    assert isinstance(h, np.ndarray) and h.dtype == np.uint64
    assert hl(h) == [ex.nb1, ex.pa1, ex.tc1, ex.tc2, ex.pa2, ex.tc3]
    assert hl(tree.handles(N)) == [ex.nb1]
    assert hl(tree.handles(P)) == [ex.pa1, ex.pa2]
    assert hl(tree.handles(T)) == [ex.tc1, ex.tc2, ex.tc3]
    assert hl(tree.handles(layer=ot.Layer.TCP)) == [ex.tc1, ex.tc2, ex.tc3]


def test_walk_pre_order(ex):
    w = ex.tree.walk("pre")
    assert isinstance(w, np.ndarray) and w.dtype == np.uint64
    assert hl(w) == [ex.nb1, ex.pa1, ex.tc1, ex.tc2, ex.pa2, ex.tc3]
    assert hl(ex.tree.walk()) == hl(w)


def test_walk_post_order_is_dependents_first(ex):
    w = hl(ex.tree.walk("post"))
    assert w == [ex.tc1, ex.tc2, ex.pa1, ex.tc3, ex.pa2, ex.nb1]


def test_walk_covers_several_neighbors_in_creation_order(tree):
    a = tree.add_neighbor(mac=1)
    b = tree.add_neighbor(mac=2)
    pb = tree.add_path(b, source="10.0.0.1", destination="10.0.0.2")
    pa = tree.add_path(a, source="10.0.0.1", destination="10.0.0.3")
    tb = tree.add_tcp(pb, local_port=1, remote_port=2)
    assert hl(tree.walk("pre")) == [a, pa, b, pb, tb]
    assert hl(tree.walk("post")) == [pa, a, tb, pb, b]
    check_invariants(tree)


def test_walk_from_roots_pre_order_skips_emitted(ex):
    tree = ex.tree
    assert hl(tree.walk("pre", roots=[ex.pa2])) == [ex.pa2, ex.tc3]
    assert hl(tree.walk("pre", roots=[ex.pa2, ex.nb1])) == [
        ex.pa2,
        ex.tc3,
        ex.nb1,
        ex.pa1,
        ex.tc1,
        ex.tc2,
    ]
    assert hl(tree.walk("pre", roots=[ex.nb1, ex.pa1])) == [
        ex.nb1,
        ex.pa1,
        ex.tc1,
        ex.tc2,
        ex.pa2,
        ex.tc3,
    ]
    assert hl(tree.walk("pre", roots=[ex.tc3, ex.pa2])) == [ex.tc3, ex.pa2]


def test_walk_from_roots_post_order_skips_emitted(ex):
    tree = ex.tree
    assert hl(tree.walk("post", roots=[ex.pa1])) == [ex.tc1, ex.tc2, ex.pa1]
    assert hl(tree.walk("post", roots=[ex.pa1, ex.nb1])) == [
        ex.tc1,
        ex.tc2,
        ex.pa1,
        ex.tc3,
        ex.pa2,
        ex.nb1,
    ]
    assert hl(tree.walk("post", roots=np.array([ex.tc2, ex.pa1], dtype=np.uint64))) == [
        ex.tc2,
        ex.tc1,
        ex.pa1,
    ]


def test_walk_roots_accepts_single_int(ex):
    assert hl(ex.tree.walk("pre", roots=ex.pa1)) == [ex.pa1, ex.tc1, ex.tc2]


# --- state() ------------------------------------------------------------------------------


def test_state_record_matches_creation(ex):
    st = ex.tree.state(ex.pa2)
    assert st.handle == ex.pa2
    assert st.layer == P
    assert str(st.destination) == "10.0.1.7"
    assert st.offloaded is False and st.invalidated is False


# --- remove -------------------------------------------------------------------------------


def test_remove_leaf_returns_handle_and_unlinks(ex):
    tree = ex.tree
    removed = tree.remove(ex.tc1)
    assert isinstance(removed, np.ndarray) and removed.dtype == np.uint64
    assert hl(removed) == [ex.tc1]
    assert ex.tc1 not in tree
    assert hl(tree.dependents(ex.pa1)) == [ex.tc2]
    assert len(tree) == 5
    check_invariants(tree, ex.target)


def test_remove_with_dependents_without_cascade_raises(ex):
    with pytest.raises(ot.DependencyError):
        ex.tree.remove([ex.pa1])
    assert ex.pa1 in ex.tree and ex.tc1 in ex.tree


def test_remove_whole_subtree_listed_without_cascade(ex):
    removed = ex.tree.remove([ex.pa1, ex.tc1, ex.tc2], cascade=False)
    assert hl(removed) == [ex.tc1, ex.tc2, ex.pa1]
    assert len(ex.tree) == 3
    check_invariants(ex.tree, ex.target)


def test_remove_cascade_removes_descendants_in_post_order(ex):
    removed = ex.tree.remove([ex.nb1], cascade=True)
    assert hl(removed) == [ex.tc1, ex.tc2, ex.pa1, ex.tc3, ex.pa2, ex.nb1]
    assert len(ex.tree) == 0
    for h in ex.all:
        assert h not in ex.tree
    check_invariants(ex.tree, ex.target)


def test_remove_cascade_order_follows_request_order(ex):
    removed = ex.tree.remove([ex.tc3, ex.pa1], cascade=True)
    assert hl(removed) == [ex.tc3, ex.tc1, ex.tc2, ex.pa1]
    assert hl(ex.tree.walk()) == [ex.nb1, ex.pa2]


def test_remove_duplicates_are_dropped(ex):
    removed = ex.tree.remove([ex.tc1, ex.tc1])
    assert hl(removed) == [ex.tc1]


def test_remove_empty_request_is_a_noop(ex):
    removed = ex.tree.remove([])
    assert len(removed) == 0 and len(ex.tree) == 6


def test_stale_handle_after_remove_is_rejected_everywhere(ex):
    tree = ex.tree
    tree.remove([ex.tc1])
    for call in (
        lambda: tree.layer(ex.tc1),
        lambda: tree.state(ex.tc1),
        lambda: tree.depends_on(ex.tc1),
        lambda: tree.dependents(ex.tc1),
        lambda: tree.is_offloaded(ex.tc1),
        lambda: tree.remove([ex.tc1]),
        lambda: tree.initiate_offload([ex.tc1]),
        lambda: tree.block_list([ex.tc1]),
        lambda: tree.walk("pre", roots=[ex.tc1]),
    ):
        with pytest.raises(ot.InvalidHandleError):
            call()


def test_stale_handle_stays_stale_after_slot_reuse(ex):
    tree = ex.tree
    tree.remove([ex.tc3])
    new = tree.add_tcp(ex.pa2, local_port=1, remote_port=2)
    assert slot(new) == slot(ex.tc3) and new != ex.tc3
    assert ex.tc3 not in tree
    with pytest.raises(ot.InvalidHandleError):
        tree.state(ex.tc3)
    assert tree.state(new).local_port == 1


def test_layer_arguments_accept_names_and_ints(ex):
    assert ex.tree.count(layer="tcp") == 3
    assert ex.tree.count(layer="PATH") == 2
    assert hl(ex.tree.handles("neighbor")) == [ex.nb1]
    assert hl(ex.tree.handles(2)) == [ex.tc1, ex.tc2, ex.tc3]


@pytest.mark.parametrize("layer", [3, -1, "router", 1.0])
def test_bad_layer_argument_is_validation_error(ex, layer):
    with pytest.raises(ot.ValidationError):
        ex.tree.count(layer=layer)
    with pytest.raises(ot.ValidationError):
        ex.tree.handles(layer)


@pytest.mark.parametrize("cascade", [1, "yes", None])
def test_cascade_must_be_bool(ex, cascade):
    with pytest.raises(ot.ValidationError):
        ex.tree.remove([ex.tc1], cascade=cascade)
    assert ex.tc1 in ex.tree


def test_walk_bad_order_is_validation_error(ex):
    with pytest.raises(ot.ValidationError):
        ex.tree.walk("in")


# --- tree ids -----------------------------------------------------------------------------


def test_tree_id_is_in_the_top_bits(make_tree):
    tree = make_tree()
    assert 1 <= tree.tree_id <= 0xFFFF
    assert tree.add_neighbor(mac=1) >> 48 == tree.tree_id


def test_tree_ids_skip_every_live_tree_of_either_backend(backend):
    # Regression (issue 11): ids wrapped after 65,535 trees onto one still alive, and then
    # each tree accepted the other's handles.
    kept = ot.OffloadStateTree(backend=backend)
    nb = kept.add_neighbor(mac=1)
    for i in range(0x10000):
        other = ot.OffloadStateTree(backend="python" if i % 2 else backend)
        assert other.tree_id != kept.tree_id
        assert 1 <= other.tree_id <= 0xFFFF, "tree id 0 is never used"
    with pytest.raises(ot.InvalidHandleError):
        other.state(nb)
    assert kept.state(nb).mac == "00:00:00:00:00:01"


def test_trees_of_the_two_backends_never_share_an_id():
    # Regression (issue 11): each backend numbered its own trees, so the first native and the
    # first fallback tree were both tree 1 and b.remove([a_handle]) deleted b's neighbor.
    require_backend("native")
    a = ot.OffloadStateTree(backend="native")
    b = ot.OffloadStateTree(backend="python")
    assert a.tree_id != b.tree_id
    ha, hb = a.add_neighbor(mac=1), b.add_neighbor(mac=1)
    with pytest.raises(ot.InvalidHandleError):
        b.remove([ha])
    with pytest.raises(ot.InvalidHandleError):
        a.remove([hb])
    assert len(a) == 1 and len(b) == 1


def test_creating_a_tree_when_every_id_is_alive_is_a_clear_error(backend, monkeypatch):
    import gc

    from offload_tree import _tree_ids

    alive = dict.fromkeys(range(1, _tree_ids.TREE_ID_MAX + 1), 1)
    monkeypatch.setattr(_tree_ids, "_live", alive)
    target = ot.SimulatedTarget()
    with pytest.raises(ot.StateError, match="no free tree id"):
        ot.OffloadStateTree(target, backend=backend)
    assert not target.attached, "the failed tree left its target free"
    del alive[7]
    tree = ot.OffloadStateTree(target, backend=backend)
    assert tree.tree_id == 7
    # Free id 7 in the patched registry, not in the real one, which may hold another tree's 7.
    del tree, target
    gc.collect()
    assert 7 not in alive


def test_a_tree_id_comes_back_when_its_engine_is_gone(backend):
    import gc

    from offload_tree import _tree_ids

    gc.collect()
    before = _tree_ids.live_count()
    target = ot.SimulatedTarget()
    tree = ot.OffloadStateTree(target, backend=backend)
    assert _tree_ids.live_count() == before + 1
    del tree
    gc.collect()
    # The target is detached with its tree: it drops the engine, and the id comes back.
    assert _tree_ids.live_count() == before
    assert not target.attached


def test_handles_at_or_above_2_pow_63_work_everywhere(backend):
    # tree ids >= 0x8000 put bit 63 in every handle: no signed conversion may break them
    tree = ot.OffloadStateTree(backend=backend)
    while tree.tree_id < 0x8000:
        tree = ot.OffloadStateTree(backend=backend)
    nb = tree.add_neighbor(mac=1)
    assert nb >= 2**63
    (pa,) = hl(tree.add_paths([nb], ["10.0.0.1"], ["10.0.0.2"]))
    tcs = tree.add_tcps(np.array([pa, pa], dtype=np.uint64), [1, 2], 3)
    assert tcs.dtype == np.uint64 and all(int(h) >= 2**63 for h in tcs)
    r = tree.initiate_offload(tcs)
    assert r.ok and hl(r.succeeded) == [nb, pa, *hl(tcs)]
    assert tree.is_offloaded(np.uint64(pa))
    assert tree.query(tcs[0]).delegated(int(tcs[0]))["rcv_nxt"] == 0
    tree.target.receive(int(tcs[1]), b"x")
    assert hl(tree.walk("post", roots=[pa])) == [*hl(tcs), pa]
    t = tree.terminate([nb])
    assert hl(t.terminated) == [*hl(tcs), pa, nb]
    assert t.received_data(int(tcs[1])) == b"x"
    assert hl(tree.remove(np.array([nb], dtype=np.uint64), cascade=True)) == [*hl(tcs), pa, nb]
    assert len(tree) == 0 and nb not in tree


@pytest.mark.parametrize("target", [5, "target", object()])
def test_a_tree_needs_a_simulated_target(backend, target):
    # Regression (issue 11): a plain TypeError, not an OffloadTreeError.
    with pytest.raises(ot.ValidationError, match="SimulatedTarget") as info:
        ot.OffloadStateTree(target, backend=backend)
    assert isinstance(info.value, ot.OffloadTreeError)
