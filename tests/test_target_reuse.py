"""A target lives as long as its tree: weak references, detachment, and a second tree.

A ``SimulatedTarget`` holds its tree weakly. Once the tree is garbage-collected the target is
detached: what it held for that tree is gone, its calls say why they cannot act, and a new
tree may be built on it, which finds it empty and configured as it was last.
"""

from __future__ import annotations

import copy
import gc
import threading
import weakref
from types import SimpleNamespace
from typing import Any

import offload_tree as ot
import pytest
from _helpers import build_example


def _busy_target(backend: str, **config: Any) -> tuple[Any, Any, SimpleNamespace]:
    """A tree on a target holding state of every kind: offloaded objects, bytes received
    and posted, a pending event and an armed fault. Returns (tree, target, handles): the
    handles apart, as an ``Example`` would keep the tree alive."""
    target = ot.SimulatedTarget(**config)
    tree = ot.OffloadStateTree(target, backend=backend)
    ex = build_example(tree, target)
    handles = SimpleNamespace(tc1=ex.tc1, tc2=ex.tc2)
    assert tree.initiate_offload([ex.tc1, ex.tc2]).ok
    target.receive(ex.tc1, b"kept by the target")
    tree.send(ex.tc2, b"in flight")
    target.request_upload(ex.tc2, ot.UploadReason.UPLOAD_REQUESTED)
    target.inject_fault(ex.tc1, ot.Status.FAILURE, "terminate")
    return tree, target, handles


def test_a_target_can_be_weakly_referenced(backend: str) -> None:
    target = ot.SimulatedTarget()
    before = weakref.ref(target)
    tree = ot.OffloadStateTree(target, backend=backend)
    assert before() is target and weakref.ref(tree.target)() is target
    del tree, target
    gc.collect()
    assert before() is None, "a weak reference does not keep the target alive"


def test_a_live_tree_keeps_its_target_to_itself(backend: str) -> None:
    tree, target, _ = _busy_target(backend)
    with pytest.raises(ot.StateError, match="serves one tree at a time"):
        ot.OffloadStateTree(target, backend=backend)
    assert target.attached and tree.target is target
    assert target.stats()["offloaded"]["tcp"] == 2, "the refused tree changed nothing"


def test_a_target_whose_tree_is_gone_is_detached_and_says_why(backend: str) -> None:
    tree, target, ex = _busy_target(backend)
    del tree
    gc.collect()
    assert not target.attached
    assert "(not attached)" in repr(target)
    calls = [
        lambda: target.receive(ex.tc1, b"x"),
        lambda: target.stats(),
        lambda: target.internal_tree(),
        lambda: target.offload_stats(4),
        lambda: target.pause(),
    ]
    for call in calls:
        with pytest.raises(ot.StateError, match="the tree built on it is gone") as info:
            call()
        assert "OffloadStateTree(target)" in str(info.value), "the message says what to do"


def test_a_detached_target_takes_a_new_tree_and_starts_empty(backend: str) -> None:
    tree, target, old = _busy_target(backend, tcp_capacity=2)
    del tree
    gc.collect()
    fresh = ot.OffloadStateTree(target, backend=backend)
    assert target.attached and fresh.target is target
    stats = target.stats()
    assert stats["offloaded"] == {"neighbor": 0, "path": 0, "tcp": 0}
    assert target.internal_tree() == {}
    assert fresh.process_events() == [], "the old tree's pending event went with it"
    with pytest.raises(ot.InvalidHandleError):
        target.receive(old.tc1, b"x")  # the old tree's handles are foreign to the new one
    # The configuration carries over: two connections fit, the third does not.
    ex = build_example(fresh, target)
    assert ex.tc3 is not None
    result = fresh.initiate_offload([ex.tc1, ex.tc2, ex.tc3])
    assert result.status(ex.tc3) == ot.Status.TCP_ENTRIES
    # No fault is armed any more: a terminate of tc1 succeeds.
    done = fresh.terminate(ex.tc1)
    assert done.status(ex.tc1) == ot.Status.SUCCESS and done.received_data(ex.tc1) == b""


def test_a_new_tree_has_the_capabilities_of_the_last_resume(backend: str) -> None:
    target = ot.SimulatedTarget(tcp_capacity=1)
    tree = ot.OffloadStateTree(target, backend=backend)
    target.pause()
    target.resume(tcp_capacity=3)
    del tree
    gc.collect()
    fresh = ot.OffloadStateTree(target, backend=backend)
    assert target.tcp_capacity == 3
    ex = build_example(fresh, target)
    assert ex.tc3 is not None
    assert fresh.initiate_offload([ex.tc1, ex.tc2, ex.tc3]).ok


def test_a_detached_target_lets_go_of_the_engine_and_its_tree_id(backend: str) -> None:
    from offload_tree import _tree_ids

    gc.collect()
    live = _tree_ids.live_count()
    tree, target, _ = _busy_target(backend)
    engine = weakref.ref(tree._engine)
    assert _tree_ids.live_count() == live + 1
    del tree
    gc.collect()
    assert engine() is None, "the target dropped the collected tree's engine"
    assert _tree_ids.live_count() == live
    ot.OffloadStateTree(target, backend=backend)  # dropped at once: detached again
    gc.collect()
    assert _tree_ids.live_count() == live and not target.attached


def test_a_copy_of_the_tree_keeps_its_own_target_attached(backend: str) -> None:
    tree, target, ex = _busy_target(backend)
    twin = copy.deepcopy(tree)
    del tree
    gc.collect()
    assert not target.attached
    assert twin.target.attached and twin.target.stats()["offloaded"]["tcp"] == 2
    assert twin.terminate(ex.tc2).status(ex.tc2) == ot.Status.SUCCESS


def test_one_of_many_threads_builds_the_tree_on_a_detached_target(backend: str) -> None:
    target = ot.SimulatedTarget()
    ot.OffloadStateTree(target, backend=backend)
    gc.collect()
    assert not target.attached
    built: list[Any] = []
    refused: list[BaseException] = []
    start = threading.Barrier(8)

    def build() -> None:
        start.wait()
        try:
            built.append(ot.OffloadStateTree(target, backend=backend))
        except ot.StateError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=build) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and len(refused) == 7
    assert built[0].target is target and target.attached
