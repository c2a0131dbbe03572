"""Concurrency: one tree and its target shared between Python threads.

Several threads build, offload, move traffic, query, invalidate, raise events, terminate and
remove on ONE shared tree at once, while a reader thread checks that every single call sees a
consistent tree. Afterwards the invariants hold and every counter equals the sum of what the
threads saw: objects per layer, offload / terminate / query counts, failures by status, bytes
received, sent and returned, events. Each thread keeps its own tally and the main thread adds
them up after ``join``, so the test relies on no GIL either (free-threaded rules).

A second test proves that a long native batch call releases the GIL: a pure-Python thread
makes progress while the main thread is inside the call.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import check_invariants, hl

THREADS = 4
ROUNDS = 6
PATHS_PER_NEIGHBOR = 2
TCPS_PER_PATH = 10
#: Small enough that the threads compete for target capacity: some offloads fail.
CAPACITY = {"neighbor_capacity": 30, "path_capacity": 50, "tcp_capacity": 300}


def layer_of(h: int) -> int:
    return (int(h) >> 46) & 3


@dataclass
class Tally:
    """What one thread did and saw; summed by the main thread after ``join``."""

    built: Counter[int] = field(default_factory=Counter)
    removed: Counter[int] = field(default_factory=Counter)
    live: set[int] = field(default_factory=set)
    gone: set[int] = field(default_factory=set)
    offload_requested: int = 0
    offload_succeeded: int = 0
    offload_failed: Counter[str] = field(default_factory=Counter)
    terminated: int = 0
    returned: int = 0
    received: int = 0
    sent: int = 0
    queried: int = 0
    invalidated: int = 0
    events_queued: int = 0
    errors_checked: int = 0


def record_offload(tally: Tally, result: Any) -> None:
    blocks = list(result.blocks)
    tally.offload_requested += sum(1 for b in blocks if not b.referenced)
    tally.offload_succeeded += len(result.succeeded)
    for b in blocks:
        if not b.referenced and b.status not in (ot.Status.SUCCESS, ot.Status.PARTIAL_SUCCESS):
            tally.offload_failed[b.status.name] += 1
    record_terminate(tally, result.released)  # shared state the host let go at once


def record_terminate(tally: Tally, result: Any) -> None:
    tally.terminated += len(result)
    tally.returned += result.total_received


def record_events(tally: Tally, events: list[Any]) -> None:
    for event in events:
        if event.result is not None:
            record_terminate(tally, event.result)


def worker(tree: Any, target: Any, index: int, start: threading.Barrier) -> Tally:
    """One thread's share of the work: its own objects, on the shared tree."""
    tally = Tally()
    rng = np.random.default_rng(index)
    start.wait()
    for rnd in range(ROUNDS):
        # -- build: a batch of two neighbors with their paths and connections, plus one
        #    neighbor -> path -> connection chain added one object at a time
        base = (index << 24) | (rnd << 8)
        nbs = tree.add_neighbors(np.array([base | 1, base | 2], dtype=np.uint64), vlan_ids=index)
        paths = tree.add_paths(
            np.repeat(nbs, PATHS_PER_NEIGHBOR),
            f"10.{index}.{rnd}.1",
            np.arange(len(nbs) * PATHS_PER_NEIGHBOR, dtype=np.uint64) + (0x0B00_0000 | base),
            path_mtus=1500,
        )
        tcps = tree.add_tcps(
            np.repeat(paths, TCPS_PER_PATH),
            np.arange(len(paths) * TCPS_PER_PATH) + 1024,
            443,
        )
        nb = tree.add_neighbor(mac=base | 3, vlan_id=index)
        pa = tree.add_path(nb, source=f"10.{index}.{rnd}.2", destination="10.255.0.1")
        tc = tree.add_tcp(pa, local_port=rnd, remote_port=80, nagle=False)
        created = [*hl(nbs), *hl(paths), *hl(tcps), nb, pa, tc]
        tally.built.update(layer_of(h) for h in created)
        tally.live.update(created)

        # -- offload (competing with the other threads for capacity)
        result = tree.initiate_offload([*hl(tcps), tc])
        record_offload(tally, result)
        on = [t for t in [*hl(tcps), tc] if tree.is_offloaded(t)]
        succeeded = set(hl(result.succeeded))
        assert on == [t for t in [*hl(tcps), tc] if t in succeeded]  # no one else touched them

        # -- traffic and queries on this thread's offloaded connections
        for t in on[:8]:
            data = rng.bytes(int(rng.integers(1, 2000)))
            target.receive(t, data)
            tally.received += len(data)
            tally.sent += target.send(t, int(rng.integers(0, 5000)))
        if on:
            q = tree.query(on)
            tally.queried += len(q)
            assert set(hl(q.handles)) == set(on)

        # -- errors on the way: they change nothing, whatever the other threads do
        if on:
            with pytest.raises(ot.StateError):
                tree.initiate_offload([on[0]])
            with pytest.raises(ot.ValidationError):
                target.send(on[0], -1)
            tally.errors_checked += 2

        # -- events: an upload request, an invalidation (one INVALID_STATE event), a
        #    reachability doubt; whichever thread processes them reports the terminates
        if len(on) >= 2:
            target.request_upload(on[0], ot.UploadReason.LOW_ACTIVITY)
            tree.invalidate([on[1]])
            tally.invalidated += 1
            tally.events_queued += 2
        if tree.is_offloaded(nb):
            target.indicate_neighbor_reachability_query(nb)
            tally.events_queued += 1
        record_events(tally, tree.process_events())

        # -- terminate and remove the first neighbor's subtree; the rest stays offloaded
        first = int(nbs[0])
        if tree.is_offloaded(first):
            record_terminate(tally, tree.terminate(first))
        removed = hl(tree.remove(first, cascade=True))
        assert len(removed) == 1 + PATHS_PER_NEIGHBOR * (1 + TCPS_PER_PATH)
        tally.removed.update(layer_of(h) for h in removed)
        tally.live.difference_update(removed)
        tally.gone.update(removed)
        with pytest.raises(ot.InvalidHandleError):
            tree.terminate(removed[0])
        tally.errors_checked += 1
    return tally


def reader(tree: Any, target: Any, stop: threading.Event) -> int:
    """Checks, until ``stop``, that every single call returns a consistent picture."""
    checks = 0
    while not stop.is_set() or checks == 0:
        stats = tree.stats()
        for entry in stats["layers"].values():
            assert 0 <= entry["offloaded"] <= entry["live"]
            assert entry["capacity"] is None or entry["offloaded"] <= entry["capacity"]
        events = stats["events"]
        assert events["seen"] == events["processed"] + events["pending"]
        # the target's internal tree, read in one call, is closed under dependency
        internal = target.internal_tree()
        for h, parent in internal.items():
            assert (parent is None) == (layer_of(h) == 0)
            assert parent is None or parent in internal
        walk = hl(tree.walk("pre"))
        assert len(set(walk)) == len(walk)
        assert not walk or layer_of(walk[0]) == 0
        depth = [0, 0, 0]  # pre-order: a path after some neighbor, a connection after a path
        for h in walk:
            layer = layer_of(h)
            assert layer == 0 or depth[layer - 1] > 0
            depth[layer] += 1
        checks += 1
    return checks


@pytest.fixture
def frequent_switches() -> Any:
    """Switch threads every few microseconds: interleavings that would break a missing lock
    become likely instead of rare (a free-threaded build interleaves freely anyway)."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(old)


def merged(counters: list[Counter[Any]]) -> Counter[Any]:
    out: Counter[Any] = Counter()
    for c in counters:
        out.update(c)
    return out


def test_threads_share_one_tree(
    make_pair: Callable[..., tuple[Any, Any]], frequent_switches: None
) -> None:
    tree, target = make_pair(**CAPACITY)
    start = threading.Barrier(THREADS)
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=THREADS + 1) as pool:
        checking = pool.submit(reader, tree, target, stop)
        futures = [pool.submit(worker, tree, target, i, start) for i in range(THREADS)]
        try:
            tallies = [f.result() for f in futures]  # re-raises a worker's failure
        finally:
            stop.set()
        assert checking.result() > 0

    check_invariants(tree, target)

    # objects per layer: what the threads built, minus what they removed
    built = merged([t.built for t in tallies])
    removed = merged([t.removed for t in tallies])
    for layer in ot.Layer:
        assert tree.count(layer=layer) == built[layer] - removed[layer]
    live = set().union(*(t.live for t in tallies))
    assert set(hl(tree.handles())) == live
    assert all(h not in tree for t in tallies for h in t.gone)

    # operation counters: the sums of what each thread's calls returned
    stats = tree.stats()
    ops = stats["operations"]
    offload = ops["initiate_offload"]
    assert offload["requested"] == sum(t.offload_requested for t in tallies)
    assert offload["succeeded"] == sum(t.offload_succeeded for t in tallies)
    assert offload["failed"] == dict(merged([t.offload_failed for t in tallies]))
    assert offload["failed"], "the threads should have competed for capacity"
    assert ops["query"]["requested"] == sum(t.queried for t in tallies)
    assert ops["invalidate"]["requested"] == sum(t.invalidated for t in tallies)

    # events: every one queued was seen; process what is still pending, then count uploads
    final = Tally()
    record_events(final, tree.process_events())
    assert stats["events"]["seen"] == sum(t.events_queued for t in tallies)
    stats = tree.stats()
    assert stats["events"]["processed"] == stats["events"]["seen"]
    assert stats["events"]["pending"] == 0

    # bytes: everything received is either returned by a terminate or still buffered
    received = sum(t.received for t in tallies)
    tstats = target.stats()
    assert tstats["bytes_received"] == received
    assert tstats["bytes_sent"] == sum(t.sent for t in tallies)
    everyone = [*tallies, final]
    assert stats["operations"]["terminate"]["requested"] == sum(t.terminated for t in everyone)
    assert stats["bytes"]["returned"] == sum(t.returned for t in everyone)
    assert stats["bytes"]["returned"] + stats["bytes"]["buffered"] == received

    # terminate what is left: then every byte received has come back
    offloaded_neighbors = [h for h in hl(tree.handles(ot.Layer.NEIGHBOR)) if tree.is_offloaded(h)]
    record_terminate(final, tree.terminate(offloaded_neighbors))
    stats = tree.stats()
    assert stats["bytes"]["buffered"] == 0
    assert stats["bytes"]["returned"] == received == sum(t.returned for t in everyone)
    assert stats["operations"]["terminate"]["requested"] == sum(t.terminated for t in everyone)
    assert tree.count(offloaded=True) == 0
    check_invariants(tree, target)


def test_threads_building_in_parallel_get_distinct_handles(
    make_tree: Callable[..., Any], frequent_switches: None
) -> None:
    """Concurrent adds never hand out one slot twice, and the arenas stay consistent."""
    tree = make_tree()
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    start = threading.Barrier(THREADS)

    def build(i: int) -> list[int]:
        start.wait()
        out: list[int] = []
        for k in range(50):
            out.extend(hl(tree.add_tcps([pa] * 5, np.arange(5) + 10 * k, i)))
            out.append(tree.add_tcp(pa, local_port=10 * k + 5, remote_port=i))
            if k % 3 == 0:  # free slots for the others to reuse (LIFO free lists)
                tree.remove(out[-3:])
                del out[-3:]
        return out

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(build, range(THREADS)))
    everything = [h for r in results for h in r]
    assert len(set(everything)) == len(everything)
    assert sorted(hl(tree.dependents(pa))) == sorted(everything)
    for i, handles in enumerate(results):
        assert all(tree.state(h).remote_port == i for h in handles)
    check_invariants(tree)


# --- the GIL ------------------------------------------------------------------------------

N_LONG = 3_000_000


def progress_during(call: Callable[[], object]) -> int:
    """How far a pure-Python thread counts while ``call`` runs in this thread.

    The switch interval is made huge, so the interpreter never takes the GIL from this
    thread: the counting thread can run between the two reads only if ``call`` releases the
    GIL. It hands the GIL back after every step (a short sleep), so that this thread can
    always resume. Releasing the GIL only to wait for the engine's lock would let it count
    once at most; releasing it for the work lets it count throughout.
    """
    counter = [0]
    running = threading.Event()
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            counter[0] += 1
            running.set()
            time.sleep(1e-4)  # yield the GIL; not a measurement

    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    thread = threading.Thread(target=count)
    try:
        thread.start()
        running.wait()
        before = counter[0]
        call()
        after = counter[0]
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old)
    return after - before


# Native only: the pure-Python engine runs Python code and so holds the GIL by nature;
# releasing it is a property of the native engine's batch calls.
@pytest.mark.parametrize("backend", ["native"], indirect=True)
def test_long_native_batch_calls_release_the_gil(
    make_tree: Callable[..., Any], backend: str
) -> None:
    tree = make_tree()
    nbs = tree.add_neighbors(np.arange(10, dtype=np.uint64) + 1)
    paths = tree.add_paths(np.repeat(nbs, 10), "10.0.0.1", np.arange(100, dtype=np.uint64) + 2)
    engine = tree._engine  # called directly: no Python code between the counter reads
    parents = np.ascontiguousarray(paths[np.arange(N_LONG) % len(paths)])
    ports = np.arange(N_LONG, dtype=np.int64) // len(paths)  # one 4-tuple each
    remote = np.full(N_LONG, 443, dtype=np.int64)
    out: dict[str, Any] = {}

    def add() -> None:
        out["tcps"] = engine.add_tcps(parents, ports, remote)

    def offload() -> None:
        out["offload"] = engine.initiate_offload(out["tcps"])

    def terminate() -> None:
        out["terminate"] = engine.terminate(nbs, True)

    for name, call in (("add_tcps", add), ("initiate_offload", offload), ("terminate", terminate)):
        assert progress_during(call) >= 2, f"{name} held the GIL throughout"
    assert len(out["tcps"]) == N_LONG
    assert len(out["terminate"]) == N_LONG + len(paths) + len(nbs)
    assert tree.count(offloaded=True) == 0


@pytest.mark.skipif(
    not getattr(sys, "_is_gil_enabled", lambda: True)(),
    reason="a free-threaded interpreter has no GIL to hold",
)
def test_the_gil_probe_sees_a_call_that_holds_the_gil() -> None:
    """The probe itself can fail: pure-Python work that never blocks gives no progress."""

    def busy() -> None:
        total = 0
        for i in range(3_000_000):
            total += i

    assert progress_during(busy) == 0


# Native only: the race is between a Python writer and Rust code running without the GIL.
@pytest.mark.parametrize("backend", ["native"], indirect=True)
def test_a_writer_thread_cannot_slip_unvalidated_values_into_a_batch(
    make_tree: Callable[..., Any], backend: str
) -> None:
    """Batch inputs are copied before the GIL is released: a thread rewriting the caller's
    array while the call runs never gets a value past validation (regression: a port of
    70000 was once stored as 4464). The race may not show on every run; it never flakes."""
    tree = make_tree()
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    n = 1_000_000
    paths = np.full(n, pa, dtype=np.uint64)
    ports = np.full(n, 1000, dtype=np.int64)
    remote = np.full(n, 443, dtype=np.int64)
    stop = threading.Event()

    def scribble() -> None:
        while not stop.is_set():
            ports[:] = 70000
            ports[:] = 1000

    writer = threading.Thread(target=scribble)
    writer.start()
    try:
        for _ in range(5):
            try:
                tcs = tree.add_tcps(paths, ports, remote)
            except ot.ValidationError:
                continue  # the writer got in before the copy: refused whole, as it should be
            seen = {tree.state(int(h)).local_port for h in tcs[::997]}
            assert seen == {1000}, f"stored ports {seen}"
            tree.remove(tcs)
    finally:
        stop.set()
        writer.join()
    check_invariants(tree)


def test_only_one_of_many_threads_attaches_a_tree_to_a_target(
    backend: str, frequent_switches: None
) -> None:
    """Regression (issue 11): the attach checked and set without a lock, so two threads could
    both build a tree on one target (68 of 3,000 trials native, up to 624 python), and the
    loser's ``.target`` then drove the winner's engine."""
    for _ in range(300):
        target = ot.SimulatedTarget()
        start = threading.Barrier(4)

        def attach(
            target: ot.SimulatedTarget = target, start: threading.Barrier = start
        ) -> ot.OffloadStateTree | None:
            start.wait()
            try:
                return ot.OffloadStateTree(target, backend=backend)
            except ot.StateError:
                return None

        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(attach) for _ in range(4)]
            trees = [t for t in (f.result() for f in futures) if t is not None]
        assert len(trees) == 1, f"{len(trees)} trees attached to one target"
        (tree,) = trees
        pa = tree.add_path(tree.add_neighbor(mac=1), source="10.0.0.1", destination="10.0.0.2")
        tc = tree.add_tcp(pa, local_port=1, remote_port=2)
        assert tree.initiate_offload(tc).ok and target.stats()["offloaded"]["tcp"] == 1


def _finishes(call: Callable[[], Any], seconds: float = 30.0) -> Any:
    """Run ``call`` on a thread; fail (instead of hanging the suite) if it never returns."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = call()
        except BaseException as exc:
            out["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "deadlocked"
    if "error" in out:
        raise out["error"]
    return out.get("value")


def test_a_user_address_that_reads_the_tree_does_not_deadlock(make_tree: Any) -> None:
    """Regression (issue 11): the fallback converted an address under its lock, so an object
    whose ``.packed`` read the same tree deadlocked ``add_path``."""
    tree = make_tree()
    nb = tree.add_neighbor(mac=1)
    seen: list[int] = []

    class Address:
        @property
        def packed(self) -> bytes:
            seen.append(tree.count())
            return bytes([10, 0, 0, 1])

    pa = _finishes(lambda: tree.add_path(nb, source=Address(), destination="10.0.0.2"))
    assert str(tree.state(pa).source) == "10.0.0.1" and seen == [1]
    paths = _finishes(lambda: tree.add_paths([nb], [Address()], ["10.0.0.3"]))
    assert len(paths) == 1 and seen == [1, 2]


def test_a_finalizer_calling_back_during_an_operation_raises_instead_of_hanging(
    make_tree: Any,
) -> None:
    """Regression (issue 11): a ``__del__`` run by the garbage collector in the middle of an
    engine call that touched the tree deadlocked the fallback. Now it either works or gets a
    StateError; the operation itself completes."""
    import gc

    tree = make_tree()
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    outcomes: list[str] = []

    class Cycle:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            try:
                tree.count()
                outcomes.append("ran")
            except ot.StateError:
                outcomes.append("refused")

    threshold = gc.get_threshold()
    gc.disable()
    try:
        for _ in range(200):
            Cycle()
        gc.set_threshold(1, 1, 1)
        gc.enable()
        added = _finishes(lambda: tree.add_tcps([pa] * 500, np.arange(500), 80))
    finally:
        gc.set_threshold(*threshold)
        gc.enable()
    gc.collect()
    assert len(added) == 500 and tree.count(ot.Layer.TCP) == 500
    assert len(outcomes) == 200 and set(outcomes) <= {"ran", "refused"}
    check_invariants(tree)
