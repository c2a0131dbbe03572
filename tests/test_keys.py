"""One path per (source, destination), one connection per 4-tuple, and lookups by key.

Regression (issue 11): both engines accepted a second path for an address pair and a second
connection for a 4-tuple, so a host held two objects for one key. Adding one now raises
``DuplicateKeyError`` (a ``ValidationError``) and changes nothing; ``find_path`` /
``find_tcp`` and their batch forms look objects up by key.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import assert_unchanged, check_invariants, hl, raises_unchanged, snapshot

# --- duplicates are refused ---------------------------------------------------------------


def test_a_second_path_for_an_address_pair_is_refused(ex: Any) -> None:
    err = raises_unchanged(
        ex, ot.DuplicateKeyError, lambda: ex.tree.add_path(ex.nb1, "10.0.0.1", "10.0.0.9")
    )
    assert f"path {ex.pa1:#018x} already goes from this source to this destination" in str(err)
    assert isinstance(err, ot.ValidationError) and isinstance(err, ValueError)


def test_the_same_pair_under_another_neighbor_is_still_a_duplicate(ex: Any) -> None:
    nb2 = ex.tree.add_neighbor(mac=2)
    raises_unchanged(
        ex, ot.DuplicateKeyError, lambda: ex.tree.add_path(nb2, "10.0.0.1", "10.0.0.9")
    )


def test_address_forms_name_the_same_key(ex: Any) -> None:
    for source, destination in [
        (ipaddress.ip_address("10.0.0.1"), "10.0.0.9"),
        (0x0A00_0001, 0x0A00_0009),
        (b"\x0a\x00\x00\x01", ipaddress.ip_address("10.0.0.9").packed),
    ]:
        raises_unchanged(
            ex, ot.DuplicateKeyError, lambda s=source, d=destination: ex.tree.add_path(ex.nb1, s, d)
        )


def test_reversed_pairs_and_other_families_are_other_keys(ex: Any) -> None:
    back = ex.tree.add_path(ex.nb1, "10.0.0.9", "10.0.0.1")
    v6 = ex.tree.add_path(ex.nb1, "::a00:1", "::a00:9")
    assert ex.tree.find_path("10.0.0.9", "10.0.0.1") == back
    assert ex.tree.find_path("::a00:1", "::a00:9") == v6
    assert ex.tree.find_path("10.0.0.1", "10.0.0.9") == ex.pa1


def test_a_second_connection_for_a_4_tuple_is_refused(ex: Any) -> None:
    err = raises_unchanged(
        ex, ot.DuplicateKeyError, lambda: ex.tree.add_tcp(ex.pa1, local_port=49152, remote_port=443)
    )
    assert str(err) == (
        f"connection {ex.tc1:#018x} already has this 4-tuple: path {ex.pa1:#018x}, "
        "local port 49152, remote port 443"
    )
    # The same ports on another path are another 4-tuple.
    other = ex.tree.add_tcp(ex.pa2, local_port=49152, remote_port=443)
    assert ex.tree.find_tcp("10.0.1.7", "10.0.0.1", 49152, 443) is None, "direction matters"
    assert ex.tree.find_tcp("10.0.0.1", "10.0.1.7", 49152, 443) == other


def test_a_batch_with_a_key_already_in_the_tree_adds_nothing(ex: Any) -> None:
    err = raises_unchanged(
        ex,
        ot.DuplicateKeyError,
        lambda: ex.tree.add_tcps([ex.pa1, ex.pa1, ex.pa1], [1, 2, 49153], 443),
    )
    assert str(err).endswith("local port 49153, remote port 443 (item 2)")
    assert str(err).startswith(f"connection {ex.tc2:#018x} already has this 4-tuple")
    raises_unchanged(
        ex,
        ot.DuplicateKeyError,
        lambda: ex.tree.add_paths([ex.nb1, ex.nb1], ["10.9.9.9", "10.0.0.1"], "10.0.1.7"),
    )


def test_a_batch_that_repeats_a_key_names_both_items(ex: Any) -> None:
    err = raises_unchanged(
        ex, ot.DuplicateKeyError, lambda: ex.tree.add_tcps([ex.pa2] * 4, [7, 8, 9, 8], 80)
    )
    assert str(err) == (
        f"the same 4-tuple as item 1 of this batch: path {ex.pa2:#018x}, "
        "local port 8, remote port 80 (item 3)"
    )
    err = raises_unchanged(
        ex,
        ot.DuplicateKeyError,
        lambda: ex.tree.add_paths([ex.nb1] * 3, "10.1.1.1", ["10.2.2.2", "10.3.3.3", "10.2.2.2"]),
    )
    assert "the same source and destination as item 0 of this batch" in str(err)
    assert str(err).endswith("(item 2)")


def test_the_lowest_offending_item_wins(ex: Any) -> None:
    # Item 1 repeats item 0; item 3 is already in the tree: item 1 is reported.
    err = raises_unchanged(
        ex,
        ot.DuplicateKeyError,
        lambda: ex.tree.add_tcps([ex.pa1] * 4, [5, 5, 6, 49152], 443),
    )
    assert "as item 0 of this batch" in str(err) and str(err).endswith("(item 1)")
    # Item 0 is already in the tree and item 2 repeats item 1: item 0 is reported.
    err = raises_unchanged(
        ex,
        ot.DuplicateKeyError,
        lambda: ex.tree.add_tcps([ex.pa1] * 3, [49152, 6, 6], 443),
    )
    assert "already has this 4-tuple" in str(err) and str(err).endswith("(item 0)")


def test_value_errors_come_before_duplicates(ex: Any) -> None:
    # A bad port later in the batch wins over an earlier duplicate: values first, then keys.
    err = raises_unchanged(
        ex, ot.ValidationError, lambda: ex.tree.add_tcps([ex.pa1] * 2, [49152, 70_000], 443)
    )
    assert not isinstance(err, ot.DuplicateKeyError)


def test_a_removed_object_frees_its_key(ex: Any) -> None:
    ex.tree.remove([ex.tc1])
    assert ex.tree.find_tcp("10.0.0.1", "10.0.0.9", 49152, 443) is None
    again = ex.tree.add_tcp(ex.pa1, local_port=49152, remote_port=443)
    assert ex.tree.find_tcp("10.0.0.1", "10.0.0.9", 49152, 443) == again
    ex.tree.remove([ex.pa2], cascade=True)
    assert ex.tree.find_path("10.0.0.1", "10.0.1.7") is None
    assert ex.tree.find_tcp("10.0.0.1", "10.0.1.7", 49154, 80) is None
    pa = ex.tree.add_path(ex.nb1, "10.0.0.1", "10.0.1.7")
    assert ex.tree.find_tcp("10.0.0.1", "10.0.1.7", 49154, 80) is None, "not the old tc3"
    tc = ex.tree.add_tcp(pa, local_port=49154, remote_port=80)
    assert ex.tree.find_tcp("10.0.0.1", "10.0.1.7", 49154, 80) == tc
    check_invariants(ex.tree, ex.target)


def test_relink_keeps_every_key(ex: Any) -> None:
    nb2 = ex.tree.add_neighbor(mac=2)
    ex.tree.relink(ex.pa1, nb2)
    assert ex.tree.find_path("10.0.0.1", "10.0.0.9") == ex.pa1
    assert ex.tree.find_tcp("10.0.0.1", "10.0.0.9", 49153, 443) == ex.tc2
    check_invariants(ex.tree, ex.target)


def test_offload_and_terminate_keep_every_key(off: Any) -> None:
    off.tree.terminate([off.nb1])
    assert off.tree.find_tcp("10.0.0.1", "10.0.1.7", 49154, 80) == off.tc3
    check_invariants(off.tree, off.target)


# --- lookups --------------------------------------------------------------------------------


def test_find_path_and_find_tcp_read_any_address_form(ex: Any) -> None:
    assert ex.tree.find_path(ipaddress.ip_address("10.0.0.1"), 0x0A00_0009) == ex.pa1
    assert ex.tree.find_path("10.0.0.1", "10.0.0.8") is None
    assert ex.tree.find_path("::1", "10.0.0.9") is None, "mixed families match nothing"
    assert ex.tree.find_tcp("10.0.0.1", "10.0.0.9", np.int64(49153), 443) == ex.tc2
    assert ex.tree.find_tcp("10.0.0.1", "10.0.0.9", 49153, 444) is None


def test_lookups_validate_their_input(ex: Any) -> None:
    with pytest.raises(ot.ValidationError, match="malformed IP address"):
        ex.tree.find_path("10.0.0", "10.0.0.9")
    with pytest.raises(ot.ValidationError, match="local_port=70000 is out of range"):
        ex.tree.find_tcp("10.0.0.1", "10.0.0.9", 70_000, 443)
    with pytest.raises(ot.ValidationError, match="remote_port must be an int"):
        ex.tree.find_tcp("10.0.0.1", "10.0.0.9", 1, "443")
    with pytest.raises(ot.ValidationError, match=r"remote_port=-1 is out of range .*\(item 1\)"):
        ex.tree.find_tcps("10.0.0.1", "10.0.0.9", [1, 2], [443, -1])
    with pytest.raises(ot.ValidationError, match="destinations has 3 values"):
        ex.tree.find_paths(["10.0.0.1"] * 2, ["10.0.0.9"] * 3)
    with pytest.raises(ot.ValidationError, match="needs at least one sequence"):
        ex.tree.find_paths("10.0.0.1", "10.0.0.9")


def test_batch_lookups_answer_zero_for_no_match(ex: Any) -> None:
    paths = ex.tree.find_paths(
        ["10.0.0.1", "10.0.0.1", "10.0.0.2"], ["10.0.0.9", "10.0.1.7", "10.0.0.9"]
    )
    assert paths.dtype == np.uint64
    assert hl(paths) == [ex.pa1, ex.pa2, 0]
    tcps = ex.tree.find_tcps("10.0.0.1", "10.0.0.9", np.array([49153, 49152, 1]), 443)
    assert hl(tcps) == [ex.tc2, ex.tc1, 0]
    ints = ex.tree.find_tcps(
        np.array([0x0A00_0001] * 2, dtype=np.uint64),
        [0x0A00_0009, 0x0A00_0107],
        [49152, 49154],
        [443, 80],
    )
    assert hl(ints) == [ex.tc1, ex.tc3]
    assert hl(ex.tree.find_tcps(iter(["10.0.0.1"]), "10.0.0.9", 49152, 443)) == [ex.tc1]
    assert len(ex.tree.find_paths([], [])) == 0


def test_a_batch_lookup_over_many_connections(tree: Any) -> None:
    nb = tree.add_neighbor(mac=1)
    paths = tree.add_paths([nb] * 4, "10.0.0.1", np.arange(4, dtype=np.uint64) + 0x0A01_0000)
    n = 4_000
    tcps = tree.add_tcps(paths[np.arange(n) % 4], np.arange(n) // 4, 443)
    dsts = np.arange(n, dtype=np.uint64) % 4 + 0x0A01_0000
    found = tree.find_tcps(np.full(n, 0x0A00_0001, dtype=np.uint64), dsts, np.arange(n) // 4, 443)
    assert np.array_equal(found, tcps)


def test_a_big_batch_names_its_first_duplicate_exactly(make_pair: Any) -> None:
    """Natively a batch of 4096 or more stores every connection, then claims the keys in the
    table's order; a conflict unwinds it and the error still names the first offender."""
    tree, target = make_pair()
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, "10.0.0.1", "10.0.0.2")
    held = tree.add_tcp(pa, local_port=60_000, remote_port=443)
    before = snapshot(tree, target)
    n = 5_000
    ports = np.arange(n)
    ports[4_321] = 17  # repeats item 17
    ports[4_999] = 60_000  # the connection the tree holds
    with pytest.raises(ot.DuplicateKeyError) as info:
        tree.add_tcps([pa] * n, ports, 443)
    assert str(info.value).startswith("the same 4-tuple as item 17 of this batch")
    assert str(info.value).endswith("(item 4321)")
    assert_unchanged(before, snapshot(tree, target))
    ports[4_321] = 4_321
    with pytest.raises(ot.DuplicateKeyError) as info:
        tree.add_tcps([pa] * n, ports, 443)
    assert str(info.value).startswith(f"connection {held:#018x} already has this 4-tuple")
    assert_unchanged(before, snapshot(tree, target))
    ports[4_999] = 4_999
    added = tree.add_tcps([pa] * n, ports, 443)
    assert hl(tree.find_tcps("10.0.0.1", "10.0.0.2", ports, 443)) == hl(added)
    check_invariants(tree, target)
