"""A call happens or it does not: interrupts and allocation failures (issue 11).

Regressions: the native engine aborted the process when an allocation failed (under a 2 GiB
address-space limit, ``add_tcps(np.broadcast_to(p, 20_000_000), 1, 2)`` died with SIGABRT);
the fallback left ``terminate`` and ``initiate_offload`` half done on Ctrl-C and kept the
connections of an ``add_tcps`` that a ``MemoryError`` stopped part-way. Now both engines
poll for an interrupt at the same points (each handle resolved, each item checked, each
object added), stop there with the tree unchanged, and otherwise finish the call; running
out of memory is ``OutOfMemoryError`` with the tree unchanged.

The tests' hooks: ``_engine.set_interrupt_after(k)`` makes poll ``k`` report an interrupt,
``_engine.set_allocation_budget(b)`` makes the engine run out of memory once ``b`` is spent
(bytes reserved natively, objects created in the fallback).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import assert_unchanged, check_invariants, hl, snapshot

N = 6  # items per batch: small, since every poll of every call is tried


def _world(make_pair: Callable[..., tuple[Any, Any]]) -> tuple[Any, Any, dict[str, list[int]]]:
    """Two neighbors, four paths, eight connections; the first neighbor's subtree offloaded."""
    tree, target = make_pair()
    nbs = hl(tree.add_neighbors([1, 2]))
    paths = hl(tree.add_paths([nbs[0], nbs[0], nbs[1], nbs[1]], "10.0.0.1", [9, 10, 11, 12]))
    tcps = hl(tree.add_tcps(np.repeat(paths, 2), [1, 2] * 4, 443))
    assert tree.initiate_offload([tcps[0], tcps[1], tcps[2], tcps[3]]).ok
    return tree, target, {"nbs": nbs, "paths": paths, "tcps": tcps}


#: name -> (call, polls it makes: the same on both engines)
OPS: dict[str, tuple[Callable[[Any, dict[str, list[int]]], object], int]] = {
    "add_neighbors": (lambda t, w: t.add_neighbors(np.arange(N) + 100), 2 * N),
    "add_paths": (
        lambda t, w: t.add_paths([w["nbs"][1]] * N, "10.0.0.2", np.arange(N) + 100),
        3 * N,
    ),
    "add_tcps": (lambda t, w: t.add_tcps([w["paths"][3]] * N, np.arange(N) + 100, 80), 3 * N),
    "find_paths": (lambda t, w: t.find_paths("10.0.0.1", np.arange(N) + 7), N),
    "find_tcps": (lambda t, w: t.find_tcps("10.0.0.1", 9, np.arange(N), 443), N),
    "initiate_offload": (lambda t, w: t.initiate_offload(w["tcps"][4:]), 4),
    "terminate": (lambda t, w: t.terminate(w["tcps"][:4]), 4),
    "remove": (lambda t, w: t.remove(w["tcps"][4:]), 4),
    "walk": (lambda t, w: t.walk("post", roots=w["paths"]), 4),
    "query": (lambda t, w: t.query(w["tcps"][:3]), 3),
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_an_interrupt_at_any_poll_changes_nothing(
    make_pair: Callable[..., tuple[Any, Any]], op: str
) -> None:
    call, polls = OPS[op]
    for k in range(polls + 1):
        tree, target, world = _world(make_pair)
        before = snapshot(tree, target)
        tree._engine.set_interrupt_after(k)
        try:
            call(tree, world)
        except KeyboardInterrupt as interrupt:
            tree._engine.set_interrupt_after(None)
            assert k < polls, f"poll {k} of {polls} interrupted"
            assert str(interrupt) == "interrupted: the call changed nothing"
            assert_unchanged(before, snapshot(tree, target))
            check_invariants(tree, target)
            continue
        tree._engine.set_interrupt_after(None)
        assert k == polls, f"{op} made {k} polls, expected {polls}"
        check_invariants(tree, target)


def test_an_interrupted_add_can_be_repeated(make_pair: Callable[..., tuple[Any, Any]]) -> None:
    """Unwinding restores the free slots exactly: the repeat gets the handles it would have."""
    tree, _, world = _world(make_pair)
    tree.remove(world["tcps"][6:])  # two free slots, reused last-in first-out
    twin, _, twin_world = _world(make_pair)
    twin.remove(twin_world["tcps"][6:])
    tree._engine.set_interrupt_after(2 * N + 3)  # in the middle of the inserts
    with pytest.raises(KeyboardInterrupt):
        tree.add_tcps([world["paths"][3]] * N, np.arange(N) + 100, 80)
    tree._engine.set_interrupt_after(None)
    again = hl(tree.add_tcps([world["paths"][3]] * N, np.arange(N) + 100, 80))
    fresh = hl(twin.add_tcps([twin_world["paths"][3]] * N, np.arange(N) + 100, 80))
    assert [h & (2**48 - 1) for h in again] == [h & (2**48 - 1) for h in fresh]


# --- running out of memory ----------------------------------------------------------------


def _budgets(backend: str) -> list[int]:
    """Budgets from nothing to plenty: bytes natively, objects created in the fallback."""
    if backend == "native":
        return [0, 1, 8, 64, 256, 512, 1024, 2048, 4096, 8192, 1 << 16, 1 << 20]
    return list(range(N + 2))


def _under_budgets(make_pair: Callable[..., tuple[Any, Any]], backend: str, op: str) -> list[str]:
    """Run ``op`` on a fresh world under each budget: "done", or "out of memory" with the
    world unchanged (checked here). The outcomes, budget by budget."""
    call, _ = OPS[op]
    outcomes = []
    for budget in _budgets(backend):
        tree, target, world = _world(make_pair)
        before = snapshot(tree, target)
        tree._engine.set_allocation_budget(budget)
        try:
            call(tree, world)
            outcomes.append("done")
        except ot.OutOfMemoryError as error:
            assert isinstance(error, MemoryError)
            assert str(error) == "out of memory: the call changed nothing"
            tree._engine.set_allocation_budget(None)
            assert_unchanged(before, snapshot(tree, target))
            outcomes.append("out of memory")
        tree._engine.set_allocation_budget(None)
        check_invariants(tree, target)
    return outcomes


@pytest.mark.parametrize("op", ["add_neighbors", "add_paths", "add_tcps"])
def test_running_out_of_memory_anywhere_in_an_add_changes_nothing(
    make_pair: Callable[..., tuple[Any, Any]], backend: str, op: str
) -> None:
    outcomes = _under_budgets(make_pair, backend, op)
    assert outcomes[0] == "out of memory" and outcomes[-1] == "done", outcomes


@pytest.mark.parametrize("backend", ["native"], indirect=True)
@pytest.mark.parametrize(
    "op", ["initiate_offload", "terminate", "remove", "walk", "query", "find_paths"]
)
def test_native_reservations_of_every_operation_fail_cleanly(
    make_pair: Callable[..., tuple[Any, Any]], backend: str, op: str
) -> None:
    """The native engine reserves every buffer that grows with the input through its
    budget; the fallback's only charged allocations are the objects an add creates."""
    outcomes = _under_budgets(make_pair, backend, op)
    assert "out of memory" in outcomes and outcomes[-1] == "done", outcomes


def test_a_real_allocation_failure_is_an_error_not_an_abort(backend: str) -> None:
    """The issue's example: 20 million connections under a 2 GiB address-space limit."""
    script = textwrap.dedent(
        """
        import resource, numpy as np, offload_tree as ot
        tree = ot.OffloadStateTree(backend="native")
        nb = tree.add_neighbor(mac=1)
        pa = tree.add_path(nb, "10.0.0.1", "10.0.0.2")
        tree.add_tcps([pa] * 3, [1, 2, 3], 443)
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        try:
            tree.add_tcps(np.broadcast_to(np.uint64(pa), 20_000_000), 1, 2)
        except ot.OutOfMemoryError as error:
            print("raised", error)
        print("len", len(tree))
        print("added", len(tree.add_tcps([pa] * 2, [4, 5], 443)))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "raised out of memory: the call changed nothing",
        "len 5",
        "added 2",
    ]


@pytest.mark.parametrize("backend", ["python"], indirect=True)
def test_the_fallback_rolls_back_a_memory_error_part_way(
    make_pair: Callable[..., tuple[Any, Any]], backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain MemoryError raised by Python itself in the middle of the inserts."""
    from offload_tree._fallback.host import tree as host_tree

    tree, target, world = _world(make_pair)
    before = snapshot(tree, target)
    real = host_tree.Node.__init__
    made = []

    def failing(self: Any, *args: Any) -> None:
        if len(made) == 3:
            raise MemoryError
        made.append(1)
        real(self, *args)

    monkeypatch.setattr(host_tree.Node, "__init__", failing)
    with pytest.raises(MemoryError):
        tree.add_tcps([world["paths"][3]] * N, np.arange(N) + 100, 80)
    monkeypatch.undo()
    assert_unchanged(before, snapshot(tree, target))
    check_invariants(tree, target)


# --- Ctrl-C ---------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_a_big_batch_leaves_it_undone_or_done(backend: str) -> None:
    """A real SIGINT part-way through a long add: ``KeyboardInterrupt``, and the tree holds
    either none of the batch or all of it (which one depends on when the signal lands)."""
    n = 2_000_000 if backend == "native" else 100_000
    tree = ot.OffloadStateTree(backend=backend)
    nb = tree.add_neighbor(mac=1)
    paths = tree.add_paths([nb] * 100, "10.0.0.1", np.arange(100, dtype=np.uint64) + 2)
    before = len(tree)
    timer = threading.Timer(0.02, os.kill, (os.getpid(), signal.SIGINT))
    interrupted = False
    try:
        timer.start()
        tree.add_tcps(paths[np.arange(n) % 100], np.arange(n) // 100, 443)
        timer.join()
        time.sleep(0.5)  # a signal that came after the call lands here
    except KeyboardInterrupt:
        interrupted = True
    timer.join()
    assert interrupted
    assert len(tree) in (before, before + n)
    assert tree.count(ot.Layer.TCP) == len(tree) - before


# --- Ctrl-C in the middle of the fallback's Python steps -----------------------------------


def _sigint_after(calls: int) -> Callable[[], None]:
    """Land a real SIGINT after ``calls`` Python function calls (a profile hook): in the
    middle of whatever the fallback engine is doing then. Returns the hook's remover, which
    checks the signal was sent."""
    seen = [0]

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            seen[0] += 1
            if seen[0] == calls:
                signal.raise_signal(signal.SIGINT)

    def remove() -> None:
        sys.setprofile(None)
        assert seen[0] >= calls, f"the call ended after {seen[0]} Python calls"

    sys.setprofile(hook)
    return remove


def _offloaded_world(backend: str, n: int) -> tuple[Any, Any, Any, list[int]]:
    target = ot.SimulatedTarget()
    tree = ot.OffloadStateTree(target, backend=backend)
    nbs = tree.add_neighbors(np.arange(4) + 1)
    paths = tree.add_paths(np.repeat(nbs, 5), "10.0.0.1", np.arange(20, dtype=np.uint64) + 2)
    tcps = tree.add_tcps(paths[np.arange(n) % 20], np.arange(n) // 20, 443)
    assert tree.initiate_offload(tcps).ok
    sample = hl(tcps[:: n // 50])
    for tc in sample:
        target.receive(tc, b"x" * 7)
    return tree, target, nbs, sample


@pytest.mark.parametrize("backend", ["python"], indirect=True)
@pytest.mark.parametrize("when", [50, 1_000, 4_000])
def test_ctrl_c_in_the_middle_of_a_terminate_completes_it_and_keeps_the_bytes(
    backend: str, when: int
) -> None:
    """Regression: the fallback left a terminate half done on Ctrl-C (offloaded objects
    neither here nor there, buffered bytes gone). Now the terminate completes, and the
    interrupt that follows carries its result: every buffered byte is in it."""
    tree, target, nbs, sample = _offloaded_world(backend, 2_000)
    stop = _sigint_after(when)
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            tree.terminate(nbs)
    finally:
        stop()
    result = info.value.result  # type: ignore[attr-defined]
    assert isinstance(result, ot.TerminateResult)
    assert result.total_received == 7 * len(sample)
    assert tree.count(offloaded=True) == 0
    check_invariants(tree, target)


@pytest.mark.parametrize("backend", ["python"], indirect=True)
def test_ctrl_c_in_the_middle_of_an_offload_completes_it(backend: str) -> None:
    """Regression: an interrupted fallback offload left objects offloaded but not counted."""
    tree = ot.OffloadStateTree(backend=backend)
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, "10.0.0.1", "10.0.0.2")
    tcps = tree.add_tcps([pa] * 3_000, np.arange(3_000), 443)
    stop = _sigint_after(5_000)
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            tree.initiate_offload(tcps)
    finally:
        stop()
    assert info.value.result.ok  # type: ignore[attr-defined]
    assert tree.count(offloaded=True) == 3_002
    assert tree.stats()["operations"]["initiate_offload"]["succeeded"] == 3_002
    check_invariants(tree)


def test_a_program_handler_gets_the_signal_after_the_call(backend: str) -> None:
    """A program's own SIGINT handler is called (once) when the changing call returns."""
    tree, target, nbs, sample = _offloaded_world(backend, 1_000)
    calls: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        stop = _sigint_after(10) if backend == "python" else None
        if stop is None:
            # Natively no Python runs inside the call: the signal comes just before it ends.
            tree._engine.request_interrupt(False)
            signal.raise_signal(signal.SIGINT)
            assert calls == [signal.SIGINT], "outside a changing call the handler runs at once"
            calls.clear()
        result = tree.terminate(nbs)
        if stop is not None:
            stop()
            assert calls == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.total_received == 7 * len(sample)
    check_invariants(tree, target)


def _sigint_at_event(k: int) -> Callable[[], int]:
    """Land a real SIGINT at the ``k``-th place inside the fallback engine where Python
    checks for signals (a function entered, a call returned), as a real Ctrl-C would.
    Returns the remover, which gives the places seen."""
    seen = [0]

    def hook(frame: Any, event: str, arg: Any) -> None:
        # Where Python checks for signals: entering a function, and after a call returns.
        # (Not before a C call: a profile hook can raise there, a signal handler cannot.)
        if event != "c_call" and "_fallback" in frame.f_code.co_filename:
            seen[0] += 1
            if seen[0] == k:
                signal.raise_signal(signal.SIGINT)

    sys.setprofile(hook)

    def remove() -> int:
        sys.setprofile(None)
        return seen[0]

    return remove


@pytest.mark.parametrize("backend", ["python"], indirect=True)
@pytest.mark.parametrize("op", ["add_neighbor", "add_path", "add_tcp"])
def test_a_single_add_is_whole_or_absent_wherever_ctrl_c_lands(
    make_pair: Callable[..., tuple[Any, Any]], backend: str, op: str
) -> None:
    """A single add runs without deferring Ctrl-C (that would cost more than the add): the
    fallback's insert undoes itself instead, wherever in it the interrupt lands."""
    calls: dict[str, Callable[[Any, dict[str, list[int]]], object]] = {
        "add_neighbor": lambda t, w: t.add_neighbor(mac=99),
        "add_path": lambda t, w: t.add_path(w["nbs"][1], "10.0.0.1", "10.9.9.9"),
        "add_tcp": lambda t, w: t.add_tcp(w["paths"][3], local_port=99, remote_port=80),
    }
    outcomes = {"unchanged": 0, "complete": 0}
    k = 1
    while True:
        tree, target, world = _world(make_pair)
        before = snapshot(tree, target)
        stop = _sigint_at_event(k)
        try:
            added = calls[op](tree, world)
        except KeyboardInterrupt:
            stop()
            check_invariants(tree, target)
            if len(tree) == before["len"]:
                assert_unchanged(before, snapshot(tree, target))
                outcomes["unchanged"] += 1
            else:  # it landed after the object was in: complete, and findable by its key
                assert len(tree) == before["len"] + 1
                outcomes["complete"] += 1
            k += 1
            continue
        seen = stop()
        assert seen < k, "the call ran past the interrupt"
        assert added in tree
        check_invariants(tree, target)
        break
    assert outcomes["unchanged"] > 10, outcomes


@pytest.mark.parametrize("backend", ["python"], indirect=True)
@pytest.mark.parametrize("op", ["receive", "send"])
def test_traffic_is_whole_or_absent_wherever_ctrl_c_lands(
    make_pair: Callable[..., tuple[Any, Any]], backend: str, op: str
) -> None:
    """receive and send run without deferring Ctrl-C (per-packet calls: the deferral would
    cost five times the call): the fallback commits them with stores only, so wherever the
    interrupt lands the bytes and the counters agree, and the call happened or did not."""
    outcomes: dict[str, int] = {"unchanged": 0, "complete": 0}
    k = 1
    while True:
        tree, target, world = _world(make_pair)
        tc = world["tcps"][0]
        before = snapshot(tree, target)
        stop = _sigint_at_event(k)
        try:
            if op == "receive":
                target.receive(tc, b"0123456789")
            else:
                target.send(tc, 1000)
        except KeyboardInterrupt:
            stop()
            after = snapshot(tree, target)
            stats = target.stats()
            if op == "receive":
                moved = stats["bytes_received"] - before["target_stats"]["bytes_received"]
                assert moved in (0, 10)
                assert stats["bytes_buffered"] == moved
                done = tree.query([tc]).delegated(tc)["rcv_nxt"] != before["query"][tc]["rcv_nxt"]
            else:
                moved = stats["bytes_sent"] - before["target_stats"]["bytes_sent"]
                assert moved in (0, 1000)
                done = tree.query([tc]).delegated(tc)["snd_nxt"] != before["query"][tc]["snd_nxt"]
            assert done == (moved > 0), "the counters and the state tell the same story"
            if not moved:
                assert_unchanged(before, after)
            outcomes["complete" if moved else "unchanged"] += 1
            k += 1
            continue
        assert stop() < k
        break
    assert outcomes["unchanged"] > 5, outcomes
    # The terminate hands back exactly what was received.
    tree, target, world = _world(make_pair)
    target.receive(world["tcps"][0], b"abc")
    assert tree.terminate(world["tcps"][0]).total_received == 3
