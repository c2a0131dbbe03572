"""Properties: docs/SPEC.md §2 invariants over random trees and random operation sequences.

Per backend: a state machine applies random operations (valid and invalid) and checks,
after every step, the invariants (check_invariants), that a call that raised changed
nothing (docs/SPEC.md §2, invariant 6), and per-operation postconditions (block-list shape,
per-block status rules, terminate results). Random trees are also checked for block-list shape.

Size: OFFLOAD_TREE_PROPERTY_EXAMPLES (default 100) examples of OFFLOAD_TREE_PROPERTY_STEPS
(default 50) steps per backend; OFFLOAD_TREE_SOAK=1 multiplies the examples by 100.
"""

from __future__ import annotations

from typing import Any

import offload_tree as ot
from _helpers import (
    assert_unchanged,
    check_block_list_shape,
    check_invariants,
    env_int,
    snapshot,
    soak_factor,
)
from _ops import MASK48, TARGET_CONFIGS, PoolInfo, World, apply, operations
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

S = ot.Status

MACHINE_SETTINGS = settings(
    max_examples=env_int("OFFLOAD_TREE_PROPERTY_EXAMPLES", 100) * soak_factor(),
    stateful_step_count=env_int("OFFLOAD_TREE_PROPERTY_STEPS", 50),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
GIVEN_SETTINGS = settings(
    max_examples=env_int("OFFLOAD_TREE_PROPERTY_EXAMPLES", 100) * soak_factor(),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _tree_of_blocks(blocks: list[tuple[Any, ...]]) -> list[int | None]:
    """The parent index of every block of a normalised block list (from depth, pre-order)."""
    parents: list[int | None] = []
    stack: list[int] = []
    for i, (_, _, depth, *_rest) in enumerate(blocks):
        del stack[depth:]
        parents.append(stack[-1] if stack else None)
        stack.append(i)
    return parents


def check_offload_statuses(
    result: dict[str, Any], paused: bool, offloaded_after: dict[int, bool]
) -> None:
    """The per-block status rules of docs/DESIGN.md §8 on a normalised OffloadResult."""
    blocks = result["blocks"]
    released = [h for h, *_ in result["released"]["terminated"]]
    # The host releases only new, non-failed shared blocks, paths before neighbors.
    new_ok_shared = {b[1] for b in blocks if not b[3] and b[0] != 2 and b[4] <= S.PARTIAL_SUCCESS}
    assert set(released) <= new_ok_shared and len(set(released)) == len(released)
    layers = [h >> 46 & 3 for h in released]
    assert layers == sorted(layers, reverse=True), "paths before neighbors"
    parents = _tree_of_blocks(blocks)
    status = [b[4] for b in blocks]
    failed = [s >= S.FAILURE for s in status]
    for i, (_, h, _depth, referenced, st_, _nxt, _dep) in enumerate(blocks):
        assert st_ is not None and 0 <= st_ <= S.PAUSED
        if paused:
            assert st_ == S.PAUSED
            continue
        assert st_ != S.PAUSED
        p = parents[i]
        kids = [j for j, q in enumerate(parents) if q == i]
        if p is not None and failed[p] and not referenced and not blocks[p][3]:
            # Only a new block's failure passes down; a linker fails because of its
            # dependents, not the other way round.
            assert st_ == status[p], "a block under a failed new block takes its status"
        if referenced:
            # A linker (placeholders--linkers--and-new-offloads.md) reports on its
            # dependents: FAILURE when every one failed, else as a new block would.
            all_failed = bool(kids) and all(failed[j] for j in kids)
            assert failed[i] == all_failed, "a linker fails exactly when all dependents fail"
            if failed[i]:
                assert st_ == S.FAILURE
            assert offloaded_after[h], "a linker's object stays offloaded"
        if not failed[i]:
            want = S.PARTIAL_SUCCESS if any(failed[j] for j in kids) else S.SUCCESS
            assert st_ == want
        if not referenced:
            want_offloaded = not failed[i] and h not in released
            assert offloaded_after[h] == want_offloaded, "offloaded exactly when not failed"
    # succeeded: new blocks that went through; failed: every failed block, linkers too.
    assert result["succeeded"] == [
        b[1] for b, f in zip(blocks, failed, strict=True) if not f and not b[3]
    ]
    assert result["failed"] == [b[1] for b, f in zip(blocks, failed, strict=True) if f]


class TreeMachine(RuleBasedStateMachine):
    """Random operations on one tree of one backend."""

    backend = "python"

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0
        self.world: World | None = None

    @initialize(config=TARGET_CONFIGS)
    def build(self, config: dict[str, Any]) -> None:
        self.world = World(self.backend, config)

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        w = self.world
        assert w is not None
        self.steps += 1
        op = data.draw(operations(PoolInfo.of(w), self.steps), label="op")
        before = snapshot(w.tree, w.target)
        outcome = apply(w, op)
        note(f"-> {outcome!r}")
        after = snapshot(w.tree, w.target)
        name = op[0]
        if outcome[0] == "err":
            assert_unchanged(before, after)
            return
        value = outcome[1]
        masked_off = {h & MASK48: v for h, v in after["offloaded"].items()}
        if name == "initiate_offload":
            check_offload_statuses(value, before["target_stats"]["paused"], masked_off)
            ops_b = before["stats_end"]["operations"]["initiate_offload"]
            ops_a = after["stats"]["operations"]["initiate_offload"]
            new_blocks = sum(1 for b in value["blocks"] if not b[3])
            assert ops_a["requested"] - ops_b["requested"] == new_blocks
            assert ops_a["succeeded"] - ops_b["succeeded"] == len(value["succeeded"])
            assert ops_a["requested"] == ops_a["succeeded"] + sum(ops_a["failed"].values())
            codes = [ot.Status[k] for k in ops_a["failed"]]
            assert codes == sorted(codes) and all(ops_a["failed"].values())
            allocated = (
                after["target_stats"]["contexts_allocated"]
                - before["target_stats"]["contexts_allocated"]
            )
            assert allocated == len(value["succeeded"]), "referenced blocks allocate nothing"
            if not w.tree.release_unreferenced:
                assert value["released"]["len"] == 0
        elif name == "terminate":
            seen: set[int] = set()
            for h, _status, _delegated, _data, _sent in value["terminated"]:
                assert not masked_off[h]
                assert h not in seen
                seen.add(h)
            assert value["statuses"] == [int(s) for _, s, _, _, _ in value["terminated"]]
            assert value["total_received"] == sum(len(d) for _, _, _, d, _ in value["terminated"])
            assert value["total_send_data"] == sum(
                len(sent) for _, _, _, _, sent in value["terminated"]
            )
            bytes_before, bytes_after = before["stats_end"]["bytes"], after["stats"]["bytes"]
            assert bytes_after["returned"] - bytes_before["returned"] == value["total_received"]
            assert (
                bytes_after["send_returned"] - bytes_before["send_returned"]
                == value["total_send_data"]
            )
        elif name == "block_list":
            requested = w.resolve_many(op[1])
            bl = w.tree.block_list(requested)
            req = [int(h) for h in ([requested] if isinstance(requested, int) else requested)]
            check_block_list_shape(w.tree, bl, list(dict.fromkeys(req)))
        elif name == "query" and not value["failed"]:
            for key in before:
                if key not in ("stats", "stats_end"):
                    assert after[key] == before[key], "query changed something"
        elif name == "query":
            # A failed query makes the host terminate what it could not query, nothing else.
            terminated = set(value["terminated"])
            assert terminated == {h for h, *_ in value["upload"]["terminated"]}
            assert set(value["failed"]) <= terminated
            offloaded_before = {h & MASK48: v for h, v in before["offloaded"].items()}
            for h, now in masked_off.items():
                assert now == (offloaded_before[h] and h not in terminated)

    @invariant()
    def invariants(self) -> None:
        assert self.world is not None
        check_invariants(self.world.tree, self.world.target)


def test_random_operations_keep_the_invariants(backend):
    machine = type(f"TreeMachine_{backend}", (TreeMachine,), {"backend": backend})
    run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)


# --- random trees -------------------------------------------------------------------------


@st.composite
def random_tree_program(draw: st.DrawFn) -> list[tuple[str, int]]:
    """A list of ("nb"|"pa"|"tc", parent index) building a random tree."""
    prog: list[tuple[str, int]] = [("nb", -1)]
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["nb", "pa", "pa", "tc", "tc", "tc"]))
        prog.append((kind, draw(st.integers(0, 10**6))))
    return prog


def build_random_tree(tree: Any, prog: list[tuple[str, int]]) -> list[int]:
    nbs: list[int] = []
    pas: list[int] = []
    tcs: list[int] = []
    for kind, pick in prog:
        if kind == "nb" or not nbs:
            nbs.append(tree.add_neighbor(mac=len(nbs) + 1))
        elif kind == "pa" or not pas:
            # One path per address pair, one connection per 4-tuple: fresh keys each time.
            destination = 0x0A01_0000 + len(pas)
            pas.append(tree.add_path(nbs[pick % len(nbs)], "10.0.0.1", destination))
        else:
            tcs.append(tree.add_tcp(pas[pick % len(pas)], local_port=len(tcs), remote_port=1))
    return [int(h) for h in tree.handles()]


@GIVEN_SETTINGS
@given(prog=random_tree_program(), data=st.data())
def test_block_list_shape_on_random_trees(make_pair, prog, data):
    tree, target = make_pair()
    handles = build_random_tree(tree, prog)
    check_invariants(tree, target)
    assert [int(h) for h in tree.block_list(handles).handles] == handles, (
        "a full request in pre-order equals walk"
    )
    offload = data.draw(st.lists(st.sampled_from(handles), max_size=4, unique=True))
    if offload:
        tree.initiate_offload(offload)
    check_invariants(tree, target)
    request = data.draw(st.lists(st.sampled_from(handles), max_size=6))
    check_block_list_shape(tree, tree.block_list(request), list(dict.fromkeys(request)))
    offloaded = {h for h in handles if tree.is_offloaded(h)}
    fresh = [h for h in dict.fromkeys(request) if h not in offloaded]
    if fresh:
        result = tree.initiate_offload(fresh)
        assert result.ok
        released = {int(h) for h in result.released.terminated}
        assert all(tree.is_offloaded(h) != (h in released) for h in fresh)
        assert all(tree.layer(h) != ot.Layer.TCP for h in released)
        assert {int(h) for h in result.succeeded}.isdisjoint(offloaded)
    check_invariants(tree, target)


@GIVEN_SETTINGS
@given(prog=random_tree_program(), data=st.data())
def test_walk_orders_on_random_trees(make_tree, prog, data):
    tree = make_tree()
    handles = build_random_tree(tree, prog)
    post = [int(h) for h in tree.walk("post")]
    position = {h: i for i, h in enumerate(post)}
    for h in handles:
        parent = tree.depends_on(h)
        if parent is not None:
            assert position[h] < position[parent], "post-order: dependents first"
    roots = data.draw(st.lists(st.sampled_from(handles), max_size=4))
    for order in ("pre", "post"):
        got = [int(h) for h in tree.walk(order, roots=roots)]
        assert len(got) == len(set(got))
        expected_set = set()
        for r in roots:
            expected_set.update(int(h) for h in tree.walk(order, roots=[r]))
        assert set(got) == expected_set


@GIVEN_SETTINGS
@given(prog=random_tree_program(), data=st.data())
def test_terminate_is_post_order_of_closure(make_tree, prog, data):
    tree = make_tree(release_unreferenced=False)  # everything stays offloaded, bare paths too
    handles = build_random_tree(tree, prog)
    tree.initiate_offload(handles)
    request = data.draw(st.lists(st.sampled_from(handles), min_size=1, max_size=4))
    expected: list[int] = []
    for r in dict.fromkeys(request):
        for h in tree.walk("post", roots=[r]):
            if int(h) not in expected:
                expected.append(int(h))
    t = tree.terminate(request)
    assert [int(h) for h in t.terminated] == expected
    assert all(not tree.is_offloaded(h) for h in expected)
    assert tree.count(offloaded=True) == len(handles) - len(expected)


@GIVEN_SETTINGS
@given(prog=random_tree_program(), data=st.data())
def test_terminate_releases_exactly_what_it_leaves_unreferenced(make_pair, prog, data):
    tree, target = make_pair()
    handles = build_random_tree(tree, prog)
    tree.initiate_offload(handles)
    offloaded = [h for h in handles if tree.is_offloaded(h)]
    if not offloaded:
        return
    request = data.draw(st.lists(st.sampled_from(offloaded), min_size=1, max_size=4))
    closure: list[int] = []
    for r in dict.fromkeys(request):
        for h in tree.walk("post", roots=[r]):
            if tree.is_offloaded(h) and int(h) not in closure:
                closure.append(int(h))
    was_offloaded = set(offloaded)
    t = [int(h) for h in tree.terminate(request).terminated]
    assert t[: len(closure)] == closure, "the requested closure first, in post-order"
    for h in t[len(closure) :]:
        # a release: shared state that was offloaded and that nothing offloaded uses now
        assert h in was_offloaded and tree.layer(h) != ot.Layer.TCP
        assert not any(tree.is_offloaded(d) for d in tree.dependents(h))
    check_invariants(tree, target)  # includes: no offloaded object left unreferenced


@GIVEN_SETTINGS
@given(
    chunks=st.lists(st.binary(max_size=64), max_size=8),
    start=st.sampled_from([0, 2**32 - 1, 2**32 - 100, 12345]),
    sends=st.lists(st.integers(0, 2**32 - 1), max_size=4),
)
def test_traffic_is_returned_exactly(make_tree, chunks, start, sends):
    tree = make_tree()
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tc = tree.add_tcp(
        pa, local_port=1, remote_port=2, rcv_nxt=start, snd_nxt=start, snd_una=start, snd_max=start
    )
    tree.initiate_offload(tc)
    for c in chunks:
        tree.target.receive(tc, c)
    snd_nxt, snd_max = start, start
    for n in sends:
        assert tree.target.send(tc, n) == n
        snd_nxt = (snd_nxt + n) % 2**32
        if 1 <= (snd_nxt - snd_max) % 2**32 <= 2**31 - 1:
            snd_max = snd_nxt
    t = tree.terminate(tc)
    data = b"".join(chunks)
    assert t.received_data(tc) == data
    d = t.delegated(tc)
    assert d["rcv_nxt"] == (start + len(data)) % 2**32
    assert d["rcv_wnd"] == max(0, 65535 - len(data))
    assert (d["snd_nxt"], d["snd_max"]) == (snd_nxt, snd_max)
    assert d["send_backlog_size"] == 0, "it follows the advertised window, not what is sent"
    st_ = tree.state(tc)
    assert (st_.rcv_nxt, st_.snd_nxt, st_.snd_max) == (d["rcv_nxt"], snd_nxt, snd_max)
