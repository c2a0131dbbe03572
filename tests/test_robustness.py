"""Robustness: no panic reaches Python, and absurd input fails fast with a clear error.

- A Rust panic inside the core becomes ``InternalError`` (an ``OffloadTreeError``) and the
  engine stays usable; the fallback engine has the same test hook.
- Batches over the core's limit (``MAX_BATCH`` = 2**27 objects) are refused with
  ``ValidationError`` by both backends *before* anything is materialised: a broadcast view of
  10**9 handles, or a scalar broadcast to such a count, must not allocate gigabytes.
- Negative counts, NaN / inf in float arrays, wrong dtypes and 2-D arrays give the error class
  of docs/DESIGN.md §4; strided (non-contiguous) arrays work like contiguous ones; empty
  batches work and return empty arrays.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import assert_unchanged, check_invariants, hl, masked, raises_unchanged, snapshot

MAX_BATCH = 2**27
HUGE = 10**9
#: A call refused for its size may allocate a little (messages, small arrays), never the batch.
ALLOC_LIMIT = 50 * 2**20


@pytest.fixture
def w(make_example: Callable[..., Any]) -> Any:
    """The example tree with TCP1 (and so Path1, Neighbor1) offloaded."""
    ex = make_example()
    ex.tree.initiate_offload([ex.tc1])
    return ex


def peak_allocation(call: Callable[[], object]) -> int:
    """The peak of Python-visible allocations (NumPy's included) while ``call`` runs."""
    tracemalloc.start()
    try:
        call()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


# --- panics -------------------------------------------------------------------------------


def test_the_panic_hook_raises_internal_error_and_the_engine_stays_usable(w: Any) -> None:
    engine = w.tree._engine
    before = snapshot(w.tree, w.target)
    for attempt in range(3):  # a second panic is an InternalError too, not "poisoned"
        with pytest.raises(ot.InternalError, match=f"boom {attempt}") as info:
            engine._debug_panic(f"boom {attempt}")
        assert isinstance(info.value, ot.OffloadTreeError)
        assert "internal error" in str(info.value)
    assert_unchanged(before, snapshot(w.tree, w.target))
    # every kind of call still works afterwards, and the invariants hold
    w.target.receive(w.tc1, b"after the panic")
    assert w.target.send(w.tc1, 100) == 100
    result = w.tree.initiate_offload([w.tc2, w.tc3])
    assert result.ok
    tc4 = w.tree.add_tcp(w.pa1, local_port=1, remote_port=2)
    done = w.tree.terminate(w.nb1)
    assert done.received_data(w.tc1) == b"after the panic"
    w.tree.remove([tc4])
    check_invariants(w.tree, w.target)


def test_panics_in_many_threads_leave_the_engine_usable(w: Any) -> None:
    """A panic while other threads use the engine: no deadlock, no poisoned lock."""
    engine = w.tree._engine
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def panic_a_few_times(i: int) -> None:
        barrier.wait()
        for k in range(5):
            try:
                engine._debug_panic(f"thread {i} panic {k}")
            except ot.InternalError as exc:
                errors.append(exc)
            w.tree.stats()  # ordinary calls in between, on the same lock

    threads = [threading.Thread(target=panic_a_few_times, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 20
    assert all(type(e) is ot.InternalError for e in errors)
    assert w.tree.terminate(w.nb1).terminated.size == 3
    check_invariants(w.tree, w.target)


# --- the batch limit ----------------------------------------------------------------------


def test_the_facade_limit_is_the_cores() -> None:
    from offload_tree import _coerce

    assert _coerce.MAX_BATCH == MAX_BATCH


def huge_handles(h: int, n: int = HUGE) -> np.ndarray:
    """``n`` copies of ``h`` as a read-only broadcast view: 8 bytes of memory, not 8n."""
    return np.broadcast_to(np.uint64(h), (n,))


HUGE_CALLS: dict[str, Callable[[Any, np.ndarray], object]] = {
    "initiate_offload": lambda ex, hs: ex.tree.initiate_offload(hs),
    "terminate": lambda ex, hs: ex.tree.terminate(hs),
    "query": lambda ex, hs: ex.tree.query(hs),
    "invalidate": lambda ex, hs: ex.tree.invalidate(hs),
    "remove": lambda ex, hs: ex.tree.remove(hs, cascade=True),
    "block_list": lambda ex, hs: ex.tree.block_list(hs),
    "walk": lambda ex, hs: ex.tree.walk(roots=hs),
    "update": lambda ex, hs: ex.tree.update(hs, path_mtu=1400),
    "add_paths": lambda ex, hs: ex.tree.add_paths(hs, "10.0.0.1", "10.0.0.2"),
    "add_tcps": lambda ex, hs: ex.tree.add_tcps(hs, 1000, 443),
}
#: The handle each call's huge batch repeats: one the call would otherwise accept.
HUGE_TARGETS = {
    "initiate_offload": "tc2",
    "terminate": "tc1",
    "query": "tc1",
    "invalidate": "tc1",
    "remove": "tc3",
    "block_list": "tc2",
    "walk": "nb1",
    "update": "pa1",
    "add_paths": "nb1",
    "add_tcps": "pa1",
}


@pytest.mark.parametrize("n", [HUGE, MAX_BATCH + 1])
@pytest.mark.parametrize("op", sorted(HUGE_CALLS))
def test_a_huge_broadcast_batch_is_refused_without_allocating_it(w: Any, op: str, n: int) -> None:
    handles = huge_handles(getattr(w, HUGE_TARGETS[op]), n)

    def call() -> None:
        err = raises_unchanged(w, ot.ValidationError, lambda: HUGE_CALLS[op](w, handles))
        assert f"a batch of {n} objects is over the limit of {MAX_BATCH} per call" in str(err)

    assert peak_allocation(call) < ALLOC_LIMIT


# Native only: the fallback would list 2**27 handles (~40 s, several GB) to say so.
@pytest.mark.parametrize("backend", ["native"], indirect=True)
def test_exactly_the_limit_is_not_refused_for_its_size(w: Any, backend: str) -> None:
    """The limit itself is allowed: the call fails for another reason (its handles)."""
    from offload_tree import _coerce

    _coerce.check_batch(MAX_BATCH)  # the shared check: equal to the limit passes
    stale = w.tree.add_tcp(w.pa2, local_port=7, remote_port=7)
    w.tree.remove([stale])
    with pytest.raises(ot.InvalidHandleError):
        w.tree.query(huge_handles(stale, MAX_BATCH))


def test_a_huge_neighbor_batch_is_refused_without_allocating_it(w: Any) -> None:
    macs = np.broadcast_to(np.uint64(0x0200_0000_0001), (HUGE,))
    peak = peak_allocation(
        lambda: raises_unchanged(w, ot.ValidationError, lambda: w.tree.add_neighbors(macs))
    )
    assert peak < ALLOC_LIMIT
    strings = np.broadcast_to(np.array("00:15:5d:01:02:03"), (HUGE,))
    peak = peak_allocation(
        lambda: raises_unchanged(w, ot.ValidationError, lambda: w.tree.add_neighbors(strings))
    )
    assert peak < ALLOC_LIMIT


def test_huge_field_arrays_are_refused_before_they_are_copied(w: Any) -> None:
    """A field array far longer than the handles is a length error, found before any copy."""
    big = np.broadcast_to(np.int64(1000), (HUGE,))
    calls = [
        lambda: w.tree.add_tcps([w.pa1], big, 443),
        lambda: w.tree.add_neighbors([1], big),
        lambda: w.tree.add_paths([w.nb1], "10.0.0.1", "10.0.0.2", big),
        lambda: w.tree.add_paths([w.nb1], np.broadcast_to(np.uint64(1), (HUGE,)), "10.0.0.2"),
        lambda: w.tree.update([w.pa1], path_mtu=big),
        lambda: w.tree.update([w.tc1], nagle=np.broadcast_to(np.True_, (HUGE,))),
        lambda: w.tree.update([w.nb1], mac=np.broadcast_to(np.uint64(5), (HUGE,))),
        lambda: w.tree.add_tcps([w.pa1], range(HUGE), 443),
    ]
    for call in calls:
        err = None

        def run(call: Callable[[], object] = call) -> None:
            nonlocal err
            err = raises_unchanged(w, ot.ValidationError, call)

        assert peak_allocation(run) < ALLOC_LIMIT
        assert f"has {HUGE} values" in str(err)


@pytest.mark.parametrize(
    "handles",
    [range(HUGE), range(10**20)],
    ids=["range-1e9", "range-1e20"],
)
def test_a_huge_sized_iterable_of_handles_is_not_listed(w: Any, handles: object) -> None:
    peak = peak_allocation(
        lambda: raises_unchanged(w, ot.ValidationError, lambda: w.tree.query(handles))
    )
    assert peak < ALLOC_LIMIT


def test_engine_refuses_an_over_limit_batch_itself(w: Any) -> None:
    """The engine (no facade) refuses the limit with the same message on both backends.

    ``np.zeros`` is lazily zeroed memory: the 1 GiB array costs no resident memory unless an
    engine reads it, which it must not.
    """
    engine = w.tree._engine
    handles = np.zeros(MAX_BATCH + 1, dtype=np.uint64)
    ports = np.zeros(MAX_BATCH + 1, dtype=np.int64)
    message = f"a batch of {MAX_BATCH + 1} objects is over the limit of {MAX_BATCH} per call"
    before = snapshot(w.tree, w.target)
    for call in (
        lambda: engine.query(handles),
        lambda: engine.terminate(handles, True),
        lambda: engine.initiate_offload(handles),
        lambda: engine.remove(handles, False),
        lambda: engine.add_tcps(handles, ports, ports),
        lambda: engine.update(handles, {}),
        lambda: engine.walk(False, handles),
    ):
        with pytest.raises(ot.ValidationError) as info:
            call()
        assert str(info.value) == message
    assert_unchanged(before, snapshot(w.tree, w.target))


# --- negative counts, NaN, dtypes, dimensions -----------------------------------------------


@pytest.mark.parametrize("nbytes", [-1, np.int64(-1), -(2**63), 2**32, 2**64])
def test_send_with_a_count_out_of_range_is_a_validation_error(w: Any, nbytes: Any) -> None:
    err = raises_unchanged(w, ot.ValidationError, lambda: w.target.send(w.tc1, nbytes))
    assert "nbytes" in str(err)


@pytest.mark.parametrize("nbytes", [1.5, float("nan"), float("inf"), "10", None, True])
def test_send_with_a_count_that_is_no_int_is_a_validation_error(w: Any, nbytes: Any) -> None:
    raises_unchanged(w, ot.ValidationError, lambda: w.target.send(w.tc1, nbytes))


def test_negative_values_in_batches(w: Any) -> None:
    raises_unchanged(w, ot.InvalidHandleError, lambda: w.tree.query(np.array([w.tc1, -1])))
    raises_unchanged(w, ot.ValidationError, lambda: w.tree.add_tcps([w.pa1], np.array([-1]), 5))
    raises_unchanged(w, ot.ValidationError, lambda: w.tree.add_neighbors([1], np.array([-1])))
    raises_unchanged(w, ot.ValidationError, lambda: w.tree.add_neighbors(np.array([-1])))
    raises_unchanged(w, ot.ValidationError, lambda: w.tree.add_paths([w.nb1], np.array([-1]), 2))


HANDLE_CALLS: dict[str, Callable[[Any, Any], object]] = {
    "initiate_offload": lambda ex, hs: ex.tree.initiate_offload(hs),
    "terminate": lambda ex, hs: ex.tree.terminate(hs),
    "query": lambda ex, hs: ex.tree.query(hs),
    "remove": lambda ex, hs: ex.tree.remove(hs),
    "add_tcps": lambda ex, hs: ex.tree.add_tcps(hs, 1, 2),
    "update": lambda ex, hs: ex.tree.update(hs, path_mtu=1400),
}


@pytest.mark.parametrize("values", [[np.nan], [np.inf], [-np.inf], [1.0], [np.nan, 1.0]], ids=repr)
@pytest.mark.parametrize("op", sorted(HANDLE_CALLS))
def test_float_handle_arrays_are_invalid_handles(w: Any, op: str, values: list[float]) -> None:
    err = raises_unchanged(w, ot.InvalidHandleError, lambda: HANDLE_CALLS[op](w, np.array(values)))
    assert "float64" in str(err)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 80.0])
def test_float_field_arrays_are_validation_errors(w: Any, value: float) -> None:
    f = np.array([value])
    calls = [
        lambda: w.tree.add_tcps([w.pa1], f, 443),
        lambda: w.tree.add_tcps([w.pa1], 443, f),
        lambda: w.tree.add_neighbors([1], f),
        lambda: w.tree.add_neighbors(f),
        lambda: w.tree.add_paths([w.nb1], "10.0.0.1", "10.0.0.2", f),
        lambda: w.tree.add_paths([w.nb1], f, "10.0.0.2"),
        lambda: w.tree.update([w.pa1], path_mtu=f),
        lambda: w.tree.update([w.tc1], nagle=f),
        lambda: w.tree.update([w.nb1], mac=f),
    ]
    for call in calls:
        raises_unchanged(w, ot.ValidationError, call)


WRONG_DTYPES = {
    "object": lambda h: np.array([h], dtype=object),
    "str": lambda h: np.array([str(h)]),
    "bytes": lambda h: np.array([str(h).encode()]),
    "complex": lambda h: np.array([h], dtype=complex),
    "bool": lambda h: np.array([True]),
    "float16": lambda h: np.array([1], dtype=np.float16),
    "datetime": lambda h: np.array([1], dtype="datetime64[s]"),
    "void": lambda h: np.zeros(1, dtype="V8"),
}


@pytest.mark.parametrize("dtype", sorted(WRONG_DTYPES))
@pytest.mark.parametrize("op", sorted(HANDLE_CALLS))
def test_wrong_dtype_handle_arrays_are_invalid_handles(w: Any, op: str, dtype: str) -> None:
    handles = WRONG_DTYPES[dtype](w.tc1)
    err = raises_unchanged(w, ot.InvalidHandleError, lambda: HANDLE_CALLS[op](w, handles))
    assert "dtype" in str(err)


@pytest.mark.parametrize("dtype", sorted(WRONG_DTYPES))
def test_wrong_dtype_field_arrays_are_validation_errors(w: Any, dtype: str) -> None:
    values = WRONG_DTYPES[dtype](1000)
    raises_unchanged(w, ot.ValidationError, lambda: w.tree.add_tcps([w.pa1], values, 443))
    raises_unchanged(w, ot.ValidationError, lambda: w.tree.add_neighbors([1], values))
    raises_unchanged(w, ot.ValidationError, lambda: w.tree.update([w.pa1], path_mtu=values))


def test_two_dimensional_arrays_are_refused(w: Any) -> None:
    grid = np.array([[w.tc1, w.tc2]], dtype=np.uint64)
    for op in sorted(HANDLE_CALLS):
        err = raises_unchanged(w, ot.InvalidHandleError, lambda op=op: HANDLE_CALLS[op](w, grid))
        assert "1-D" in str(err)
    ports = np.array([[1000]])
    for call in (
        lambda: w.tree.add_tcps([w.pa1], ports, 443),
        lambda: w.tree.add_neighbors([1], ports),
        lambda: w.tree.add_neighbors(np.array([[1, 2]], dtype=np.uint64)),
        lambda: w.tree.add_paths([w.nb1], np.array([[1]], dtype=np.uint64), "10.0.0.2"),
        lambda: w.tree.update([w.pa1], path_mtu=ports),
        lambda: w.tree.update([w.nb1], mac=np.array([[5]])),
        lambda: w.tree.update([w.nb1], mac=np.array(5)),  # 0-D
    ):
        err = raises_unchanged(w, ot.ValidationError, call)
        assert "1-D" in str(err)


# --- strided arrays work ------------------------------------------------------------------


def strided_views(values: list[int], dtype: Any = np.uint64) -> list[np.ndarray]:
    """``values`` as several non-contiguous arrays: every other item, reversed twice, a
    column of a 2-D array, a byte-swapped dtype, a read-only view."""
    n = len(values)
    padded = np.zeros(2 * n, dtype=dtype)
    padded[::2] = values
    grid = np.zeros((n, 3), dtype=dtype)
    grid[:, 1] = values
    backwards = np.array(values[::-1], dtype=dtype)[::-1]
    swapped = np.array(values, dtype=np.dtype(dtype).newbyteorder(">"))
    readonly = np.array(values, dtype=dtype)
    readonly.flags.writeable = False
    views = [padded[::2], grid[:, 1], backwards, swapped, readonly]
    if n > 1:  # NumPy calls any view of one item contiguous
        assert not padded[::2].flags.c_contiguous and not grid[:, 1].flags.c_contiguous
    return views


@pytest.mark.parametrize("layout", range(5))
def test_strided_handle_arrays_give_the_same_results(
    make_example: Callable[..., Any], layout: int
) -> None:
    """Every handle-taking call accepts a strided view and does what a contiguous array does."""
    results = []
    for strided in (False, True):
        ex = make_example()

        def arr(values: list[int], strided: bool = strided) -> np.ndarray:
            if strided:
                return strided_views(values)[layout]
            return np.array(values, dtype=np.uint64)

        requested = arr([ex.tc3, ex.tc1, ex.pa2])
        blocks = [
            (int(b.layer), masked(b.handle), b.depth, b.referenced)
            for b in ex.tree.block_list(requested)
        ]
        offloaded = masked(hl(ex.tree.initiate_offload(requested).succeeded))
        queried = masked(hl(ex.tree.query(requested).handles))
        walked = masked(hl(ex.tree.walk("post", roots=arr([ex.pa2, ex.nb1]))))
        updated = ex.tree.update(arr([ex.pa1, ex.pa2]), path_mtu=1400).statuses.tolist()
        ex.tree.invalidate(arr([ex.tc3]))
        terminated = masked(hl(ex.tree.terminate(arr([ex.pa2, ex.pa1])).terminated))
        removed = masked(hl(ex.tree.remove(arr([ex.tc2, ex.tc3]))))
        check_invariants(ex.tree, ex.target)
        results.append(
            (
                blocks,
                offloaded,
                queried,
                walked,
                updated,
                terminated,
                removed,
                masked(snapshot(ex.tree, ex.target)),
            )
        )
    assert results[0] == results[1]
    # the calls did something: terminate uploads both paths, a connection and the released nb1
    assert len(results[0][0]) == 5 and len(results[0][5]) == 5


@pytest.mark.parametrize("layout", range(5))
def test_strided_batches_build_the_same_tree(
    make_pair: Callable[..., tuple[Any, Any]], layout: int
) -> None:
    """add_* and update with strided inputs build exactly what contiguous inputs build."""
    results = []
    for strided in (False, True):
        tree, target = make_pair()

        def arr(values: list[int], dtype: Any = np.int64, strided: bool = strided) -> np.ndarray:
            if strided:
                return strided_views(values, dtype)[layout]
            return np.array(values, dtype=dtype)

        nbs = tree.add_neighbors(arr([0x0200_0000_0001, 0x0200_0000_0002], np.uint64), arr([3, 4]))
        paths = tree.add_paths(
            arr(hl(nbs) * 2, np.uint64),
            arr([0x0A00_0001] * 4, np.uint64),
            arr([0x0B00_0001, 0x0B00_0002, 0x0B00_0003, 0x0B00_0004], np.uint64),
            arr([1500, 9000, 576, 1280]),
        )
        tcps = tree.add_tcps(arr(hl(paths) * 3, np.uint64), arr(list(range(12))), arr([443] * 12))
        tree.initiate_offload(arr(hl(tcps[::2]), np.uint64))
        tree.update(arr(hl(paths), np.uint64), path_mtu=arr([1400, 1401, 1402, 1403]))
        removed = tree.remove(arr(hl(tcps[1::2]), np.uint64))
        assert len(removed) == 6
        check_invariants(tree, target)
        results.append(masked(snapshot(tree, target)))
    assert results[0] == results[1]


def test_a_small_broadcast_batch_works(tree: Any) -> None:
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tcps = tree.add_tcps(huge_handles(pa, 5), np.arange(5), np.broadcast_to(np.int64(443), (5,)))
    assert len(tcps) == 5 and all(tree.depends_on(t) == pa for t in hl(tcps))
    result = tree.initiate_offload(np.broadcast_to(np.uint64(tcps[0]), (3,)))
    assert hl(result.succeeded) == [nb, pa, int(tcps[0])]  # duplicates dropped


# --- empty batches ------------------------------------------------------------------------


EMPTY_INPUTS = {
    "list": lambda: [],
    "tuple": lambda: (),
    "uint64": lambda: np.array([], dtype=np.uint64),
    "int32": lambda: np.array([], dtype=np.int32),
    "strided": lambda: np.zeros(4, dtype=np.uint64)[::2][:0],
}


@pytest.mark.parametrize("kind", sorted(EMPTY_INPUTS))
def test_empty_batches_work_and_change_nothing(w: Any, kind: str) -> None:
    empty = EMPTY_INPUTS[kind]
    tree = w.tree
    before = snapshot(tree, w.target)
    outputs = [
        tree.add_neighbors(empty()),
        tree.add_neighbors(empty(), vlan_ids=empty()),
        tree.add_paths(empty(), empty(), empty()),
        tree.add_paths(empty(), "10.0.0.1", "10.0.0.2", path_mtus=1500),
        tree.add_tcps(empty(), empty(), empty()),
        tree.add_tcps(empty(), 1000, 443),
        tree.remove(empty()),
        tree.remove(empty(), cascade=True),
        tree.walk("pre", roots=empty()),
        tree.walk("post", roots=empty()),
        tree.initiate_offload(empty()).succeeded,
        tree.initiate_offload(empty()).failed,
        tree.terminate(empty()).terminated,
        tree.query(empty()).handles,
        tree.update(empty(), path_mtu=1400).statuses,
        tree.update(empty(), path_mtu=empty()).statuses,
    ]
    for out in outputs:
        assert isinstance(out, np.ndarray) and out.shape == (0,), out
    assert all(out.dtype == np.uint64 for out in outputs[:-2])
    assert outputs[-1].dtype == np.uint8
    assert len(tree.block_list(empty())) == 0
    assert len(tree.initiate_offload(empty())) == 0
    assert tree.terminate(empty()).total_received == 0
    invalidated = tree.invalidate(empty())
    assert len(invalidated) == 0 and invalidated.ok
    assert invalidated.statuses.dtype == np.uint8
    after = snapshot(tree, w.target)
    # empty calls count nothing: the statistics are those of the snapshot queries alone
    assert_unchanged(before, after)


@pytest.mark.parametrize(
    "call",
    [
        lambda t, nb, it: t.walk("pre", roots=it),
        lambda t, nb, it: t.terminate(it),
        lambda t, nb, it: t.add_tcps(it, 1, 2),
        lambda t, nb, it: t.add_neighbors(it),
        lambda t, nb, it: t.process_events(decline=it),
        lambda t, nb, it: t.query(nb, variables=it),
    ],
    ids=["walk", "terminate", "add_tcps", "add_neighbors", "decline", "variables"],
)
def test_an_endless_iterable_is_read_only_up_to_the_batch_limit(make_tree, monkeypatch, call):
    # Regression (issue 11): iterables without a length were materialised before the limit
    # was checked: itertools.count() grew without bound.
    import itertools

    from offload_tree import _coerce

    monkeypatch.setattr(_coerce, "MAX_BATCH", 1000)
    tree = make_tree()
    nb = tree.add_neighbor(mac=1)
    consumed = itertools.count()
    endless = (nb if next(consumed) >= 0 else 0 for _ in itertools.repeat(None))
    with pytest.raises(ot.ValidationError, match="more than 1000"):
        call(tree, nb, endless)
    assert next(consumed) == 1001, "read one item past the limit, no more"


def test_a_repeated_root_is_walked_once(monkeypatch):
    # Regression (issue 11): walk("post", roots=[nb] * 2000) walked nb's subtree 2,000 times
    # (8.7 s over 10^6 connections on native), and so did a refused update of [p] * 2000.
    # Counted on the fallback, whose walk is instrumentable; native runs the same rule
    # (host/walk.rs), and the numbers are in the closing note.
    from offload_tree._fallback.host import walk

    calls = {"post": 0, "pre": 0}
    post, pre = walk.post_order, walk.pre_order

    def counting_post(*args, **kwargs):
        calls["post"] += 1
        return post(*args, **kwargs)

    def counting_pre(*args, **kwargs):
        calls["pre"] += 1
        return pre(*args, **kwargs)

    monkeypatch.setattr(walk, "post_order", counting_post)
    monkeypatch.setattr(walk, "pre_order", counting_pre)
    tree = ot.OffloadStateTree(ot.SimulatedTarget(max_path_mtu=1500), backend="python")
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tree.add_tcps([pa] * 3, [1, 2, 3], 4)
    assert len(tree.walk("post", roots=[nb] * 50)) == 5 and calls["post"] == 1
    assert len(tree.walk("pre", roots=[nb] * 50)) == 5 and calls["pre"] == 1
    tree.initiate_offload(tree.handles())
    calls["post"] = 0
    result = tree.update([pa] * 50, path_mtu=9001)
    assert result.reason(pa) is ot.Status.PATH_MTU and len(result.terminated) == 5
    assert calls["post"] <= 2, calls
