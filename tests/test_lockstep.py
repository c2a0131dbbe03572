"""Differential test: the native and the fallback engine driven in lockstep.

A hypothesis state machine applies every public operation (valid and invalid: stale,
foreign and garbage handles, wrong layers, bad values, wrong offload state) to a native
tree and a fallback tree built on the same target configuration. After every step both
must have returned the same thing (handles compared without their tree id,
``h & ((1 << 48) - 1)``) or raised the same exception class with the same message, their
full observable state must be equal, the invariants of docs/SPEC.md §2 must hold on both
through the public API, and the fallback's own invariant checker (which sees its internals)
must pass.

The machine also draws the faults a call must survive whole (issue 11): an interrupt at a
drawn poll (both engines poll at the same points, so both must stop at the same place with
nothing changed, or both finish), and a call that runs out of memory (each engine counts
its budget in its own units, so each must either finish or fail with nothing changed, and
then agree once the call is repeated without a limit). Each world's foreign handles come
from a tree of the other backend.

Size: OFFLOAD_TREE_LOCKSTEP_EXAMPLES (default 200) examples of
OFFLOAD_TREE_LOCKSTEP_STEPS (default 50) steps; OFFLOAD_TREE_SOAK=1 multiplies the
examples by 100.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from _helpers import (
    assert_unchanged,
    check_invariants,
    env_int,
    mask,
    require_backend,
    snapshot,
    soak_factor,
)
from _ops import (
    TARGET_CONFIGS,
    PoolInfo,
    World,
    apply,
    masked_columns,
    masked_snapshot,
    operations,
)
from hypothesis import HealthCheck, event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from offload_tree._fallback.engine.invariants import check_invariants as check_fallback_internals

SETTINGS = settings(
    max_examples=env_int("OFFLOAD_TREE_LOCKSTEP_EXAMPLES", 200) * soak_factor(),
    stateful_step_count=env_int("OFFLOAD_TREE_LOCKSTEP_STEPS", 50),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


#: Outcomes seen over the run, to check the machine reaches the faults it draws.
TALLY: Counter[str] = Counter()

#: Mostly no interrupt; sometimes one at an early poll (the first handles of a call).
INTERRUPTS = st.one_of(*[st.none()] * 6, st.integers(0, 12))
NATIVE_BUDGETS = st.sampled_from([0, 16, 64, 200, 1000, 4000])
PYTHON_BUDGETS = st.integers(0, 3)


class Lockstep(RuleBasedStateMachine):
    """One native and one fallback world, the same operations on both."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0
        self.native: World | None = None
        self.python: World | None = None

    @initialize(config=TARGET_CONFIGS)
    def build(self, config: dict[str, Any]) -> None:
        self.native = World("native", config)
        self.python = World("python", config)

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        assert self.native is not None and self.python is not None
        self.steps += 1
        op = data.draw(operations(PoolInfo.of(self.native), self.steps), label="op")
        poll = data.draw(INTERRUPTS, label="interrupt at poll")
        for world in (self.native, self.python):
            world.tree._engine.set_interrupt_after(poll)
        try:
            got_native = apply(self.native, op)
            got_python = apply(self.python, op)
        finally:
            for world in (self.native, self.python):
                world.tree._engine.set_interrupt_after(None)
        outcome = got_native[0] if got_native[0] == "ok" else got_native[1]
        event(f"{op[0]} -> {outcome}")
        TALLY[outcome] += 1
        note(f"native -> {got_native!r}")
        note(f"python -> {got_python!r}")
        assert got_native == got_python, f"{op[0]}: native and fallback disagree"
        assert len(self.native.pool) == len(self.python.pool)

    @rule(data=st.data())
    def out_of_memory(self, data: st.DataObject) -> None:
        """A call with an allocation limit: finished, or failed with nothing changed."""
        assert self.native is not None and self.python is not None
        op = data.draw(operations(PoolInfo.of(self.native), self.steps), label="op")
        budgets = {"native": data.draw(NATIVE_BUDGETS), "python": data.draw(PYTHON_BUDGETS)}
        got = {}
        for world in (self.native, self.python):
            before = snapshot(world.tree, world.target, query=False)
            world.tree._engine.set_allocation_budget(budgets[world.backend])
            try:
                outcome = apply(world, op)
            finally:
                world.tree._engine.set_allocation_budget(None)
            if outcome[:2] == ("err", "OutOfMemoryError"):
                event(f"out of memory in {op[0]}")
                TALLY[f"OutOfMemoryError ({world.backend})"] += 1
                assert_unchanged(before, snapshot(world.tree, world.target, query=False))
                outcome = apply(world, op)
            got[world.backend] = outcome
        assert got["native"] == got["python"], f"{op[0]}: native and fallback disagree"

    @invariant()
    def same_observable_state(self) -> None:
        assert self.native is not None and self.python is not None
        snap_native = snapshot(self.native.tree, self.native.target)
        snap_python = snapshot(self.python.tree, self.python.target)
        masked_native = masked_snapshot(snap_native)
        masked_python = masked_snapshot(snap_python)
        for key in masked_native:
            assert masked_native[key] == masked_python[key], f"engines differ in {key}"
        check_invariants(self.native.tree, self.native.target)
        check_invariants(self.python.tree, self.python.target)
        check_fallback_internals(self.python.tree._engine)
        # The bulk reads (issue 14) give the same columns, handles masked.
        for layer in ("neighbor", "path", "tcp"):
            ours = masked_columns(self.native.tree.states(layer))
            theirs = masked_columns(self.python.tree.states(layer))
            assert list(ours) == list(theirs), f"states({layer}) columns differ"
            for name, values in ours.items():
                assert values.dtype == theirs[name].dtype, f"states({layer})[{name}] types"
                assert np.array_equal(values, theirs[name]), f"states({layer})[{name}] differs"
        edges = [masked_columns(w.tree.edges()) for w in (self.native, self.python)]
        assert all(np.array_equal(edges[0][k], edges[1][k]) for k in edges[0]), "edges differ"
        # Iterating a tree (issue 15) yields the same handles in the same order.
        iterated = [[mask(h) for h in w.tree] for w in (self.native, self.python)]
        assert iterated[0] == iterated[1], "iter(tree) differs"
        # The whole state, not only what the API shows: both engines' snapshot columns.
        columns_native = masked_columns(self.native.tree._engine.snapshot())
        columns_python = masked_columns(self.python.tree._engine.snapshot())
        assert list(columns_native) == list(columns_python), "the engines write other columns"
        for name, values in columns_native.items():
            other = columns_python[name]
            assert values.dtype == other.dtype, f"snapshot column {name}: other types"
            assert np.array_equal(values, other), f"snapshot column {name} differs"


def test_native_and_fallback_agree_in_lockstep():
    require_backend("native")
    TALLY.clear()
    run_state_machine_as_test(Lockstep, settings=SETTINGS)
    print(f"lockstep outcomes: {dict(TALLY)}")
    for outcome in [
        "ok",
        "KeyboardInterrupt",
        "DuplicateKeyError",
        "OutOfMemoryError (native)",
        "OutOfMemoryError (python)",
    ]:
        assert TALLY[outcome] > 0, f"the machine never reached {outcome}: {dict(TALLY)}"
