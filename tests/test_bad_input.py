"""Every bad input raises the exact docs/SPEC.md §6 class and leaves tree and target unchanged."""

from __future__ import annotations

import numpy as np
import offload_tree as ot
import pytest
from _helpers import raises_unchanged as check


@pytest.fixture
def w(make_example):
    """The example tree with TCP1 (and so Path1, Neighbor1) offloaded."""
    ex = make_example()
    ex.tree.initiate_offload([ex.tc1])
    return ex


# --- wrong layer as parent ----------------------------------------------------------------


@pytest.mark.parametrize("parent", ["pa1", "tc1"])
def test_add_path_under_non_neighbor_is_layer_error(w, parent):
    p = getattr(w, parent)
    check(w, ot.LayerError, lambda: w.tree.add_path(p, source="10.0.0.1", destination="10.0.0.2"))


@pytest.mark.parametrize("parent", ["nb1", "tc1"])
def test_add_tcp_under_non_path_is_layer_error(w, parent):
    p = getattr(w, parent)
    check(w, ot.LayerError, lambda: w.tree.add_tcp(p, local_port=1, remote_port=2))


def test_layer_checked_before_values(w):
    check(w, ot.LayerError, lambda: w.tree.add_tcp(w.nb1, local_port=-1, remote_port=70000))


def test_layer_error_is_also_a_type_error(w):
    with pytest.raises(TypeError):
        w.tree.add_tcp(w.nb1, local_port=1, remote_port=2)


# --- invalid handles ----------------------------------------------------------------------


def test_stale_handle_as_parent(w):
    gone = w.tree.add_neighbor(mac=5)
    w.tree.remove(gone)
    check(
        w,
        ot.InvalidHandleError,
        lambda: w.tree.add_path(gone, source="10.0.0.1", destination="10.0.0.2"),
    )


def test_stale_handle_in_offload_request(w):
    w.tree.remove([w.tc3])
    check(w, ot.InvalidHandleError, lambda: w.tree.initiate_offload([w.tc2, w.tc3]))


def test_handle_from_another_tree(w, make_tree):
    other = make_tree()
    foreign_nb = other.add_neighbor(mac=1)
    foreign_pa = other.add_path(foreign_nb, source="10.0.0.1", destination="10.0.0.2")
    # same slot, layer and generation as pa1 in w.tree: only the tree id differs
    assert foreign_pa & ((1 << 48) - 1) == w.pa1 & ((1 << 48) - 1)
    check(w, ot.InvalidHandleError, lambda: w.tree.state(foreign_pa))
    check(w, ot.InvalidHandleError, lambda: w.tree.add_tcp(foreign_pa, local_port=1, remote_port=2))
    check(w, ot.InvalidHandleError, lambda: w.tree.initiate_offload([w.tc2, foreign_pa]))
    check(w, ot.InvalidHandleError, lambda: w.tree.terminate([foreign_pa]))
    assert foreign_pa not in w.tree


GARBAGE = [
    pytest.param(-1, id="negative"),
    pytest.param(2**64, id="huge"),
    pytest.param(2**70, id="huger"),
    pytest.param(1.0, id="float"),
    pytest.param("1", id="str"),
    pytest.param(True, id="bool"),
    pytest.param(None, id="none"),
    pytest.param(np.zeros((1, 1), dtype=np.uint64), id="2d-array"),
    pytest.param(np.array([1.0]), id="float-array"),
    pytest.param(np.array([-1], dtype=np.int64), id="negative-int-array"),
    pytest.param(np.array([True]), id="bool-array"),
    pytest.param(np.array(["x"]), id="str-array"),
    pytest.param([1.5], id="float-in-list"),
    pytest.param([True], id="bool-in-list"),
    pytest.param([-3], id="negative-in-list"),
    pytest.param([2**64], id="huge-in-list"),
    pytest.param(["1"], id="str-in-list"),
]

SINGLE_GARBAGE = [
    pytest.param(-1, id="negative"),
    pytest.param(2**64, id="huge"),
    pytest.param(1.0, id="float"),
    pytest.param("1", id="str"),
    pytest.param(True, id="bool"),
    pytest.param(np.True_, id="np-bool"),
    pytest.param(None, id="none"),
    pytest.param(np.float64(1), id="np-float"),
    pytest.param(np.zeros((1, 1), dtype=np.uint64), id="2d-array"),
]


@pytest.mark.parametrize("bad", GARBAGE)
@pytest.mark.parametrize(
    "op", ["initiate_offload", "terminate", "remove", "block_list", "query", "invalidate"]
)
def test_garbage_handles_in_many_handle_calls(w, bad, op):
    check(w, ot.InvalidHandleError, lambda: getattr(w.tree, op)(bad))


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        pytest.param(lambda h: [h, -1], "-1", id="negative-after-a-handle"),
        pytest.param(lambda h: [-3], "-3", id="negative"),
        pytest.param(lambda h: [h, 2**64], str(2**64), id="huge-after-a-handle"),
        pytest.param(lambda h: [2**64 - 1, -1], "-1", id="max-and-negative"),
        pytest.param(lambda h: (h, -1), "-1", id="tuple"),
        pytest.param(lambda h: np.array([h, -1], dtype=np.int64), "-1", id="int64-array"),
    ],
)
def test_an_out_of_range_handle_is_named_not_wrapped(w, bad, named):
    """An out-of-range value in a list is refused as such, on every supported NumPy: converted
    straight to uint64, NumPy 1.x wraps -1 to 2**64-1, a handle of 'another tree'."""
    with pytest.raises(ot.InvalidHandleError, match=rf"invalid handle {named}: handles are in"):
        w.tree.initiate_offload(bad(w.tc1))


@pytest.mark.parametrize("bad", SINGLE_GARBAGE)
@pytest.mark.parametrize("op", ["layer", "state", "depends_on", "dependents", "is_offloaded"])
def test_garbage_handles_in_single_handle_calls(w, bad, op):
    check(w, ot.InvalidHandleError, lambda: getattr(w.tree, op)(bad))


@pytest.mark.parametrize("bad", SINGLE_GARBAGE)
def test_garbage_handle_as_parent(w, bad):
    check(w, ot.InvalidHandleError, lambda: w.tree.add_tcp(bad, local_port=1, remote_port=2))


@pytest.mark.parametrize("bad", SINGLE_GARBAGE)
def test_garbage_handle_in_target_calls(w, bad):
    check(w, ot.InvalidHandleError, lambda: w.target.receive(bad, b"x"))
    check(w, ot.InvalidHandleError, lambda: w.target.send(bad, 1))
    check(w, ot.InvalidHandleError, lambda: w.target.inject_fault(bad, ot.Status.FAILURE))


def test_handle_with_layer_bits_three(w):
    bad = (w.nb1 >> 48 << 48) | (3 << 46)
    check(w, ot.InvalidHandleError, lambda: w.tree.state(bad))
    check(w, ot.InvalidHandleError, lambda: w.tree.initiate_offload([bad]))


def test_handle_with_wrong_generation(w):
    check(w, ot.InvalidHandleError, lambda: w.tree.state(w.tc2 + (1 << 32)))


def test_handle_of_unoccupied_slot(w):
    check(w, ot.InvalidHandleError, lambda: w.tree.state(w.tc1 + 50))


def test_handle_with_layer_bits_of_another_layer(w):
    # Neighbor slot 2 does not exist; a path slot would, but the layer bits say neighbor.
    fake = (w.pa2 & ~(3 << 46)) | (0 << 46)
    check(w, ot.InvalidHandleError, lambda: w.tree.state(fake))


def test_invalid_handle_error_is_also_key_error(w):
    with pytest.raises(KeyError):
        w.tree.state(-1)


def test_handle_validity_checked_before_layer(w):
    check(w, ot.InvalidHandleError, lambda: w.tree.relink(w.tc1, -1))


# --- values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"local_port": 65536, "remote_port": 1},
        {"local_port": -1, "remote_port": 1},
        {"local_port": 1, "remote_port": 65536},
        {"local_port": 1, "remote_port": 2, "snd_wind_scale": 15},
        {"local_port": 1, "remote_port": 2, "rcv_wind_scale": 15},
        {"local_port": 1, "remote_port": 2, "rcv_wind_scale": -1},
        {"local_port": 1, "remote_port": 2, "flow_label": 2**20},
        {"local_port": 1, "remote_port": 2, "user_priority": 8},
        {"local_port": 1, "remote_port": 2, "ttl_or_hop_limit": 256},
        {"local_port": 1, "remote_port": 2, "ka_probe_count": 256},
        {"local_port": 1, "remote_port": 2, "remote_mss": 65536},
        {"local_port": 1, "remote_port": 2, "initial_rcv_wnd": 2**32},
        {"local_port": 1, "remote_port": 2, "hash_value": -1},
        {"local_port": 1, "remote_port": 2, "state": 11},
        {"local_port": 1, "remote_port": 2, "rcv_nxt": 2**32},
        {"local_port": 1, "remote_port": 2, "dup_ack_count": 256},
        {"local_port": 1, "remote_port": 2, "no_such_field": 1},
        {"local_port": 1, "remote_port": 2, "path_mtu": 1500},
        {"local_port": "80", "remote_port": 2},
        {"local_port": 1.0, "remote_port": 2},
        {"local_port": True, "remote_port": 2},
        {"local_port": 1, "remote_port": 2, "remote_mss": True},
        {"local_port": 1, "remote_port": 2, "sack": 1},
        {"local_port": 1, "remote_port": 2, "nagle": "yes"},
        {"local_port": 1, "remote_port": 2, "state": 4.0},
    ],
    ids=lambda k: "-".join(f"{a}={b!r}" for a, b in k.items()),
)
def test_bad_tcp_field_is_validation_error(w, kwargs):
    err = check(w, ot.ValidationError, lambda: w.tree.add_tcp(w.pa2, **kwargs))
    assert isinstance(err, ValueError)


def test_validation_message_names_field_and_range(w):
    err = check(
        w, ot.ValidationError, lambda: w.tree.add_tcp(w.pa2, local_port=70000, remote_port=1)
    )
    assert "local_port" in str(err)
    assert "65535" in str(err)


@pytest.mark.parametrize("mtu", [67, 0, -1, 65536, 2**40])
def test_bad_path_mtu_is_validation_error(w, mtu):
    check(
        w,
        ot.ValidationError,
        lambda: w.tree.add_path(w.nb1, source="10.0.0.1", destination="10.0.0.2", path_mtu=mtu),
    )


@pytest.mark.parametrize("vlan", [4096, -1, 2**16])
def test_bad_vlan_is_validation_error(w, vlan):
    check(w, ot.ValidationError, lambda: w.tree.add_neighbor(mac=1, vlan_id=vlan))


@pytest.mark.parametrize(
    "mac",
    [
        "00:15:5d:01:02",
        "00:15:5d:01:02:03:04",
        "zz:15:5d:01:02:03",
        "0015.5d01.0203",
        "00:15-5d:01:02:03",
        "",
        b"\x00\x01\x02\x03\x04",
        b"\x00" * 7,
        2**48,
        -1,
        1.5,
        None,
        True,
    ],
)
def test_malformed_mac_is_validation_error(w, mac):
    check(w, ot.ValidationError, lambda: w.tree.add_neighbor(mac=mac))


def test_malformed_source_mac_is_validation_error(w):
    check(w, ot.ValidationError, lambda: w.tree.add_neighbor(mac=1, source_mac="nope"))


@pytest.mark.parametrize(
    "field", [{"host_reachability_delta": 2**32}, {"nic_reachability_delta": -1}]
)
def test_bad_neighbor_delta_is_validation_error(w, field):
    check(w, ot.ValidationError, lambda: w.tree.add_neighbor(mac=1, **field))


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.256",
        "10.0.0",
        "010.0.0.1",
        "10.0.0.1 ",
        "fe80::1%eth0",
        "fe80:::1",
        "not an ip",
        "",
        b"\x0a\x00\x00",
        b"\x00" * 5,
        -1,
        2**128,
        1.5,
        None,
    ],
)
def test_malformed_ip_is_validation_error(w, address):
    check(
        w,
        ot.ValidationError,
        lambda: w.tree.add_path(w.nb1, source=address, destination=address),
    )


@pytest.mark.parametrize(
    ("source", "destination"),
    [("10.0.0.1", "fe80::1"), ("fe80::1", "10.0.0.1"), (b"\x0a\x00\x00\x01", "::1"), (1, 2**32)],
)
def test_mixed_ipv4_ipv6_path_is_validation_error(w, source, destination):
    check(
        w,
        ot.ValidationError,
        lambda: w.tree.add_path(w.nb1, source=source, destination=destination),
    )


# --- dependencies -------------------------------------------------------------------------


def test_remove_neighbor_with_paths_without_cascade(w):
    w.tree.terminate([w.nb1])
    check(w, ot.DependencyError, lambda: w.tree.remove([w.nb1]))


def test_remove_path_with_connections_without_cascade(w):
    check(w, ot.DependencyError, lambda: w.tree.remove([w.pa2]))


def test_remove_path_with_part_of_its_connections_listed(ex_not_offloaded):
    ex = ex_not_offloaded
    check(ex, ot.DependencyError, lambda: ex.tree.remove([ex.pa1, ex.tc1]))


@pytest.fixture
def ex_not_offloaded(make_example):
    return make_example()


def test_remove_offloaded_object_is_state_error(w):
    check(w, ot.StateError, lambda: w.tree.remove([w.tc1]))


def test_remove_cascade_over_offloaded_descendant_is_state_error(w):
    check(w, ot.StateError, lambda: w.tree.remove([w.nb1], cascade=True))


def test_remove_state_error_before_dependency_error(w):
    # pa1 is offloaded (StateError) and has dependents not listed (DependencyError)
    check(w, ot.StateError, lambda: w.tree.remove([w.pa1]))


def test_remove_invalid_handle_before_anything_else(w):
    w.tree.remove([w.tc3])
    check(w, ot.InvalidHandleError, lambda: w.tree.remove([w.pa1, w.tc3]))


# --- oversized batches --------------------------------------------------------------------

HUGE = 2**27 + 1  # over the per-call batch limit (commit 618d6c8); a broadcast view is free


def test_huge_broadcast_handle_array_is_refused_without_allocating(w):
    huge = np.broadcast_to(np.uint64(w.tc2), (HUGE,))
    check(w, ot.ValidationError, lambda: w.tree.initiate_offload(huge))
    check(w, ot.ValidationError, lambda: w.tree.block_list(huge))


def test_huge_batch_add_is_refused_without_allocating(w):
    parents = np.broadcast_to(np.uint64(w.pa2), (HUGE,))
    check(w, ot.ValidationError, lambda: w.tree.add_tcps(parents, 1, 2))


# --- messages name the handle, the field and the allowed range (docs/SPEC.md §6) -----------


def _names_handle(message, h):
    return f"0x{h:016x}" in message or str(h) in message or hex(h) in message


def test_invalid_handle_message_names_the_handle(w):
    w.tree.remove(w.tc3)
    with pytest.raises(ot.InvalidHandleError) as info:
        w.tree.state(w.tc3)
    assert _names_handle(str(info.value), w.tc3)


def test_layer_error_message_names_the_handle(w):
    with pytest.raises(ot.LayerError) as info:
        w.tree.add_tcp(w.nb1, local_port=1, remote_port=2)
    assert _names_handle(str(info.value), w.nb1)


def test_state_error_message_names_the_handle(w):
    with pytest.raises(ot.StateError) as info:
        w.tree.query([w.tc2])
    assert _names_handle(str(info.value), w.tc2)


def test_dependency_error_message_names_the_handle(w):
    with pytest.raises(ot.DependencyError) as info:
        w.tree.remove([w.pa2])
    assert _names_handle(str(info.value), w.pa2) or _names_handle(str(info.value), w.tc3)


@pytest.mark.parametrize(
    ("kwargs", "field", "bound"),
    [
        ({"vlan_id": 4096}, "vlan_id", "4095"),
        ({"host_reachability_delta": 2**32}, "host_reachability_delta", str(2**32 - 1)),
    ],
)
def test_neighbor_validation_message_names_field_and_range(w, kwargs, field, bound):
    with pytest.raises(ot.ValidationError) as info:
        w.tree.add_neighbor(mac=1, **kwargs)
    assert field in str(info.value) and bound in str(info.value)


def test_path_mtu_message_names_field_and_range(w):
    with pytest.raises(ot.ValidationError) as info:
        w.tree.add_path(w.nb1, source="10.0.0.1", destination="10.0.0.2", path_mtu=67)
    assert "path_mtu" in str(info.value) and "68" in str(info.value)


class _PackedRaises:
    """An address-like object whose ``packed`` attribute raises when read."""

    @property
    def packed(self) -> bytes:
        raise ValueError("boom")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda w: w.tree.add_neighbor(mac=_PackedRaises()),
            "mac must be a MAC address (str, 6 bytes or int), got _PackedRaises",
        ),
        (
            lambda w: w.tree.add_tcp(w.pa2, 1, 2, max_rt=_PackedRaises()),
            "max_rt must be an int, got _PackedRaises",
        ),
        (
            lambda w: w.tree.add_path(w.nb1, _PackedRaises(), "10.0.0.1"),
            "source must be an IP address (str, ipaddress object, 4/16 bytes or int), "
            "got _PackedRaises",
        ),
    ],
    ids=["mac", "tcp-field", "source"],
)
def test_a_packed_attribute_that_raises_is_no_address(w, call, message):
    """Found by review: the fallback let the property's ValueError out where the native
    bindings treat a failing ``packed`` as absent; both refuse the value by its type now."""
    err = check(w, ot.ValidationError, lambda: call(w))
    assert str(err) == message


# --- the documented check order, also when the facade converts the values -----------------
# Regression (issue 11): the facade converted values before the engine saw the handles, so
# a bad value won over a bad handle, and a bad cached value over a constant name.


@pytest.fixture
def stale(w):
    """A path handle that is stale (its path was removed)."""
    pa = w.tree.add_path(w.nb1, source="10.0.0.1", destination="10.0.9.9")
    w.tree.remove(pa)
    return pa


def test_update_of_a_stale_handle_with_a_bad_value_is_invalid_handle(w, stale):
    check(w, ot.InvalidHandleError, lambda: w.tree.update(stale, path_mtu="x"))


def test_update_of_a_foreign_handle_with_a_bad_value_is_invalid_handle(w, backend):
    foreign = ot.OffloadStateTree(backend=backend).add_neighbor(mac=1)
    check(w, ot.InvalidHandleError, lambda: w.tree.update(foreign, path_mtu=1.5))


def test_batch_add_under_a_stale_parent_with_bad_ports_is_invalid_handle(w, stale):
    check(w, ot.InvalidHandleError, lambda: w.tree.add_tcps([stale], "x", 2))
    check(w, ot.InvalidHandleError, lambda: w.tree.add_paths([w.tc1 + 2**40], "x", "y"))


def test_batch_add_under_the_wrong_layer_with_bad_values_is_layer_error(w):
    check(w, ot.LayerError, lambda: w.tree.add_tcps([w.nb1], "x", 2))
    check(w, ot.LayerError, lambda: w.tree.add_paths([w.tc1], "x", "y", path_mtus="z"))


def test_a_constant_name_wins_over_a_bad_cached_value(w):
    check(w, ot.StateError, lambda: w.tree.update(w.tc1, local_port=1, nagle=5))


def test_an_unknown_name_wins_over_a_bad_cached_value(w):
    check(w, ot.ValidationError, lambda: w.tree.update(w.tc1, nagle=5, bogus=1))
    with pytest.raises(ot.ValidationError, match="bogus"):
        w.tree.update(w.tc1, nagle=5, bogus=1)


def test_a_bad_length_comes_after_the_handles_in_both_engines(w, stale):
    # The engines themselves checked lengths first (a value check) before this change.
    engine = w.tree._engine
    paths = np.array([stale], dtype=np.uint64)
    ports = np.array([1, 2], dtype=np.int64)
    with pytest.raises(ot.InvalidHandleError):
        engine.add_tcps(paths, ports, ports)


# --- every error is an OffloadTreeError -----------------------------------------------------
# Regression (issue 11): these raised a plain ValueError, numpy.ma.MaskError, or (a masked
# array) silently ignored the mask.


def test_walk_order_must_be_a_string(w):
    check(w, ot.ValidationError, lambda: w.tree.walk(order=np.array(["pre", "post"])))


def test_receiving_from_a_released_memoryview_is_a_validation_error(w):
    view = memoryview(b"abc")
    view.release()
    check(w, ot.ValidationError, lambda: w.target.receive(w.tc1, view))


@pytest.mark.parametrize("mask", [[True], [False]])
def test_masked_handle_arrays_are_refused_whatever_the_mask(w, mask):
    handles = np.ma.array([w.tc1], mask=mask, dtype=np.uint64)
    check(w, ot.InvalidHandleError, lambda: w.tree.terminate(handles))
    signed = np.ma.array([w.nb1, 5], mask=[False, True], dtype=np.int64)
    check(w, ot.InvalidHandleError, lambda: w.tree.block_list(signed))


def test_masked_value_arrays_are_refused(w):
    masked = np.ma.array([1], mask=[True])
    check(w, ot.ValidationError, lambda: w.tree.add_tcps([w.pa1], masked, 2))
    check(w, ot.ValidationError, lambda: w.tree.add_neighbors(np.ma.array([1], mask=[False])))
    check(w, ot.ValidationError, lambda: w.tree.update([w.tc1], nagle=np.ma.array([True])))
    check(
        w,
        ot.ValidationError,
        lambda: w.tree.add_paths([w.nb1], np.ma.array([1], mask=[True]), "10.0.0.2"),
    )
